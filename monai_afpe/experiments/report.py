"""Reports of a benchmark: per-seed CSV, a Markdown summary with paired differences across seeds, PNG plots.

Tables give ``mean ± sd`` over seeds per arm and condition, then for every arm the paired difference
to each reference arm (``arm - reference``, seed by seed) with its paired bootstrap interval and exact
sign-flip p-value (:mod:`monai_afpe.experiments.statistics`). When the test sets differ (for example
another frame rate), a generalisation table gives each arm's change from the first test set.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from monai_afpe.experiments.statistics import paired_comparison, smallest_sign_flip_p_value

__all__ = [
    "METRIC_ORDER",
    "METRIC_LABELS",
    "PAIRED_METRICS",
    "write_results_csv",
    "read_results_csv",
    "metrics_in",
    "summary_table",
    "paired_table",
    "generalisation_table",
    "cost_table",
    "statistics_note",
    "plot_metric",
    "plot_paired_differences",
    "write_benchmark_report",
]

#: metrics in the order tables show them
METRIC_ORDER = ("auroc", "accuracy", "r2", "mae", "rmse", "loss")
#: column titles
METRIC_LABELS = {
    "auroc": "AUROC",
    "accuracy": "accuracy",
    "r2": "R²",
    "mae": "MAE",
    "rmse": "RMSE",
    "loss": "test loss",
}
#: metrics that get paired-difference and generalisation tables (RMSE and loss: summary only)
PAIRED_METRICS = ("auroc", "accuracy", "r2", "mae")
_HIGHER_IS_BETTER = {"auroc": True, "accuracy": True, "r2": True, "mae": False, "rmse": False, "loss": False}
_KEY_COLUMNS = ("experiment", "preset", "condition", "arm", "pos_embed", "seed", "test_set")


def write_results_csv(rows: Sequence[dict], path: Path | str) -> Path:
    """Write one row per run and test set; columns in first-seen order over all rows."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_results_csv(path: Path | str) -> list[dict]:
    """Rows of a ``results.csv``, with numbers parsed (``seed`` as int)."""
    rows = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            parsed = {}
            for key, value in row.items():
                if key in _KEY_COLUMNS and key != "seed":
                    parsed[key] = value
                    continue
                try:
                    parsed[key] = int(value) if key == "seed" else float(value)
                except ValueError:
                    parsed[key] = value
            rows.append(parsed)
    return rows


def metrics_in(rows: Sequence[dict]) -> list[str]:
    """The metrics present in ``rows``, in :data:`METRIC_ORDER`."""
    return [m for m in METRIC_ORDER if rows and m in rows[0]]


def _ordered(values) -> list:
    return list(dict.fromkeys(values))


def _values(rows: Sequence[dict], metric: str, **match) -> dict[int, float]:
    """Seed -> metric over rows matching ``match``; undefined values (NaN, e.g. AUROC of a test set that
    lacks a class) are left out, so summaries and pairings use only the seeds where the metric exists."""
    values = {r["seed"]: float(r[metric]) for r in rows if all(r[k] == v for k, v in match.items())}
    return {seed: value for seed, value in values.items() if math.isfinite(value)}


def _fmt(value: float, digits: int = 3) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _digits(metric: str) -> int:
    return 2 if metric in ("mae", "rmse") else 3


def _panel_title(condition: str, test: str, conditions: Sequence[str], tests: Sequence[str]) -> str:
    """The parts that vary: the condition, the test set, or both."""
    parts = ([condition] if len(conditions) > 1 or len(tests) == 1 else []) + ([test] if len(tests) > 1 else [])
    return " / ".join(parts)


def summary_table(rows: Sequence[dict], metric: str) -> str:
    """Markdown: arms down, (condition, test set) across, ``mean ± sd`` over seeds."""
    conditions = _ordered(r["condition"] for r in rows)
    tests = _ordered(r["test_set"] for r in rows)
    columns = [(c, t) for c in conditions for t in tests]
    title = [c if len(tests) == 1 else (t if len(conditions) == 1 else f"{c} / {t}") for c, t in columns]
    lines = ["| arm | " + " | ".join(title) + " |", "|---|" + "---|" * len(columns)]
    digits = _digits(metric)
    for arm in _ordered(r["arm"] for r in rows):
        cells = []
        for condition, test in columns:
            values = list(_values(rows, metric, arm=arm, condition=condition, test_set=test).values())
            if not values:
                cells.append("–")
                continue
            sd = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
            cells.append(f"{np.mean(values):.{digits}f} ± {sd:.{digits}f}")
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _paired_rows(pairs: list[tuple[str, dict, dict]], metric: str, confidence: float) -> list[str]:
    digits = _digits(metric) + (1 if metric in ("auroc", "accuracy", "r2") else 0)
    lines = []
    for label, values, reference in pairs:
        seeds = sorted(set(values) & set(reference))
        if not seeds:
            continue
        comparison = paired_comparison(
            [values[s] for s in seeds], [reference[s] for s in seeds], confidence, _HIGHER_IS_BETTER[metric]
        )
        flag = " *" if comparison.excludes_zero else ""
        lines.append(
            f"| {label} | {comparison.mean:+.{digits}f} | [{comparison.ci_low:+.{digits}f}, {comparison.ci_high:+.{digits}f}]{flag} "
            f"| {comparison.p_value:.3f} | {comparison.wins}/{comparison.n} |"
        )
    return lines


def paired_table(rows: Sequence[dict], metric: str, reference: str, confidence: float = 0.95) -> str:
    """Markdown: per condition and test set, each arm minus ``reference`` seed by seed.

    Columns: mean difference, paired bootstrap percentile interval (``*`` when it excludes zero),
    exact two-sided sign-flip p-value, and seeds on which the arm was better.
    """
    header = [
        f"| arm | Δ {METRIC_LABELS[metric]} vs {reference} | {int(round(confidence * 100))}% bootstrap CI | sign-flip p | better on |",
        "|---|---|---|---|---|",
    ]
    lines = []
    tests = _ordered(r["test_set"] for r in rows)
    conditions = _ordered(r["condition"] for r in rows)
    for condition in conditions:
        for test in tests:
            ref = _values(rows, metric, arm=reference, condition=condition, test_set=test)
            where = " / ".join(([condition] if len(conditions) > 1 else []) + ([test] if len(tests) > 1 else []))
            pairs = [
                (
                    f"{where} · {arm}" if where else arm,
                    _values(rows, metric, arm=arm, condition=condition, test_set=test),
                    ref,
                )
                for arm in _ordered(r["arm"] for r in rows)
                if arm != reference
            ]
            lines += _paired_rows(pairs, metric, confidence)
    return "\n".join(header + lines)


def generalisation_table(rows: Sequence[dict], metric: str, reference: str | None, confidence: float = 0.95) -> str:
    """Markdown: each arm's change from the first test set to every other (paired by seed), and that
    change compared with the reference arm's change (a difference of differences)."""
    tests = _ordered(r["test_set"] for r in rows)
    if len(tests) < 2:
        return ""
    base = tests[0]
    digits = _digits(metric) + 1
    lines = [
        f"| test set · arm | Δ {METRIC_LABELS[metric]} (test set − {base}) mean ± sd |"
        + (
            f" vs {reference}'s change | {int(round(confidence * 100))}% bootstrap CI | sign-flip p |"
            if reference
            else ""
        ),
        "|---|---|" + ("---|---|---|" if reference else ""),
    ]

    def change(arm: str, condition: str, test: str) -> dict[int, float]:
        before = _values(rows, metric, arm=arm, condition=condition, test_set=base)
        after = _values(rows, metric, arm=arm, condition=condition, test_set=test)
        return {s: after[s] - before[s] for s in sorted(set(before) & set(after))}

    conditions = _ordered(r["condition"] for r in rows)
    for condition in conditions:
        for test in tests[1:]:
            ref_change = change(reference, condition, test) if reference else {}
            where = f"{condition} / {test}" if len(conditions) > 1 else test
            for arm in _ordered(r["arm"] for r in rows):
                delta = change(arm, condition, test)
                if not delta:
                    continue
                values = list(delta.values())
                sd = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
                line = f"| {where} · {arm} | {np.mean(values):+.{digits}f} ± {sd:.{digits}f} |"
                if reference:
                    seeds = sorted(set(delta) & set(ref_change))
                    if arm == reference or not seeds:
                        line += " – | – | – |"
                    else:
                        c = paired_comparison([delta[s] for s in seeds], [ref_change[s] for s in seeds], confidence)
                        line += f" {c.mean:+.{digits}f} | [{c.ci_low:+.{digits}f}, {c.ci_high:+.{digits}f}] | {c.p_value:.3f} |"
                lines.append(line)
    return "\n".join(lines)


def cost_table(rows: Sequence[dict]) -> str:
    """Markdown: tokens, parameters, seconds per epoch, memory and loading cost per condition and arm (means over seeds)."""
    kind = rows[0].get("memory_kind", "") if rows else ""
    memory = "peak CUDA MB" if kind == "cuda_peak" else "saved activations, MB / step"
    lines = [
        f"| condition · arm | tokens / sample | parameters | train GFLOP / sample | s / epoch | {memory} | load + preprocess ms / sample |",
        "|---|---|---|---|---|---|---|",
    ]
    first_test = _ordered(r["test_set"] for r in rows)[0]
    for condition in _ordered(r["condition"] for r in rows):
        for arm in _ordered(r["arm"] for r in rows):
            runs = [r for r in rows if r["arm"] == arm and r["condition"] == condition and r["test_set"] == first_test]
            if not runs:
                continue

            def mean(key: str) -> float:
                return float(np.mean([float(r[key]) for r in runs]))

            lines.append(
                f"| {condition} · {arm} | {int(mean('tokens'))} | {int(mean('params')):,} | {mean('train_gflop_per_sample'):.3f} "
                f"| {mean('seconds_per_epoch'):.2f} | {mean('memory_mb'):.1f} | {mean('load_ms_per_sample'):.1f} |"
            )
    return "\n".join(lines)


def statistics_note(num_seeds: int, confidence: float = 0.95) -> str:
    """What the intervals and p-values in the tables mean, for ``num_seeds`` seeds."""
    return (
        f"Each seed sets the network initialisation, the Fourier draw G and the sample order, for every arm alike; "
        f"arms are compared seed by seed (n = {num_seeds}). The interval is the paired bootstrap percentile interval "
        f"of the mean difference over seeds (exact enumeration of all resamples), marked * when it excludes zero. "
        f"With so few seeds it is optimistic — it cannot be wider than the range of the observed differences, and "
        f"on normal toy data its {int(round(confidence * 100))}% interval covers the true difference only about 76% "
        f"(n = 3) to 83% (n = 5) of the time. The sign-flip p-value is exact, but with n = {num_seeds} seeds it cannot "
        f"be smaller than {smallest_sign_flip_p_value(num_seeds):.3f}: an effect can look consistent (better on every "
        f"seed) without being established. Read differences smaller than the seed-to-seed spread as no difference."
    )


def _save_figure(fig, path: Path | str) -> Path:
    """Lay out, write and close ``fig``; return its path."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_metric(rows: Sequence[dict], metric: str, path: Path | str, title: str = "") -> Path:
    """Per condition (and test set): every seed as a dot and the mean ± sd per arm."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conditions = _ordered(r["condition"] for r in rows)
    tests = _ordered(r["test_set"] for r in rows)
    arms = _ordered(r["arm"] for r in rows)
    panels = [(c, t) for c in conditions for t in tests]
    fig, axes = plt.subplots(
        1,
        len(panels),
        figsize=(1.0 + 0.45 * len(arms) * len(panels) + 1.2 * len(panels), 3.8),
        squeeze=False,
        sharey=True,
    )
    colours = plt.get_cmap("tab10")
    for ax, (condition, test) in zip(axes[0], panels):
        for i, arm in enumerate(arms):
            values = list(_values(rows, metric, arm=arm, condition=condition, test_set=test).values())
            if not values:
                continue
            ax.scatter([i] * len(values), values, s=14, color=colours(i % 10), alpha=0.6)
            sd = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
            ax.errorbar([i + 0.18], [np.mean(values)], yerr=[sd], fmt="o", color=colours(i % 10), capsize=3)
        ax.set_xticks(range(len(arms)))
        ax.set_xticklabels(arms, rotation=60, ha="right", fontsize=8)
        ax.set_title(_panel_title(condition, test, conditions, tests), fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel(METRIC_LABELS[metric])
    if title:
        fig.suptitle(title, fontsize=10)
    return _save_figure(fig, path)


def plot_paired_differences(
    rows: Sequence[dict], metric: str, reference: str, path: Path | str, confidence: float = 0.95
) -> Path:
    """Mean paired difference to ``reference`` with its bootstrap interval, per arm, one panel per condition and test set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conditions = _ordered(r["condition"] for r in rows)
    tests = _ordered(r["test_set"] for r in rows)
    arms = [a for a in _ordered(r["arm"] for r in rows) if a != reference]
    panels = [(c, t) for c in conditions for t in tests]
    fig, axes = plt.subplots(
        1, len(panels), figsize=(1.5 + 2.6 * len(panels), 0.9 + 0.32 * len(arms)), squeeze=False, sharey=True
    )
    for ax, (condition, test) in zip(axes[0], panels):
        ref = _values(rows, metric, arm=reference, condition=condition, test_set=test)
        for i, arm in enumerate(arms):
            values = _values(rows, metric, arm=arm, condition=condition, test_set=test)
            seeds = sorted(set(values) & set(ref))
            if not seeds:
                continue
            d = [values[s] - ref[s] for s in seeds]
            c = paired_comparison([values[s] for s in seeds], [ref[s] for s in seeds], confidence)
            colour = "tab:green" if c.ci_low > 0 else "tab:red" if c.ci_high < 0 else "tab:gray"
            ax.plot([c.ci_low, c.ci_high], [i, i], color=colour, linewidth=2)
            ax.plot([c.mean], [i], "o", color=colour)
            ax.scatter(d, [i + 0.22] * len(d), s=8, color="black", alpha=0.5)
        ax.axvline(0.0, color="black", linewidth=0.8)
        ax.set_yticks(range(len(arms)))
        ax.set_yticklabels(arms, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(f"Δ {METRIC_LABELS[metric]} vs {reference}", fontsize=8)
        ax.set_title(_panel_title(condition, test, conditions, tests), fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    return _save_figure(fig, path)


def write_benchmark_report(
    rows: Sequence[dict],
    output_dir: Path | str,
    name: str,
    description: str = "",
    reference_arms: Sequence[str] = (),
    command: str = "",
    elapsed_seconds: float | None = None,
    extra_sections: Sequence[str] = (),
    confidence: float = 0.95,
) -> Path:
    """Write ``results.md`` and one PNG per metric (plus paired-difference PNGs) into ``output_dir``.

    Args:
        rows: the runs (see :func:`~monai_afpe.experiments.runner.result_rows`).
        output_dir: the folder (created).
        name, description: heading and introduction.
        reference_arms: arms to compute paired differences against (skipped when absent from ``rows``).
        command: the command line that produced the rows.
        elapsed_seconds: wall-clock time of the whole benchmark.
        extra_sections: Markdown appended at the end.
        confidence: nominal level of the intervals.

    Returns:
        the path of ``results.md``.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    seeds = sorted({r["seed"] for r in rows})
    present = _ordered(r["arm"] for r in rows)
    references = [a for a in reference_arms if a in present]
    lines = [f"# {name}", ""]
    if description:
        lines += [description, ""]
    if command:
        lines += ["Produced by:", "", "```", command, "```", ""]
    facts = f"{len(present)} arms, {len(_ordered(r['condition'] for r in rows))} condition(s), seeds {seeds}"
    if elapsed_seconds is not None:
        facts += f"; wall-clock {elapsed_seconds / 60:.1f} min"
    lines += [facts + ".", ""]
    for metric in metrics_in(rows):
        if metric == "loss":
            continue
        figure = plot_metric(rows, metric, output_dir / f"{metric}.png", f"{name}: {METRIC_LABELS[metric]} per seed")
        lines += [
            f"## {METRIC_LABELS[metric]} (mean ± sd over seeds)",
            "",
            summary_table(rows, metric),
            "",
            f"![{metric}]({figure.name})",
            "",
        ]
        if metric not in PAIRED_METRICS:
            continue
        for reference in references:
            lines += [
                f"### Paired differences in {METRIC_LABELS[metric]} vs {reference}",
                "",
                paired_table(rows, metric, reference, confidence),
                "",
            ]
            if metric == metrics_in(rows)[0]:
                png = plot_paired_differences(
                    rows, metric, reference, output_dir / f"{metric}_vs_{reference}.png", confidence
                )
                lines += [f"![{metric} vs {reference}]({png.name})", ""]
        generalisation = generalisation_table(rows, metric, references[0] if references else None, confidence)
        if generalisation:
            lines += [f"### Change of {METRIC_LABELS[metric]} between test sets", "", generalisation, ""]
    lines += ["## Costs (means over seeds)", "", cost_table(rows), ""]
    lines += ["## How to read the statistics", "", statistics_note(len(seeds), confidence), ""]
    lines += list(extra_sections)
    path = output_dir / "results.md"
    path.write_text("\n".join(lines).rstrip() + "\n")
    return path
