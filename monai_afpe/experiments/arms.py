"""From an arm of a config to a network: per-axis scales by policy, bandwidth matching, and the seeded network.

An arm trains the project's :class:`~monai_afpe.networks.nets.AFPEViT` (any positional kind, a stem, a
spacing embedding, a rotary embedding) or MONAI's own ``ViT``
(:class:`~monai_afpe.networks.nets.MonaiViTClassifier`); for segmentation the project's
:class:`~monai_afpe.networks.nets.AFPEUNETR` (the same positional, spacing and rotary options on its
encoder) or MONAI's own ``UNETR`` (:class:`~monai_afpe.networks.nets.MonaiUNETR`).

Scales (arXiv 2509.02488, docs/design.md §2) are resolved against the data the arm trains on: spacing
policies use the training set's median spacing (one spacing per data set in the stride protocol),
``match_bandwidth`` gives an isotropic encoding the Euclidean norm ``||s||`` of another arm's scales,
so that an isotropic and an anisotropic arm differ in the *shape* of their kernel and not in its
overall bandwidth — the confound of the paper's comparison (IFPE at 1.0 vs AFPE at 0.5 / k).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from monai_afpe.experiments.config import ArmConfig, ExperimentConfig
from monai_afpe.experiments.data import ExperimentData

__all__ = [
    "MODEL_DEFAULTS",
    "UNETR_MODEL_DEFAULTS",
    "nominal_spacing",
    "resolve_scales",
    "build_network",
    "model_options",
    "tokens_per_sample",
]

#: AFPEViT options used when neither the config's ``model`` nor the condition sets them
MODEL_DEFAULTS = {
    "patch_size": 8,
    "hidden_size": 96,
    "mlp_dim": 192,
    "num_layers": 2,
    "num_heads": 4,
    "dropout_rate": 0.0,
    "qkv_bias": True,
    "pooling": "cls",
}
#: UNETR options (``afpe_unetr``, ``monai_unetr``) used when nothing else sets them: MONAI's depth of 12 blocks;
#: ``patch_size`` is UNETR's fixed 16 voxels (not an option)
UNETR_MODEL_DEFAULTS = {
    "patch_size": 16,
    "feature_size": 16,
    "hidden_size": 96,
    "mlp_dim": 192,
    "num_layers": 12,
    "num_heads": 4,
    "dropout_rate": 0.0,
    "qkv_bias": True,
}


def nominal_spacing(data: ExperimentData) -> torch.Tensor:
    """The training set's median spacing per axis, the spacing that scale policies use."""
    return data.train.spacing.median(dim=0).values.double()


def model_options(
    config: ExperimentConfig, condition_model: Mapping, arm_model: Mapping | None = None, network: str = "afpe_vit"
) -> dict:
    """Network options: defaults, then the config's ``model``, the condition's and the arm's overrides.

    For the UNETR networks the defaults are :data:`UNETR_MODEL_DEFAULTS` and an option set to ``None`` falls
    back to its default (the config checks that only UNETR options are set).
    """
    merged = {**config.model, **condition_model, **(arm_model or {})}
    if network in ("afpe_unetr", "monai_unetr"):
        return {**UNETR_MODEL_DEFAULTS, **{k: v for k, v in merged.items() if v is not None}}
    return {**MODEL_DEFAULTS, **merged}


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
        norm = math.sqrt(sum(s * s for s in target))
        return (norm / math.sqrt(m),) * m
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
    from monai_afpe.experiments.config import NETWORK_TASKS
    from monai_afpe.networks.nets import AFPEUNETR, AFPEViT, MonaiUNETR, MonaiViTClassifier

    if data.task not in NETWORK_TASKS[arm.network]:
        raise ValueError(
            f"arm {arm.name!r}: network {arm.network!r} learns {' and '.join(NETWORK_TASKS[arm.network])}, "
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
        spacing_options = dict(arm.spacing_embedding)
        spacing_options.setdefault("reference_spacing", tuple(float(s) for s in nominal_spacing(data)))
        extra["spacing_embedding"] = spacing_options.pop("target")
        extra["spacing_embedding_kwargs"] = spacing_options
    if arm.rotary is not None:
        rotary_options = {**arm.rotary, "seed": int(seed)}
        extra["rotary_embedding"] = rotary_options.pop("kind")
        extra["rotary_embedding_kwargs"] = rotary_options
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
