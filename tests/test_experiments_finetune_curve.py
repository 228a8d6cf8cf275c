"""The fine-tuning curve: sizes, the table's means and paired gains, the figure and its section (the report
includes it: see ``test_spacing_awareness_tiny_runs_every_new_arm``)."""

import math

from monai_afpe.experiments.finetune_curve import finetune_section, finetune_sizes, finetune_table


def _rows():
    rows = []
    for seed in range(3):
        for arm, base in (("physical", 0.5), ("told", 0.4)):
            rows.append({"condition": "c", "arm": arm, "seed": seed, "test_set": "test", "accuracy": 0.9})
            for n, step in ((16, 0.0), (64, 0.2)):
                rows.append(
                    {
                        "condition": "c",
                        "arm": arm,
                        "seed": seed,
                        "test_set": f"finetune-{n}",
                        "accuracy": base + step + 0.01 * seed,
                    }
                )
                rows.append(
                    {"condition": "c", "arm": arm, "seed": seed, "test_set": f"scratch-{n}", "accuracy": 0.3 + step}
                )
    return rows


def test_sizes_are_read_from_the_test_set_names():
    assert finetune_sizes(_rows()) == [16, 64]
    assert finetune_sizes([{"test_set": "test"}, {"test_set": "finetune-x"}, {"test_set": "slices-4-6mm"}]) == []


def test_table_gives_means_sd_and_the_gain_paired_by_seed():
    lines = finetune_table(_rows(), "accuracy").splitlines()
    assert lines[0] == (
        "| arm | fine-tuned n=16 | scratch n=16 | gain n=16 | fine-tuned n=64 | scratch n=64 | gain n=64 |"
    )
    physical = [c.strip() for c in lines[2].split("|")[1:-1]]
    assert physical[0] == "physical"
    assert physical[1] == "0.510 ± 0.010"  # 0.50, 0.51, 0.52
    assert physical[2] == "0.300 ± 0.000"
    assert physical[3] == "+0.210"
    assert physical[6] == "+0.210"
    told = [c.strip() for c in lines[3].split("|")[1:-1]]
    assert told[4] == "0.610 ± 0.010" and told[6] == "+0.110"


def test_a_missing_or_undefined_value_leaves_the_cell_empty():
    rows = [r for r in _rows() if not (r["arm"] == "told" and r["test_set"] == "scratch-64")]
    rows.append({"condition": "c", "arm": "told", "seed": 0, "test_set": "scratch-64", "accuracy": math.nan})
    told = [c.strip() for c in finetune_table(rows, "accuracy").splitlines()[3].split("|")[1:-1]]
    assert told[5] == "–" and told[6] == "–"


def test_section_draws_the_curve_and_the_report_includes_it(tmp_path):
    assert finetune_section([{"arm": "a", "test_set": "test", "seed": 0, "accuracy": 1.0}], "accuracy", tmp_path) == []
    section = finetune_section(_rows(), "accuracy", tmp_path, "Accuracy")
    assert section[0] == "## Fine-tuning curve: Accuracy against labelled target volumes"
    assert (tmp_path / "finetune_accuracy.png").stat().st_size > 10_000
    assert "![fine-tuning curve](finetune_accuracy.png)" in section
