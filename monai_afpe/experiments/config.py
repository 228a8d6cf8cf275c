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

Every key is checked; an error names the file, the key path, the bad value and what is allowed.
"""

from __future__ import annotations

import copy
import difflib
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from monai_afpe.experiments.data import (
    DATA_OPTION_KEYS,
    SOURCE_TASKS,
    TEST_SET_OPTION_KEYS,
    check_test_set_options,
    source_options,
)
from monai_afpe.networks.blocks import POSITIONAL_EMBEDDING_KINDS
from monai_afpe.transforms import ScalePolicy

__all__ = [
    "EXPERIMENT_KINDS",
    "DATA_SOURCES",
    "ARM_NETWORKS",
    "NETWORK_TASKS",
    "ConfigError",
    "ArmConfig",
    "ConditionConfig",
    "TestSetConfig",
    "TrainingConfig",
    "ExperimentConfig",
    "deep_merge",
    "load_experiment_config",
    "parse_experiment_config",
]

#: what an experiment does: train and compare arms, search scales, or draw encodings (no training)
EXPERIMENT_KINDS = ("benchmark", "scale_search", "similarity")
#: where the data comes from (see :mod:`monai_afpe.experiments.data`)
DATA_SOURCES = ("organ_shapes", "organmnist3d", "echo", "ct_segmentation")

_TOP_KEYS = (
    "name",
    "kind",
    "description",
    "seeds",
    "reference_arms",
    "data",
    "conditions",
    "model",
    "training",
    "test_sets",
    "arms",
    "search",
    "similarity",
    "presets",
    "expected_time",
    "primary_comparison",
    "finetune",
)
_FINETUNE_KEYS = ("data", "num_samples", "epochs", "learning_rate", "warmup_epochs", "from_scratch")
_ARM_KEYS = (
    "name",
    "network",
    "pos_embed",
    "scales",
    "pos_embed_kwargs",
    "spacing_embedding",
    "rotary",
    "model",
    "resample",
    "augment",
    "tune",
    "description",
)
#: networks an arm can train: the project's AFPEViT and AFPEUNETR, or MONAI's own ViT and UNETR (fused attention)
ARM_NETWORKS = ("afpe_vit", "monai_vit", "afpe_unetr", "monai_unetr")
#: the tasks each network learns (a data source's task is :data:`~monai_afpe.experiments.data.SOURCE_TASKS`)
NETWORK_TASKS = {
    "afpe_vit": ("classification", "regression"),
    "monai_vit": ("classification",),
    "afpe_unetr": ("segmentation",),
    "monai_unetr": ("segmentation",),
}
_UNETR_NETWORKS = ("afpe_unetr", "monai_unetr")
#: positional embeddings MONAI's ViT offers (its ``pos_embed_type``)
_MONAI_VIT_POS_EMBED = ("none", "learnable", "sincos")
#: MONAI's UNETR builds its ViT with the default ``pos_embed_type="learnable"`` and 12 blocks; neither can be set
_MONAI_UNETR_POS_EMBED = "learnable"
_MONAI_UNETR_NUM_LAYERS = 12
#: spacing-embedding targets of AFPEUNETR (it has no class token)
_UNETR_SPACING_TARGETS = ("tokens", "film")
_SPACING_EMBEDDING_KEYS = ("target", "mlp_dim", "reference_spacing")
_ROTARY_KEYS = ("kind", "mode", "reference_extent", "theta")
_AUGMENT_KEYS = ("spacing_range", "tie_axes", "prob", "log_uniform")
_SCALE_SPEC_KEYS = (
    "policy",
    "base_scale",
    "temporal_base_scale",
    "temporal_axes",
    "multipliers",
    "values",
    "match_bandwidth",
)
_TUNABLE_SCALE_KEYS = ("base_scale", "temporal_base_scale", "multipliers", "values")
#: model options of the ViT networks (``afpe_vit``, ``monai_vit``)
_VIT_MODEL_KEYS = (
    "patch_size",
    "hidden_size",
    "mlp_dim",
    "num_layers",
    "num_heads",
    "dropout_rate",
    "qkv_bias",
    "pooling",
    "stem_channels",
)
#: model options of the UNETR networks (``afpe_unetr``, ``monai_unetr``; patches are 16 voxels, no class token)
_UNETR_MODEL_KEYS = ("feature_size", "hidden_size", "mlp_dim", "num_layers", "num_heads", "dropout_rate", "qkv_bias")
_MODEL_KEYS = tuple(dict.fromkeys(_VIT_MODEL_KEYS + _UNETR_MODEL_KEYS))
_TRAINING_KEYS = (
    "epochs",
    "batch_size",
    "eval_batch_size",
    "learning_rate",
    "weight_decay",
    "warmup_epochs",
    "bf16",
    "grad_clip",
    "threads",
)
_RESAMPLE_KEYS = ("spacing", "spatial_size")
_UNSCALED_KINDS = ("none", "learnable", "sincos")


class ConfigError(ValueError):
    """An invalid experiment config; the message names the file, the key path and what is allowed."""


def _fail(where: str, message: str) -> None:
    raise ConfigError(f"{where}: {message}")


def _check_keys(where: str, mapping: Any, allowed: Sequence[str], required: Sequence[str] = ()) -> dict:
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


def _positive_int(where: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        _fail(where, f"expected an integer >= {minimum}, got {value!r}.")
    return int(value)


def _positive_float(where: str, value: Any, allow_zero: bool = False) -> float:
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        _fail(where, f"expected a finite number {'>= 0' if allow_zero else '> 0'}, got {value!r}.")
    return float(value)


def _name(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        _fail(where, f"expected a non-empty string, got {value!r}.")
    return value


def deep_merge(base: Mapping, override: Mapping) -> dict:
    """``base`` with ``override`` merged in: nested mappings merge key by key, anything else is replaced."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


@dataclass(frozen=True)
class TrainingConfig:
    """Optimisation of every run: AdamW, linear warm-up then cosine decay, optional bf16 autocast.

    Attributes:
        epochs: passes over the training set.
        batch_size, eval_batch_size: samples per step in training and evaluation.
        learning_rate, weight_decay: AdamW settings (peak learning rate).
        warmup_epochs: epochs of linear warm-up (may be fractional).
        bf16: run forward passes under ``torch.autocast(dtype=torch.bfloat16)``.
        grad_clip: largest gradient norm (0 disables clipping).
        threads: ``torch.set_num_threads`` for the run (0 leaves PyTorch's default).
    """

    epochs: int = 10
    batch_size: int = 32
    eval_batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0
    bf16: bool = True
    grad_clip: float = 1.0
    threads: int = 0


@dataclass(frozen=True)
class ArmConfig:
    """One positional-encoding arm.

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
            options of :func:`~monai_afpe.transforms.compute_afpe_scales`, or ``match_bandwidth: <arm>``
            (one isotropic scale with the Euclidean norm of that arm's scales: equal overall bandwidth).
        pos_embed_kwargs: further options of the embedding (``mode``, ``reference_extent``, ``cls_position``).
        spacing_embedding: ``None`` or ``{target, mlp_dim, reference_spacing}`` (a bare target string is
            accepted): the network is told each sample's spacing
            (:class:`~monai_afpe.networks.blocks.SpacingEmbedding`; ``target`` ``cls``, ``tokens`` or ``film``).
        rotary: ``None`` or ``{kind, mode, reference_extent, theta}``: a rotary embedding in every block
            (:class:`~monai_afpe.networks.blocks.RotaryEmbedding`; ``kind`` ``axial`` or ``mixed``, ``mode``
            ``grid`` or ``physical``).
        model: overrides of the model options for this arm (e.g. ``stem_channels: null`` for MONAI's ViT).
            ViTs take ``patch_size, hidden_size, mlp_dim, num_layers, num_heads, dropout_rate, qkv_bias, pooling,
            stem_channels``; UNETRs ``feature_size, hidden_size, mlp_dim, num_layers, num_heads, dropout_rate,
            qkv_bias``.
        resample: ``{spacing, spatial_size}``: resample every image to this spacing (MONAI ``Spacingd``)
            and crop or pad it to this size before training (the standard isotropic pipeline).
        augment: ``None`` or ``{spacing_range, tie_axes, prob, log_uniform}``: random spacing augmentation of
            the training volumes each epoch (:class:`~monai_afpe.transforms.RandSpacing`; resampled to a
            spacing drawn per axis, then cropped or padded back to the input size).
        tune: ``{key: [candidates]}`` over one key of ``scales`` (``base_scale``, ``temporal_base_scale``,
            ``multipliers``, ``values``): every candidate is trained and the one with the best
            validation score is kept, per seed.
        description: free text for the report.
    """

    name: str
    pos_embed: str
    scales: Any = None
    pos_embed_kwargs: dict = field(default_factory=dict)
    resample: dict | None = None
    tune: dict | None = None
    description: str = ""
    network: str = "afpe_vit"
    spacing_embedding: dict | None = None
    rotary: dict | None = None
    model: dict = field(default_factory=dict)
    augment: dict | None = None


@dataclass(frozen=True)
class ConditionConfig:
    """One setting of a sweep: overrides of the data options and of the model options."""

    name: str
    data: dict = field(default_factory=dict)
    model: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TestSetConfig:
    """One evaluation of every trained model: the test split, optionally changed (``options``, per data source)."""

    name: str
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ExperimentConfig:
    """A validated experiment (a config file with one preset applied).

    Attributes:
        name, kind, description: what the experiment is.
        seeds: seeds of the runs; each seeds the network initialisation and the Fourier draw ``G``.
        reference_arms: the arms that paired differences are computed against (the first also for
            generalisation tables).
        data: data source options (``source`` plus source-specific keys).
        conditions: the sweep (one ``default`` condition when the file has none).
        model: options of :class:`~monai_afpe.networks.nets.AFPEViT`.
        training: optimisation settings.
        test_sets: evaluation variants of the test split.
        arms: the encodings compared.
        search: options of a ``scale_search`` experiment.
        similarity: options of a ``similarity`` experiment.
        expected_time: free text: how long the preset takes (measured or estimated).
        finetune: ``{data, num_samples, epochs, learning_rate, warmup_epochs, from_scratch}`` or ``None``:
            after training, every kept model is fine-tuned on the first ``n`` training volumes of a target
            data set (``data`` deep-merged over the condition's data; its seed defaults to the data seed
            + ``SHIFTED_TEST_SEED_OFFSET``, so no organ repeats a training one) for each ``n`` of
            ``num_samples``, and evaluated on the target's test split (test sets ``finetune-n``); with
            ``from_scratch``, a fresh network of the arm is trained on the same volumes (``scratch-n``).
        primary_comparison: ``{"arm": (...), "reference": (...)}``: the comparison declared before the
            run, the best of the ``arm`` names against the best of the ``reference`` names (each chosen by
            the mean validation score over seeds), or ``None``.
        preset: the preset applied, or ``None``.
        path: the file it was read from, or ``None``.
    """

    name: str
    kind: str
    description: str
    seeds: tuple[int, ...]
    reference_arms: tuple[str, ...]
    data: dict
    conditions: tuple[ConditionConfig, ...]
    model: dict
    training: TrainingConfig
    test_sets: tuple[TestSetConfig, ...]
    arms: tuple[ArmConfig, ...]
    search: dict = field(default_factory=dict)
    similarity: dict = field(default_factory=dict)
    expected_time: str = ""
    preset: str | None = None
    path: str | None = None
    primary_comparison: dict | None = None
    finetune: dict | None = None

    def arm(self, name: str) -> ArmConfig:
        """The arm called ``name``."""
        for arm in self.arms:
            if arm.name == name:
                return arm
        raise KeyError(f"no arm {name!r}; arms: {[a.name for a in self.arms]}")


def _parse_seeds(where: str, value: Any) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        return tuple(range(_positive_int(where, value)))
    if not isinstance(value, Sequence) or isinstance(value, str) or not value:
        _fail(where, f"expected a number of seeds (>= 1) or a non-empty list of seeds, got {value!r}.")
    seeds = tuple(_positive_int(f"{where}[{i}]", s, minimum=0) for i, s in enumerate(value))
    if len(set(seeds)) != len(seeds):
        _fail(where, f"seeds must be distinct, got {list(seeds)}.")
    return seeds


def _parse_scales(where: str, value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind in _UNSCALED_KINDS:
        _fail(
            where,
            f"pos_embed {kind!r} has no scales; scales apply to {', '.join(k for k in POSITIONAL_EMBEDDING_KINDS if k not in _UNSCALED_KINDS)}.",
        )
    if isinstance(value, Mapping):
        spec = _check_keys(where, value, _SCALE_SPEC_KEYS)
        if "match_bandwidth" in spec:
            if len(spec) != 1:
                _fail(
                    where,
                    f"match_bandwidth stands alone (one isotropic scale), got also {sorted(set(spec) - {'match_bandwidth'})}.",
                )
            _name(f"{where}.match_bandwidth", spec["match_bandwidth"])
            return spec
        policy = spec.get("policy", "physical")
        options = {k: v for k, v in spec.items() if k not in ("policy", "values")}
        try:
            ScalePolicy(policy, scales=spec.get("values"), **options)
        except (TypeError, ValueError) as error:
            _fail(where, str(error).replace("scales", "values"))  # the config calls ScalePolicy's scales "values"
        return {**spec, "policy": policy}
    _check_number_or_list(where, value)
    return value


def _check_number_or_list(where: str, value: Any) -> None:
    values = value if isinstance(value, Sequence) and not isinstance(value, str) else [value]
    if not values:
        _fail(where, "expected a positive number or a non-empty list of them, got an empty list.")
    for i, v in enumerate(values):
        _positive_float(f"{where}[{i}]" if values is value else where, v)


def _parse_arm(where: str, raw: Any) -> ArmConfig:
    arm = _check_keys(where, raw, _ARM_KEYS, required=("name", "pos_embed"))
    name = _name(f"{where}.name", arm["name"])
    kind = arm["pos_embed"]
    if kind not in POSITIONAL_EMBEDDING_KINDS:
        _fail(f"{where}.pos_embed", f"{kind!r} is not one of {', '.join(POSITIONAL_EMBEDDING_KINDS)}.")
    scales = _parse_scales(f"{where}.scales", arm.get("scales"), kind)
    kwargs = arm.get("pos_embed_kwargs") or {}
    if not isinstance(kwargs, Mapping):
        _fail(f"{where}.pos_embed_kwargs", f"expected a mapping, got {kwargs!r}.")
    for key in ("scales", "seed", "patch_size"):
        if key in kwargs:
            _fail(
                f"{where}.pos_embed_kwargs.{key}",
                "is set by the harness (scales from the arm's 'scales', seed from the run, patch_size from the model).",
            )
    network = arm.get("network", "afpe_vit")
    if network not in ARM_NETWORKS:
        _fail(f"{where}.network", f"{network!r} is not one of {', '.join(ARM_NETWORKS)}.")
    spacing_embedding = arm.get("spacing_embedding")
    if isinstance(spacing_embedding, str):
        spacing_embedding = {"target": spacing_embedding}
    if spacing_embedding is not None:
        spacing_embedding = _check_keys(
            f"{where}.spacing_embedding", spacing_embedding, _SPACING_EMBEDDING_KEYS, required=("target",)
        )
    rotary = arm.get("rotary")
    if rotary is not None:
        rotary = _check_keys(f"{where}.rotary", rotary, _ROTARY_KEYS, required=("kind",))
        if rotary.get("mode") == "physical" and "reference_extent" not in rotary:
            _fail(
                f"{where}.rotary",
                "mode 'physical' needs reference_extent (mm per position unit, e.g. one token length).",
            )
    arm_model = _parse_model(f"{where}.model", arm.get("model"))
    if network == "monai_vit":
        if kind not in _MONAI_VIT_POS_EMBED:
            _fail(f"{where}.pos_embed", f"MONAI's ViT offers {', '.join(_MONAI_VIT_POS_EMBED)}, got {kind!r}.")
        for key, value in (("spacing_embedding", spacing_embedding), ("rotary", rotary), ("pos_embed_kwargs", kwargs)):
            if value:
                _fail(
                    f"{where}.{key}", "MONAI's ViT (network: monai_vit) takes no spacing, rotary or embedding options."
                )
    if network == "monai_unetr":
        if kind != _MONAI_UNETR_POS_EMBED:
            _fail(
                f"{where}.pos_embed",
                f"arm {name!r}: MONAI's UNETR fixes its ViT's positional embedding to a learnable table; "
                f"set pos_embed: {_MONAI_UNETR_POS_EMBED}, got {kind!r}.",
            )
        for key, value in (("spacing_embedding", spacing_embedding), ("rotary", rotary), ("pos_embed_kwargs", kwargs)):
            if value:
                _fail(
                    f"{where}.{key}",
                    f"arm {name!r}: MONAI's UNETR (network: monai_unetr) takes no spacing, rotary or embedding options.",
                )
    if network == "afpe_unetr":
        if spacing_embedding is not None and spacing_embedding["target"] not in _UNETR_SPACING_TARGETS:
            _fail(
                f"{where}.spacing_embedding.target",
                f"arm {name!r}: AFPEUNETR has no class token; targets are {', '.join(_UNETR_SPACING_TARGETS)}, "
                f"got {spacing_embedding['target']!r}.",
            )
        if kwargs.get("cls_position", "none") != "none":
            _fail(
                f"{where}.pos_embed_kwargs.cls_position",
                f"arm {name!r}: AFPEUNETR has no class token; cls_position must be 'none', got {kwargs['cls_position']!r}.",
            )
    augment = arm.get("augment")
    if augment is not None:
        augment = _check_keys(f"{where}.augment", augment, _AUGMENT_KEYS, required=("spacing_range",))
        if "prob" in augment and not 0 <= _positive_float(f"{where}.augment.prob", augment["prob"], True) <= 1:
            _fail(f"{where}.augment.prob", f"expected a probability in [0, 1], got {augment['prob']!r}.")
    resample = arm.get("resample")
    if resample is not None:
        resample = _check_keys(f"{where}.resample", resample, _RESAMPLE_KEYS, required=_RESAMPLE_KEYS)
        _check_number_or_list(f"{where}.resample.spacing", resample["spacing"])
        size = resample["spatial_size"]
        for i, s in enumerate(size if isinstance(size, Sequence) else [size]):
            _positive_int(f"{where}.resample.spatial_size[{i}]", s)
    tune = arm.get("tune")
    if tune is not None:
        if not isinstance(tune, Mapping) or len(tune) != 1:
            _fail(
                f"{where}.tune",
                f"expected one key of {list(_TUNABLE_SCALE_KEYS)} with a list of candidates, got {tune!r}.",
            )
        ((key, candidates),) = tune.items()
        if key not in _TUNABLE_SCALE_KEYS:
            _fail(f"{where}.tune", f"{key!r} cannot be tuned; tunable keys: {', '.join(_TUNABLE_SCALE_KEYS)}.")
        if not isinstance(scales, Mapping) or "match_bandwidth" in scales:
            _fail(f"{where}.tune", "needs a 'scales' mapping (policy and options) whose key it varies.")
        if not isinstance(candidates, Sequence) or isinstance(candidates, str) or len(candidates) < 2:
            _fail(f"{where}.tune.{key}", f"expected a list of at least 2 candidates, got {candidates!r}.")
        for i, c in enumerate(candidates):
            _check_number_or_list(f"{where}.tune.{key}[{i}]", c)
        tune = {key: list(candidates)}
    return ArmConfig(
        name=name,
        pos_embed=kind,
        scales=scales,
        pos_embed_kwargs=dict(kwargs),
        resample=resample,
        tune=tune,
        description=str(arm.get("description", "")),
        network=network,
        spacing_embedding=spacing_embedding,
        rotary=rotary,
        model=arm_model,
        augment=augment,
    )


def _parse_model(where: str, raw: Any) -> dict:
    model = _check_keys(where, raw or {}, _MODEL_KEYS)
    for key in ("hidden_size", "mlp_dim", "num_layers", "num_heads", "feature_size"):
        if key in model:
            _positive_int(f"{where}.{key}", model[key])
    if "patch_size" in model:
        size = model["patch_size"]
        for i, s in enumerate(size if isinstance(size, Sequence) else [size]):
            _positive_int(f"{where}.patch_size[{i}]", s)
    channels = model.get("stem_channels")
    if channels is not None:
        for i, c in enumerate(channels if isinstance(channels, Sequence) else [channels]):
            _positive_int(f"{where}.stem_channels[{i}]", c)
    if "dropout_rate" in model and not 0 <= _positive_float(f"{where}.dropout_rate", model["dropout_rate"], True) <= 1:
        _fail(f"{where}.dropout_rate", f"expected a rate in [0, 1], got {model['dropout_rate']!r}.")
    return model


def _check_networks(
    where: str, arms: Sequence[ArmConfig], model: Mapping, conditions: Sequence[ConditionConfig], source: str
) -> None:
    """Each arm's network learns the task of the data ``source`` and takes the model options it gets (per condition)."""
    task = SOURCE_TASKS[source]
    for i, arm in enumerate(arms):
        at = f"{where}: arms[{i}]"
        if task not in NETWORK_TASKS[arm.network]:
            fitting = [n for n, tasks in NETWORK_TASKS.items() if task in tasks]
            _fail(
                f"{at}.network",
                f"arm {arm.name!r}: network {arm.network!r} learns {' and '.join(NETWORK_TASKS[arm.network])}, but data "
                f"source {source!r} is a {task} task; networks for it: {', '.join(fitting)}.",
            )
        if task == "segmentation" and arm.augment is not None:
            _fail(
                f"{at}.augment",
                f"arm {arm.name!r}: spacing augmentation resamples the images only; the label maps of a segmentation "
                "task would not follow.",
            )
        allowed = _UNETR_MODEL_KEYS if arm.network in _UNETR_NETWORKS else _VIT_MODEL_KEYS
        for condition in conditions:
            merged = {k: v for k, v in {**model, **condition.model, **arm.model}.items() if v is not None}
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


def _parse_training(where: str, raw: Any) -> TrainingConfig:
    training = _check_keys(where, raw or {}, _TRAINING_KEYS)
    defaults = TrainingConfig()
    values = {}
    for key in _TRAINING_KEYS:
        value = training.get(key, getattr(defaults, key))
        if key in ("epochs", "batch_size", "eval_batch_size"):
            value = _positive_int(f"{where}.{key}", value)
        elif key == "threads":
            value = _positive_int(f"{where}.{key}", value, minimum=0)
        elif key == "bf16":
            if not isinstance(value, bool):
                _fail(f"{where}.bf16", f"expected true or false, got {value!r}.")
        elif key == "learning_rate":
            value = _positive_float(f"{where}.{key}", value)
        else:
            value = _positive_float(f"{where}.{key}", value, allow_zero=True)
        values[key] = value
    return TrainingConfig(**values)


def _parse_finetune(where: str, value: Any, data: Mapping) -> dict | None:
    """``finetune: {data, num_samples, epochs, learning_rate, warmup_epochs, from_scratch}``, checked."""
    if value is None:
        return None
    spec = _check_keys(where, value, _FINETUNE_KEYS, required=("data", "num_samples"))
    _check_keys(f"{where}.data", spec["data"] or {}, DATA_OPTION_KEYS)
    if "source" in (spec["data"] or {}) and spec["data"]["source"] != data["source"]:
        _fail(
            f"{where}.data.source", f"fine-tuning keeps the source {data['source']!r}, got {spec['data']['source']!r}."
        )
    try:
        source_options(deep_merge(data, spec["data"] or {}))
    except ValueError as error:
        _fail(f"{where}.data", str(error))
    sizes = spec["num_samples"] if isinstance(spec["num_samples"], Sequence) else [spec["num_samples"]]
    if not sizes:
        _fail(f"{where}.num_samples", "expected one or more numbers of labelled target volumes, got none.")
    parsed = {
        "data": dict(spec["data"] or {}),
        "num_samples": tuple(_positive_int(f"{where}.num_samples[{i}]", n) for i, n in enumerate(sizes)),
        "epochs": _positive_int(f"{where}.epochs", spec.get("epochs", 20)),
        "learning_rate": _positive_float(f"{where}.learning_rate", spec.get("learning_rate", 3e-4)),
        "warmup_epochs": _positive_float(f"{where}.warmup_epochs", spec.get("warmup_epochs", 1.0), allow_zero=True),
        "from_scratch": spec.get("from_scratch", True),
    }
    if not isinstance(parsed["from_scratch"], bool):
        _fail(f"{where}.from_scratch", f"expected true or false, got {parsed['from_scratch']!r}.")
    return parsed


def _parse_primary_comparison(where: str, value: Any, arms: Sequence[str]) -> dict | None:
    """``{arm: A | [A1, ...], reference: B | [B1, ...]}`` -> ``{"arm": (...), "reference": (...)}``, names checked."""
    if value is None:
        return None
    spec = _check_keys(where, value, ("arm", "reference"), required=("arm", "reference"))
    parsed = {}
    for key in ("arm", "reference"):
        names = spec[key]
        names = [names] if isinstance(names, str) else names
        if not isinstance(names, Sequence) or not names:
            _fail(f"{where}.{key}", f"expected an arm name or a non-empty list of arm names, got {spec[key]!r}.")
        for i, name in enumerate(names):
            if name not in arms:
                _fail(f"{where}.{key}[{i}]", f"{name!r} is not an arm; arms: {list(arms)}.")
        if len(set(names)) != len(names):
            _fail(f"{where}.{key}", f"arm names must be distinct, got {list(names)}.")
        parsed[key] = tuple(names)
    shared = sorted(set(parsed["arm"]) & set(parsed["reference"]))
    if shared:
        _fail(where, f"an arm cannot be compared with itself: {shared} on both sides.")
    return parsed


def parse_experiment_config(raw: Mapping, preset: str | None = None, source: str = "<config>") -> ExperimentConfig:
    """Validate a config mapping, with ``preset`` (a key of its ``presets``) merged in.

    Args:
        raw: the mapping read from YAML.
        preset: name of the preset to apply, or ``None`` for the base config.
        source: name used in error messages (the file path).

    Raises:
        ConfigError: naming ``source``, the key path, the bad value and what is allowed.
    """
    top = _check_keys(source, raw, _TOP_KEYS, required=("name", "kind", "data"))
    presets = top.pop("presets", None) or {}
    if not isinstance(presets, Mapping):
        _fail(f"{source}: presets", f"expected a mapping of preset name -> overrides, got {presets!r}.")
    if preset is not None:
        if preset not in presets:
            _fail(f"{source}: presets", f"no preset {preset!r}; this config has {sorted(presets) or 'none'}.")
        overrides = _check_keys(
            f"{source}: presets.{preset}",
            presets[preset] or {},
            [k for k in _TOP_KEYS if k not in ("name", "kind", "presets")],
        )
        top = deep_merge(top, overrides)
    where = f"{source}" + (f" (preset {preset!r})" if preset else "")

    kind = top["kind"]
    if kind not in EXPERIMENT_KINDS:
        _fail(f"{where}: kind", f"{kind!r} is not one of {', '.join(EXPERIMENT_KINDS)}.")
    data = _check_keys(f"{where}: data", top["data"], DATA_OPTION_KEYS, required=("source",))
    if data["source"] not in DATA_SOURCES:
        _fail(f"{where}: data.source", f"{data['source']!r} is not one of {', '.join(DATA_SOURCES)}.")

    raw_arms = top.get("arms") or []
    if kind != "similarity" and (not isinstance(raw_arms, Sequence) or not raw_arms):
        _fail(f"{where}: arms", "expected a non-empty list of arms.")
    arms = tuple(_parse_arm(f"{where}: arms[{i}]", a) for i, a in enumerate(raw_arms))
    names = [a.name for a in arms]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        _fail(f"{where}: arms", f"arm names must be unique, repeated: {duplicates}.")
    for i, arm in enumerate(arms):
        if isinstance(arm.scales, Mapping) and "match_bandwidth" in arm.scales:
            target = arm.scales["match_bandwidth"]
            if target not in names[:i]:
                _fail(
                    f"{where}: arms[{i}].scales.match_bandwidth",
                    f"{target!r} must name an earlier arm, one of {names[:i]}.",
                )
            if arms[names.index(target)].pos_embed in _UNSCALED_KINDS:
                _fail(
                    f"{where}: arms[{i}].scales.match_bandwidth",
                    f"arm {target!r} ({arms[names.index(target)].pos_embed}) has no scales to match.",
                )
    references = top.get("reference_arms") or ()
    references = (references,) if isinstance(references, str) else tuple(references)
    for i, reference in enumerate(references):
        if reference not in names:
            _fail(f"{where}: reference_arms[{i}]", f"{reference!r} is not an arm; arms: {names}.")
    primary = _parse_primary_comparison(f"{where}: primary_comparison", top.get("primary_comparison"), names)

    raw_conditions = top.get("conditions") or [{"name": "default"}]
    if not isinstance(raw_conditions, Sequence):
        _fail(f"{where}: conditions", f"expected a list of conditions, got {raw_conditions!r}.")
    conditions = []
    for i, c in enumerate(raw_conditions):
        c = _check_keys(f"{where}: conditions[{i}]", c, ("name", "data", "model"), required=("name",))
        _check_keys(f"{where}: conditions[{i}].data", c.get("data") or {}, DATA_OPTION_KEYS)
        try:
            source_options(deep_merge(data, c.get("data") or {}))
        except ValueError as error:
            _fail(f"{where}: conditions[{i}] ({c['name']})", str(error))
        conditions.append(
            ConditionConfig(
                name=_name(f"{where}: conditions[{i}].name", str(c["name"])),
                data=dict(c.get("data") or {}),
                model=_parse_model(f"{where}: conditions[{i}].model", c.get("model")),
            )
        )
    if len({c.name for c in conditions}) != len(conditions):
        _fail(f"{where}: conditions", f"condition names must be unique, got {[c.name for c in conditions]}.")

    model = _parse_model(f"{where}: model", top.get("model"))
    _check_networks(where, arms, model, conditions, data["source"])

    raw_tests = top.get("test_sets") or [{"name": "test"}]
    test_sets = []
    for i, t in enumerate(raw_tests):
        t = _check_keys(f"{where}: test_sets[{i}]", t, ("name", "options"), required=("name",))
        _check_keys(f"{where}: test_sets[{i}].options", t.get("options") or {}, TEST_SET_OPTION_KEYS[data["source"]])
        try:
            check_test_set_options(data["source"], str(t["name"]), t.get("options") or {})
        except ValueError as error:
            _fail(f"{where}: test_sets[{i}].options", str(error))
        test_sets.append(
            TestSetConfig(_name(f"{where}: test_sets[{i}].name", str(t["name"])), dict(t.get("options") or {}))
        )

    config = ExperimentConfig(
        name=_name(f"{where}: name", top["name"]),
        kind=kind,
        description=str(top.get("description", "")).strip(),
        seeds=_parse_seeds(f"{where}: seeds", top.get("seeds", 3)),
        reference_arms=references,
        primary_comparison=primary,
        data=data,
        conditions=tuple(conditions),
        model=model,
        training=_parse_training(f"{where}: training", top.get("training")),
        test_sets=tuple(test_sets),
        arms=arms,
        search=dict(top.get("search") or {}),
        similarity=dict(top.get("similarity") or {}),
        expected_time=str(top.get("expected_time", "")).strip(),
        finetune=_parse_finetune(f"{where}: finetune", top.get("finetune"), data),
        preset=preset,
        path=None if source == "<config>" else source,
    )
    _check_kind_options(config, where)
    return config


def _check_kind_options(config: ExperimentConfig, where: str) -> None:
    """Validate the ``search`` / ``similarity`` section at load time, so a bad key fails before any run."""
    if config.kind == "scale_search":
        from monai_afpe.experiments.search import check_search_options

        check_search_options(config)
    elif config.kind == "similarity":
        from monai_afpe.experiments.similarity import SIMILARITY_KEYS

        unknown = sorted(set(config.similarity) - set(SIMILARITY_KEYS))
        if unknown:
            _fail(f"{where}: similarity", f"unknown keys {unknown}; allowed: {', '.join(SIMILARITY_KEYS)}.")


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
