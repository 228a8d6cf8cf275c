"""Write a PNG overlay (image, reference label, prediction) of the first cases an evaluator segments."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ignite.engine import Engine, Events

__all__ = ["SegmentationOverlaySaver"]

_SUFFIXES = (".nii.gz", ".nii", ".mha", ".mhd", ".nrrd", ".dcm")


def _case_name(item: dict, image_key: str, number: int) -> str:
    """The image file's name without its extension (``case_03`` of ``.../case_03.nii.gz``), else ``case_<number>``."""
    meta = getattr(item.get(image_key), "meta", None) or {}
    source = meta.get("filename_or_obj")
    if not isinstance(source, (str, os.PathLike)) or not str(source):
        return f"case_{number:03d}"
    name = Path(str(source)).name
    for suffix in _SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


class SegmentationOverlaySaver:
    """ignite handler: a PNG of one slice with the label and the prediction, for the first ``num_images`` cases.

    Attach it to a segmentation evaluator whose output is decollated (MONAI's default): at each
    ``ITERATION_COMPLETED`` it takes the items of ``engine.state.output`` (image, reference label, prediction,
    each a class map or one-hot) until ``num_images`` are written, and saves
    ``<output_dir>/<name>_overlay.png`` with :func:`~monai_afpe.visualize.save_segmentation_overlay`: the slice
    with the most labelled voxels, drawn three times (image, label, prediction). Cheap: a few PNGs per run.

    Needs matplotlib (the ``plots`` extra); bundles switch the handler off without it.

    Args:
        output_dir: folder of the PNGs; created if missing.
        num_images: number of cases to draw (the first ones of the run).
        class_names: one name per class, background first, for the legend.
        axis: the spatial axis the slice is perpendicular to (2: axial for RAS volumes).
        image_key, label_key, pred_key: keys of each decollated output item; a missing label draws the
            prediction only.
        output_transform: maps ``engine.state.output`` to the list of item dictionaries (default: as is).
        name: logger name; None uses the engine's logger.
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        num_images: int = 3,
        class_names: Sequence[str] | None = None,
        axis: int = 2,
        image_key: str = "image",
        label_key: str = "label",
        pred_key: str = "pred",
        output_transform: Callable[[Any], Sequence[dict]] = lambda output: output,
        name: str | None = None,
    ) -> None:
        if isinstance(num_images, bool) or not isinstance(num_images, int) or num_images < 0:
            raise ValueError(f"num_images must be an integer >= 0, got {num_images!r}.")
        if axis not in (0, 1, 2):
            raise ValueError(f"axis must be 0, 1 or 2 (a spatial axis of a 3D volume), got {axis!r}.")
        self.output_dir = Path(output_dir).expanduser()
        self.num_images = num_images
        self.class_names = None if class_names is None else list(class_names)
        self.axis = axis
        self.image_key, self.label_key, self.pred_key = image_key, label_key, pred_key
        self.output_transform = output_transform
        self.logger = logging.getLogger(name) if name is not None else None
        self.written: list[Path] = []

    def attach(self, engine: Engine) -> None:
        if self.logger is None:
            self.logger = engine.logger
        if not engine.has_event_handler(self._started, Events.STARTED):
            engine.add_event_handler(Events.STARTED, self._started)
        if not engine.has_event_handler(self, Events.ITERATION_COMPLETED):
            engine.add_event_handler(Events.ITERATION_COMPLETED, self)

    def _started(self, engine: Engine) -> None:
        self.written = []

    def __call__(self, engine: Engine) -> None:
        from monai_afpe.visualize.segmentation_overlay import save_segmentation_overlay

        items = self.output_transform(engine.state.output)
        if isinstance(items, dict):
            raise ValueError(
                "SegmentationOverlaySaver needs the evaluator's decollated output (a list of item dictionaries); "
                "got one dictionary: keep the evaluator's decollate=True or pass an output_transform."
            )
        for item in items:
            if len(self.written) >= self.num_images:
                return
            name = _case_name(item, self.image_key, len(self.written))
            path = self.output_dir / f"{name}_overlay.png"
            save_segmentation_overlay(
                path,
                item[self.image_key],
                item.get(self.label_key),
                item[self.pred_key],
                class_names=self.class_names,
                axis=self.axis,
                title=name,
            )
            self.written.append(path)
            (self.logger or engine.logger).info(f"Segmentation overlay written: {path}")
