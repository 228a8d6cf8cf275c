"""Benchmark reports: CSV round trips, Markdown tables with paired statistics, primary comparison, PNG plots."""

import numpy as np
import pytest

from monai_afpe.experiments.config import PrimaryComparison
from monai_afpe.experiments.report import (
    CASE_RESAMPLES,
    case_rows,
    cost_table,
    generalisation_table,
    paired_table,
    primary_comparison_section,
    read_cases,
    read_results_csv,
    statistics_note,
    summary_table,
    write_benchmark_report,
    write_cases_csv,
    write_results_csv,
)
from monai_afpe.experiments.statistics import case_metric, hierarchical_bootstrap, holm_adjust, paired_comparison

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
    line = next(row for row in paired.splitlines() if row.startswith("| same · afpe"))
    assert f"{comparison.mean:+.4f}" in line
    assert f"[{comparison.ci_low:+.4f}, {comparison.ci_high:+.4f}] | seeds |" in line
    # Holm over the table's two rows (both p = 0.25); with 3 seeds nothing is marked significant
    assert f"| {comparison.p_value:.3f} | 0.500 | 3/3 |" in line and "*" not in paired
    assert "sincos |" not in paired.split("\n", 2)[2]  # the reference is not compared with itself


def test_generalisation_table_compares_changes_between_test_sets():
    table = generalisation_table(_rows(), "auroc", "sincos")
    afpe = next(row for row in table.splitlines() if row.startswith("| shifted · afpe"))
    sincos = next(row for row in table.splitlines() if row.startswith("| shifted · sincos"))
    assert "-0.0200 ± 0.0000" in afpe and "+0.0800" in afpe  # afpe loses 0.02, sincos 0.10: 0.08 less
    assert "-0.1000 ± 0.0000" in sincos and sincos.endswith("– | – | – | – |")
    assert generalisation_table([r for r in _rows() if r["test_set"] == "same"], "auroc", "sincos") == ""


def test_undefined_metrics_are_left_out():
    rows = _rows()
    for row in rows:
        if row["arm"] == "afpe" and row["seed"] == 0:
            row["auroc"] = float("nan")
    summary = summary_table(rows, "auroc")
    assert f"{np.mean(AFPE_AUROC[1:]):.3f}" in summary
    line = next(row for row in paired_table(rows, "auroc", "sincos").splitlines() if row.startswith("| same · afpe"))
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
        "with n = 3 seeds nothing is marked",
        "No per-case predictions (cases.csv.gz) were available",
    ):
        assert expected in text
    assert "missing-arm" not in text and "## Primary comparison" not in text
    for png in ("auroc.png", "accuracy.png", "auroc_vs_sincos.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"
        assert f"({png})" in text
    assert "| k=4 · afpe | 65 | 1,000 | 0.010 | 0.50 | 2.0 | 1.0 |" in cost_table(_rows())


def _case_data(num_seeds: int, num_cases: int = 60) -> tuple[list[dict], list[dict]]:
    """results.csv and cases.csv rows of three arms on one test set: on the test set afpe-a is best, but
    afpe-b has the better validation score; sincos is worst on both."""
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 3, num_cases)
    separation = {"sincos": 0.3, "afpe-a": 2.0, "afpe-b": 1.0}
    validation = {"sincos": 0.70, "afpe-a": 0.80, "afpe-b": 0.90}
    costs = {k: v for k, v in _rows()[0].items() if k not in ("arm", "pos_embed", "seed", "test_set", "condition")}
    rows, cases = [], []
    for arm in separation:
        for seed in range(num_seeds):
            logits = rng.normal(size=(num_cases, 3))
            logits[np.arange(num_cases), targets] += separation[arm]
            probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
            cases += case_rows("default", arm, seed, "test", probabilities, targets)
            rows.append(
                {
                    **costs,
                    "condition": "default",
                    "arm": arm,
                    "pos_embed": arm,
                    "seed": seed,
                    "test_set": "test",
                    "accuracy": case_metric("accuracy", probabilities, targets),
                    "auroc": case_metric("auroc", probabilities, targets),
                    "val_auroc": validation[arm] + 0.01 * seed,
                }
            )
    return rows, cases


def test_cases_csv_round_trip_and_errors(tmp_path):
    _, cases = _case_data(2, num_cases=5)
    path = write_cases_csv(cases, tmp_path / "cases.csv")
    lines = path.read_text().splitlines()
    assert lines[0] == "condition,arm,seed,test_set,case,target,prob_0,prob_1,prob_2"
    back = read_cases(path)
    assert list(back) == [("default", "test")]
    test = back[("default", "test")]
    assert test.targets.dtype.kind == "i" and test.targets.tolist() == [r["target"] for r in cases[:5]]
    assert sorted(test.predictions) == ["afpe-a", "afpe-b", "sincos"] and sorted(test.predictions["sincos"]) == [0, 1]
    assert test.predictions["afpe-b"][1].shape == (5, 3)
    assert test.predictions["afpe-b"][1][2, 1] == pytest.approx(
        next(r["prob_1"] for r in cases if (r["arm"], r["seed"], r["case"]) == ("afpe-b", 1, 2))
    )
    regression = case_rows("c", "a", 0, "t", np.array([0.5, 1.5]), np.array([1.0, 2.0]))
    back = read_cases(write_cases_csv(regression, tmp_path / "regression.csv"))[("c", "t")]
    assert back.targets.tolist() == [1.0, 2.0] and back.predictions["a"][0].tolist() == [0.5, 1.5]
    # gzip by file name, predictions kept to 6 significant digits
    compressed = read_cases(write_cases_csv(cases, tmp_path / "cases.csv.gz"))[("default", "test")]
    np.testing.assert_allclose(compressed.predictions["afpe-b"][1], test.predictions["afpe-b"][1], rtol=1e-5)
    assert case_rows("c", "a", 0, "t", np.array([1 / 3]), np.array([1.0]))[0]["prediction"] == 0.333333

    (tmp_path / "twice.csv").write_text("\n".join(lines + [lines[1]]) + "\n")
    duplicate = r"twice.csv, line 32: case 0 of \('default', 'test', 'sincos', 0\) listed twice"
    with pytest.raises(ValueError, match=duplicate):
        read_cases(tmp_path / "twice.csv")
    wrong_target = lines[6].split(",")
    wrong_target[5] = str((int(wrong_target[5]) + 1) % 3)  # case 0 of seed 1, target changed
    (tmp_path / "target.csv").write_text("\n".join(lines[:2] + [",".join(wrong_target)]) + "\n")
    with pytest.raises(ValueError, match="target.csv, line 3: case 0 .* must name the same test case for every arm"):
        read_cases(tmp_path / "target.csv")
    (tmp_path / "columns.csv").write_text("condition,arm,seed,test_set,case,target,score\nc,a,0,t,0,1,0.5\n")
    with pytest.raises(
        ValueError,
        match=r"prob_0 ... prob_\{K-1\} \(K >= 2, classification\), label_prob_0 ... label_prob_\{K-1\} "
        r"\(multi-label\) or prediction",
    ):
        read_cases(tmp_path / "columns.csv")
    (tmp_path / "no_case.csv").write_text("condition,arm,seed,test_set,target,prediction\n")
    with pytest.raises(ValueError, match=r"missing columns \['case'\]"):
        read_cases(tmp_path / "no_case.csv")
    (tmp_path / "gap.csv").write_text("\n".join(lines[:2] + lines[3:6]) + "\n")
    with pytest.raises(ValueError, match=r"must be numbered 0 .. n_cases - 1"):
        read_cases(tmp_path / "gap.csv")


def test_primary_comparison_chooses_by_validation_and_resamples_cases(tmp_path):
    rows, cases = _case_data(6)
    write_cases_csv(cases, tmp_path / "cases.csv")
    test_cases = read_cases(tmp_path / "cases.csv")
    primary = PrimaryComparison(arm=("afpe-a", "afpe-b"), reference=("sincos",))
    section = primary_comparison_section(rows, primary, cases=test_cases)
    assert "the best of afpe-a, afpe-b against the best of sincos" in section and "`val_auroc`" in section
    line = next(row for row in section.splitlines() if row.startswith("| default · test"))
    # afpe-a is better on the test set, but afpe-b has the better validation score: afpe-b is chosen
    assert "| afpe-b (0.925) | sincos (0.725) |" in line
    predictions, targets = test_cases[("default", "test")].predictions, test_cases[("default", "test")].targets
    expected = hierarchical_bootstrap(
        [predictions["afpe-b"][s] for s in range(6)],
        [predictions["sincos"][s] for s in range(6)],
        targets,
        "auroc",
        num_resamples=CASE_RESAMPLES,
    )
    difference = paired_comparison(
        [r["auroc"] for r in rows if r["arm"] == "afpe-b"], [r["auroc"] for r in rows if r["arm"] == "sincos"]
    )
    assert difference.wins == 6 and difference.mean == pytest.approx(expected.mean)
    assert f"| {difference.mean:+.4f} | [{expected.ci_low:+.4f}, {expected.ci_high:+.4f}] | seeds × cases |" in line
    assert line.endswith("| 0.031 | 0.031 * | 6/6 |")  # one primary row: Holm leaves p alone; 6 seeds may be marked
    assert f"in each of {CASE_RESAMPLES} replicates, the test cases" in section

    # the other comparisons are Holm-adjusted together: 2 arms x 2 metrics, each p = 2 / 2^6
    path = write_benchmark_report(
        rows, tmp_path, "demo", reference_arms=["sincos"], primary_comparison=primary, cases=test_cases
    )
    text = path.read_text()
    assert text.index("## Primary comparison") < text.index("## AUROC")
    paired = text.split("### Paired differences in AUROC vs sincos", 1)[1].split("###", 1)[0]
    row = next(row for row in paired.splitlines() if row.startswith("| afpe-b |"))
    assert "| seeds × cases | 0.031 | 0.125 | 6/6 |" in row
    assert holm_adjust([0.03125] * 4) == [0.125] * 4
    assert "The p-values of the 4 comparisons outside the primary one are Holm-adjusted" in text
    assert "'seeds × cases'" in text


def test_primary_comparison_without_cases_and_with_few_seeds():
    rows, _ = _case_data(3)
    section = primary_comparison_section(rows, PrimaryComparison(arm=("afpe-a", "afpe-b"), reference=("sincos",)))
    line = next(row for row in section.splitlines() if row.startswith("| default · test"))
    assert "| seeds |" in line and "*" not in line and line.endswith("| 0.250 | 0.250 | 3/3 |")
    assert "resamples seeds only (the seed-only bootstrap)" in section
    assert "With 3 seeds nothing is marked significant: that needs at least 6 seeds" in section
    missing = primary_comparison_section(rows, PrimaryComparison(arm="afpe-c", reference="sincos"))
    assert "No arm of the arm side is in these results." in missing


def test_statistics_note_follows_the_confidence_level():
    note = statistics_note(3, confidence=0.9, num_comparisons=4)
    assert "90%" in note and "95%" not in note and "76%" not in note
    assert "The p-values of the 4 comparisons" in note and "below 0.1" in note
    assert "nothing is marked" not in statistics_note(6) and "`*` marks" in statistics_note(6)
