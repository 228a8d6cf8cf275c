"""Figures: similarity maps of positional embeddings; segmentation overlays (image, label, prediction)."""

from monai_afpe.visualize.segmentation_overlay import (
    as_class_map,
    save_segmentation_overlay,
    segmentation_overlay_figure,
    select_slice,
)
from monai_afpe.visualize.similarity_map import (
    plane_of,
    plot_similarity_maps,
    similarity_map_figure,
    token_similarity,
)

__all__ = [
    "as_class_map",
    "plane_of",
    "plot_similarity_maps",
    "save_segmentation_overlay",
    "segmentation_overlay_figure",
    "select_slice",
    "similarity_map_figure",
    "token_similarity",
]
