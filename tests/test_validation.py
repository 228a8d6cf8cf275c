"""monai_afpe.validation: the shared checks of counts, positive numbers, tolerances, probabilities and per-axis values."""

import math
import re

import numpy as np
import pytest
import torch

import monai_afpe.validation as validation
from monai_afpe.data.synthetic.solids import Ellipsoid
from monai_afpe.inferers import ClipAveragingInferer
from monai_afpe.networks.blocks import build_positional_embedding
from monai_afpe.transforms import RandSpacing
from monai_afpe.transforms.clip_sampling import SampleClip
from monai_afpe.transforms.pixel_spacing import SetPixelSpacing
from monai_afpe.transforms.scales import ScalePolicy
from monai_afpe.transforms.spacing_contract import CheckSpacingRange
from monai_afpe.validation import (
    check_nonempty_string,
    check_num_heads,
    check_per_axis,
    check_positive_int,
    check_positive_number,
    check_positive_values,
    check_probability,
    check_tolerance,
    is_number,
    is_positive_int,
    is_positive_number,
)


def _raises(message: str):
    """``pytest.raises(ValueError)`` matching ``message`` exactly, from its start to its end."""
    return pytest.raises(ValueError, match="^" + re.escape(message) + "$")


def test_all_names_exactly_the_public_functions_of_the_module():
    defined = {
        name
        for name, obj in vars(validation).items()
        if callable(obj) and getattr(obj, "__module__", None) == validation.__name__ and not name.startswith("_")
    }
    assert set(validation.__all__) == defined | {"FLAG_WORDS"}
    assert {"check_per_axis", "check_positive_int", "check_probability", "check_tolerance"} <= defined


@pytest.mark.parametrize("value", [0, -3, 2.5, np.int64(7), np.float32(0.5), 1e300])
def test_numbers_are_python_and_numpy_ints_and_floats(value):
    assert is_number(value)


@pytest.mark.parametrize("value", [True, np.bool_(False), "1", None, [1.0], np.array([1.0]), 1j])
def test_booleans_strings_and_containers_are_not_numbers(value):
    assert not is_number(value)


@pytest.mark.parametrize(
    "value, positive_int, positive_number",
    [
        (1, True, True),
        (np.int32(5), True, True),
        (0.25, False, True),
        (np.float16(2), False, True),
        (2.0, False, True),
        (0, False, False),
        (-1, False, False),
        (-1e-9, False, False),
        (math.inf, False, False),
        (math.nan, False, False),
        (True, False, False),
        ("3", False, False),
    ],
)
def test_positive_int_and_positive_number_predicates(value, positive_int, positive_number):
    assert is_positive_int(value) is positive_int
    assert is_positive_number(value) is positive_number


def test_check_positive_int_returns_a_python_int():
    assert check_positive_int(3, "frames") == 3
    value = check_positive_int(np.int64(4), "frames")
    assert value == 4 and type(value) is int
    assert check_positive_int(None, "num_clips", allow_none=True) is None
    assert check_positive_int(2, "num_clips", allow_none=True) == 2


@pytest.mark.parametrize("value", [0, -1, 2.0, 1.5, True, "3", None, [2]])
def test_check_positive_int_refuses_the_rest_naming_option_and_value(value):
    with _raises(f"frames must be a positive integer, got {value!r}."):
        check_positive_int(value, "frames")


def test_check_positive_int_message_with_unit_and_none():
    with _raises("save_interval must be a positive integer (epochs), got 0."):
        check_positive_int(0, "save_interval", unit="epochs")
    with _raises("n_saved must be a positive integer (files to keep) or None, got 0."):
        check_positive_int(0, "n_saved", unit="files to keep", allow_none=True)
    with _raises("clip_batch_size must be a positive integer or None, got 2.5."):
        check_positive_int(2.5, "clip_batch_size", allow_none=True)


def test_check_positive_number():
    assert check_positive_number(25, "fps") == 25.0
    value = check_positive_number(np.float32(0.5), "fps")
    assert value == 0.5 and type(value) is float
    for bad in (0, -1.0, math.nan, math.inf, True, "25", [25.0], None):
        with _raises(f"fps must be a finite number > 0 (frames per second), got {bad!r}."):
            check_positive_number(bad, "fps", unit="frames per second")
    with _raises("x must be a finite number > 0, got -2."):
        check_positive_number(-2, "x")


def test_check_tolerance_allows_zero_but_nothing_negative_or_infinite():
    assert check_tolerance(0, "tolerance") == 0.0
    assert check_tolerance(np.float64(0.25), "tolerance", unit="mm") == 0.25
    for bad in (-1e-9, math.nan, math.inf, True, "0.1", None):
        with _raises(f"tolerance must be a finite number >= 0 (mm), got {bad!r}."):
            check_tolerance(bad, "tolerance", unit="mm")
    with _raises("rtol must be a finite number >= 0, got -1."):
        check_tolerance(-1, "rtol")


def test_check_probability_includes_both_ends():
    assert [check_probability(v, "prob") for v in (0, 1, 0.5, np.float32(0.25))] == [0.0, 1.0, 0.5, 0.25]
    for bad in (-0.1, 1.5, math.nan, True, "0.5", None):
        with _raises(f"prob must be a number in [0, 1], got {bad!r}."):
            check_probability(bad, "prob")


def test_check_nonempty_string_returns_the_name_and_refuses_the_rest():
    assert check_nonempty_string("spacing", "spacing_key_postfix") == "spacing"
    assert check_nonempty_string(None, "units_key_postfix", allow_none=True) is None
    for bad in ("", None, 3, b"spacing"):
        with _raises(f"spacing_key must be a non-empty string, got {bad!r}."):
            check_nonempty_string(bad, "spacing_key")
    with _raises("units_key_postfix must be a non-empty string or None, got ''."):
        check_nonempty_string("", "units_key_postfix", allow_none=True)


def test_check_num_heads_needs_heads_that_divide_the_features():
    assert check_num_heads(24, 2) == 2
    for heads in (0, -2, 5):
        with _raises(f"hidden_size (24) must be divisible by num_heads ({heads})."):
            check_num_heads(24, heads)


@pytest.mark.parametrize(
    "value, expected",
    [
        (2, (2.0, 2.0, 2.0)),
        (0.5, (0.5, 0.5, 0.5)),
        ([0.5], (0.5, 0.5, 0.5)),  # one value in a sequence is repeated too
        ((1, 2, 3), (1.0, 2.0, 3.0)),
        (np.array([1.0, 2.0, 3.0]), (1.0, 2.0, 3.0)),
        (torch.tensor([1.0, 2.0, 3.0], requires_grad=True), (1.0, 2.0, 3.0)),
        (torch.tensor(4.0), (4.0, 4.0, 4.0)),
        ([[1.0, 2.0, 3.0]], (1.0, 2.0, 3.0)),
    ],
)
def test_check_per_axis_reads_one_value_or_one_per_axis(value, expected):
    values = check_per_axis(value, 3, "spacing")
    assert values == expected
    assert all(type(v) is float for v in values)


@pytest.mark.parametrize("value", [(1.0, 2.0), (1.0, 2.0, 3.0, 4.0), (), 0, -1.0, (1.0, 0.0, 1.0), math.nan, math.inf])
def test_check_per_axis_names_option_count_and_unit(value):
    with _raises(f"pixel_spacing must be one or 3 finite numbers > 0 (mm), got {value!r}."):
        check_per_axis(value, 3, "pixel_spacing", unit="mm")


@pytest.mark.parametrize("value", ["x", None, [1.0, "a"], {"a": 1}])
def test_check_per_axis_refuses_what_is_not_numbers(value):
    with _raises(f"spacing must be one or 2 finite numbers > 0, got {value!r}."):
        check_per_axis(value, 2, "spacing")


def test_check_per_axis_positive_and_finite_can_be_dropped():
    assert check_per_axis((-1.0, 0.0), 2, "cls_coordinate", positive=False) == (-1.0, 0.0)
    assert check_per_axis(math.inf, 2, "limit", finite=False) == (math.inf, math.inf)
    assert check_per_axis((math.nan, -math.inf), 2, "anything", positive=False, finite=False)[1] == -math.inf
    with _raises("cls_coordinate must be one or 2 finite numbers, got (1.0, nan)."):
        check_per_axis((1.0, math.nan), 2, "cls_coordinate", positive=False)
    with _raises("limit must be one or 2 numbers > 0, got (1.0, -inf)."):
        check_per_axis((1.0, -math.inf), 2, "limit", finite=False)
    with _raises("cls_coordinate must be one or 3 numbers, got (1.0, 2.0)."):
        check_per_axis((1.0, 2.0), 3, "cls_coordinate", positive=False, finite=False)


def test_check_positive_values_any_shape_returned_unchanged():
    values = [[1.0, 2.0], [3.0, 4.0]]
    assert check_positive_values(values, "spacing") is values
    tensor = torch.tensor([0.5, 2.0])
    assert check_positive_values(tensor, "scales") is tensor
    assert check_positive_values(2.0, "base_scale") == 2.0
    assert check_positive_values(np.array([[1, 2]]), "spacing").shape == (1, 2)


@pytest.mark.parametrize(
    "value", [0.0, -1, [1.0, 0.0], [[1.0, math.nan]], math.inf, [], torch.tensor([1.0, -1.0]), "1", None]
)
def test_check_positive_values_refuses_zero_negative_nan_inf_empty_and_text(value):
    with _raises(f"base_scale must be finite and > 0 (mm), got {value!r}."):
        check_positive_values(value, "base_scale", unit="mm")


def test_consumers_word_the_same_option_the_same_way():
    """Readers, transforms and networks report a bad per-axis value with one wording."""
    with _raises("pixel_spacing must be one or 2 finite numbers > 0 (mm), got 0."):
        SetPixelSpacing(pixel_spacing=0)
    with _raises("spacing must be one or 3 finite numbers > 0, got (1.0, 2.0)."):
        build_positional_embedding(
            "afpe", (2, 3, 4), 24, mode="physical", patch_size=2, reference_extent=9.0, spacing=(1.0, 2.0)
        )
    with _raises("frames must be a positive integer, got 0."):
        SampleClip(frames=0)
    with _raises("clip_batch_size must be a positive integer or None, got 0."):
        ClipAveragingInferer(clip_batch_size=0)
    with _raises("prob must be a number in [0, 1], got 2."):
        RandSpacing(spacing_range=(1.0, 2.0), prob=2)
    with _raises("base_scale must be finite and > 0, got 0.0."):
        ScalePolicy(base_scale=0.0)
    with _raises("tolerance must be a finite number >= 0 (relative, e.g. 0.01), got -0.1."):
        CheckSpacingRange(None, tolerance=-0.1)
    with _raises("Ellipsoid semi-axis a must be a finite number > 0 (mm), got inf."):
        Ellipsoid((math.inf, 1.0, 1.0))
