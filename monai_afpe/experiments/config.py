"""Experiment configs: YAML files with named presets, validated into frozen dataclasses with clear errors.

A config (``configs/experiments/*.yaml``) describes one comparison of positional encodings from
"Anisotropic Fourier Features for Positional Encoding in Medical Imaging" (arXiv 2509.02488)::

    name: anisotropy_sweep
    kind: benchmark                  # benchmark | scale_search | similarity
    description: ...
    seeds: 3                         # or an explicit list; a seed sets the network init and the Fourier draw G
    reference_arms: [sincos]         # paired differences are reported against these arms
    primary_comparison: {arm: [afpe-resolution], reference: [sincos]}   # declared before the run
    data:                            # the active source, shared keys, one sub-mapping per source
      source: organ_shapes
      anisotropy: 4
      organ_shapes: {protocol: stride, num_samples: 600}
      organmnist3d: {path: null}
    conditions:                      # a sweep: each condition overrides data / model options
      - {name: k=4, data: {anisotropy: 4}, model: {patch_size: [8, 8, 2]}}
    model: {hidden_size: 96, num_layers: 2, num_heads: 4, patch_size: [8, 8, 8], ...}
    training: {epochs: 12, batch_size: 32, learning_rate: 1.0e-3, ...}
    test_sets: [{name: test}]        # evaluation variants (e.g. another frame rate)
    arms:
      - {name: sincos, pos_embed: sincos}
      - {name: afpe-resolution, pos_embed: afpe, scales: {policy: resolution, base_scale: 0.5}}
    presets:
      quick: {training: {epochs: 12}}   # deep-merged over the base (dicts merge, lists replace)
      full: {...}

The dataclasses of this module are the schema, and its only statement: the keys of a section are the fields
of its dataclass (:func:`dataclasses.fields`; ``scales`` mappings take the fields of
:class:`~monai_afpe.transforms.ScalePolicy`), a key left out or set to null keeps the field's default, and each
field's check (``metadata["check"]``) validates and normalises the value whenever the dataclass is constructed,
from a file or in code. An unknown key anywhere is an error naming the file, the key path, the key, the closest
allowed key and all of them; a bad value names the file, the key path, the value and what is allowed.
"""

from __future__ import annotations

import copy
import difflib
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, NoReturn

import yaml
from monai.utils import ensure_tuple

from monai_afpe.experiments.data import (
    DATA_OPTION_KEYS,
    SOURCE_TASKS,
    TEST_SET_OPTION_KEYS,
    check_test_set_options,
    source_options,
)
from monai_afpe.networks.blocks import (
    POSITION_MODES,
    POSITIONAL_EMBEDDING_KINDS,
    ROTARY_KINDS,
    SPACING_EMBEDDING_TARGETS,
    positional_embedding_options,
)
from monai_afpe.networks.nets import VIT_POOLING
from monai_afpe.transforms import ScalePolicy

__all__ = [
    "EXPERIMENT_KINDS",
    "DATA_SOURCES",
    "ARM_NETWORKS",
    "NETWORK_TASKS",
    "NETWORK_MODEL_CONFIGS",
    "ConfigError",
    "TrainingConfig",
    "ViTModelConfig",
    "UNETRModelConfig",
    "SpacingEmbeddingConfig",
    "RotaryConfig",
    "AugmentConfig",
    "ResampleConfig",
    "ArmConfig",
    "ConditionConfig",
    "TestSetConfig",
    "FinetuneConfig",
    "SearchConfig",
    "SimilarityConfig",
    "PrimaryComparison",
    "ExperimentConfig",
    "deep_merge",
    "load_experiment_config",
    "parse_experiment_config",
]

#: what an experiment does: train and compare arms, search scales, or draw encodings (no training)
EXPERIMENT_KINDS = ("benchmark", "scale_search", "similarity")
#: where the data comes from (the sources of :data:`~monai_afpe.experiments.data.SOURCE_TASKS`)
DATA_SOURCES = tuple(SOURCE_TASKS)
#: the tasks each network learns (a data source's task is :data:`~monai_afpe.experiments.data.SOURCE_TASKS`):
#: the project's AFPEViT and AFPEUNETR, or MONAI's own ViT and UNETR (fused attention)
NETWORK_TASKS = {
    "afpe_vit": ("classification", "multilabel", "regression"),
    "monai_vit": ("classification", "multilabel"),
    "afpe_unetr": ("segmentation",),
    "monai_unetr": ("segmentation",),
}
#: networks an arm can train
ARM_NETWORKS = tuple(NETWORK_TASKS)
#: positional embeddings MONAI's ViT offers (its ``pos_embed_type``)
_MONAI_VIT_POS_EMBED = ("none", "learnable", "sincos")
#: MONAI's UNETR builds its ViT with the default ``pos_embed_type="learnable"`` and 12 blocks; neither can be set
_MONAI_UNETR_POS_EMBED = "learnable"
_MONAI_UNETR_NUM_LAYERS = 12
#: spacing-embedding targets of AFPEUNETR (it has no class token)
_UNETR_SPACING_TARGETS = ("tokens", "film")
#: positional kinds without scales
_UNSCALED_KINDS = ("none", "learnable", "sincos")
#: the keys of a ``scales`` mapping: the options of ScalePolicy (whose ``scales`` the config calls ``values``),
#: or ``match_bandwidth`` with optional ``proportions``
_BANDWIDTH_KEYS = ("match_bandwidth", "proportions")
_SCALE_KEYS = tuple("values" if f.name == "scales" else f.name for f in fields(ScalePolicy)) + _BANDWIDTH_KEYS
#: the numeric keys of a ``scales`` mapping, which an arm's ``tune`` can vary
_TUNABLE_SCALE_KEYS = ("base_scale", "temporal_base_scale", "multipliers", "values")
#: options of the positional embedding that the harness sets (not ``pos_embed_kwargs``)
_HARNESS_EMBEDDING_OPTIONS = ("scales", "seed", "patch_size")
#: positional kinds a scale search can vary: Fourier features with fixed scales
_SEARCHABLE_KINDS = ("afpe", "ifpe")


class ConfigError(ValueError):
    """An invalid experiment config; the message names the file, the key path and what is allowed.

    Args:
        reason: what is wrong and what is allowed.
        path: where: the file and key path (``"demo.yaml: arms[0].scales"``), a key path relative to the section
            being built (``"scales"``), or empty.
    """

    def __init__(self, reason: str, path: str = "") -> None:
        super().__init__(f"{path}: {reason}" if path else reason)
        self.reason = reason
        self.path = path


def _fail(where: str, reason: str) -> NoReturn:
    raise ConfigError(reason, where)


def _inside(where: str, error: ConfigError) -> ConfigError:
    """``error`` of a value inside ``where``, its key path prefixed with ``where``."""
    if not error.path:
        return ConfigError(error.reason, where)
    return ConfigError(error.reason, where + error.path if error.path.startswith("[") else f"{where}.{error.path}")


def _check_keys(where: str, mapping: Any, allowed: Sequence[str], required: Sequence[str] = ()) -> dict:
    """``mapping`` as a dict, after checking that it holds only ``allowed`` keys and every ``required`` one."""
    if not isinstance(mapping, Mapping):
        _fail(where, f"expected a mapping with keys from {list(allowed)}, got {type(mapping).__name__} {mapping!r}.")
    for key in mapping:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            _fail(where, f"unknown key {key!r}{hint}; allowed keys: {', '.join(allowed)}.")
    for key in required:
        if key not in mapping:
            _fail(where, f"missing required key {key!r}.")
    return dict(mapping)


def deep_merge(base: Mapping, override: Mapping) -> dict:
    """``base`` with ``override`` merged in: nested mappings merge key by key, anything else is replaced."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


# Checks: ``check(key path, value)`` returns the value (normalised) or raises ConfigError naming the key path.
_Check = Callable[[str, Any], Any]


def _integer(minimum: int) -> _Check:
    def check(where: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            _fail(where, f"expected an integer >= {minimum}, got {value!r}.")
        return int(value)

    return check


def _number(allow_zero: bool) -> _Check:
    def check(where: str, value: Any) -> float:
        ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
        if not ok or value < 0 or (value == 0 and not allow_zero):
            _fail(where, f"expected a finite number {'>= 0' if allow_zero else '> 0'}, got {value!r}.")
        return float(value)

    return check


_positive_int, _non_negative_int = _integer(1), _integer(0)
_positive, _non_negative = _number(allow_zero=False), _number(allow_zero=True)


def _fraction(what: str) -> _Check:
    def check(where: str, value: Any) -> float:
        if _non_negative(where, value) > 1:
            _fail(where, f"expected {what} in [0, 1], got {value!r}.")
        return float(value)

    return check


def _flag(where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        _fail(where, f"expected true or false, got {value!r}.")
    return value


def _text(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        _fail(where, f"expected a non-empty string, got {value!r}.")
    return value


def _label(where: str, value: Any) -> str:
    """A name in tables (of a condition or a test set); a number is taken as its text."""
    return _text(where, str(value))


def _free_text(where: str, value: Any) -> str:
    return str(value).strip()


def _choice(options: Sequence[str]) -> _Check:
    def check(where: str, value: Any) -> str:
        if value not in options:
            _fail(where, f"{value!r} is not one of {', '.join(options)}.")
        return value

    return check


def _mapping(where: str, value: Any) -> dict:
    if not isinstance(value, Mapping):
        _fail(where, f"expected a mapping, got {value!r}.")
    return dict(value)


def _optional(check: _Check) -> _Check:
    def optional(where: str, value: Any) -> Any:
        return None if value is None else check(where, value)

    return optional


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str)


def _list_of(check: _Check, what: str) -> _Check:
    """A non-empty list whose items pass ``check`` (the list is kept as given)."""

    def checked(where: str, value: Any) -> Sequence:
        if not _is_list(value) or not value:
            _fail(where, f"expected a non-empty list of {what}, got {value!r}.")
        for i, item in enumerate(value):
            check(f"{where}[{i}]", item)
        return value

    return checked


def _one_or_list(check: _Check, what: str) -> _Check:
    """One value or a non-empty list of values (one per axis) that pass ``check``, kept as given."""
    checked_list = _list_of(check, what)

    def checked(where: str, value: Any) -> Any:
        if _is_list(value):
            return checked_list(where, value)
        check(where, value)
        return value

    return checked


_sizes = _one_or_list(_positive_int, "positive integers")
_lengths = _one_or_list(_positive, "positive numbers")


def _any_list(where: str, value: Any) -> Sequence:
    if not _is_list(value) or not value:
        _fail(where, f"expected a non-empty list, got {value!r}.")
    return value


def _seeds(where: str, value: Any) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        return tuple(range(_positive_int(where, value)))
    if not _is_list(value) or not value:
        _fail(where, f"expected a number of seeds (>= 1) or a non-empty list of seeds, got {value!r}.")
    seeds = tuple(_non_negative_int(f"{where}[{i}]", s) for i, s in enumerate(value))
    if len(set(seeds)) != len(seeds):
        _fail(where, f"seeds must be distinct, got {list(seeds)}.")
    return seeds


def _arm_names(allow_empty: bool) -> _Check:
    """An arm name or a list of distinct arm names, as a tuple."""

    def check(where: str, value: Any) -> tuple[str, ...]:
        names = (value,) if isinstance(value, str) else value
        if not _is_list(names) or not (names or allow_empty):
            _fail(
                where,
                f"expected an arm name or a{'' if allow_empty else ' non-empty'} list of arm names, got {value!r}.",
            )
        names = tuple(_text(f"{where}[{i}]", name) for i, name in enumerate(names))
        if len(set(names)) != len(names):
            _fail(where, f"arm names must be distinct, got {list(names)}.")
        return names

    return check


def _counts(where: str, value: Any) -> tuple[int, ...]:
    """One or more positive integers, as a tuple."""
    sizes = value if _is_list(value) else [value]
    if not sizes:
        _fail(where, "expected one or more numbers of labelled target volumes, got none.")
    return tuple(_positive_int(f"{where}[{i}]", n) for i, n in enumerate(sizes))


def _data_options(where: str, value: Any) -> dict:
    """A config's ``data``: ``source`` and the options of :func:`~monai_afpe.experiments.data.source_options`."""
    data = _check_keys(where, value, DATA_OPTION_KEYS, required=("source",))
    _choice(DATA_SOURCES)(f"{where}.source", data["source"])
    return data


def _data_overrides(where: str, value: Any) -> dict:
    """Data options merged over a config's ``data`` (a condition's, fine-tuning's)."""
    return _check_keys(where, value, DATA_OPTION_KEYS)


def _axis_groups(where: str, value: Any) -> Sequence:
    if not _is_list(value) or not value or not all(_is_list(g) and g for g in value):
        _fail(where, f"expected a list of axis lists, e.g. [[0, 1], [2]], got {value!r}.")
    axes = [a for g in value for a in g]
    if any(isinstance(a, bool) or not isinstance(a, int) for a in axes) or sorted(axes) != list(range(len(axes))):
        _fail(where, f"every axis 0..m-1 must appear exactly once, got {value!r}.")
    return value


def _scales(where: str, value: Any) -> Any:
    """An arm's ``scales``: a number or per-axis list, ``{match_bandwidth: arm[, proportions: per-axis]}``, or the
    options of ScalePolicy."""
    if not isinstance(value, Mapping):
        return _lengths(where, value)
    spec = _check_keys(where, value, _SCALE_KEYS)
    if "proportions" in spec and "match_bandwidth" not in spec:
        _fail(f"{where}.proportions", "needs match_bandwidth: the arm whose overall bandwidth ||s|| the scales take.")
    if "match_bandwidth" in spec:
        others = sorted(set(spec) - set(_BANDWIDTH_KEYS))
        if others:
            _fail(
                where,
                f"match_bandwidth takes only proportions (the per-axis shape of the scales), got also {others}.",
            )
        _text(f"{where}.match_bandwidth", spec["match_bandwidth"])
        if "proportions" in spec:
            _lengths(f"{where}.proportions", spec["proportions"])
        return spec
    try:
        policy = ScalePolicy(**{("scales" if key == "values" else key): v for key, v in spec.items()})
    except (TypeError, ValueError) as error:
        _fail(where, str(error).replace("scales", "values"))  # the config calls ScalePolicy's scales "values"
    return {**spec, "policy": policy.policy}


def _tune(where: str, value: Any) -> dict:
    """``{key: [candidates]}`` over one numeric key of the arm's ``scales``."""
    if not isinstance(value, Mapping) or len(value) != 1:
        _fail(where, f"expected one key of {list(_TUNABLE_SCALE_KEYS)} with a list of candidates, got {value!r}.")
    ((key, candidates),) = value.items()
    if key not in _TUNABLE_SCALE_KEYS:
        _fail(where, f"{key!r} cannot be tuned; tunable keys: {', '.join(_TUNABLE_SCALE_KEYS)}.")
    if not _is_list(candidates) or len(candidates) < 2:
        _fail(f"{where}.{key}", f"expected a list of at least 2 candidates, got {candidates!r}.")
    for i, candidate in enumerate(candidates):
        _lengths(f"{where}.{key}[{i}]", candidate)
    return {key: list(candidates)}


def _pos_embed_kwargs(where: str, value: Any) -> dict:
    kwargs = _mapping(where, value)
    for key in _HARNESS_EMBEDDING_OPTIONS:
        if key in kwargs:
            _fail(
                f"{where}.{key}",
                "is set by the harness (scales from the arm's 'scales', seed from the run, patch_size from the model).",
            )
    return kwargs


# The schema: dataclasses whose fields are the keys of a section (but fields with this metadata).
_NOT_A_KEY = {"key": False}


def _checked(check: _Check, default: Any = MISSING, default_factory: Any = MISSING) -> Any:
    """A field of the schema whose value ``check`` validates and normalises at construction."""
    return field(default=default, default_factory=default_factory, metadata={"check": check})


def _has_default(f: Any) -> bool:
    return f.default is not MISSING or f.default_factory is not MISSING


def _keys(section: type) -> tuple[str, ...]:
    """The keys of a section: the fields of its dataclass."""
    return tuple(f.name for f in fields(section) if f.metadata.get("key", True))


def _required(section: type) -> tuple[str, ...]:
    """The keys of a section without a default."""
    return tuple(f.name for f in fields(section) if f.metadata.get("key", True) and not _has_default(f))


def _given(section: type, spec: Mapping) -> dict:
    """``spec`` without the keys set to null that have a default (they keep it)."""
    defaults = {f.name for f in fields(section) if _has_default(f)}
    return {key: value for key, value in spec.items() if value is not None or key not in defaults}


def _parse_section(section: type, where: str, value: Any) -> Any:
    """An instance of the dataclass ``section`` from a mapping of its keys (an instance is returned as is)."""
    if isinstance(value, section):
        return value
    spec = _check_keys(where, value, _keys(section), _required(section))
    try:
        return section(**_given(section, spec))
    except ConfigError as error:
        raise _inside(where, error) from None


def _section(section: type) -> _Check:
    def check(where: str, value: Any) -> Any:
        return _parse_section(section, where, value)

    return check


def _sections(section: type, what: str, allow_empty: bool = False) -> _Check:
    def check(where: str, value: Any) -> tuple:
        if not _is_list(value) or not (value or allow_empty):
            _fail(where, f"expected a{'' if allow_empty else ' non-empty'} list of {what}, got {value!r}.")
        return tuple(_parse_section(section, f"{where}[{i}]", item) for i, item in enumerate(value))

    return check


class _Section:
    """Base of the schema's dataclasses: construction runs each field's check, then :meth:`_check_section`."""

    def __post_init__(self) -> None:
        for f in fields(self):
            check = f.metadata.get("check")
            if check is not None:
                object.__setattr__(self, f.name, check(f.name, getattr(self, f.name)))
        self._check_section()

    def _check_section(self) -> None:
        """Check how the fields go together (sections with such rules override this)."""


@dataclass(frozen=True)
class TrainingConfig(_Section):
    """Optimisation of every run (``training``): AdamW, linear warm-up then cosine decay, optional bf16 autocast.

    Attributes:
        epochs: passes over the training set.
        batch_size, eval_batch_size: samples per step in training and evaluation.
        learning_rate, weight_decay: AdamW settings (peak learning rate).
        warmup_epochs: epochs of linear warm-up (may be fractional).
        bf16: run forward passes under ``torch.autocast(dtype=torch.bfloat16)``.
        compile: run the network through ``torch.compile`` in training and evaluation (one compiled view,
            :class:`~monai_afpe.inferers.CompiledInferer`); the saved-activation memory is then not measured.
        grad_clip: largest gradient norm (0 disables clipping).
        threads: ``torch.set_num_threads`` for the run (0 leaves PyTorch's default).
    """

    epochs: int = _checked(_positive_int, 10)
    batch_size: int = _checked(_positive_int, 32)
    eval_batch_size: int = _checked(_positive_int, 64)
    learning_rate: float = _checked(_positive, 1e-3)
    weight_decay: float = _checked(_non_negative, 0.05)
    warmup_epochs: float = _checked(_non_negative, 1.0)
    bf16: bool = _checked(_flag, True)
    compile: bool = _checked(_flag, False)
    grad_clip: float = _checked(_non_negative, 1.0)
    threads: int = _checked(_non_negative_int, 0)


@dataclass(frozen=True)
class ViTModelConfig(_Section):
    """The model options of the ViT networks (``afpe_vit``, ``monai_vit``) and the harness's defaults for them.

    A config's ``model``, a condition's and an arm's are overrides of these, merged in that order; an option set
    to null there keeps the default.

    Attributes:
        patch_size: voxels per token, one or per axis.
        hidden_size, mlp_dim, num_layers, num_heads, dropout_rate, qkv_bias: the transformer.
        pooling: ``"cls"`` (class token) or ``"mean"``; MONAI's ViT needs ``"cls"``.
        stem_channels: channels of a convolutional stem before the patches, or ``None`` (linear patches; MONAI's
            ViT has no stem).
    """

    patch_size: int | Sequence[int] = _checked(_sizes, 8)
    hidden_size: int = _checked(_positive_int, 96)
    mlp_dim: int = _checked(_positive_int, 192)
    num_layers: int = _checked(_positive_int, 2)
    num_heads: int = _checked(_positive_int, 4)
    dropout_rate: float = _checked(_fraction("a rate"), 0.0)
    qkv_bias: bool = _checked(_flag, True)
    pooling: str = _checked(_choice(VIT_POOLING), "cls")
    stem_channels: int | Sequence[int] | None = _checked(_optional(_sizes), None)


@dataclass(frozen=True)
class UNETRModelConfig(_Section):
    """The model options of the UNETR networks (``afpe_unetr``, ``monai_unetr``) and the harness's defaults.

    UNETR's patches are 16 voxels (not an option) and it has no class token. Overrides merge as for
    :class:`ViTModelConfig`.

    Attributes:
        feature_size: channels of the decoder's first stage.
        hidden_size, mlp_dim, num_layers, num_heads, dropout_rate, qkv_bias: the transformer encoder; MONAI's
            UNETR has 12 blocks (fixed), AFPEUNETR a multiple of 4.
    """

    feature_size: int = _checked(_positive_int, 16)
    hidden_size: int = _checked(_positive_int, 96)
    mlp_dim: int = _checked(_positive_int, 192)
    num_layers: int = _checked(_positive_int, _MONAI_UNETR_NUM_LAYERS)
    num_heads: int = _checked(_positive_int, 4)
    dropout_rate: float = _checked(_fraction("a rate"), 0.0)
    qkv_bias: bool = _checked(_flag, True)


#: the model options of each network and their defaults
NETWORK_MODEL_CONFIGS = {
    "afpe_vit": ViTModelConfig,
    "monai_vit": ViTModelConfig,
    "afpe_unetr": UNETRModelConfig,
    "monai_unetr": UNETRModelConfig,
}
#: every model option of any network, with its check
_MODEL_CHECKS = {f.name: f.metadata["check"] for model in (ViTModelConfig, UNETRModelConfig) for f in fields(model)}


def _model_overrides(where: str, value: Any) -> dict:
    """A ``model`` mapping: overrides of any network's model options; null keeps an option's default."""
    model = _check_keys(where, value, tuple(_MODEL_CHECKS))
    return {key: None if v is None else _MODEL_CHECKS[key](f"{where}.{key}", v) for key, v in model.items()}


@dataclass(frozen=True)
class SpacingEmbeddingConfig(_Section):
    """An arm's ``spacing_embedding`` (a bare target string is accepted): the network is told each sample's spacing.

    Attributes:
        target: where :class:`~monai_afpe.networks.blocks.SpacingEmbedding` acts: ``cls``, ``tokens`` or ``film``.
        mlp_dim: its hidden size, or ``None`` for SpacingEmbedding's default.
        reference_spacing: the spacing its log input is centred on, or ``None`` for the training set's median
            spacing.
    """

    target: str = _checked(_choice(SPACING_EMBEDDING_TARGETS))
    mlp_dim: int | None = _checked(_optional(_positive_int), None)
    reference_spacing: float | Sequence[float] | None = _checked(_optional(_lengths), None)


@dataclass(frozen=True)
class RotaryConfig(_Section):
    """An arm's ``rotary``: a rotary embedding in every block (:class:`~monai_afpe.networks.blocks.RotaryEmbedding`).

    Attributes:
        kind: ``axial`` or ``mixed``.
        mode: positions of ``grid`` or ``physical`` offsets, or ``None`` for RotaryPositions' default.
        reference_extent: the length (mm, s) of one position unit; needed by ``physical``.
        theta: base of the frequency ladder, or ``None`` for the kind's default.
    """

    kind: str = _checked(_choice(ROTARY_KINDS))
    mode: str | None = _checked(_optional(_choice(POSITION_MODES)), None)
    reference_extent: float | Sequence[float] | None = _checked(_optional(_lengths), None)
    theta: float | None = _checked(_optional(_positive), None)

    def _check_section(self) -> None:
        if self.mode == "physical" and self.reference_extent is None:
            raise ConfigError("mode 'physical' needs reference_extent (mm per position unit, e.g. one token length).")


@dataclass(frozen=True)
class AugmentConfig(_Section):
    """An arm's ``augment``: random spacing augmentation of the training volumes each epoch.

    Every volume is resampled to a spacing drawn per axis (:class:`~monai_afpe.transforms.RandSpacing`), then
    cropped or padded back to the input size.

    Attributes:
        spacing_range: one ``[low, high]`` for every axis, or one entry per axis (``null`` keeps an axis).
        tie_axes: groups of axes that get the same draw, or ``None``.
        prob: probability that a volume is resampled.
        log_uniform: draw the spacing log-uniformly.
    """

    spacing_range: Sequence = _checked(_any_list)
    tie_axes: Sequence[Sequence[int]] | None = _checked(_optional(_any_list), None)
    prob: float = _checked(_fraction("a probability"), 1.0)
    log_uniform: bool = _checked(_flag, False)


@dataclass(frozen=True)
class ResampleConfig(_Section):
    """An arm's ``resample``: every image resampled to ``spacing`` (MONAI ``Spacingd``), then cropped or padded to
    ``spatial_size``, before training (the standard isotropic pipeline)."""

    spacing: float | Sequence[float] = _checked(_lengths)
    spatial_size: int | Sequence[int] = _checked(_sizes)


def _spacing_embedding(where: str, value: Any) -> SpacingEmbeddingConfig:
    return _parse_section(SpacingEmbeddingConfig, where, {"target": value} if isinstance(value, str) else value)


@dataclass(frozen=True)
class ArmConfig(_Section):
    """One positional-encoding arm (an item of ``arms``).

    Attributes:
        name: label in tables and plots.
        network: ``"afpe_vit"`` (default) or ``"monai_vit"``: MONAI's ``ViT`` with fused attention switched
            on in its blocks and its own ``pos_embed_type`` (``none``, ``learnable``, ``sincos``), the
            network a MONAI user would train; it takes no spacing and no stem. For segmentation,
            ``"afpe_unetr"`` (:class:`~monai_afpe.networks.nets.AFPEUNETR`: every option of an AFPEViT arm,
            spacing embedding on ``tokens`` or ``film`` only) or ``"monai_unetr"`` (MONAI's ``UNETR``: its
            positional embedding is fixed by MONAI to a learnable table, ``pos_embed: learnable``, and its
            depth to 12 blocks; no spacing options). :data:`NETWORK_TASKS` gives each network's tasks.
        pos_embed: a kind of ``POSITIONAL_EMBEDDING_KINDS``.
        scales: for Fourier kinds: ``None`` (the kind's default), a number or per-axis list, or a
            mapping with ``policy`` (``physical``, ``resolution``, ``fixed`` with ``values``) and the
            options of :class:`~monai_afpe.transforms.ScalePolicy` (the policy filled in), or
            ``match_bandwidth: <arm>``: scales with the Euclidean norm ``||s||`` of that arm's (equal overall
            bandwidth), isotropic, or in the per-axis ``proportions`` (``[4, 1]``: ``s_0 / s_1 = 4``).
        pos_embed_kwargs: further options of the embedding (``mode``, ``reference_extent``, ``cls_position``; its
            options are :func:`~monai_afpe.networks.blocks.positional_embedding_options`, less those the harness
            sets: ``scales``, ``seed``, ``patch_size``).
        spacing_embedding: ``None`` or a :class:`SpacingEmbeddingConfig`.
        rotary: ``None`` or a :class:`RotaryConfig`.
        model: overrides of the model options for this arm (e.g. ``stem_channels: null`` for MONAI's ViT): keys of
            :class:`ViTModelConfig` or :class:`UNETRModelConfig`, by network.
        resample: ``None`` or a :class:`ResampleConfig`.
        augment: ``None`` or an :class:`AugmentConfig`.
        tune: ``{key: [candidates]}`` over one key of ``scales`` (``base_scale``, ``temporal_base_scale``,
            ``multipliers``, ``values``): every candidate is trained and the one with the best
            validation score is kept, per seed.
        description: free text for the report.
    """

    name: str = _checked(_text)
    pos_embed: str = _checked(_choice(POSITIONAL_EMBEDDING_KINDS))
    network: str = _checked(_choice(ARM_NETWORKS), "afpe_vit")
    scales: Any = _checked(_optional(_scales), None)
    pos_embed_kwargs: dict = _checked(_pos_embed_kwargs, default_factory=dict)
    spacing_embedding: SpacingEmbeddingConfig | None = _checked(_optional(_spacing_embedding), None)
    rotary: RotaryConfig | None = _checked(_optional(_section(RotaryConfig)), None)
    model: dict = _checked(_model_overrides, default_factory=dict)
    resample: ResampleConfig | None = _checked(_optional(_section(ResampleConfig)), None)
    augment: AugmentConfig | None = _checked(_optional(_section(AugmentConfig)), None)
    tune: dict | None = _checked(_optional(_tune), None)
    description: str = _checked(_free_text, "")

    def _check_section(self) -> None:
        name, kind = self.name, self.pos_embed
        if self.scales is not None and kind in _UNSCALED_KINDS:
            scaled = ", ".join(k for k in POSITIONAL_EMBEDDING_KINDS if k not in _UNSCALED_KINDS)
            _fail("scales", f"pos_embed {kind!r} has no scales; scales apply to {scaled}.")
        extras = (("spacing_embedding", self.spacing_embedding), ("rotary", self.rotary))
        extras += (("pos_embed_kwargs", self.pos_embed_kwargs),)
        if self.network == "monai_vit":
            if kind not in _MONAI_VIT_POS_EMBED:
                _fail("pos_embed", f"MONAI's ViT offers {', '.join(_MONAI_VIT_POS_EMBED)}, got {kind!r}.")
            for key, value in extras:
                if value:
                    _fail(key, "MONAI's ViT (network: monai_vit) takes no spacing, rotary or embedding options.")
        if self.network == "monai_unetr":
            if kind != _MONAI_UNETR_POS_EMBED:
                _fail(
                    "pos_embed",
                    f"arm {name!r}: MONAI's UNETR fixes its ViT's positional embedding to a learnable table; "
                    f"set pos_embed: {_MONAI_UNETR_POS_EMBED}, got {kind!r}.",
                )
            for key, value in extras:
                if value:
                    _fail(
                        key,
                        f"arm {name!r}: MONAI's UNETR (network: monai_unetr) takes no spacing, rotary or embedding "
                        "options.",
                    )
        if self.network == "afpe_unetr":
            if self.spacing_embedding is not None and self.spacing_embedding.target not in _UNETR_SPACING_TARGETS:
                _fail(
                    "spacing_embedding.target",
                    f"arm {name!r}: AFPEUNETR has no class token; targets are {', '.join(_UNETR_SPACING_TARGETS)}, "
                    f"got {self.spacing_embedding.target!r}.",
                )
            if self.pos_embed_kwargs.get("cls_position", "none") != "none":
                _fail(
                    "pos_embed_kwargs.cls_position",
                    f"arm {name!r}: AFPEUNETR has no class token; cls_position must be 'none', got "
                    f"{self.pos_embed_kwargs['cls_position']!r}.",
                )
        options = positional_embedding_options(kind)
        _check_keys(
            "pos_embed_kwargs", self.pos_embed_kwargs, [k for k in options if k not in _HARNESS_EMBEDDING_OPTIONS]
        )
        proportions = self.scales.get("proportions") if isinstance(self.scales, Mapping) else None
        if kind == "ifpe" and proportions is not None and len(set(ensure_tuple(proportions))) > 1:
            _fail(
                "scales.proportions",
                f"arm {name!r}: ifpe has one isotropic scale; unequal proportions {proportions!r} need pos_embed afpe.",
            )
        if self.tune is not None and (not isinstance(self.scales, Mapping) or "match_bandwidth" in self.scales):
            _fail("tune", "needs a 'scales' mapping (policy and options) whose key it varies.")


@dataclass(frozen=True)
class ConditionConfig(_Section):
    """One setting of a sweep (an item of ``conditions``): overrides of the data options and of the model options."""

    name: str = _checked(_label)
    data: dict = _checked(_data_overrides, default_factory=dict)
    model: dict = _checked(_model_overrides, default_factory=dict)


@dataclass(frozen=True)
class TestSetConfig(_Section):
    """One evaluation of every trained model (an item of ``test_sets``): the test split, optionally changed
    (``options``, per data source: :data:`~monai_afpe.experiments.data.TEST_SET_OPTION_KEYS`)."""

    name: str = _checked(_label)
    options: dict = _checked(_mapping, default_factory=dict)


@dataclass(frozen=True)
class FinetuneConfig(_Section):
    """``finetune``: after training, every kept model is fine-tuned on few labelled volumes of a target data set.

    For each ``n`` of ``num_samples``, on the first ``n`` training volumes of the target (``data`` deep-merged
    over the condition's data; its seed defaults to the data seed + ``SHIFTED_TEST_SEED_OFFSET``, so no organ
    repeats a training one), evaluated on the target's test split (test sets ``finetune-n``); with
    ``from_scratch``, a fresh network of the arm is trained on the same volumes (``scratch-n``).

    Attributes:
        data: data options of the target (the source stays the config's).
        num_samples: the numbers ``n`` of labelled target volumes.
        epochs, learning_rate, warmup_epochs: the fine-tuning schedule (replacing the training section's).
        from_scratch: also train each arm from scratch on the same volumes.
    """

    data: dict = _checked(_data_overrides)
    num_samples: tuple[int, ...] = _checked(_counts)
    epochs: int = _checked(_positive_int, 20)
    learning_rate: float = _checked(_positive, 3e-4)
    warmup_epochs: float = _checked(_non_negative, 1.0)
    from_scratch: bool = _checked(_flag, True)


@dataclass(frozen=True)
class SearchConfig(_Section):
    """``search`` of a ``scale_search`` experiment (:mod:`monai_afpe.experiments.search`).

    Attributes:
        arm: the arm whose scales are searched (afpe or ifpe); it is also the default compared with.
        groups: axes sharing one searched scale, e.g. ``[[0, 1], [2]]`` (in-plane x = y, and z); every axis once.
        low, high: the log-uniform range of every searched scale.
        trials: Optuna trials.
        seed: the TPE sampler's seed and the training seed of every trial.
        startup_trials: trials before pruning starts.
        warmup_epochs: epochs before a trial may be pruned.
    """

    arm: str = _checked(_text)
    groups: Sequence[Sequence[int]] = _checked(_axis_groups)
    low: float = _checked(_positive, 0.02)
    high: float = _checked(_positive, 4.0)
    trials: int = _checked(_positive_int, 16)
    seed: int = _checked(_non_negative_int, 1000)
    startup_trials: int = _checked(_non_negative_int, 4)
    warmup_epochs: int = _checked(_non_negative_int, 2)

    def _check_section(self) -> None:
        if not self.low < self.high:
            raise ConfigError(f"need 0 < low < high, got low={self.low!r}, high={self.high!r}.")


@dataclass(frozen=True)
class SimilarityConfig(_Section):
    """``similarity`` of a ``similarity`` experiment (:mod:`monai_afpe.experiments.similarity`; no training).

    Attributes:
        grid: tokens per axis (2 or 3 axes).
        spacing: mm per voxel, per axis.
        patch_size: voxels per token, per axis.
        hidden_size: ``D`` (divisible by ``2 m`` for sincos).
        draws: draws of ``G`` for the empirical mean kernel.
        base_scale: ``s0``: IFPE's scale and AFPE's largest scale (physical policy).
        encodings: the kinds drawn in the similarity maps.
        token: the reference token per axis, or ``None`` for the centre token.
        plane_axis: for 3D grids, the axis normal to the plane drawn.
    """

    grid: Sequence[int] = _checked(_list_of(_positive_int, "positive integers"), (16, 16, 16))
    spacing: Sequence[float] = _checked(_list_of(_positive, "positive numbers"), (0.7, 0.7, 5.0))
    patch_size: Sequence[int] = _checked(_list_of(_positive_int, "positive integers"), (8, 8, 2))
    hidden_size: int = _checked(_positive_int, 384)
    draws: int = _checked(_positive_int, 32)
    base_scale: float = _checked(_positive, 1.0)
    encodings: Sequence[str] = _checked(
        _list_of(_choice(POSITIONAL_EMBEDDING_KINDS), "positional kinds"), ("sincos", "ifpe", "afpe")
    )
    token: Sequence[int] | None = _checked(_optional(_list_of(_non_negative_int, "token indices")), None)
    plane_axis: int = _checked(_non_negative_int, 1)

    def _check_section(self) -> None:
        if not len(self.grid) == len(self.spacing) == len(self.patch_size) or len(self.grid) not in (2, 3):
            raise ConfigError(
                f"grid, spacing and patch_size need 2 or 3 values each, got {list(self.grid)}, {list(self.spacing)}, "
                f"{list(self.patch_size)}."
            )


@dataclass(frozen=True)
class PrimaryComparison(_Section):
    """``primary_comparison``: the comparison declared before the run.

    The best of the ``arm`` names against the best of the ``reference`` names, each chosen by the mean validation
    score over seeds; an arm name or a list of them on each side.
    """

    arm: tuple[str, ...] = _checked(_arm_names(allow_empty=False))
    reference: tuple[str, ...] = _checked(_arm_names(allow_empty=False))

    def _check_section(self) -> None:
        shared = sorted(set(self.arm) & set(self.reference))
        if shared:
            raise ConfigError(f"an arm cannot be compared with itself: {shared} on both sides.")


@dataclass(frozen=True)
class ExperimentConfig(_Section):
    """A validated experiment (a config file with one preset applied); its fields but ``preset`` and ``path`` are
    the file's keys.

    Attributes:
        name, kind, description: what the experiment is.
        data: data source options (``source`` plus source-specific keys).
        seeds: seeds of the runs (a number ``n`` in the file is seeds ``0..n-1``); each seeds the network
            initialisation and the Fourier draw ``G``.
        reference_arms: the arms that paired differences are computed against (the first also for
            generalisation tables).
        primary_comparison: the :class:`PrimaryComparison` declared before the run, or ``None``.
        conditions: the sweep (one ``default`` condition when the file has none).
        model: overrides of the model options (:class:`ViTModelConfig` or :class:`UNETRModelConfig`, by network).
        training: optimisation settings.
        test_sets: evaluation variants of the test split.
        arms: the encodings compared.
        search: the :class:`SearchConfig` of a ``scale_search`` experiment (required there).
        similarity: the :class:`SimilarityConfig` of a ``similarity`` experiment (its defaults when the file has
            none).
        expected_time: free text: how long the preset takes (measured or estimated).
        finetune: a :class:`FinetuneConfig`, or ``None``.
        preset: the preset applied, or ``None``.
        path: the file it was read from, or ``None``.
    """

    name: str = _checked(_text)
    kind: str = _checked(_choice(EXPERIMENT_KINDS))
    data: dict = _checked(_data_options)
    description: str = _checked(_free_text, "")
    seeds: tuple[int, ...] = _checked(_seeds, (0, 1, 2))
    reference_arms: tuple[str, ...] = _checked(_arm_names(allow_empty=True), ())
    primary_comparison: PrimaryComparison | None = _checked(_optional(_section(PrimaryComparison)), None)
    conditions: tuple[ConditionConfig, ...] = _checked(
        _sections(ConditionConfig, "conditions"), (ConditionConfig("default"),)
    )
    model: dict = _checked(_model_overrides, default_factory=dict)
    training: TrainingConfig = _checked(_section(TrainingConfig), default_factory=TrainingConfig)
    test_sets: tuple[TestSetConfig, ...] = _checked(_sections(TestSetConfig, "test sets"), (TestSetConfig("test"),))
    arms: tuple[ArmConfig, ...] = _checked(_sections(ArmConfig, "arms", allow_empty=True), ())
    search: SearchConfig | None = _checked(_optional(_section(SearchConfig)), None)
    similarity: SimilarityConfig | None = _checked(_optional(_section(SimilarityConfig)), None)
    expected_time: str = _checked(_free_text, "")
    finetune: FinetuneConfig | None = _checked(_optional(_section(FinetuneConfig)), None)
    preset: str | None = field(default=None, metadata=_NOT_A_KEY)
    path: str | None = field(default=None, metadata=_NOT_A_KEY)

    def arm(self, name: str) -> ArmConfig:
        """The arm called ``name``."""
        for arm in self.arms:
            if arm.name == name:
                return arm
        raise KeyError(f"no arm {name!r}; arms: {[a.name for a in self.arms]}")

    def _check_section(self) -> None:
        _check_arm_names(self)
        _check_data(self)
        _check_networks(self)
        if self.kind == "scale_search":
            _check_search(self)
        if self.kind == "similarity" and self.similarity is None:
            object.__setattr__(self, "similarity", SimilarityConfig())


def _check_arm_names(config: ExperimentConfig) -> None:
    """Arm names are unique, and every name that refers to an arm finds one."""
    if config.kind != "similarity" and not config.arms:
        _fail("arms", "expected a non-empty list of arms.")
    names = [a.name for a in config.arms]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        _fail("arms", f"arm names must be unique, repeated: {duplicates}.")
    for i, arm in enumerate(config.arms):
        if isinstance(arm.scales, Mapping) and "match_bandwidth" in arm.scales:
            target = arm.scales["match_bandwidth"]
            if target not in names[:i]:
                _fail(f"arms[{i}].scales.match_bandwidth", f"{target!r} must name an earlier arm, one of {names[:i]}.")
            if config.arm(target).pos_embed in _UNSCALED_KINDS:
                _fail(
                    f"arms[{i}].scales.match_bandwidth",
                    f"arm {target!r} ({config.arm(target).pos_embed}) has no scales to match.",
                )
    for i, reference in enumerate(config.reference_arms):
        if reference not in names:
            _fail(f"reference_arms[{i}]", f"{reference!r} is not an arm; arms: {names}.")
    if config.primary_comparison is not None:
        for side in _keys(PrimaryComparison):
            for i, name in enumerate(getattr(config.primary_comparison, side)):
                if name not in names:
                    _fail(f"primary_comparison.{side}[{i}]", f"{name!r} is not an arm; arms: {names}.")


def _check_data(config: ExperimentConfig) -> None:
    """The data of every condition, test set and fine-tuning target is valid for the config's source."""
    source = config.data["source"]
    names = [c.name for c in config.conditions]
    if len(set(names)) != len(names):
        _fail("conditions", f"condition names must be unique, got {names}.")
    for i, condition in enumerate(config.conditions):
        try:
            source_options(deep_merge(config.data, condition.data))
        except ValueError as error:
            _fail(f"conditions[{i}] ({condition.name})", str(error))
    for i, test_set in enumerate(config.test_sets):
        _check_keys(f"test_sets[{i}].options", test_set.options, TEST_SET_OPTION_KEYS[source])
        try:
            check_test_set_options(source, test_set.name, test_set.options)
        except ValueError as error:
            _fail(f"test_sets[{i}].options", str(error))
    finetune = config.finetune
    if finetune is not None:
        if finetune.data.get("source", source) != source:
            _fail("finetune.data.source", f"fine-tuning keeps the source {source!r}, got {finetune.data['source']!r}.")
        try:
            source_options(deep_merge(config.data, finetune.data))
        except ValueError as error:
            _fail("finetune.data", str(error))


def _check_networks(config: ExperimentConfig) -> None:
    """Each arm's network learns the task of the data source and takes the model options it gets (per condition)."""
    source = config.data["source"]
    task = SOURCE_TASKS[source]
    for i, arm in enumerate(config.arms):
        at = f"arms[{i}]"
        if task not in NETWORK_TASKS[arm.network]:
            fitting = [n for n, tasks in NETWORK_TASKS.items() if task in tasks]
            _fail(
                f"{at}.network",
                f"arm {arm.name!r}: network {arm.network!r} learns {', '.join(NETWORK_TASKS[arm.network])}, but data "
                f"source {source!r} is a {task} task; networks for it: {', '.join(fitting)}.",
            )
        if task == "segmentation" and arm.augment is not None:
            _fail(
                f"{at}.augment",
                f"arm {arm.name!r}: spacing augmentation resamples the images only; the label maps of a segmentation "
                "task would not follow.",
            )
        allowed = _keys(NETWORK_MODEL_CONFIGS[arm.network])
        for condition in config.conditions:
            merged = {k: v for k, v in {**config.model, **condition.model, **arm.model}.items() if v is not None}
            extra = sorted(set(merged) - set(allowed))
            if extra:
                _fail(
                    f"{at}.model",
                    f"arm {arm.name!r} (condition {condition.name!r}): model options {extra} do not apply to network "
                    f"{arm.network!r}; it takes {', '.join(allowed)} (set a shared option to null in the arm's model "
                    "to drop it).",
                )
            layers = merged.get("num_layers")
            if arm.network == "monai_unetr" and layers not in (None, _MONAI_UNETR_NUM_LAYERS):
                _fail(
                    f"{at}.model.num_layers",
                    f"arm {arm.name!r}: MONAI's UNETR has {_MONAI_UNETR_NUM_LAYERS} blocks (fixed by MONAI), got {layers}.",
                )
            if arm.network == "afpe_unetr" and layers is not None and layers % 4:
                _fail(
                    f"{at}.model.num_layers",
                    f"arm {arm.name!r}: AFPEUNETR needs a multiple of 4 blocks (skips at 1/4, 1/2, 3/4 depth), got {layers}.",
                )


def _check_search(config: ExperimentConfig) -> None:
    """A scale search names the arm it searches, a Fourier encoding with fixed scales."""
    search = config.search
    if search is None:
        _fail("search", "a scale_search experiment needs this section (arm and groups at least).")
    names = [a.name for a in config.arms]
    if search.arm not in names:
        _fail("search.arm", f"{search.arm!r} must name the searched arm, one of {names}.")
    kind = config.arm(search.arm).pos_embed
    if kind not in _SEARCHABLE_KINDS:
        _fail(
            "search.arm",
            f"the searched arm must be a fixed-scale Fourier encoding ({' or '.join(_SEARCHABLE_KINDS)}), got {kind!r}.",
        )


def parse_experiment_config(raw: Mapping, preset: str | None = None, source: str = "<config>") -> ExperimentConfig:
    """Validate a config mapping, with ``preset`` (a key of its ``presets``) merged in.

    Args:
        raw: the mapping read from YAML.
        preset: name of the preset to apply, or ``None`` for the base config.
        source: name used in error messages (the file path).

    Raises:
        ConfigError: naming ``source``, the key path, the bad value or key and what is allowed.
    """
    keys = _keys(ExperimentConfig)
    top = _check_keys(source, raw, (*keys, "presets"), _required(ExperimentConfig))
    presets = top.pop("presets", None) or {}
    if not isinstance(presets, Mapping):
        _fail(f"{source}: presets", f"expected a mapping of preset name -> overrides, got {presets!r}.")
    if preset is not None:
        if preset not in presets:
            _fail(f"{source}: presets", f"no preset {preset!r}; this config has {sorted(presets) or 'none'}.")
        overridable = [k for k in keys if k not in ("name", "kind")]
        top = deep_merge(top, _check_keys(f"{source}: presets.{preset}", presets[preset] or {}, overridable))
    where = f"{source}" + (f" (preset {preset!r})" if preset else "")
    try:
        return ExperimentConfig(
            **_given(ExperimentConfig, top), preset=preset, path=None if source == "<config>" else source
        )
    except ConfigError as error:
        raise ConfigError(error.reason, f"{where}: {error.path}" if error.path else where) from None


def load_experiment_config(
    path: os.PathLike | str, preset: str | None = None, overrides: Mapping | None = None
) -> ExperimentConfig:
    """Read and validate a YAML experiment config.

    Args:
        path: the YAML file.
        preset: a key of its ``presets`` (e.g. ``"quick"``, ``"full"``, ``"tiny"``), or ``None``.
        overrides: a mapping deep-merged last (after the preset), e.g. ``{"data": {"path": ...}}``.

    Raises:
        FileNotFoundError: the file does not exist.
        ConfigError: invalid YAML or content, naming the file and the key path.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"experiment config not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}.")
    if overrides:
        raw = deep_merge(raw, {k: v for k, v in overrides.items() if k != "presets"})
        if preset is not None and preset in (raw.get("presets") or {}):
            # overrides win over the preset too: apply them to the preset's own values
            raw["presets"][preset] = deep_merge(raw["presets"][preset] or {}, overrides)
    return parse_experiment_config(raw, preset, str(path))
