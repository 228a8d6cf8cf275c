"""AFPE Vision Transformer and UNETR: 2D, 3D and video networks with spacing-conditioned positional encodings."""

from monai_afpe.networks.nets.afpe_unetr import AFPEUNETR, UNETR_PATCH_SIZE
from monai_afpe.networks.nets.afpe_vit import VIT_POOLING, VIT_TASKS, AFPEViT
from monai_afpe.networks.nets.monai_unetr import MonaiUNETR
from monai_afpe.networks.nets.monai_vit_classifier import MonaiViTClassifier
from monai_afpe.networks.nets.unetr_weights import (
    StateDictLoadReport,
    load_monai_unetr_state_dict,
)

__all__ = [
    "AFPEUNETR",
    "AFPEViT",
    "load_monai_unetr_state_dict",
    "MonaiUNETR",
    "MonaiViTClassifier",
    "StateDictLoadReport",
    "UNETR_PATCH_SIZE",
    "VIT_POOLING",
    "VIT_TASKS",
]
