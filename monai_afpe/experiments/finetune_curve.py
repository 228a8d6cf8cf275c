"""The fine-tuning curve of a benchmark with a ``finetune`` section: the metric against the number of labelled
target volumes, fine-tuned from each arm's trained model and trained from scratch on the same volumes.

The runner names those test sets ``finetune-<n>`` and ``scratch-<n>`` (see
:func:`~monai_afpe.experiments.runner.finetune_runs`); both evaluate the target's test split, so they share
their test cases and can be compared case by case.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from monai_afpe.experiments.figures import save_figure

__all__ = ["FINETUNE_TEST_SET", "finetune_sizes", "finetune_table", "plot_finetune_curve", "finetune_section"]

FINETUNE_TEST_SET = re.compile(r"^(finetune|scratch)-(\d+)$")
"""Test-set names written by the fine-tuning runs: the start (``finetune`` or ``scratch``) and ``n``."""


def finetune_sizes(rows: Sequence[dict]) -> list[int]:
    """The numbers of labelled target volumes present in ``rows``, ascending (empty without fine-tuning)."""
    sizes = {int(match.group(2)) for r in rows if (match := FINETUNE_TEST_SET.match(r["test_set"]))}
    return sorted(sizes)


def _summary(rows: Sequence[dict], metric: str, arm: str, test_set: str) -> tuple[float, float, int]:
    """Mean, sd and number of the finite values of ``metric`` over seeds of one arm and test set."""
    values = [float(r[metric]) for r in rows if r["arm"] == arm and r["test_set"] == test_set]
    values = [v for v in values if math.isfinite(v)]
    if not values:
        return math.nan, math.nan, 0
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0, len(values)


def _arms(rows: Sequence[dict]) -> list[str]:
    return list(dict.fromkeys(r["arm"] for r in rows if FINETUNE_TEST_SET.match(r["test_set"])))


def finetune_table(rows: Sequence[dict], metric: str, digits: int = 3) -> str:
    """Markdown: arms down; per ``n``, fine-tuned, from scratch and their difference (mean ± sd over seeds).

    The difference is the mean over seeds of fine-tuned minus scratch, paired by seed.
    """
    sizes = finetune_sizes(rows)
    header = [f"{start} n={n}" for n in sizes for start in ("fine-tuned", "scratch", "gain")]
    lines = ["| arm | " + " | ".join(header) + " |", "|---|" + "---|" * len(header)]
    for arm in _arms(rows):
        cells = []
        for n in sizes:
            for start in ("finetune", "scratch"):
                mean, sd, count = _summary(rows, metric, arm, f"{start}-{n}")
                cells.append("–" if count == 0 else f"{mean:.{digits}f} ± {sd:.{digits}f}")
            tuned = {r["seed"]: float(r[metric]) for r in rows if r["arm"] == arm and r["test_set"] == f"finetune-{n}"}
            scratch = {r["seed"]: float(r[metric]) for r in rows if r["arm"] == arm and r["test_set"] == f"scratch-{n}"}
            gains = [tuned[s] - scratch[s] for s in tuned.keys() & scratch.keys()]
            gains = [g for g in gains if math.isfinite(g)]
            cells.append("–" if not gains else f"{np.mean(gains):+.{digits}f}")
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_finetune_curve(rows: Sequence[dict], metric: str, path: Path | str, label: str = "") -> Path:
    """The metric against ``n`` (log axis) per arm: fine-tuned solid, from scratch dashed, mean ± sd over seeds."""
    import matplotlib.pyplot as plt

    sizes = finetune_sizes(rows)
    colours = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, arm in enumerate(_arms(rows)):
        for start, style in (("finetune", "-"), ("scratch", "--")):
            stats = [_summary(rows, metric, arm, f"{start}-{n}") for n in sizes]
            kept = [(n, mean, sd) for n, (mean, sd, count) in zip(sizes, stats) if count]
            if not kept:
                continue
            ns, means, sds = zip(*kept)
            ax.errorbar(
                ns,
                means,
                yerr=sds,
                linestyle=style,
                marker="o",
                capsize=3,
                color=colours(i % 10),
                label=arm if start == "finetune" else None,
                alpha=1.0 if start == "finetune" else 0.6,
            )
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes)
    ax.set_xticklabels([str(n) for n in sizes])
    ax.set_xlabel("labelled target volumes n (solid: fine-tuned, dashed: from scratch)")
    ax.set_ylabel(label or metric)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:  # none when every value is undefined (AUROC of a one-class test set)
        ax.legend(fontsize=7, loc="best")
    return save_figure(fig, path)


def finetune_section(rows: Sequence[dict], metric: str, output_dir: Path | str, label: str = "") -> list[str]:
    """Markdown lines of the fine-tuning curve (table and figure ``finetune_<metric>.png``), or ``[]`` when
    ``rows`` hold no fine-tuning runs."""
    if not finetune_sizes(rows):
        return []
    figure = plot_finetune_curve(rows, metric, Path(output_dir) / f"finetune_{metric}.png", label)
    return [
        f"## Fine-tuning curve: {label or metric} against labelled target volumes",
        "",
        "Each arm's trained model fine-tuned on the first n target training volumes, against the same arm "
        "trained from scratch on them; both tested on the target's test split. *gain*: fine-tuned minus "
        "scratch, paired by seed (the paired tables above give intervals per test set).",
        "",
        finetune_table(rows, metric, 2 if metric in ("mae", "rmse") else 3),
        "",
        f"![fine-tuning curve]({figure.name})",
        "",
    ]
