"""Notes on metric values that look like bugs but follow from the data: a NaN AUROC, a hugely negative R².

A test split without one of the classes gives a NaN AUROC (MONAI's ``ROCAUC`` cannot score a class with no
positive, or no negative, case and averages the NaN in); near-constant regression targets give an R² of
-2,000,000 for predictions that are off by a little, because R² divides the squared errors by the spread of the
targets. :func:`metric_notes` says so in words; :class:`MetricNotes` logs the notes when an evaluator's
metrics are computed, and ``monai-afpe report`` prints them under its table.
"""

from __future__ import annotations

import logging
import math
import numbers
import re
from collections.abc import Mapping
from typing import Any

import torch
from ignite.engine import Engine, Events

__all__ = ["R2_NOTE_BELOW", "MetricNotes", "metric_notes"]

#: an R² below this gets a note: the squared errors exceed twice the spread of the targets
R2_NOTE_BELOW = -1.0

_AUROC = re.compile(r"(^|_)(auroc|auc|roc_?auc)(_|$)")
_R2 = re.compile(r"(^|_)(r2|r2_?score|r_squared)(_|$)")
_DICE = re.compile(r"dice")


def _scalar(value: Any) -> float | None:
    """``value`` as a float when it is one number (a Python or NumPy number, a one-element tensor), else None."""
    if isinstance(value, torch.Tensor):
        return float(value.item()) if value.numel() == 1 else None
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return None


def metric_notes(metrics: Mapping[str, Any], r2_below: float = R2_NOTE_BELOW) -> dict[str, str]:
    """A note for each metric value that needs one, keyed by metric name (values that are not numbers are skipped).

    - an AUROC (a name with the token ``auroc``, ``auc`` or ``roc_auc``, e.g. ``test_auroc``) that is NaN: a
      class without positive or without negative cases in the labels;
    - an R² (token ``r2``, e.g. ``val_r2``) below ``r2_below``, or not finite: near-constant targets (or
      predictions that are far off);
    - a Dice (a name containing ``dice``) that is NaN: the structure is absent from every reference label;
    - any other NaN or infinite value: the metric is undefined for this data.

    Args:
        metrics: metric name -> value (an ignite ``engine.state.metrics`` or a ``metrics.csv`` read back).
        r2_below: an R² below this gets a note.

    Returns:
        metric name -> one-paragraph note naming the metric and its value.
    """
    notes = {}
    for name, raw in metrics.items():
        value = _scalar(raw)
        if value is None:
            continue
        key = str(name).lower()
        if _AUROC.search(key):
            if math.isnan(value):
                notes[name] = (
                    f"{name} is NaN: AUROC needs positive and negative cases of every class, and at least one class "
                    "has no case (or only cases) in the labels of this split; MONAI's ROCAUC then scores that class "
                    "NaN and the macro average is NaN too (it warns 'y values can not be all 0', or all 1). Typical of a "
                    "small or unbalanced test split: evaluate on a split with every class, or read the accuracy and "
                    "the confusion matrix."
                )
        elif _R2.search(key):
            if not math.isfinite(value) or value < r2_below:
                notes[name] = (
                    f"{name} = {value:.6g}: R² = 1 - sum((y - ŷ)²) / sum((y - mean(y))²) compares the squared errors "
                    "with the spread of the targets, so an R² this far below 0 usually means the targets of this "
                    "split are (nearly) constant: the spread is tiny and even small errors give a huge negative "
                    "R². Judge the model by the MAE / RMSE instead. With targets that do vary, the predictions are "
                    "far off (a wrong checkpoint, targets in other units)."
                )
        elif _DICE.search(key):
            if math.isnan(value):
                notes[name] = (
                    f"{name} is NaN: the structure is absent from every reference label of this split, so there is "
                    "nothing to score (MONAI's MeanDice leaves such cases out, ignore_empty=True); the mean Dice "
                    "averages the structures that are present."
                )
        elif not math.isfinite(value):
            notes[name] = f"{name} is {value}: the metric is undefined for the labels and predictions of this split."
    return notes


class MetricNotes:
    """ignite handler: logs a warning with :func:`metric_notes` for the metrics of an engine (an evaluator).

    Attach it to an evaluator; at every ``EPOCH_COMPLETED`` (after the metrics are computed) it logs the note of
    each metric that needs one, by default once per metric name, so a validation run every epoch does not repeat
    the same note.

    Args:
        r2_below: an R² below this gets a note.
        once: note each metric name only the first time it needs a note.
        name: logger name; None uses the engine's logger.
    """

    def __init__(self, r2_below: float = R2_NOTE_BELOW, once: bool = True, name: str | None = None) -> None:
        self.r2_below = float(r2_below)
        self.once = bool(once)
        self.logger = logging.getLogger(name) if name is not None else None
        self._noted: set[str] = set()

    def attach(self, engine: Engine) -> None:
        if self.logger is None:
            self.logger = engine.logger
        if not engine.has_event_handler(self, Events.EPOCH_COMPLETED):
            engine.add_event_handler(Events.EPOCH_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        logger = self.logger or engine.logger
        for name, note in metric_notes(engine.state.metrics, self.r2_below).items():
            if self.once and name in self._noted:
                continue
            self._noted.add(name)
            logger.warning(note)
