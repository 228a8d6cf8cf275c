"""Load MONAI ``UNETR`` weights (e.g. pretrained) into :class:`~monai_afpe.networks.nets.AFPEUNETR`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from monai.networks.utils import copy_model_state

from monai_afpe.networks.blocks.positional_embedding import LearnablePositionalEmbedding
from monai_afpe.networks.nets.afpe_unetr import AFPEUNETR

__all__ = ["StateDictLoadReport", "load_monai_unetr_state_dict"]

MONAI_POSITION_TABLE = "vit.patch_embedding.position_embeddings"
POSITION_TABLE = "vit.position_embedding.position_embeddings"


@dataclass
class StateDictLoadReport:
    """What :func:`load_monai_unetr_state_dict` did.

    Attributes:
        loaded: keys of the model whose values now come from the state dict.
        skipped: keys of the state dict that were not used, each with the reason.
        kept: keys of the model that kept their own values (e.g. the Gaussian draw of a Fourier encoding).
    """

    loaded: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    kept: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"loaded {len(self.loaded)} tensors; kept {len(self.kept)} of the model's own: {self.kept}"]
        by_reason: dict[str, list[str]] = {}
        for key, reason in self.skipped.items():
            by_reason.setdefault(reason, []).append(key)
        lines += [f"skipped {len(keys)} ({reason}): {keys}" for reason, keys in by_reason.items()]
        return "\n".join(lines)


def _skip_reason(key: str, value: torch.Tensor, target: Mapping[str, torch.Tensor], model: AFPEUNETR) -> str:
    if ".norm_cross_attn." in key:
        return "a cross-attention norm that MONAI's TransformerBlock creates but never uses; AFPEUNETR has none"
    if key == MONAI_POSITION_TABLE:
        embedding = model.vit.position_embedding
        if not isinstance(embedding, LearnablePositionalEmbedding):
            return f"MONAI's learnable position table has no counterpart in a {type(embedding).__name__}"
        return (
            f"position table of shape {list(value.shape)} does not fit the model's "
            f"{list(target[POSITION_TABLE].shape)} (a different token grid)"
        )
    if key in target:
        return f"shape {list(value.shape)} does not match the model's {list(target[key].shape)}"
    return f"no tensor of that name in the model (num_layers={len(model.vit.blocks)})"


def load_monai_unetr_state_dict(model: AFPEUNETR, state_dict: Mapping[str, torch.Tensor]) -> StateDictLoadReport:
    """Copy every tensor of a MONAI ``UNETR`` state dict that has a counterpart in ``model``, in place.

    Decoder, patch projection, transformer blocks and final norm share MONAI's names and load when their
    shapes match (:func:`monai.networks.utils.copy_model_state`). MONAI's learnable position table loads
    into a ``learnable`` embedding on the same token grid; for other kinds it is reported as skipped, as
    are MONAI's unused cross-attention norms and any tensor whose shape differs.

    Args:
        model: the network to fill.
        state_dict: a MONAI ``UNETR`` state dict (``UNETR.state_dict()``, or the model entry of a checkpoint).

    Returns:
        a :class:`StateDictLoadReport` of loaded, skipped and kept tensors.

    Raises:
        TypeError: ``model`` is not an ``AFPEUNETR``.
        ValueError: no tensor of ``state_dict`` fits the model (not a MONAI ``UNETR`` state dict).
    """
    if not isinstance(model, AFPEUNETR):
        raise TypeError(f"model must be an AFPEUNETR, got {type(model).__name__}.")
    target = model.state_dict()
    mapping = {}
    if (
        MONAI_POSITION_TABLE in state_dict
        and POSITION_TABLE in target
        and state_dict[MONAI_POSITION_TABLE].shape == target[POSITION_TABLE].shape
    ):
        mapping[MONAI_POSITION_TABLE] = POSITION_TABLE
    matched = [key for key, value in state_dict.items() if key in target and target[key].shape == value.shape]
    if not matched and not mapping:
        raise ValueError(
            "no tensor of the state dict fits the model: is it a MONAI UNETR state dict? "
            f"Its first keys: {list(state_dict)[:3]}."
        )
    _, loaded, kept = copy_model_state(model, state_dict, mapping=mapping, inplace=True)
    used = set(matched) | set(mapping)
    skipped = {key: _skip_reason(key, value, target, model) for key, value in state_dict.items() if key not in used}
    return StateDictLoadReport(loaded=loaded, skipped=skipped, kept=kept)
