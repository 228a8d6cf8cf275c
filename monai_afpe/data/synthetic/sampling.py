"""Seeded random draws for the synthetic data generators: one stream per sample, validated ranges.

Every sample ``i`` of a data set generated with ``seed`` draws from its own generator
``numpy.random.default_rng([seed, i])``, so a sample does not depend on how many samples are
generated, nor on the order in which they are generated, and the same seed gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from monai.utils import ensure_tuple_rep

__all__ = ["sample_rng", "check_image_size", "check_range", "check_seed"]


def check_seed(seed: int) -> int:
    """Return ``seed`` as an int after checking that it is a non-negative integer."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    return int(seed)


def sample_rng(seed: int, index: int) -> np.random.Generator:
    """The random generator of sample ``index`` of a data set generated with ``seed``."""
    return np.random.default_rng([check_seed(seed), int(index)])


def check_range(
    name: str, value: Sequence[float], minimum: float | None = None, maximum: float | None = None
) -> tuple[float, float]:
    """Validate a ``(low, high)`` range argument and return it as two floats.

    Args:
        name: argument name used in the error message.
        value: the range; ``low == high`` is allowed and makes the draw constant.
        minimum: smallest allowed ``low`` (inclusive), or None.
        maximum: largest allowed ``high`` (inclusive), or None.

    Raises:
        ValueError: naming the argument, the bad value and the allowed interval.
    """
    bounds = f"[{'-inf' if minimum is None else minimum}, {'inf' if maximum is None else maximum}]"
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a (low, high) pair of numbers within {bounds}, got {value!r}.") from None
    if not low <= high or (minimum is not None and low < minimum) or (maximum is not None and high > maximum):
        raise ValueError(f"{name} must be a (low, high) pair with low <= high within {bounds}, got {value!r}.")
    return low, high


def check_image_size(
    name: str, value: Sequence[int] | int, num_axes: int, minimum: int, unit: str = "voxels"
) -> tuple[int, ...]:
    """Validate an image size argument (one size for every axis or one per axis) and return it as ints.

    Args:
        name: argument name used in the error message.
        value: the size, one integer or ``num_axes`` integers.
        num_axes: the number of spatial axes.
        minimum: smallest allowed size of every axis.
        unit: what the size counts, for the message (``"voxels"``, ``"pixels"``).

    Raises:
        ValueError: a size below ``minimum``, naming the argument, the minimum and the value.
    """
    size = tuple(int(s) for s in ensure_tuple_rep(value, num_axes))
    if min(size) < minimum:
        raise ValueError(f"{name} must be at least {minimum} {unit} per axis, got {value!r}.")
    return size
