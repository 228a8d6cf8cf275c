"""Per-label AUROC and AUPRC of a multi-label classifier, as ignite metrics for a MONAI evaluator.

A multi-label classifier (one sigmoid output per label, e.g. findings on a chest radiograph) is judged per label:
MONAI's ``ROCAUC`` and ``AveragePrecision`` handlers with ``average="macro"`` give the mean over the labels, but
``average="none"`` gives a list, which ``StatsHandler`` and ``MetricsSaver`` (``metrics.csv``) cannot hold.
:func:`per_label_metrics` builds one scalar metric per label and score instead, named
``<prefix>_auroc_<label>`` and ``<prefix>_auprc_<label>``, that read the label's column of ``pred`` and ``label``.

Example (a bundle's ``evaluate.json``)::

    "validate#additional_metrics": "$monai_afpe.handlers.per_label_metrics('test', @label_names)"
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from monai.handlers import ROCAUC, AveragePrecision, IgniteMetricHandler

__all__ = ["PER_LABEL_SCORES", "per_label_metrics"]

#: the scores :func:`per_label_metrics` gives per label: name in the metric key -> MONAI handler
PER_LABEL_SCORES = {"auroc": ROCAUC, "auprc": AveragePrecision}


def _column(index: int, pred_key: str, label_key: str) -> Callable:
    """An ``output_transform`` giving the ``index``-th entry of each item's ``pred`` and ``label`` (batch-first
    list of one-element tensors), as MONAI's ``from_engine`` gives whole vectors."""

    def transform(output: Sequence[dict]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        preds = [torch.as_tensor(item[pred_key]).reshape(-1)[index : index + 1] for item in output]
        labels = [torch.as_tensor(item[label_key]).reshape(-1)[index : index + 1] for item in output]
        return preds, labels

    return transform


def per_label_metrics(
    prefix: str, label_names: Sequence[str], pred_key: str = "pred", label_key: str = "label"
) -> dict[str, IgniteMetricHandler]:
    """One AUROC and one AUPRC (average precision) metric per label.

    AUPRC is MONAI's ``AveragePrecision``: ``sum_n (R_n - R_{n-1}) P_n`` over the thresholds, as scikit-learn's
    ``average_precision_score`` (no interpolation). A label without positive (or without negative) cases in the
    split scores NaN, with MONAI's warning.

    Args:
        prefix: start of every metric name (``"val"``, ``"test"``).
        label_names: the labels, in the order of the outputs; ``label_names[i]`` names column ``i``.
        pred_key: the engine output key of the probabilities (or logits: both scores depend only on the order).
        label_key: the engine output key of the 0/1 label vectors.

    Returns:
        ``{"<prefix>_auroc_<name>": ROCAUC, "<prefix>_auprc_<name>": AveragePrecision, ...}``, label by label.

    Raises:
        ValueError: no label names, or names that are not unique.
    """
    names = list(label_names)
    if not names or len(set(names)) != len(names):
        raise ValueError(f"label_names must be unique and non-empty, got {label_names!r}.")
    return {
        f"{prefix}_{score}_{name}": handler(output_transform=_column(index, pred_key, label_key))
        for index, name in enumerate(names)
        for score, handler in PER_LABEL_SCORES.items()
    }
