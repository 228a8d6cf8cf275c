"""Reports of a benchmark: per-seed and per-case CSVs, a Markdown summary with paired statistics, PNG plots.

Tables give ``mean ± sd`` over seeds per arm and condition, then for every arm the paired difference
to each reference arm (``arm - reference``, seed by seed) with a bootstrap interval and exact
sign-flip p-value (:mod:`monai_afpe.experiments.statistics`). When the run kept its per-case
predictions (``cases.csv``, see :func:`read_cases`), intervals resample test cases as well as seeds;
otherwise they resample seeds only and the report says so. A comparison declared in the config before
the run (``primary_comparison``) comes first; the p-values of all other comparisons in one report are
Holm-adjusted together, and nothing is marked significant with fewer than
:data:`~monai_afpe.experiments.statistics.MIN_SEEDS_FOR_SIGNIFICANCE` seeds. When the test sets differ
(for example another frame rate), a generalisation table gives each arm's change from the first test set.

``cases.csv`` (one row per condition, arm, seed, test set and test case) has the columns
``condition, arm, seed, test_set, case, target`` followed by ``prob_0 ... prob_{K-1}`` (class
probabilities) for classification, ``label_prob_0 ... label_prob_{K-1}`` (one probability per label) for a
multi-label task, whose ``target`` is the label vector as the integer ``sum_k y_k 2^k`` (:func:`label_bits`),
or ``prediction`` for regression and segmentation (there the case's mean foreground Dice, with ``target`` 1.0;
the metric ``dice`` is the mean of the per-case values); ``case`` is the 0-based index of the case in its test
set, the same for every arm and seed. Multi-label results also hold per-label AUROC and AUPRC
(``auroc_<label>``, ``auprc_<label>``), reported per label against the arms' scale ratio
(:mod:`~monai_afpe.experiments.per_label`).
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from monai_afpe.experiments.config import PrimaryComparison
from monai_afpe.experiments.figures import save_figure
from monai_afpe.experiments.finetune_curve import finetune_section
from monai_afpe.experiments.per_label import per_label_section
from monai_afpe.experiments.statistics import (
    MIN_SEEDS_FOR_SIGNIFICANCE,
    PairedComparison,
    hierarchical_bootstrap,
    holm_adjust,
    may_mark_significant,
    paired_comparison,
    smallest_sign_flip_p_value,
)
from monai_afpe.handlers.atomic_disk_saver import atomic_write

__all__ = [
    "METRIC_ORDER",
    "METRIC_LABELS",
    "PER_LABEL_DICE_PREFIX",
    "PAIRED_METRICS",
    "CASE_KEY_COLUMNS",
    "CASE_RESAMPLES",
    "MAX_CASE_LABELS",
    "CasePredictions",
    "label_bits",
    "write_results_csv",
    "read_results_csv",
    "read_csv_rows",
    "case_rows",
    "write_cases_csv",
    "read_cases",
    "metrics_in",
    "metric_label",
    "summary_table",
    "paired_table",
    "generalisation_table",
    "primary_comparison_section",
    "cost_table",
    "statistics_note",
    "plot_metric",
    "plot_paired_differences",
    "write_benchmark_report",
]

#: metrics in the order tables show them (per-label Dice columns follow ``dice``)
METRIC_ORDER = ("auroc", "auprc", "accuracy", "dice", "r2", "mae", "rmse", "loss")
#: column titles
METRIC_LABELS = {
    "auroc": "AUROC",
    "auprc": "AUPRC",
    "accuracy": "accuracy",
    "dice": "Dice",
    "r2": "R²",
    "mae": "MAE",
    "rmse": "RMSE",
    "loss": "test loss",
}
#: the prefix of per-label Dice columns, e.g. ``dice_liver`` (higher is better; summary tables only)
PER_LABEL_DICE_PREFIX = "dice_"
#: metrics that get paired-difference and generalisation tables (RMSE, loss, per-label Dice: summary only)
PAIRED_METRICS = ("auroc", "auprc", "accuracy", "dice", "r2", "mae")
#: the leading columns of ``cases.csv``; then ``prob_0 ... prob_{K-1}``, ``label_prob_0 ... label_prob_{K-1}`` or
#: ``prediction``
CASE_KEY_COLUMNS = ("condition", "arm", "seed", "test_set", "case", "target")
#: most labels of a multi-label ``target`` (an integer of K bits, exact in the float a CSV reader parses)
MAX_CASE_LABELS = 52
#: bootstrap replicates over seeds and test cases behind every interval computed from ``cases.csv``
CASE_RESAMPLES = 2000
_HIGHER_IS_BETTER = {
    "auroc": True,
    "auprc": True,
    "accuracy": True,
    "dice": True,
    "r2": True,
    "mae": False,
    "rmse": False,
    "loss": False,
}
_KEY_COLUMNS = ("experiment", "preset", "condition", "arm", "pos_embed", "seed", "test_set")
#: the validation column that chooses among the arms of a primary comparison -> the test metric compared
_VALIDATION_METRICS = {"val_auroc": "auroc", "val_r2": "r2", "val_dice": "dice"}


def write_results_csv(rows: Sequence[dict], path: Path | str) -> Path:
    """Write one row per run and test set; columns in first-seen order over all rows. Written atomically
    (:func:`~monai_afpe.handlers.atomic_write`), so a kill never leaves it half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return _write_csv_atomically(path, list(dict.fromkeys(key for row in rows for key in row)), rows)


def read_results_csv(path: Path | str) -> list[dict]:
    """Rows of a ``results.csv``, with numbers parsed (``seed`` as int)."""
    rows = []
    for row in read_csv_rows(path):
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


@dataclass(frozen=True)
class CasePredictions:
    """Per-case predictions of every arm and seed on one test set of one condition.

    Attributes:
        targets: ``(n_cases,)`` class indices (classification), values (regression) or 1.0 (segmentation), or
            ``(n_cases, K)`` 0/1 label vectors (multi-label), case by case.
        predictions: arm -> seed -> ``(n_cases, K)`` class (or label) probabilities or ``(n_cases,)`` values
            (for segmentation each case's mean foreground Dice).
    """

    targets: np.ndarray
    predictions: dict[str, dict[int, np.ndarray]]


def label_bits(labels: np.ndarray) -> np.ndarray:
    """0/1 label vectors ``(n_cases, K)`` as the integers ``sum_k y_k 2^k`` that ``cases.csv`` holds as the target of
    a multi-label case (:func:`read_cases` turns them back into label vectors, ``K`` from the prediction columns).

    Raises:
        ValueError: label vectors with values other than 0 and 1 or more than :data:`MAX_CASE_LABELS` labels.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.shape[1] > MAX_CASE_LABELS or not np.all((labels == 0) | (labels == 1)):
        raise ValueError(
            f"multi-label targets must be 0/1 label vectors (n_cases, K) with K <= {MAX_CASE_LABELS}, got shape "
            f"{labels.shape}."
        )
    return labels.astype(np.int64) @ (np.int64(1) << np.arange(labels.shape[1], dtype=np.int64))


def case_rows(
    condition: str, arm: str, seed: int, test_set: str, predictions: np.ndarray, targets: np.ndarray
) -> list[dict]:
    """The ``cases.csv`` rows of one run on one test set.

    Args:
        condition, arm, seed, test_set: which run and test set.
        predictions: ``(n_cases, K)`` class (or label) probabilities or ``(n_cases,)`` regression values.
        targets: ``(n_cases,)`` class indices or values, or ``(n_cases, K)`` 0/1 label vectors (multi-label).
    """
    predictions, targets = np.asarray(predictions), np.asarray(targets)
    multilabel = targets.ndim == 2
    if multilabel:
        if predictions.shape != targets.shape:
            raise ValueError(
                f"multi-label predictions must have the shape of the label vectors {targets.shape}, got "
                f"{predictions.shape}."
            )
        targets = label_bits(targets)
    targets = targets.reshape(-1)
    if predictions.ndim not in (1, 2) or predictions.shape[0] != targets.size:
        raise ValueError(
            f"predictions must be (n_cases, K) probabilities or (n_cases,) values with n_cases = {targets.size} "
            f"(the targets), got shape {predictions.shape}."
        )
    rows = []
    # 6 significant digits: far below any difference a metric resolves, a third of the file
    predictions = np.vectorize(lambda value: float(f"{value:.6g}"), otypes=[float])(predictions)
    for case, (target, prediction) in enumerate(zip(targets.tolist(), predictions.tolist())):
        row = {"condition": condition, "arm": arm, "seed": int(seed), "test_set": test_set, "case": case}
        if multilabel:
            row.update({"target": int(target), **{f"label_prob_{k}": p for k, p in enumerate(prediction)}})
        elif predictions.ndim == 2:
            row.update({"target": int(target), **{f"prob_{k}": p for k, p in enumerate(prediction)}})
        else:
            row.update({"target": target, "prediction": prediction})
        rows.append(row)
    return rows


def _prediction_columns(columns: Sequence[str], where: str) -> list[str]:
    """``prob_0 ... prob_{K-1}`` (K >= 2, in order), ``label_prob_0 ... label_prob_{K-1}`` (K >= 1) or
    ``["prediction"]``; anything else is an error."""
    extra = [c for c in columns if c not in CASE_KEY_COLUMNS]
    probabilities = [f"prob_{k}" for k in range(len(extra))]
    labels = [f"label_prob_{k}" for k in range(len(extra))]
    if extra == ["prediction"] or (len(extra) >= 2 and sorted(extra) == sorted(probabilities)):
        return ["prediction"] if extra == ["prediction"] else probabilities
    if extra and sorted(extra) == sorted(labels):
        return labels
    raise ValueError(
        f"{where}: after {', '.join(CASE_KEY_COLUMNS)} expected columns prob_0 ... prob_{{K-1}} (K >= 2, "
        f"classification), label_prob_0 ... label_prob_{{K-1}} (multi-label) or prediction (regression), got {extra}."
    )


def _write_csv_atomically(path: Path, columns: Sequence[str], rows: Sequence[dict]) -> Path:
    """A CSV with a header (gzip-compressed when ``path`` ends in ``.gz``), replacing ``path`` in one step."""

    def write(binary) -> None:
        stream = gzip.GzipFile(fileobj=binary, mode="wb") if path.suffix == ".gz" else binary
        text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
        writer = csv.DictWriter(text, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)
        text.flush()
        text.detach()
        if stream is not binary:
            stream.close()  # writes the gzip trailer; the file itself stays open for atomic_write

    return atomic_write(path, write)


def read_csv_rows(path: Path | str) -> list[dict]:
    """The rows of a CSV file (gzip-compressed when its name ends in ``.gz``) as written: strings, no parsing."""
    with _open_text(Path(path)) as f:
        return list(csv.DictReader(f))


def _open_text(path: Path):
    """A text file to read, gzip-compressed when its name ends in ``.gz`` (the runner writes ``cases.csv.gz``);
    read with ``utf-8-sig``, so a byte-order mark (Excel's "CSV UTF-8") is skipped."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", newline="", encoding="utf-8-sig")
    return open(path, newline="", encoding="utf-8-sig")


def write_cases_csv(rows: Sequence[dict], path: Path | str) -> Path:
    """Write per-case predictions (rows as from :func:`case_rows`) to ``path`` in the ``cases.csv`` format
    (gzip-compressed when ``path`` ends in ``.gz``), atomically as :func:`write_results_csv`."""
    if not rows:
        raise ValueError("cases.csv needs at least one row, got none.")
    missing = [c for c in CASE_KEY_COLUMNS if c not in rows[0]]
    if missing:
        raise ValueError(f"cases.csv rows need the columns {list(CASE_KEY_COLUMNS)}; missing {missing}.")
    columns = list(CASE_KEY_COLUMNS) + _prediction_columns(list(rows[0]), "cases.csv rows")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for row in rows:
        if set(row) != set(columns):
            raise ValueError(f"every cases.csv row needs exactly the columns {columns}, got {sorted(row)}.")
    return _write_csv_atomically(path, columns, rows)


def read_cases(path: Path | str) -> dict[tuple[str, str], CasePredictions]:
    """Read a ``cases.csv`` (or ``cases.csv.gz``) into one :class:`CasePredictions` per ``(condition, test_set)``.

    Raises:
        ValueError: naming the file and line: missing or unknown columns, a case listed twice, case indices
            that are not ``0 .. n_cases - 1``, or a case whose target differs between arms or seeds.
    """
    path = Path(path)
    runs: dict[tuple[str, str], dict[str, dict[int, dict[int, list[float]]]]] = {}
    targets: dict[tuple[str, str], dict[int, float]] = {}
    with _open_text(path) as f:
        reader = csv.DictReader(f)
        header = list(reader.fieldnames or [])
        missing = [c for c in CASE_KEY_COLUMNS if c not in header]
        if missing:
            raise ValueError(f"{path}: missing columns {missing}; cases.csv starts with {', '.join(CASE_KEY_COLUMNS)}.")
        columns = _prediction_columns(header, str(path))
        for line, row in enumerate(reader, start=2):
            try:
                seed, case, target = int(row["seed"]), int(row["case"]), float(row["target"])
                values = [float(row[c]) for c in columns]
            except (TypeError, ValueError):
                raise ValueError(
                    f"{path}, line {line}: seed and case must be integers, target and predictions numbers."
                ) from None
            key = (row["condition"], row["test_set"])
            run = runs.setdefault(key, {}).setdefault(row["arm"], {}).setdefault(seed, {})
            if case in run:
                raise ValueError(f"{path}, line {line}: case {case} of {key + (row['arm'], seed)} listed twice.")
            run[case] = values
            known = targets.setdefault(key, {}).setdefault(case, target)
            if known != target:
                raise ValueError(
                    f"{path}, line {line}: case {case} of {key} has target {target}, elsewhere {known}; "
                    "case indices must name the same test case for every arm and seed."
                )
    result = {}
    for key, arms in runs.items():
        num_cases = len(targets[key])
        if sorted(targets[key]) != list(range(num_cases)):
            raise ValueError(
                f"{path}: the cases of {key} must be numbered 0 .. n_cases - 1, got {sorted(targets[key])[:10]}..."
            )
        predictions: dict[str, dict[int, np.ndarray]] = {}
        for arm, seeds in arms.items():
            for seed, by_case in seeds.items():
                if len(by_case) != num_cases:
                    raise ValueError(
                        f"{path}: {key + (arm, seed)} has {len(by_case)} cases, the test set has {num_cases}."
                    )
                array = np.array([by_case[c] for c in range(num_cases)])
                predictions.setdefault(arm, {})[seed] = array[:, 0] if columns == ["prediction"] else array
        target_array = np.array([targets[key][c] for c in range(num_cases)])
        if columns[0].startswith("label_prob_"):  # label vectors from their bits
            target_array = (target_array.astype(np.int64)[:, None] >> np.arange(len(columns))) & 1
        elif columns != ["prediction"]:
            target_array = target_array.astype(int)
        result[key] = CasePredictions(target_array, predictions)
    return result


def metrics_in(rows: Sequence[dict]) -> list[str]:
    """The metrics present in ``rows``, in :data:`METRIC_ORDER`, per-label Dice columns right after ``dice``."""
    if not rows:
        return []
    metrics = []
    for metric in METRIC_ORDER:
        if metric in rows[0]:
            metrics.append(metric)
        if metric == "dice":
            metrics += [c for c in rows[0] if c.startswith(PER_LABEL_DICE_PREFIX)]
    return metrics


def metric_label(metric: str) -> str:
    """The title of ``metric``: :data:`METRIC_LABELS`, or ``Dice (<label>)`` for a per-label Dice column."""
    if metric.startswith(PER_LABEL_DICE_PREFIX):
        return f"Dice ({metric[len(PER_LABEL_DICE_PREFIX) :]})"
    return METRIC_LABELS[metric]


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


@dataclass(frozen=True)
class _Paired:
    """One comparison of a table: where, which arm, the statistics, and whether the interval resampled test cases."""

    condition: str
    test_set: str
    arm: str
    comparison: PairedComparison
    over_cases: bool


def _compare(
    values: dict[int, float],
    reference: dict[int, float],
    metric: str,
    confidence: float,
    cases: CasePredictions | None,
    arm: str,
    reference_arm: str,
) -> tuple[PairedComparison, bool] | None:
    """Paired statistics of ``values - reference`` over their common seeds; the interval is replaced by the
    bootstrap over seeds and test cases when ``cases`` hold both arms for all those seeds. ``None``
    without common seeds."""
    seeds = sorted(set(values) & set(reference))
    if not seeds:
        return None
    comparison = paired_comparison(
        [values[s] for s in seeds], [reference[s] for s in seeds], confidence, _HIGHER_IS_BETTER[metric]
    )
    arm_cases = cases.predictions.get(arm, {}) if cases is not None else {}
    reference_cases = cases.predictions.get(reference_arm, {}) if cases is not None else {}
    if not all(s in arm_cases and s in reference_cases for s in seeds):
        return comparison, False
    classification = arm_cases[seeds[0]].ndim == 2
    if classification != (metric in ("accuracy", "auroc")):
        return comparison, False
    hierarchical = hierarchical_bootstrap(
        [arm_cases[s] for s in seeds],
        [reference_cases[s] for s in seeds],
        cases.targets,
        metric,
        confidence,
        CASE_RESAMPLES,
    )
    return replace(comparison, ci_low=hierarchical.ci_low, ci_high=hierarchical.ci_high), True


def _paired_comparisons(
    rows: Sequence[dict],
    metric: str,
    reference: str,
    confidence: float,
    cases: Mapping[tuple[str, str], CasePredictions] | None,
) -> list[_Paired]:
    """Every arm minus ``reference``, per condition and test set, over the seeds where both have the metric."""
    paired = []
    for condition in _ordered(r["condition"] for r in rows):
        for test in _ordered(r["test_set"] for r in rows):
            ref = _values(rows, metric, arm=reference, condition=condition, test_set=test)
            for arm in _ordered(r["arm"] for r in rows):
                if arm == reference:
                    continue
                values = _values(rows, metric, arm=arm, condition=condition, test_set=test)
                result = _compare(values, ref, metric, confidence, (cases or {}).get((condition, test)), arm, reference)
                if result is not None:
                    paired.append(_Paired(condition, test, arm, *result))
    return paired


def _holm_cell(comparison: PairedComparison, adjusted: float, confidence: float) -> str:
    """The Holm-adjusted p-value, with ``*`` when :func:`may_mark_significant` allows it."""
    flag = " *" if may_mark_significant(comparison.n, adjusted, 1.0 - confidence) else ""
    return f"{adjusted:.3f}{flag}"


def _interval_source(over_cases: bool) -> str:
    return "seeds × cases" if over_cases else "seeds"


def _paired_text(
    paired: Sequence[_Paired],
    adjusted: Sequence[float],
    rows: Sequence[dict],
    metric: str,
    reference: str,
    confidence: float,
) -> str:
    header = [
        f"| arm | Δ {metric_label(metric)} vs {reference} | {int(round(confidence * 100))}% bootstrap CI | resampled "
        "| sign-flip p | Holm p | better on |",
        "|---|---|---|---|---|---|---|",
    ]
    conditions = _ordered(r["condition"] for r in rows)
    tests = _ordered(r["test_set"] for r in rows)
    digits = _digits(metric) + (1 if metric in ("auroc", "accuracy", "dice", "r2") else 0)
    lines = []
    for entry, holm in zip(paired, adjusted):
        c = entry.comparison
        where = " / ".join(
            ([entry.condition] if len(conditions) > 1 else []) + ([entry.test_set] if len(tests) > 1 else [])
        )
        lines.append(
            f"| {f'{where} · {entry.arm}' if where else entry.arm} | {c.mean:+.{digits}f} "
            f"| [{c.ci_low:+.{digits}f}, {c.ci_high:+.{digits}f}] | {_interval_source(entry.over_cases)} "
            f"| {c.p_value:.3f} | {_holm_cell(c, holm, confidence)} | {c.wins}/{c.n} |"
        )
    return "\n".join(header + lines)


def paired_table(
    rows: Sequence[dict],
    metric: str,
    reference: str,
    confidence: float = 0.95,
    cases: Mapping[tuple[str, str], CasePredictions] | None = None,
) -> str:
    """Markdown: per condition and test set, each arm minus ``reference`` seed by seed.

    Columns: mean difference, paired bootstrap percentile interval (over seeds and test cases when
    ``cases`` hold both arms, else over seeds), what the interval resampled, exact two-sided sign-flip
    p-value, its Holm adjustment over the rows of this table (``*`` when
    :func:`~monai_afpe.experiments.statistics.may_mark_significant` allows), and the seeds on which the
    arm was better. :func:`write_benchmark_report` adjusts over all comparisons of the report instead.

    Args:
        rows: the runs of ``results.csv``.
        metric: a metric of :data:`PAIRED_METRICS`.
        reference: the arm subtracted.
        confidence: nominal level of the intervals.
        cases: per-case predictions by ``(condition, test_set)`` (see :func:`read_cases`), or ``None``.
    """
    paired = _paired_comparisons(rows, metric, reference, confidence, cases)
    adjusted = holm_adjust([e.comparison.p_value for e in paired])
    return _paired_text(paired, adjusted, rows, metric, reference, confidence)


@dataclass(frozen=True)
class _Change:
    """A row of a generalisation table: an arm's change between test sets, compared with the reference's change."""

    where: str
    arm: str
    changes: tuple[float, ...]
    comparison: PairedComparison | None


def _generalisation_changes(
    rows: Sequence[dict], metric: str, reference: str | None, confidence: float
) -> list[_Change]:
    tests = _ordered(r["test_set"] for r in rows)
    if len(tests) < 2:
        return []
    base = tests[0]

    def change(arm: str, condition: str, test: str) -> dict[int, float]:
        before = _values(rows, metric, arm=arm, condition=condition, test_set=base)
        after = _values(rows, metric, arm=arm, condition=condition, test_set=test)
        return {s: after[s] - before[s] for s in sorted(set(before) & set(after))}

    conditions = _ordered(r["condition"] for r in rows)
    entries = []
    for condition in conditions:
        for test in tests[1:]:
            ref_change = change(reference, condition, test) if reference else {}
            where = f"{condition} / {test}" if len(conditions) > 1 else test
            for arm in _ordered(r["arm"] for r in rows):
                delta = change(arm, condition, test)
                if not delta:
                    continue
                seeds = sorted(set(delta) & set(ref_change))
                comparison = None
                if reference and arm != reference and seeds:
                    comparison = paired_comparison(
                        [delta[s] for s in seeds], [ref_change[s] for s in seeds], confidence
                    )
                entries.append(_Change(where, arm, tuple(delta.values()), comparison))
    return entries


def _generalisation_text(
    entries: Sequence[_Change],
    adjusted: Sequence[float],
    rows: Sequence[dict],
    metric: str,
    reference: str | None,
    confidence: float,
) -> str:
    if not entries:
        return ""
    base = _ordered(r["test_set"] for r in rows)[0]
    digits = _digits(metric) + 1
    lines = [
        f"| test set · arm | Δ {metric_label(metric)} (test set − {base}) mean ± sd |"
        + (
            f" vs {reference}'s change | {int(round(confidence * 100))}% bootstrap CI (seeds) | sign-flip p | Holm p |"
            if reference
            else ""
        ),
        "|---|---|" + ("---|---|---|---|" if reference else ""),
    ]
    holm = iter(adjusted)
    for entry in entries:
        sd = float(np.std(entry.changes, ddof=1)) if len(entry.changes) > 1 else 0.0
        line = f"| {entry.where} · {entry.arm} | {np.mean(entry.changes):+.{digits}f} ± {sd:.{digits}f} |"
        if reference:
            c = entry.comparison
            if c is None:
                line += " – | – | – | – |"
            else:
                line += (
                    f" {c.mean:+.{digits}f} | [{c.ci_low:+.{digits}f}, {c.ci_high:+.{digits}f}] | {c.p_value:.3f} "
                    f"| {_holm_cell(c, next(holm), confidence)} |"
                )
        lines.append(line)
    return "\n".join(lines)


def generalisation_table(rows: Sequence[dict], metric: str, reference: str | None, confidence: float = 0.95) -> str:
    """Markdown: each arm's change from the first test set to every other (paired by seed), and that
    change compared with the reference arm's change (a difference of differences; interval over seeds,
    p-values Holm-adjusted over the rows of this table). Empty with a single test set."""
    entries = _generalisation_changes(rows, metric, reference, confidence)
    adjusted = holm_adjust([e.comparison.p_value for e in entries if e.comparison is not None])
    return _generalisation_text(entries, adjusted, rows, metric, reference, confidence)


def cost_table(rows: Sequence[dict]) -> str:
    """Markdown: tokens, parameters, seconds per epoch, memory and loading cost per condition and arm (means over seeds)."""
    kind = rows[0].get("memory_kind", "") if rows else ""
    memory = {"cuda_peak": "peak CUDA MB", "none": "memory (not measured: compiled on a CPU)"}.get(
        kind, "saved activations, MB / step"
    )
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

            def mean(key: str, runs: list = runs) -> float:
                return float(np.mean([float(r[key]) for r in runs]))

            lines.append(
                f"| {condition} · {arm} | {int(mean('tokens'))} | {int(mean('params')):,} | {mean('train_gflop_per_sample'):.3f} "
                f"| {mean('seconds_per_epoch'):.2f} | {mean('memory_mb'):.1f} | {mean('load_ms_per_sample'):.1f} |"
            )
    return "\n".join(lines)


def _mean_score(rows: Sequence[dict], column: str, arm: str, condition: str) -> float | None:
    """Mean over seeds of a per-run score (the first test set's rows; a validation score is the same on all)."""
    first_test = _ordered(r["test_set"] for r in rows)[0]
    scores = []
    for r in rows:
        if r["arm"] == arm and r["condition"] == condition and r["test_set"] == first_test:
            try:
                value = float(r[column])
            except (KeyError, TypeError, ValueError):
                continue
            if math.isfinite(value):
                scores.append(value)
    return float(np.mean(scores)) if scores else None


def primary_comparison_section(
    rows: Sequence[dict],
    primary_comparison: PrimaryComparison,
    confidence: float = 0.95,
    cases: Mapping[tuple[str, str], CasePredictions] | None = None,
) -> str:
    """Markdown section of the comparison declared in the config before the run.

    Per condition, the arm with the best mean validation score over seeds (``val_auroc`` for
    classification, ``val_r2`` for regression, ``val_dice`` for segmentation) is taken from each side, never
    by a test score; then per test set the mean difference of the matching test metric (AUROC, R² or Dice),
    its paired bootstrap
    interval (over seeds and test cases when ``cases`` hold both arms, else over seeds, said so), the
    exact sign-flip p-value and its Holm adjustment over the conditions and test sets of this section.

    Args:
        rows: the runs of ``results.csv``.
        primary_comparison: the comparison declared in the config (its ``arm`` and ``reference`` names).
        confidence: nominal level of the interval.
        cases: per-case predictions by ``(condition, test_set)`` (see :func:`read_cases`), or ``None``.
    """
    declared = {"arm": tuple(primary_comparison.arm), "reference": tuple(primary_comparison.reference)}
    lines = ["## Primary comparison", ""]
    text = (
        f"Declared in the config before the run (`primary_comparison`): the best of {', '.join(declared['arm'])} "
        f"against the best of {', '.join(declared['reference'])}"
    )
    present = _ordered(r["arm"] for r in rows)
    candidates = {side: [a for a in names if a in present] for side, names in declared.items()}
    column = next((c for c in _VALIDATION_METRICS if any(c in r for r in rows)), None)
    absent = [side for side, names in candidates.items() if not names]
    if absent:
        return "\n".join(lines + [text + f". No arm of the {' and '.join(absent)} side is in these results."])
    needs_choice = any(len(names) > 1 for names in candidates.values())
    if column is None:
        if needs_choice:
            return "\n".join(
                lines
                + [text + ". These results hold no validation score (val_auroc, val_r2 or val_dice) to choose by."]
            )
        metric = next(m for m in metrics_in(rows) if m in PAIRED_METRICS)
    else:
        metric = _VALIDATION_METRICS[column]
        text += (
            f", each side chosen by its mean validation {metric_label(metric)} over seeds (`{column}`), "
            "never by a test score"
        )
    lines += [text + ".", ""]
    conditions = _ordered(r["condition"] for r in rows)
    tests = _ordered(r["test_set"] for r in rows)
    entries = []
    for condition in conditions:
        chosen = {}
        for side, names in candidates.items():
            scores = {a: _mean_score(rows, column, a, condition) if column else None for a in names}
            ranked = [a for a in names if scores[a] is not None]
            best = max(ranked, key=lambda a: scores[a]) if ranked else names[0]
            chosen[side] = (best, scores[best])
        for test in tests:
            values = _values(rows, metric, arm=chosen["arm"][0], condition=condition, test_set=test)
            reference = _values(rows, metric, arm=chosen["reference"][0], condition=condition, test_set=test)
            result = _compare(
                values,
                reference,
                metric,
                confidence,
                (cases or {}).get((condition, test)),
                chosen["arm"][0],
                chosen["reference"][0],
            )
            if result is not None:
                entries.append((condition, test, chosen, *result))
    if not entries:
        return "\n".join(lines + ["The chosen arms share no seed with a finite test metric."])
    adjusted = holm_adjust([e[3].p_value for e in entries])
    digits = _digits(metric) + 1
    lines += [
        f"| condition · test set | arm (mean val) | reference (mean val) | Δ {metric_label(metric)} "
        f"| {int(round(confidence * 100))}% bootstrap CI | resampled | sign-flip p | Holm p | better on |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (condition, test, chosen, c, over_cases), holm in zip(entries, adjusted):
        arm, reference = (f"{a} ({_fmt(score)})" for a, score in (chosen["arm"], chosen["reference"]))
        lines.append(
            f"| {condition} · {test} | {arm} | {reference} | {c.mean:+.{digits}f} "
            f"| [{c.ci_low:+.{digits}f}, {c.ci_high:+.{digits}f}] | {_interval_source(over_cases)} | {c.p_value:.3f} "
            f"| {_holm_cell(c, holm, confidence)} | {c.wins}/{c.n} |"
        )
    lines.append("")
    if all(e[4] for e in entries):
        lines.append(
            f"The interval resamples the seeds and, in each of {CASE_RESAMPLES} replicates, the test cases with "
            "replacement (the same cases for both arms and every seed), recomputing the metric from the per-case "
            "predictions in cases.csv.gz."
        )
    else:
        lines.append(
            "Per-case predictions (cases.csv.gz) are missing for rows marked 'seeds': their interval resamples seeds "
            "only (the seed-only bootstrap) and leaves out the sampling of test cases, so it is too narrow."
        )
    n = min(e[3].n for e in entries)
    if n < MIN_SEEDS_FOR_SIGNIFICANCE:
        lines.append(
            f"With {n} seeds nothing is marked significant: that needs at least {MIN_SEEDS_FOR_SIGNIFICANCE} seeds "
            f"and a Holm-adjusted p-value below {1.0 - confidence:.2g}."
        )
    else:
        lines.append(f"`*` marks a Holm-adjusted p-value below {1.0 - confidence:.2g}.")
    return "\n".join(lines)


def statistics_note(
    num_seeds: int, confidence: float = 0.95, num_comparisons: int | None = None, with_cases: bool = False
) -> str:
    """What the intervals and p-values in the tables mean, for ``num_seeds`` seeds.

    Args:
        num_seeds: seeds per arm.
        confidence: nominal level of the intervals.
        num_comparisons: comparisons whose p-values were Holm-adjusted together (outside the primary one).
        with_cases: whether per-case predictions (``cases.csv``) were available for the intervals.
    """
    level = f"{int(round(confidence * 100))}%"
    alpha = 1.0 - confidence
    if with_cases:
        intervals = (
            f"Intervals marked 'seeds × cases' are {level} percentile intervals of a paired bootstrap that resamples "
            f"the seeds and, in each of {CASE_RESAMPLES} replicates, the test cases with replacement (the same cases "
            f"for both arms and every seed), recomputing the metric from the per-case predictions in cases.csv.gz. "
            f"Intervals marked 'seeds', and those of changes between test sets, resample seeds only (exact "
            f"enumeration) and leave out the sampling of test cases."
        )
    else:
        intervals = (
            f"No per-case predictions (cases.csv.gz) were available, so every interval is the seed-only {level} paired "
            f"bootstrap percentile interval (exact enumeration of all resamples of seeds): it leaves out the sampling "
            f"of test cases and is narrower than an interval that includes it."
        )
    if num_seeds < MIN_SEEDS_FOR_SIGNIFICANCE:
        marking = (
            f"A comparison is marked * only with at least {MIN_SEEDS_FOR_SIGNIFICANCE} seeds and a Holm-adjusted "
            f"p-value below {alpha:.2g}; with n = {num_seeds} seeds nothing is marked, and an effect can look "
            f"consistent (better on every seed) without being established."
        )
    else:
        marking = f"`*` marks a Holm-adjusted p-value below {alpha:.2g} (n = {num_seeds} seeds)."
    holm = (
        f"The p-values of the {num_comparisons} comparisons outside the primary one are Holm-adjusted together "
        f"(column Holm p); the primary comparison is adjusted only over its own conditions and test sets. "
        if num_comparisons is not None
        else "Holm p adjusts the p-values of a table together. "
    )
    return (
        f"Each seed sets the network initialisation, the Fourier draw G and the sample order, for every arm alike; "
        f"arms are compared seed by seed (n = {num_seeds}). {intervals} A seed-only interval cannot be wider than "
        f"the range of the observed per-seed differences, so with few seeds it covers the true difference less often "
        f"than its nominal {level}. The sign-flip p-value is exact, but with n = {num_seeds} seeds it cannot be "
        f"smaller than {smallest_sign_flip_p_value(num_seeds):.3f}. {holm}{marking} Read differences smaller than "
        f"the seed-to-seed spread as no difference."
    )


def plot_metric(rows: Sequence[dict], metric: str, path: Path | str, title: str = "") -> Path:
    """Per condition (and test set): every seed as a dot and the mean ± sd per arm."""
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
    axes[0][0].set_ylabel(metric_label(metric))
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def _plot_paired(
    rows: Sequence[dict],
    paired: Sequence[_Paired],
    adjusted: Sequence[float],
    metric: str,
    reference: str,
    path: Path | str,
    confidence: float,
) -> Path:
    import matplotlib.pyplot as plt

    conditions = _ordered(r["condition"] for r in rows)
    tests = _ordered(r["test_set"] for r in rows)
    arms = [a for a in _ordered(r["arm"] for r in rows) if a != reference]
    panels = [(c, t) for c in conditions for t in tests]
    entries = {(e.condition, e.test_set, e.arm): (e.comparison, p) for e, p in zip(paired, adjusted)}
    fig, axes = plt.subplots(
        1, len(panels), figsize=(1.5 + 2.6 * len(panels), 0.9 + 0.32 * len(arms)), squeeze=False, sharey=True
    )
    for ax, (condition, test) in zip(axes[0], panels):
        ref = _values(rows, metric, arm=reference, condition=condition, test_set=test)
        for i, arm in enumerate(arms):
            if (condition, test, arm) not in entries:
                continue
            c, holm = entries[(condition, test, arm)]
            values = _values(rows, metric, arm=arm, condition=condition, test_set=test)
            d = [values[s] - ref[s] for s in sorted(set(values) & set(ref))]
            significant = may_mark_significant(c.n, holm, 1.0 - confidence)
            colour = ("tab:green" if c.mean > 0 else "tab:red") if significant else "tab:gray"
            ax.plot([c.ci_low, c.ci_high], [i, i], color=colour, linewidth=2)
            ax.plot([c.mean], [i], "o", color=colour)
            ax.scatter(d, [i + 0.22] * len(d), s=8, color="black", alpha=0.5)
        ax.axvline(0.0, color="black", linewidth=0.8)
        ax.set_yticks(range(len(arms)))
        ax.set_yticklabels(arms, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(f"Δ {metric_label(metric)} vs {reference}", fontsize=8)
        ax.set_title(_panel_title(condition, test, conditions, tests), fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    return save_figure(fig, path)


def plot_paired_differences(
    rows: Sequence[dict],
    metric: str,
    reference: str,
    path: Path | str,
    confidence: float = 0.95,
    cases: Mapping[tuple[str, str], CasePredictions] | None = None,
) -> Path:
    """Mean paired difference to ``reference`` with its bootstrap interval, per arm, one panel per condition
    and test set; per-seed differences as dots. An interval is coloured (green: arm better by the sign of the
    difference, red: worse) only where the table marks it significant; otherwise grey."""
    paired = _paired_comparisons(rows, metric, reference, confidence, cases)
    adjusted = holm_adjust([e.comparison.p_value for e in paired])
    return _plot_paired(rows, paired, adjusted, metric, reference, path, confidence)


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
    primary_comparison: PrimaryComparison | None = None,
    cases: Mapping[tuple[str, str], CasePredictions] | None = None,
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
        primary_comparison: the comparison declared in the config, reported first
            (see :func:`primary_comparison_section`), or ``None``.
        cases: per-case predictions by ``(condition, test_set)`` (see :func:`read_cases`): intervals then
            resample test cases as well as seeds; ``None`` falls back to seed-only intervals, said so.

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
    if primary_comparison is not None:
        lines += [primary_comparison_section(rows, primary_comparison, confidence, cases), ""]

    # every comparison outside the primary one, Holm-adjusted together
    paired_metrics = [m for m in metrics_in(rows) if m in PAIRED_METRICS]
    paired = {
        (metric, reference): _paired_comparisons(rows, metric, reference, confidence, cases)
        for metric in paired_metrics
        for reference in references
    }
    changes = {
        metric: _generalisation_changes(rows, metric, references[0] if references else None, confidence)
        for metric in paired_metrics
    }
    tested = [e.comparison for entries in paired.values() for e in entries] + [
        e.comparison for entries in changes.values() for e in entries if e.comparison is not None
    ]
    adjusted = iter(holm_adjust([c.p_value for c in tested]))
    paired_holm = {key: [next(adjusted) for _ in entries] for key, entries in paired.items()}
    changes_holm = {
        metric: [next(adjusted) for e in entries if e.comparison is not None] for metric, entries in changes.items()
    }

    for metric in metrics_in(rows):
        if metric == "loss":
            continue
        figure = plot_metric(rows, metric, output_dir / f"{metric}.png", f"{name}: {metric_label(metric)} per seed")
        lines += [
            f"## {metric_label(metric)} (mean ± sd over seeds)",
            "",
            summary_table(rows, metric),
            "",
            f"![{metric}]({figure.name})",
            "",
        ]
        if metric not in PAIRED_METRICS:
            continue
        for reference in references:
            entries, holm = paired[(metric, reference)], paired_holm[(metric, reference)]
            lines += [
                f"### Paired differences in {metric_label(metric)} vs {reference}",
                "",
                _paired_text(entries, holm, rows, metric, reference, confidence),
                "",
            ]
            if metric == metrics_in(rows)[0]:
                png = _plot_paired(
                    rows, entries, holm, metric, reference, output_dir / f"{metric}_vs_{reference}.png", confidence
                )
                lines += [f"![{metric} vs {reference}]({png.name})", ""]
        generalisation = _generalisation_text(
            changes[metric], changes_holm[metric], rows, metric, references[0] if references else None, confidence
        )
        if generalisation:
            lines += [f"### Change of {metric_label(metric)} between test sets", "", generalisation, ""]
    for metric in paired_metrics:
        if not metric.startswith(PER_LABEL_DICE_PREFIX):
            lines += finetune_section(rows, metric, output_dir, metric_label(metric))
    for metric in ("auroc", "auprc"):
        lines += per_label_section(rows, metric, output_dir, metric_label(metric))
    lines += ["## Costs (means over seeds)", "", cost_table(rows), ""]
    note = statistics_note(len(seeds), confidence, len(tested), with_cases=bool(cases))
    lines += ["## How to read the statistics", "", note, ""]
    lines += list(extra_sections)
    path = output_dir / "results.md"
    path.write_text("\n".join(lines).rstrip() + "\n")
    return path
