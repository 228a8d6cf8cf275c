"""From an arm of a config to a network: per-axis scales by policy, bandwidth matching, and the seeded network.

An arm trains the project's :class:`~monai_afpe.networks.nets.AFPEViT` (any positional kind, a stem, a
spacing embedding, a rotary embedding) or MONAI's own ``ViT``
(:class:`~monai_afpe.networks.nets.MonaiViTClassifier`); for segmentation the project's
:class:`~monai_afpe.networks.nets.AFPEUNETR` (the same positional, spacing and rotary options on its
encoder) or MONAI's own ``UNETR`` (:class:`~monai_afpe.networks.nets.MonaiUNETR`).

Scales (arXiv 2509.02488, docs/design.md §2) are resolved against the data the arm trains on: spacing
policies use the training set's median spacing (one spacing per data set in the stride protocol),
``match_bandwidth`` gives an encoding the Euclidean norm ``||s||`` of another arm's scales, isotropic or
in given per-axis ``proportions``, so that an isotropic and an anisotropic arm differ in the *shape* of
their kernel and not in its overall bandwidth — the confound of the paper's comparison (IFPE at 1.0 vs
AFPE at 0.5 / k); a sweep of ``proportions`` at one bandwidth is the paper's ``s_row / s_col`` sweep.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from monai.utils import ensure_tuple

from monai_afpe.experiments.config import (
    NETWORK_MODEL_CONFIGS,
    NETWORK_TASKS,
    ArmConfig,
    ExperimentConfig,
    UNETRModelConfig,
)
from monai_afpe.experiments.data import ExperimentData
from monai_afpe.networks.nets import UNETR_PATCH_SIZE

__all__ = [
    "nominal_spacing",
    "resolve_scales",
    "build_network",
    "model_options",
    "tokens_per_sample",
]


def nominal_spacing(data: ExperimentData) -> torch.Tensor:
    """The training set's median spacing per axis, the spacing that scale policies use."""
    return data.train.spacing.median(dim=0).values.double()


def _set_options(section: Any, *exclude: str) -> dict:
    """The options of a config section that are set (not ``None``), without ``exclude``."""
    return {
        f.name: getattr(section, f.name)
        for f in dataclasses.fields(section)
        if f.name not in exclude and getattr(section, f.name) is not None
    }


def model_options(
    config: ExperimentConfig, condition_model: Mapping, arm_model: Mapping | None = None, network: str = "afpe_vit"
) -> dict:
    """Network options: the config's ``model``, then the condition's and the arm's overrides, over the defaults of
    the network's model options (:data:`~monai_afpe.experiments.config.NETWORK_MODEL_CONFIGS`).

    An option set to ``None`` keeps its default (the config checks that only the network's options are set); the
    UNETR networks get their fixed ``patch_size`` too.
    """
    merged = {**config.model, **condition_model, **(arm_model or {})}
    model = NETWORK_MODEL_CONFIGS[network](**{k: v for k, v in merged.items() if v is not None})
    options = _set_options(model)
    if isinstance(model, UNETRModelConfig):
        options["patch_size"] = UNETR_PATCH_SIZE
    return options


def tokens_per_sample(input_size: Sequence[int], patch_size: Sequence[int] | int, pooling: str = "cls") -> int:
    """Tokens the transformer sees per sample: patches plus a class token for ``pooling="cls"``."""
    patch = [int(p) for p in (patch_size if isinstance(patch_size, Sequence) else [patch_size] * len(input_size))]
    return math.prod(n // p for n, p in zip(input_size, patch)) + (1 if pooling == "cls" else 0)


def resolve_scales(
    arm: ArmConfig,
    arms: Mapping[str, ArmConfig],
    data: ExperimentData,
    patch_size: Sequence[int] | int,
    override: tuple[str, Any] | None = None,
) -> tuple[float, ...] | None:
    """Per-axis scales of ``arm`` for ``data``, or ``None`` for the kind's default (or a kind without scales).

    Args:
        arm: the arm.
        arms: every arm of the experiment by name (for ``match_bandwidth``).
        data: the data the arm trains on (spacing and input size).
        patch_size: the network's patch size.
        override: ``(key, value)`` replacing one key of the arm's scale mapping (a ``tune`` candidate).
    """
    from monai_afpe.transforms import compute_afpe_scales

    spec = arm.scales
    if spec is None:
        return None
    m = len(data.input_size)
    if not isinstance(spec, Mapping):
        values = [float(v) for v in (spec if isinstance(spec, Sequence) else [spec])]
        return tuple(values * m if len(values) == 1 else values)
    if "match_bandwidth" in spec:
        target = resolve_scales(arms[spec["match_bandwidth"]], arms, data, patch_size)
        if target is None:
            raise ValueError(
                f"arm {arm.name!r}: match_bandwidth arm {spec['match_bandwidth']!r} has no explicit scales."
            )
        proportions = [float(p) for p in ensure_tuple(spec.get("proportions", 1.0))]
        if len(proportions) == 1:
            proportions *= m
        if len(proportions) != m:
            raise ValueError(
                f"arm {arm.name!r}: scales.proportions needs one value or {m} (one per spatial axis), got "
                f"{spec['proportions']!r}."
            )
        factor = math.sqrt(sum(s * s for s in target)) / math.sqrt(sum(p * p for p in proportions))
        return tuple(factor * p for p in proportions)
    options = dict(spec)
    if override is not None:
        options[override[0]] = override[1]
    values = options.pop("values", None)
    scales = compute_afpe_scales(
        nominal_spacing(data),
        patch_size,
        data.input_size,
        policy=options.pop("policy"),
        scales=values,
        **options,
    )
    return tuple(float(s) for s in scales)


def build_network(
    config: ExperimentConfig,
    arm: ArmConfig,
    data: ExperimentData,
    seed: int,
    condition_model: Mapping,
    override: tuple[str, Any] | None = None,
) -> torch.nn.Module:
    """The seeded network of ``arm``: ``seed`` sets the weights, ``G`` and the frames of a mixed rotary embedding.

    Raises:
        ValueError: the arm's network does not learn the data's task (naming the arm), or options the
            network rejects.
    """
    from monai_afpe.networks.nets import AFPEUNETR, AFPEViT, MonaiUNETR, MonaiViTClassifier

    if data.task not in NETWORK_TASKS[arm.network]:
        raise ValueError(
            f"arm {arm.name!r}: network {arm.network!r} learns {', '.join(NETWORK_TASKS[arm.network])}, "
            f"the data's task is {data.task!r}."
        )
    options = model_options(config, condition_model, arm.model, arm.network)
    patch_size = options.pop("patch_size")
    spatial_dims = len(data.input_size)
    in_channels = int(data.train.images.shape[-spatial_dims - 1])
    if arm.network == "monai_unetr":
        torch.manual_seed(seed)
        return MonaiUNETR(in_channels, data.num_outputs, data.input_size, spatial_dims=spatial_dims, **options)
    if arm.network == "monai_vit":
        if options.pop("stem_channels", None) is not None or options.pop("pooling", "cls") != "cls":
            raise ValueError(
                f"arm {arm.name!r}: MONAI's ViT has linear patches and a class token: set model "
                "{stem_channels: null, pooling: cls} for this arm."
            )
        torch.manual_seed(seed)
        return MonaiViTClassifier(
            in_channels,
            data.input_size,
            patch_size,
            spatial_dims=spatial_dims,
            pos_embed=arm.pos_embed,
            num_classes=data.num_outputs,
            task=data.task,
            **options,
        )
    arms = {a.name: a for a in config.arms}
    kwargs = {**arm.pos_embed_kwargs, "seed": int(seed)}
    scales = resolve_scales(arm, arms, data, patch_size, override)
    if scales is not None:
        kwargs["scales"] = scales[0] if arm.pos_embed == "ifpe" else scales
    extra: dict[str, Any] = {}
    if data.task == "regression":
        extra = {"output_bias": data.target_mean, "output_scale": data.target_std}
    if arm.spacing_embedding is not None:
        spacing_options = _set_options(arm.spacing_embedding, "target")
        spacing_options.setdefault("reference_spacing", tuple(float(s) for s in nominal_spacing(data)))
        extra["spacing_embedding"] = arm.spacing_embedding.target
        extra["spacing_embedding_kwargs"] = spacing_options
    if arm.rotary is not None:
        extra["rotary_embedding"] = arm.rotary.kind
        extra["rotary_embedding_kwargs"] = {**_set_options(arm.rotary, "kind"), "seed": int(seed)}
    torch.manual_seed(seed)
    if arm.network == "afpe_unetr":
        return AFPEUNETR(
            in_channels=in_channels,
            out_channels=data.num_outputs,
            img_size=data.input_size,
            spatial_dims=spatial_dims,
            pos_embed=arm.pos_embed,
            pos_embed_kwargs=kwargs,
            **options,
            **extra,
        )
    return AFPEViT(
        in_channels=in_channels,
        img_size=data.input_size,
        patch_size=patch_size,
        spatial_dims=spatial_dims,
        pos_embed=arm.pos_embed,
        pos_embed_kwargs=kwargs,
        num_classes=data.num_outputs,
        task=data.task,
        **options,
        **extra,
    )
