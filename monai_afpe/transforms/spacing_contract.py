"""A spacing contract: the range of spacing a model was trained on, and a check of new inputs against it.

A spacing-aware positional encoding (arXiv 2509.02488) lets one network read images of different voxel
spacing, but only within the range it saw in training: outside it, accuracy can fall sharply (a model
trained on 1-3 mm slices and tested on 4-6 mm slices fell from about 0.9 to 0.3-0.6 in our
experiments). A *contract* states that range per array axis, as a mapping (or a JSON file)::

    {
        "axes": ["x (left-right)", "y (posterior-anterior)", "z (inferior-superior)"],
        "units": ["mm", "mm", "mm"],
        "min": [0.6, 0.6, 1.0],
        "max": [1.2, 1.2, 5.0],
        "image_size": [32, 32, 32],
        "samples": 14400,
        "source": "training batches"
    }

Only ``min`` and ``max`` are required; ``axes`` default to ``axis 0``, ``axis 1``, ... and ``units`` to mm.
The spacing is the one the network receives (``spacing=``), per array axis after the bundle's transforms.
:class:`~monai_afpe.handlers.SpacingRangeRecorder` writes ``<ckpt_dir>/spacing_contract.json`` from the
training batches; :func:`load_spacing_contract` reads it (or falls back to a bundle's declared default);
:class:`CheckSpacingRange` / :class:`CheckSpacingRanged` warn (or fail) when an input falls outside it.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.config import KeysCollection, NdarrayOrTensor
from monai.data import MetaTensor
from monai.transforms import MapTransform, Transform
from monai.utils import TransformBackends, ensure_tuple_rep, look_up_option

from monai_afpe.transforms.spacing import DEFAULT_SPACING_UNIT
from monai_afpe.validation import check_nonempty_string, check_tolerance

__all__ = [
    "SPACING_ACTIONS",
    "SPACING_CONTRACT_FILENAME",
    "CheckSpacingRange",
    "CheckSpacingRangeD",
    "CheckSpacingRangeDict",
    "CheckSpacingRanged",
    "SpacingOutOfRangeWarning",
    "check_spacing_contract",
    "load_spacing_contract",
]

SPACING_CONTRACT_FILENAME = "spacing_contract.json"
"""Name of the contract file that :class:`~monai_afpe.handlers.SpacingRangeRecorder` writes into the checkpoint folder."""

SPACING_ACTIONS = ("warn", "error", "ignore")
"""What :class:`CheckSpacingRange` does with a spacing outside the contract."""

DEFAULT_SOURCE = "bundle default"
"""``source`` of a contract that :func:`load_spacing_contract` takes from its ``default`` argument."""


class SpacingOutOfRangeWarning(UserWarning):
    """An input's spacing lies outside the range its model was trained on (see :class:`CheckSpacingRange`)."""


def _numbers(value: Any) -> tuple[float, ...] | None:
    """``value`` as a tuple of floats, or None when it is not a flat sequence of real numbers (bools excluded)."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (Sequence, np.ndarray, torch.Tensor)):
        return None
    items = list(value.tolist() if isinstance(value, (np.ndarray, torch.Tensor)) else value)
    if not all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in items):
        return None
    return tuple(float(v) for v in items)


def check_spacing_contract(contract: Mapping, source: str = "spacing contract") -> dict[str, Any]:
    """Validate a spacing contract and return a normalised copy.

    Args:
        contract: a mapping with ``min`` and ``max`` (one finite number > 0 per axis, ``min <= max``) and,
            optionally, ``axes`` (one name per axis), ``units`` (one unit, or one per axis), ``image_size``
            (one positive integer per axis, or null), ``samples`` (a count >= 0) and ``source`` (text).
            Other keys are kept as they are.
        source: what the contract is (a file path, ``"bundle default"``), for error messages.

    Returns:
        a new dict with lists ``axes``, ``units``, ``min`` and ``max`` of equal length and, where given,
        ``image_size``, ``samples`` and ``source``.

    Raises:
        ValueError: naming ``source`` and the field that is missing or wrong, and what was expected.
    """
    if not isinstance(contract, Mapping):
        raise ValueError(
            f"{source}: a spacing contract must be a mapping with 'min' and 'max' (one value per axis), "
            f"got {type(contract).__name__}."
        )
    result = dict(contract)
    bounds = {}
    for field in ("min", "max"):
        if field not in contract:
            raise ValueError(
                f"{source}: field {field!r} is missing; a spacing contract needs 'min' and 'max', one spacing per axis."
            )
        values = _numbers(contract[field])
        if not values or not all(math.isfinite(v) and v > 0 for v in values):
            raise ValueError(
                f"{source}: field {field!r} must be a list of finite spacings > 0, one per axis, got {contract[field]!r}."
            )
        bounds[field] = values
    low, high = bounds["min"], bounds["max"]
    if len(low) != len(high):
        raise ValueError(
            f"{source}: fields 'min' and 'max' must have one value per axis each, got {len(low)} and {len(high)} values."
        )
    flipped = [i for i, (a, b) in enumerate(zip(low, high)) if a > b]
    if flipped:
        raise ValueError(f"{source}: 'min' exceeds 'max' along axes {flipped}: min {list(low)}, max {list(high)}.")
    rank = len(low)
    axes = contract.get("axes")
    if axes is None:
        axes = [f"axis {i}" for i in range(rank)]
    elif (
        isinstance(axes, (str, bytes, Mapping))
        or not isinstance(axes, Sequence)
        or len(axes) != rank
        or not all(isinstance(a, str) and a for a in axes)
    ):
        raise ValueError(f"{source}: field 'axes' must give one non-empty name per axis ({rank}), got {axes!r}.")
    units = contract.get("units", DEFAULT_SPACING_UNIT)
    try:
        unit_list = list(ensure_tuple_rep(units, rank)) if units is not None else []
    except ValueError:
        unit_list = []
    if not unit_list or not all(isinstance(u, str) and u for u in unit_list):
        raise ValueError(f"{source}: field 'units' must be one unit string, or one per axis ({rank}), got {units!r}.")
    result.update(axes=list(axes), units=unit_list, min=list(low), max=list(high))
    image_size = contract.get("image_size")
    if image_size is not None:
        sizes = _numbers(image_size)
        if sizes is None or len(sizes) != rank or not all(s == int(s) and s > 0 for s in sizes):
            raise ValueError(
                f"{source}: field 'image_size' must be null or one positive integer per axis ({rank}), got {image_size!r}."
            )
        result["image_size"] = [int(s) for s in sizes]
    samples = contract.get("samples")
    if samples is not None and (isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 0):
        raise ValueError(f"{source}: field 'samples' must be a count >= 0, got {samples!r}.")
    if "source" in contract and not isinstance(contract["source"], str):
        raise ValueError(f"{source}: field 'source' must be text, got {contract['source']!r}.")
    return result


def load_spacing_contract(ckpt_dir: str | os.PathLike, default: Mapping | None = None) -> dict[str, Any] | None:
    """The spacing contract of a model: the file written in training if there is one, else ``default``.

    Training with :class:`~monai_afpe.handlers.SpacingRangeRecorder` writes
    ``<ckpt_dir>/spacing_contract.json``, the spacing range of the batches the network was trained on;
    it wins over ``default``, the range a bundle declares for its default data (``trained_spacing_range``
    in its configs), which stands in for checkpoints trained without the recorder.

    Args:
        ckpt_dir: the checkpoint folder (its ``spacing_contract.json`` is read), or a contract file itself.
        default: the contract to use when there is no file; None to return None then.

    Returns:
        the validated contract (see :func:`check_spacing_contract`) with ``source`` set to the file's path,
        or to ``default``'s own ``source`` or ``"bundle default"``; None when there is neither.

    Raises:
        ValueError: the file is not JSON or not a valid contract, or ``default`` is not a valid contract;
            the message names the file (or ``bundle default``) and the field.
    """
    path = Path(ckpt_dir).expanduser()
    file = path if path.is_file() else path / SPACING_CONTRACT_FILENAME
    if file.is_file():
        try:
            content = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(
                f"{file}: cannot read the spacing contract ({type(error).__name__}: {error}); expected a JSON "
                f"object with 'min' and 'max' as written by monai_afpe.handlers.SpacingRangeRecorder. Delete the "
                "file to fall back to the bundle's default range."
            ) from error
        contract = check_spacing_contract(content, source=str(file))
        contract["source"] = str(file)
        return contract
    if default is None:
        return None
    source = default.get("source", DEFAULT_SOURCE) if isinstance(default, Mapping) else DEFAULT_SOURCE
    contract = check_spacing_contract(default, source=str(source))
    contract["source"] = str(source)
    return contract


def _format(value: float) -> str:
    return f"{value:.4g}"


class CheckSpacingRange(Transform):
    """Warn (or fail) when a spacing lies outside the range of a spacing contract; the spacing passes unchanged.

    A value is inside when ``min * (1 - tolerance) <= value <= max * (1 + tolerance)`` along its axis; the
    tolerance absorbs rounding (float32 spacing, values rounded in a file). The message names the file,
    every axis outside the range with its value and unit, the trained range and the contract's source,
    for example::

        case_07.nii.gz: spacing outside the range the model was trained on (models/spacing_contract.json):
        z (inferior-superior) 6 mm, trained on 1-5 mm. ...

    Args:
        contract: the contract (see :func:`check_spacing_contract`); None checks nothing.
        tolerance: relative tolerance (>= 0) at both ends of the range.
        action: ``"warn"`` (a :class:`SpacingOutOfRangeWarning`), ``"error"`` (a ``ValueError``) or
            ``"ignore"``.
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(self, contract: Mapping | None, tolerance: float = 0.01, action: str = "warn") -> None:
        self.action = look_up_option(action, SPACING_ACTIONS)
        self.tolerance = check_tolerance(tolerance, "tolerance", unit="relative, e.g. 0.01")
        self.contract = None
        if contract is not None:
            source = contract.get("source", "spacing contract") if isinstance(contract, Mapping) else "spacing contract"
            self.contract = check_spacing_contract(contract, source=str(source))

    def out_of_range(self, spacing: NdarrayOrTensor | Sequence[float], filename: str | None = None) -> list[str]:
        """Descriptions (``"z (inferior-superior) 6 mm, trained on 1-5 mm"``) of the axes outside the contract.

        Raises:
            ValueError: ``spacing`` is not one number per axis of the contract (naming ``filename``).
        """
        if self.contract is None:
            return []
        contract = self.contract
        rank = len(contract["min"])
        values = _numbers(spacing.detach().cpu().reshape(-1) if isinstance(spacing, torch.Tensor) else spacing)
        shape = tuple(spacing.shape) if isinstance(spacing, (np.ndarray, torch.Tensor)) else None
        if values is None or len(values) != rank or (shape is not None and len(shape) != 1):
            raise ValueError(
                f"{filename or '<image without filename_or_obj>'}: expected one spacing per axis of the spacing "
                f"contract ({contract.get('source', 'spacing contract')}: {rank} axes {contract['axes']}), "
                f"got {spacing!r}."
            )
        problems = []
        for value, axis, unit, low, high in zip(
            values, contract["axes"], contract["units"], contract["min"], contract["max"]
        ):
            if not low * (1.0 - self.tolerance) <= value <= high * (1.0 + self.tolerance):
                problems.append(f"{axis} {_format(value)} {unit}, trained on {_format(low)}-{_format(high)} {unit}")
        return problems

    def __call__(self, spacing: NdarrayOrTensor, filename: str | None = None) -> NdarrayOrTensor:
        """Check ``spacing`` (one value per axis) and return it unchanged.

        Args:
            spacing: the spacing the network will receive, shape ``(m,)``.
            filename: the input's file, for the message.

        Raises:
            ValueError: ``action="error"`` and the spacing is outside the contract, or ``spacing`` does not
                have one value per axis of the contract.
        """
        if self.action == "ignore" or self.contract is None:
            return spacing
        problems = self.out_of_range(spacing, filename)
        if problems:
            message = (
                f"{filename or '<image without filename_or_obj>'}: spacing outside the range the model was trained "
                f"on ({self.contract.get('source', 'spacing contract')}): {'; '.join(problems)}. Spacing-aware "
                "models degrade sharply outside their training range: resample the image into it (e.g. with "
                "monai.transforms.Spacingd) or fine-tune on this spacing, and check these predictions."
            )
            if self.action == "error":
                raise ValueError(message)
            warnings.warn(message, SpacingOutOfRangeWarning, stacklevel=2)
        return spacing


def _image_filename(image: Any, data: Mapping, key: Hashable) -> str | None:
    if isinstance(image, MetaTensor):
        name = image.meta.get("filename_or_obj")
    else:
        meta = data.get(f"{key}_meta_dict")
        name = meta.get("filename_or_obj") if isinstance(meta, Mapping) else None
    return None if name is None else str(name)


class CheckSpacingRanged(MapTransform):
    """Dictionary-based :class:`CheckSpacingRange`: checks ``<key>_<spacing_key_postfix>`` of each image key.

    Place it where the spacing the network receives is known: after
    :class:`~monai_afpe.transforms.ExtractSpacingd` (and after any transform that rescales that entry, such
    as the echo bundle's ``Lambdad`` that multiplies the time step by the clip period). The file named in
    the message is the image's ``meta["filename_or_obj"]``. The data pass unchanged.

    Args:
        keys: keys of the images whose spacing entries are checked (e.g. ``"image"`` for ``"image_spacing"``).
        contract: the contract (see :func:`check_spacing_contract`, :func:`load_spacing_contract`); None
            checks nothing.
        tolerance: relative tolerance at both ends of the range.
        action: ``"warn"``, ``"error"`` or ``"ignore"``.
        spacing_key_postfix: postfix of the spacing entry, as in :class:`~monai_afpe.transforms.ExtractSpacingd`.
        allow_missing_keys: don't raise an exception if an image key is missing.
    """

    backend = CheckSpacingRange.backend

    def __init__(
        self,
        keys: KeysCollection,
        contract: Mapping | None,
        tolerance: float = 0.01,
        action: str = "warn",
        spacing_key_postfix: str = "spacing",
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.spacing_key_postfix = check_nonempty_string(spacing_key_postfix, "spacing_key_postfix")
        self.checker = CheckSpacingRange(contract, tolerance=tolerance, action=action)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            name = f"{key}_{self.spacing_key_postfix}"
            if name not in d:
                raise ValueError(
                    f"CheckSpacingRanged: no {name!r} in the data (keys {sorted(map(str, d))}); place it after "
                    f"ExtractSpacingd(keys={key!r}), or set spacing_key_postfix."
                )
            self.checker(d[name], filename=_image_filename(d[key], d, key))
        return d


CheckSpacingRangeD = CheckSpacingRangeDict = CheckSpacingRanged
