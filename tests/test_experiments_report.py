"""Benchmark reports: CSV round trip, Markdown tables with paired statistics, PNG plots."""

import numpy as np
import pytest

from monai_afpe.experiments.report import (
    cost_table,
    generalisation_table,
    paired_table,
    read_results_csv,
    summary_table,
    write_benchmark_report,
    write_results_csv,
)
from monai_afpe.experiments.statistics import paired_comparison

REFERENCE_AUROC = [0.90, 0.85, 0.88]
AFPE_AUROC = [0.93, 0.86, 0.92]


def _rows() -> list[dict]:
    rows = []
    for arm, values in (("sincos", REFERENCE_AUROC), ("afpe", AFPE_AUROC)):
        for seed, auroc in enumerate(values):
            for test_set, shift in (("same", 0.0), ("shifted", -0.1 if arm == "sincos" else -0.02)):
                rows.append(
                    {
                        "experiment": "demo",
                        "preset": "tiny",
                        "condition": "k=4",
                        "arm": arm,
                        "pos_embed": arm,
                        "seed": seed,
                        "test_set": test_set,
                        "accuracy": auroc - 0.2,
                        "auroc": auroc + shift,
                        "loss": 1.0,
                        "val_auroc": auroc,
                        "scales": "0.5 0.5 0.125" if arm == "afpe" else "",
                        "tokens": 65,
                        "params": 1000,
                        "train_gflop_per_sample": 0.01,
                        "seconds_per_epoch": 0.5,
                        "memory_mb": 2.0,
                        "memory_kind": "saved_activations",
                        "load_ms_per_sample": 1.0,
                        "epochs": 2,
                    }
                )
    return rows


def test_csv_round_trip(tmp_path):
    rows = _rows()
    path = write_results_csv(rows, tmp_path / "results.csv")
    header = path.read_text().splitlines()[0].split(",")
    assert header[:7] == ["experiment", "preset", "condition", "arm", "pos_embed", "seed", "test_set"]
    assert {"accuracy", "auroc", "val_auroc", "scales", "tokens", "seconds_per_epoch", "memory_mb"} <= set(header)
    back = read_results_csv(path)
    assert len(back) == len(rows) == 12
    assert back[0]["seed"] == 0 and back[0]["auroc"] == pytest.approx(0.90) and back[2]["scales"] == ""
    assert back[6]["scales"] == "0.5 0.5 0.125" and back[6]["condition"] == "k=4"


def test_summary_and_paired_tables_hold_the_statistics():
    rows = _rows()
    summary = summary_table(rows, "auroc")
    assert "| arm | same | shifted |" in summary
    assert f"| afpe | {np.mean(AFPE_AUROC):.3f} ± {np.std(AFPE_AUROC, ddof=1):.3f} |" in summary
    comparison = paired_comparison(AFPE_AUROC, REFERENCE_AUROC)
    paired = paired_table(rows, "auroc", "sincos")
    line = next(l for l in paired.splitlines() if l.startswith("| same · afpe"))
    assert f"{comparison.mean:+.4f}" in line and f"[{comparison.ci_low:+.4f}, {comparison.ci_high:+.4f}] *" in line
    assert f"| {comparison.p_value:.3f} | 3/3 |" in line
    assert "sincos |" not in paired.split("\n", 2)[2]  # the reference is not compared with itself


def test_generalisation_table_compares_changes_between_test_sets():
    table = generalisation_table(_rows(), "auroc", "sincos")
    afpe = next(l for l in table.splitlines() if l.startswith("| shifted · afpe"))
    sincos = next(l for l in table.splitlines() if l.startswith("| shifted · sincos"))
    assert "-0.0200 ± 0.0000" in afpe and "+0.0800" in afpe  # afpe loses 0.02, sincos 0.10: 0.08 less
    assert "-0.1000 ± 0.0000" in sincos and sincos.endswith("– | – | – |")
    assert generalisation_table([r for r in _rows() if r["test_set"] == "same"], "auroc", "sincos") == ""


def test_undefined_metrics_are_left_out():
    rows = _rows()
    for row in rows:
        if row["arm"] == "afpe" and row["seed"] == 0:
            row["auroc"] = float("nan")
    summary = summary_table(rows, "auroc")
    assert f"{np.mean(AFPE_AUROC[1:]):.3f}" in summary
    line = next(l for l in paired_table(rows, "auroc", "sincos").splitlines() if l.startswith("| same · afpe"))
    assert line.endswith("| 2/2 |")


def test_write_benchmark_report(tmp_path):
    path = write_benchmark_report(
        _rows(), tmp_path, "demo", "A demo.", ["sincos", "missing-arm"], "monai-afpe benchmark demo.yaml", 90.0
    )
    text = path.read_text()
    for expected in (
        "# demo",
        "monai-afpe benchmark demo.yaml",
        "wall-clock 1.5 min",
        "## AUROC (mean ± sd over seeds)",
        "### Paired differences in AUROC vs sincos",
        "### Change of AUROC between test sets",
        "## Costs (means over seeds)",
        "cannot be smaller than 0.250",
    ):
        assert expected in text
    assert "missing-arm" not in text
    for png in ("auroc.png", "accuracy.png", "auroc_vs_sincos.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"
        assert f"({png})" in text
    assert "| k=4 · afpe | 65 | 1,000 | 0.010 | 0.50 | 2.0 | 1.0 |" in cost_table(_rows())
