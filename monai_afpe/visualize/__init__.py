"""Figures: similarity maps of positional embeddings."""

from monai_afpe.visualize.similarity_map import (
    plane_of,
    plot_similarity_maps,
    similarity_map_figure,
    token_similarity,
)

__all__ = [
    "plane_of",
    "plot_similarity_maps",
    "similarity_map_figure",
    "token_similarity",
]
