"""Per-label results of a multi-label benchmark against the ratio of the row and column scales ``s_row / s_col``.

The chest X-ray experiment of "Anisotropic Fourier Features for Positional Encoding in Medical Imaging"
(arXiv 2509.02488) varied the ratio of AFPE's row and column scales and read the result per class: findings of
different shapes (a wide heart, a flat fluid level, a round nodule) may prefer different ratios. The runner
records per-label scores (``auroc_<label>``, ``auprc_<label>``, see
:func:`~monai_afpe.experiments.training.multilabel_metrics`) and each run's resolved scales (column ``scales``);
here every arm of a 2D run with two scales gets its ratio ``s_0 / s_1`` (rows over columns), and the report
gives a table label x arm (arms ordered by ratio, arms without scales, e.g. sincos, last) and a figure of each
label's score against ``log2`` of the ratio, arms without scales as horizontal lines.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from monai_afpe.experiments.figures import save_figure

__all__ = ["scale_ratio", "per_label_names", "ordered_arms", "per_label_table", "plot_per_label", "per_label_section"]


def scale_ratio(row: dict) -> float | None:
    """``s_row / s_col`` of a run: the first over the second of its two resolved scales (column ``scales``), or
    ``None`` for a run without two scales (no Fourier encoding, or not 2D)."""
    values = str(row.get("scales", "")).split()
    if len(values) != 2:
        return None
    s_row, s_col = (float(v) for v in values)
    return s_row / s_col


def per_label_names(rows: Sequence[dict], metric: str) -> list[str]:
    """The labels with a per-label column ``<metric>_<label>`` in ``rows``, in column order."""
    prefix = f"{metric}_"
    return [c[len(prefix) :] for c in (rows[0] if rows else {}) if c.startswith(prefix)]


def ordered_arms(rows: Sequence[dict]) -> list[tuple[str, float | None]]:
    """``(arm, s_row / s_col)`` for every arm: arms with a ratio by ratio (ties in first-seen order), then arms
    without one in first-seen order. An arm's ratio is that of its first run (the ratio is fixed by its config)."""
    ratios: dict[str, float | None] = {}
    for row in rows:
        ratios.setdefault(row["arm"], scale_ratio(row))
    with_ratio = sorted((a for a, r in ratios.items() if r is not None), key=lambda a: ratios[a])
    return [(a, ratios[a]) for a in with_ratio] + [(a, None) for a, r in ratios.items() if r is None]


def _summary(rows: Sequence[dict], column: str, arm: str, condition: str, test: str) -> tuple[float, float, int]:
    """Mean, sd and count of the finite values of ``column`` over the seeds of one arm, condition and test set."""
    values = [
        float(r[column]) for r in rows if r["arm"] == arm and r["condition"] == condition and r["test_set"] == test
    ]
    values = [v for v in values if math.isfinite(v)]
    if not values:
        return math.nan, math.nan, 0
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0, len(values)


def _ratio_text(ratio: float | None) -> str:
    return "no scales" if ratio is None else f"{ratio:.3g}"


def _panels(rows: Sequence[dict]) -> list[tuple[str, str]]:
    conditions = list(dict.fromkeys(r["condition"] for r in rows))
    tests = list(dict.fromkeys(r["test_set"] for r in rows))
    return [(c, t) for c in conditions for t in tests]


def per_label_table(rows: Sequence[dict], metric: str, condition: str, test: str, digits: int = 3) -> str:
    """Markdown: labels down (then the macro mean ``metric``), arms across ordered by ``s_row / s_col``
    (:func:`ordered_arms`), ``mean ± sd`` over seeds of one condition and test set."""
    arms = ordered_arms(rows)
    header = [f"{arm} ({_ratio_text(ratio)})" for arm, ratio in arms]
    lines = ["| label | " + " | ".join(header) + " |", "|---|" + "---|" * len(arms)]
    columns = [(f"{metric}_{name}", name) for name in per_label_names(rows, metric)] + [(metric, "macro mean")]
    for column, title in columns:
        cells = []
        for arm, _ in arms:
            mean, sd, count = _summary(rows, column, arm, condition, test)
            cells.append("–" if count == 0 else f"{mean:.{digits}f} ± {sd:.{digits}f}")
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_per_label(
    rows: Sequence[dict], metric: str, condition: str, test: str, path: Path | str, label: str = ""
) -> Path:
    """One panel per label (and the macro mean): ``metric`` (mean ± sd over seeds) against ``log2(s_row / s_col)``
    for the arms with two scales, arms without scales as dashed horizontal lines at their mean."""
    import matplotlib.pyplot as plt

    arms = ordered_arms(rows)
    names = per_label_names(rows, metric)
    columns = [(f"{metric}_{name}", name) for name in names] + [(metric, "macro mean")]
    fig, axes = plt.subplots(1, len(columns), figsize=(1.0 + 2.8 * len(columns), 3.4), squeeze=False, sharey=True)
    colours = plt.get_cmap("tab10")
    for ax, (column, title) in zip(axes[0], columns):
        points = [(math.log2(r), *_summary(rows, column, a, condition, test)) for a, r in arms if r is not None]
        points = [(x, mean, sd) for x, mean, sd, count in points if count]
        if points:
            xs, means, sds = zip(*points)
            ax.errorbar(xs, means, yerr=sds, marker="o", capsize=3, color="black", label="Fourier arms")
        for i, (arm, _) in enumerate(a for a in arms if a[1] is None):
            mean, _, count = _summary(rows, column, arm, condition, test)
            if count:
                ax.axhline(mean, linestyle="--", color=colours(i % 10), label=arm)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("log2(s_row / s_col)", fontsize=8)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(label or metric)
    if axes[0][0].get_legend_handles_labels()[0]:
        axes[0][0].legend(fontsize=7, loc="best")
    return save_figure(fig, path)


def per_label_section(rows: Sequence[dict], metric: str, output_dir: Path | str, label: str = "") -> list[str]:
    """Markdown lines of the per-label results of ``metric`` (tables and figures ``per_label_<metric>*.png``), or
    ``[]`` when ``rows`` hold no per-label columns of it (not a multi-label run)."""
    if not rows or not per_label_names(rows, metric):
        return []
    label = label or metric
    lines = [
        f"## {label} per label against the scale ratio s_row / s_col",
        "",
        f"Mean ± sd over seeds of each label's {label} (and the macro mean); arms ordered by the ratio of their row "
        "and column scales (in brackets), arms without scales last. The paired tables above compare the macro "
        "means.",
        "",
    ]
    panels = _panels(rows)
    has_ratio = any(ratio is not None for _, ratio in ordered_arms(rows))
    for i, (condition, test) in enumerate(panels):
        if len(panels) > 1:
            lines += [f"### {condition} · {test}", ""]
        lines += [per_label_table(rows, metric, condition, test), ""]
        if has_ratio:
            name = f"per_label_{metric}{'' if len(panels) == 1 else f'_{i}'}.png"
            figure = plot_per_label(rows, metric, condition, test, Path(output_dir) / name, label)
            lines += [f"![{label} per label]({figure.name})", ""]
    return lines
