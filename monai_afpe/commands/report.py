"""Print the metrics that MONAI's MetricsSaver wrote (``metrics.csv``) as one Markdown table.

Give one or more run folders (or ``metrics.csv`` files); each becomes a row, each metric a column.
Bundles' evaluate configs write their metrics this way, so ``monai-afpe report <bundle>/eval`` ends a
run with a readable table. Values that look like bugs but follow from the data (a NaN AUROC: a class missing
from the test split; an R² of -2,000,000: near-constant targets) get a note under the table
(:func:`monai_afpe.handlers.metric_notes`).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from monai_afpe.handlers.metric_notes import metric_notes

__all__ = ["read_metrics", "metrics_table", "metrics_notes"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", help="run folders holding metrics.csv, or metrics.csv files")
    parser.add_argument("--delimiter", default=",", help="the MetricsSaver delimiter (default: comma, as MetricsSaver)")


def read_metrics(path: str | Path, delimiter: str = ",") -> dict[str, float]:
    """Metric name -> value from a MetricsSaver ``metrics.csv`` (or the folder holding it).

    Raises:
        FileNotFoundError: no ``metrics.csv`` at ``path``.
        ValueError: a line that is not ``name<delimiter>number``, named with its file and line number.
    """
    path = Path(path)
    file = path / "metrics.csv" if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(f"{file}: no metrics.csv (run an evaluate config with a MetricsSaver handler first)")
    metrics = {}
    with open(file, newline="", encoding="utf-8-sig") as stream:
        for number, row in enumerate(csv.reader(stream, delimiter=delimiter), start=1):
            if not row:
                continue
            try:
                name, value = row
                metrics[name] = float(value)
            except ValueError:
                raise ValueError(f"{file}, line {number}: expected 'name{delimiter!r}number', got {row}") from None
    return metrics


def metrics_table(rows: dict[str, dict[str, float]]) -> str:
    """A Markdown table: one row per run, one column per metric (the union, in first-seen order)."""
    columns = list(dict.fromkeys(name for metrics in rows.values() for name in metrics))
    lines = ["| run | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for run, metrics in rows.items():
        cells = [f"{metrics[c]:.4f}" if c in metrics else "" for c in columns]
        lines.append(f"| {run} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def metrics_notes(rows: dict[str, dict[str, float]]) -> list[str]:
    """``Note (<run>): ...`` for every metric of every run that needs a word of explanation (see ``metric_notes``)."""
    return [f"Note ({run}): {note}" for run, metrics in rows.items() for note in metric_notes(metrics).values()]


def run(args: argparse.Namespace) -> int:
    try:
        rows = {str(path): read_metrics(path, args.delimiter) for path in args.paths}
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f"monai-afpe report: {error}") from None
    print(metrics_table(rows))
    notes = metrics_notes(rows)
    if notes:
        print("\n" + "\n".join(notes))
    return 0
