"""Record the spacing range a network is trained on and write it as the model's spacing contract.

Spacing-aware models degrade sharply on spacing outside the range they were trained on; the contract
lets inference warn about such inputs (:class:`~monai_afpe.transforms.CheckSpacingRanged`). The range is
read from what the network actually received, the ``spacing`` entry of every training batch, so it
follows the data, the bundle's transforms and any spacing augmentation without being declared by hand.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from ignite import distributed as idist
from ignite.engine import Engine, Events
from monai.utils import ensure_tuple_rep

from monai_afpe.handlers.atomic_disk_saver import atomic_write
from monai_afpe.transforms.spacing import DEFAULT_SPACING_UNIT
from monai_afpe.transforms.spacing_contract import SPACING_CONTRACT_FILENAME, load_spacing_contract
from monai_afpe.validation import check_flag

__all__ = ["SpacingRangeRecorder"]

#: ``source`` of a contract written by :class:`SpacingRangeRecorder`
RECORDED_SOURCE = "training batches"


def _rounded(values: torch.Tensor) -> list[float]:
    return [float(f"{v:.6g}") for v in values.tolist()]


class SpacingRangeRecorder:
    """ignite handler that tracks the per-axis spacing range of the training batches and saves it as a contract.

    Attach it to the trainer. At every ``ITERATION_COMPLETED`` it reads ``engine.state.batch[spacing_key]``
    (``(B, m)``, the spacing passed to the network, e.g. by ``PrepareBatchExtraInput``; a batch that MONAI
    has decollated into a list of items with ``(m,)`` each works too) and updates the minimum and maximum
    per axis. At every ``EPOCH_COMPLETED`` and at ``COMPLETED`` / ``TERMINATE`` it writes
    ``<save_dir>/spacing_contract.json`` atomically (temporary file, then ``os.replace``)::

        {"axes": [...], "units": [...], "min": [...], "max": [...], "image_size": [...],
         "samples": N, "source": "training batches"}

    ``samples`` counts batch rows over all epochs (an image seen in five epochs counts five times);
    ``image_size`` is written when given. :func:`~monai_afpe.transforms.load_spacing_contract` reads the
    file at inference.

    Under ``torch.distributed`` every rank must attach the recorder (as it does
    :class:`~monai_afpe.handlers.ResumableCheckpoint`): at each save the ranks all-reduce their minimum,
    maximum and count, so the contract covers the batches of all ranks, and only ``save_on_rank`` writes.

    Args:
        save_dir: folder of the contract file (the checkpoint folder); created if missing.
        spacing_key: batch key of the spacing, ``(B, m)``.
        axes: one name per spacing axis, e.g. ``["time", "height", "width"]``; None: ``axis 0``, ...
        units: unit, or one per axis, of the spacing.
        image_size: the spatial size of the network's input, recorded in the contract; None to leave it out.
        merge: extend the range of an existing contract file instead of starting afresh (when resuming a
            run; the file's sample count is carried on).
        filename: name of the contract file.
        save_on_rank: the rank that writes the file.
        name: logger name; None uses the engine's logger.
    """

    def __init__(
        self,
        save_dir: str | os.PathLike,
        spacing_key: str = "image_spacing",
        axes: Sequence[str] | None = None,
        units: Sequence[str] | str = DEFAULT_SPACING_UNIT,
        image_size: Sequence[int] | None = None,
        merge: bool = False,
        filename: str = SPACING_CONTRACT_FILENAME,
        save_on_rank: int = 0,
        name: str | None = None,
    ) -> None:
        if not isinstance(spacing_key, str) or not spacing_key:
            raise ValueError(f"spacing_key must be a non-empty batch key, got {spacing_key!r}.")
        if axes is not None and (
            isinstance(axes, str) or not isinstance(axes, Sequence) or not axes
            or not all(isinstance(a, str) and a for a in axes)
        ):  # fmt: skip
            raise ValueError(f"axes must be None or one non-empty name per spacing axis, got {axes!r}.")
        if not (isinstance(units, str) and units) and not (
            isinstance(units, Sequence) and units and all(isinstance(u, str) and u for u in units)
        ):
            raise ValueError(f"units must be a unit string or one per spacing axis, got {units!r}.")
        if image_size is not None and (
            isinstance(image_size, str) or not isinstance(image_size, Sequence) or not image_size
            or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in image_size)
        ):  # fmt: skip
            raise ValueError(f"image_size must be None or one positive integer per axis, got {image_size!r}.")
        if not isinstance(filename, str) or not filename or Path(filename).name != filename:
            raise ValueError(f"filename must be a bare file name without folders, got {filename!r}.")
        self.save_dir = Path(save_dir).expanduser()
        self.spacing_key = spacing_key
        self.axes = None if axes is None else list(axes)
        self.units = units
        self.image_size = None if image_size is None else [int(s) for s in image_size]
        self.merge = check_flag(merge, "merge")
        self.filename = filename
        self.save_on_rank = save_on_rank
        self.logger = logging.getLogger(name)
        self._name = name
        self._reset()

    @property
    def path(self) -> Path:
        """The contract file."""
        return self.save_dir / self.filename

    def _reset(self) -> None:
        self.min: torch.Tensor | None = None
        """Per-axis minimum of the spacing seen so far on this rank (float64), None before the first batch."""
        self.max: torch.Tensor | None = None
        """Per-axis maximum of the spacing seen so far on this rank (float64), None before the first batch."""
        self.samples = 0
        """Batch rows seen so far on this rank (with a merged file's count on the writing rank)."""
        self.last_written: dict[str, Any] | None = None
        """The contract last written to the file in this run (writing rank only)."""
        self._last_written_iteration: int | None = None
        self._announced = False

    def attach(self, engine: Engine) -> None:
        """Register the recorder's events on ``engine`` (the trainer)."""
        if self._name is None:
            self.logger = engine.logger
        engine.add_event_handler(Events.STARTED, self._started)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._iteration_completed)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self.save)
        engine.add_event_handler(Events.TERMINATE, self._completed)
        engine.add_event_handler(Events.COMPLETED, self._completed)

    # -- events ----------------------------------------------------------------------------------------
    def _started(self, engine: Engine) -> None:
        self._reset()
        if self.merge and idist.get_rank() == self.save_on_rank and self.path.is_file():
            contract = load_spacing_contract(self.path)
            self.min = torch.tensor(contract["min"], dtype=torch.float64)
            self.max = torch.tensor(contract["max"], dtype=torch.float64)
            self.samples = int(contract.get("samples") or 0)
            self.logger.info(f"Extending the spacing range of {self.path} ({self.samples} samples so far).")
        self._last_written_iteration = engine.state.iteration  # nothing new to write before the next iteration

    def _iteration_completed(self, engine: Engine) -> None:
        self.update(self._batch_spacing(engine.state.batch))

    def _batch_spacing(self, batch: Any) -> torch.Tensor:
        """The ``(B, m)`` spacing of a batch dict, or of a list of decollated items ``(m,)`` each."""
        key = self.spacing_key
        if isinstance(batch, Mapping):
            if key not in batch:
                raise ValueError(self._missing_key_message(batch))
            spacing = torch.as_tensor(batch[key]).detach()
        elif isinstance(batch, Sequence) and batch and all(isinstance(item, Mapping) for item in batch):
            missing = next((item for item in batch if key not in item), None)
            if missing is not None:
                raise ValueError(self._missing_key_message(missing))
            spacing = torch.stack([torch.as_tensor(item[key]).detach().reshape(-1) for item in batch])
        else:
            raise ValueError(
                f"SpacingRangeRecorder: the trainer's batch must be a dict (or a list of dicts) holding "
                f"{key!r}, got {type(batch).__name__}."
            )
        spacing = spacing.as_subclass(torch.Tensor)  # a plain tensor, also from a MetaTensor
        if spacing.ndim != 2 or spacing.shape[-1] == 0:
            raise ValueError(
                f"SpacingRangeRecorder: batch entry {key!r} must have shape (batch, axes), got {tuple(spacing.shape)}."
            )
        return spacing.to(device="cpu", dtype=torch.float64)

    def _missing_key_message(self, batch: Mapping) -> str:
        return (
            f"SpacingRangeRecorder: the trainer's batch has no {self.spacing_key!r} (keys {sorted(map(str, batch))}); "
            "set spacing_key to the batch key passed to the network as spacing= (e.g. PrepareBatchExtraInput's "
            "extra_keys)."
        )

    def update(self, spacing: torch.Tensor) -> None:
        """Extend the range with a ``(B, m)`` spacing tensor.

        Raises:
            ValueError: the spacing is not finite and > 0, or its number of axes differs from ``axes``, from
                earlier batches or from the contract file being merged.
        """
        spacing = torch.as_tensor(spacing, dtype=torch.float64).detach().cpu()
        if spacing.ndim != 2 or spacing.shape[1] == 0:
            raise ValueError(f"spacing must have shape (batch, axes), got {tuple(spacing.shape)}.")
        if spacing.shape[0] == 0:
            return
        if not (torch.isfinite(spacing).all() and (spacing > 0).all()):
            raise ValueError(
                f"SpacingRangeRecorder: batch entry {self.spacing_key!r} holds spacing that is not finite and > 0: "
                f"{spacing.tolist()}."
            )
        rank = spacing.shape[1]
        if self.axes is not None and len(self.axes) != rank:
            raise ValueError(
                f"SpacingRangeRecorder: axes names {self.axes} do not match the {rank} spacing values per sample "
                f"of batch entry {self.spacing_key!r}."
            )
        if not isinstance(self.units, str) and len(self.units) not in (1, rank):
            raise ValueError(
                f"SpacingRangeRecorder: units {list(self.units)} do not match the {rank} spacing values per sample "
                f"of batch entry {self.spacing_key!r}; give one unit, or one per axis."
            )
        if self.min is not None and len(self.min) != rank:
            where = f"the contract file {self.path} being merged" if self.merge else "earlier batches"
            raise ValueError(
                f"SpacingRangeRecorder: batch entry {self.spacing_key!r} has {rank} spacing values per sample, "
                f"{where} had {len(self.min)}."
            )
        low, high = spacing.min(dim=0).values, spacing.max(dim=0).values
        self.min = low if self.min is None else torch.minimum(self.min, low)
        self.max = high if self.max is None else torch.maximum(self.max, high)
        self.samples += spacing.shape[0]

    # -- saving ----------------------------------------------------------------------------------------
    def _reduced(self) -> tuple[torch.Tensor, torch.Tensor, int] | None:
        """Minimum, maximum and count over all ranks (collective under torch.distributed); None if nothing seen."""
        rank_count = len(self.min) if self.min is not None else 0
        low, high, samples = self.min, self.max, self.samples
        if idist.get_world_size() > 1:
            rank_count = int(idist.all_reduce(rank_count, op="MAX"))
            if rank_count == 0:
                return None
            if low is None:
                low = torch.full((rank_count,), math.inf, dtype=torch.float64)
                high = torch.full((rank_count,), -math.inf, dtype=torch.float64)
            low = idist.all_reduce(low.clone(), op="MIN").cpu()
            high = idist.all_reduce(high.clone(), op="MAX").cpu()
            samples = int(idist.all_reduce(int(samples), op="SUM"))
        if low is None or samples == 0:
            return None
        return low, high, samples

    def contract(self) -> dict[str, Any] | None:
        """The contract of what this rank has seen so far (no collective); None before the first batch."""
        if self.min is None:
            return None
        return self._contract(self.min, self.max, self.samples)

    def _contract(self, low: torch.Tensor, high: torch.Tensor, samples: int) -> dict[str, Any]:
        rank = len(low)
        content: dict[str, Any] = {
            "axes": self.axes if self.axes is not None else [f"axis {i}" for i in range(rank)],
            "units": list(ensure_tuple_rep(self.units, rank)),
            "min": _rounded(low),
            "max": _rounded(high),
        }
        if self.image_size is not None:
            content["image_size"] = self.image_size
        content.update(samples=int(samples), source=RECORDED_SOURCE)
        return content

    def save(self, engine: Engine) -> dict[str, Any] | None:
        """Write the contract file now (at most once per iteration; every rank must call it under torch.distributed).

        Returns:
            the contract written, or None (nothing seen yet, nothing new since the last save, or not the
            writing rank).
        """
        if engine.state.iteration == self._last_written_iteration:
            return None
        self._last_written_iteration = engine.state.iteration
        reduced = self._reduced()
        if reduced is None or idist.get_rank() != self.save_on_rank:
            return None
        content = self._contract(*reduced)
        self.save_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, lambda f: f.write((json.dumps(content, indent=4) + "\n").encode("utf-8")))
        self.last_written = content
        return content

    def _completed(self, engine: Engine) -> None:
        self.save(engine)
        content = self.last_written
        if content is not None and not self._announced:
            self._announced = True
            ranges = ", ".join(
                f"{axis} {low:.4g}-{high:.4g} {unit}"
                for axis, unit, low, high in zip(content["axes"], content["units"], content["min"], content["max"])
            )
            self.logger.info(
                f"Spacing range of the training batches ({content['samples']} samples): {ranges}; saved to {self.path}."
            )
