"""Validation of option values shared across the package, with messages that name the option and the value.

Each ``check_*`` function returns the value normalised (a ``bool``, an ``int``, a ``float`` or a tuple of
floats; :func:`check_positive_values` and :func:`check_nonempty_string` return it unchanged) or raises a
``ValueError`` that names the option, says what was expected and shows the value given, e.g. ``pixel_spacing
must be one or 2 finite numbers > 0 (mm), got nan.``. The ``unit`` of an option, where one is given, is shown
in parentheses after what is expected. The ``is_*`` predicates are the tests these functions use, for messages worded by their caller
(e.g. an experiment config's ``key: expected ...``).

Checks that name fields of a file format (DICOM, NIfTI) stay with their readers
(:mod:`monai_afpe.data.readers.validation`); checks of the experiment config schema stay in
:mod:`monai_afpe.experiments.config`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

__all__ = [
    "FLAG_WORDS",
    "check_flag",
    "check_nonempty_string",
    "check_num_heads",
    "check_per_axis",
    "check_positive_int",
    "check_positive_number",
    "check_positive_values",
    "check_probability",
    "check_tolerance",
    "is_number",
    "is_positive_int",
    "is_positive_number",
]

#: the words accepted for a true / false option, case-insensitive
FLAG_WORDS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}


def _unit(unit: str | None) -> str:
    return f" ({unit})" if unit else ""


def is_number(value: Any) -> bool:
    """Whether ``value`` is a real number: a Python or NumPy integer or float, but not a ``bool``."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def is_positive_int(value: Any) -> bool:
    """Whether ``value`` is a Python or NumPy integer >= 1 (not a ``bool``, not a float such as ``2.0``)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) and bool(value >= 1)


def is_positive_number(value: Any) -> bool:
    """Whether ``value`` is a finite real number > 0 (see :func:`is_number`)."""
    return is_number(value) and math.isfinite(value) and bool(value > 0)


def check_flag(value: Any, name: str) -> bool:
    """A true / false option as a ``bool``, whether it came from Python, JSON, YAML or a command line.

    ``python -m monai.bundle run ... --resume false`` hands the config the *string* ``'false'`` (Python
    Fire parses only ``True`` / ``False`` as booleans), and ``bool('false')`` is True. This accepts
    booleans, the integers 0 and 1, and the words of :data:`FLAG_WORDS` in any case, and refuses the rest.

    Args:
        value: the option's value.
        name: the option's name, for the message.

    Raises:
        ValueError: any other value, naming ``name`` and the value.
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)) and int(value) in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in FLAG_WORDS:
        return FLAG_WORDS[value.strip().lower()]
    raise ValueError(f"{name} must be true or false, got {value!r}.")


def check_nonempty_string(value: Any, name: str, allow_none: bool = False) -> str | None:
    """A name such as a dictionary key or a key postfix: a non-empty string, returned unchanged.

    Args:
        value: the option's value.
        name: the option's name, for the message.
        allow_none: accept ``None`` (returned as is), e.g. for "do not write this entry".

    Raises:
        ValueError: ``{name} must be a non-empty string[ or None], got {value!r}.``
    """
    if value is None and allow_none:
        return None
    if not (isinstance(value, str) and value):
        raise ValueError(f"{name} must be a non-empty string{' or None' if allow_none else ''}, got {value!r}.")
    return value


def check_num_heads(hidden_size: int, num_heads: int) -> int:
    """Attention heads that split the token features evenly: ``num_heads >= 1`` dividing ``hidden_size``.

    Args:
        hidden_size: the token feature size.
        num_heads: the number of attention heads.

    Raises:
        ValueError: ``hidden_size ({hidden_size}) must be divisible by num_heads ({num_heads}).``
    """
    if num_heads < 1 or hidden_size % num_heads != 0:
        raise ValueError(f"hidden_size ({hidden_size}) must be divisible by num_heads ({num_heads}).")
    return int(num_heads)


def check_positive_int(value: Any, name: str, unit: str | None = None, allow_none: bool = False) -> int | None:
    """A count or a step: an integer >= 1, returned as an ``int``.

    Python and NumPy integers are accepted; a ``bool``, a float (even ``2.0``) or a string is not.

    Args:
        value: the option's value.
        name: the option's name (or a longer description), for the message.
        unit: what is counted, shown after "a positive integer", e.g. ``"epochs"``.
        allow_none: accept ``None`` (returned as is), e.g. for "no limit".

    Raises:
        ValueError: ``{name} must be a positive integer[ (unit)][ or None], got {value!r}.``

    Example::

        check_positive_int(np.int64(4), "frames")  # 4
        check_positive_int(None, "num_clips", allow_none=True)  # None
    """
    if value is None and allow_none:
        return None
    if not is_positive_int(value):
        raise ValueError(
            f"{name} must be a positive integer{_unit(unit)}{' or None' if allow_none else ''}, got {value!r}."
        )
    return int(value)


def check_positive_number(value: Any, name: str, unit: str | None = None) -> float:
    """A single finite real number > 0 (a length, a frame rate, a scale), returned as a ``float``.

    Args:
        value: the option's value; a Python or NumPy number, not a ``bool``, a string or a sequence.
        name: the option's name (or a longer description), for the message.
        unit: the unit of the value, for the message, e.g. ``"mm"`` or ``"frames per second"``.

    Raises:
        ValueError: ``{name} must be a finite number > 0[ (unit)], got {value!r}.``
    """
    if not is_positive_number(value):
        raise ValueError(f"{name} must be a finite number > 0{_unit(unit)}, got {value!r}.")
    return float(value)


def check_tolerance(value: Any, name: str, unit: str | None = None) -> float:
    """A tolerance: a single finite real number >= 0, returned as a ``float``.

    Args:
        value: the option's value; a Python or NumPy number, not a ``bool``, a string or a sequence.
        name: the option's name, for the message.
        unit: the unit of the tolerance, for the message, e.g. ``"mm"``, or ``"relative"``.

    Raises:
        ValueError: ``{name} must be a finite number >= 0[ (unit)], got {value!r}.``
    """
    if not (is_number(value) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0{_unit(unit)}, got {value!r}.")
    return float(value)


def check_probability(value: Any, name: str) -> float:
    """A probability or a rate in ``[0, 1]`` (both ends included), returned as a ``float``.

    Args:
        value: the option's value; a Python or NumPy number, not a ``bool``.
        name: the option's name, for the message.

    Raises:
        ValueError: ``{name} must be a number in [0, 1], got {value!r}.`` (NaN is not in ``[0, 1]``).
    """
    if not (is_number(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}.")
    return float(value)


def check_per_axis(
    value: Any, num_axes: int, name: str, positive: bool = True, finite: bool = True, unit: str | None = None
) -> tuple[float, ...]:
    """One float per axis, from one value for every axis or one value per axis.

    ``value`` may be a number, a sequence, a NumPy array or a tensor; its entries are read as floats in
    order (a nested sequence is read flat) and a single entry is repeated ``num_axes`` times, as MONAI's
    ``ensure_tuple_rep`` does for a scalar (unlike it, a one-element sequence is repeated too).

    Args:
        value: the option's value.
        num_axes: the number of axes.
        name: the option's name (or a longer description), for the message.
        positive: every value must be > 0.
        finite: every value must be finite (not NaN, not infinite).
        unit: the unit of the values, for the message, e.g. ``"mm"``.

    Returns:
        a tuple of ``num_axes`` floats.

    Raises:
        ValueError: entries that are not numbers, a number of entries other than 1 or ``num_axes``, or an
            entry that is not finite or not > 0 (as asked): ``{name} must be one or {num_axes} finite numbers
            > 0[ (unit)], got {value!r}.`` (the words "finite" and "> 0" as asked).

    Example::

        check_per_axis(0.5, 2, "pixel_spacing", unit="mm")  # (0.5, 0.5)
        check_per_axis((1, 2, 3), 3, "reference_spacing")  # (1.0, 2.0, 3.0)
    """
    if isinstance(value, torch.Tensor):
        value_read = value.detach().cpu().numpy()
    else:
        value_read = value
    try:
        values = tuple(float(v) for v in np.asarray(value_read, dtype=np.float64).reshape(-1))
    except (TypeError, ValueError):
        values = ()
    if len(values) == 1:
        values = values * num_axes
    ok = len(values) == num_axes
    ok = ok and (not finite or all(math.isfinite(v) for v in values)) and (not positive or all(v > 0 for v in values))
    if not ok:
        numbers = f"{'finite ' if finite else ''}numbers{' > 0' if positive else ''}"
        raise ValueError(f"{name} must be one or {num_axes} {numbers}{_unit(unit)}, got {value!r}.")
    return values


def check_positive_values(value: Any, name: str, unit: str | None = None) -> Any:
    """Check that ``value`` holds at least one number and that every number in it is finite and > 0.

    For values of any shape whose number of entries is not checked here: a number, a (nested) sequence,
    a NumPy array or a tensor (on any device). ``value`` is returned unchanged.

    Args:
        value: the option's value.
        name: the option's name, for the message.
        unit: the unit of the values, for the message.

    Raises:
        ValueError: ``{name} must be finite and > 0[ (unit)], got {value!r}.``, also for an empty value
            and for entries that are not numbers (strings included).
    """
    if isinstance(value, torch.Tensor):
        ok = value.numel() > 0 and bool(torch.isfinite(value).all()) and bool((value > 0).all())
    else:
        try:
            array = np.asarray(value)
        except (TypeError, ValueError):
            array = np.empty(0)
        ok = array.dtype.kind in "biuf" and array.size > 0
        ok = ok and bool(np.isfinite(array).all()) and bool((array > 0).all())
    if not ok:
        raise ValueError(f"{name} must be finite and > 0{_unit(unit)}, got {value!r}.")
    return value
