"""``monai-afpe bundle-baselines``: the commands of each arm, the table of finished runs, argument errors."""

import json
import sys

import pytest

from monai_afpe.cli import main
from monai_afpe.commands.bundle_baselines import baseline_commands, baselines_table


@pytest.fixture
def bundle(tmp_path):
    (tmp_path / "configs" / "baselines").mkdir(parents=True)
    (tmp_path / "configs" / "train.json").write_text("{}")
    (tmp_path / "configs" / "evaluate.json").write_text("{}")
    (tmp_path / "configs" / "baselines" / "sincos.json").write_text(json.dumps({"pos_embed": "sincos"}))
    (tmp_path / "configs" / "baselines" / "class_token.json").write_text(json.dumps({"pooling": "cls"}))
    return tmp_path


def finish(bundle, arm, seed, **metrics):
    out = bundle / "baselines" / arm / f"seed{seed}" / "eval"
    out.mkdir(parents=True)
    (out / "metrics.csv").write_text("".join(f"{k},{v}\n" for k, v in metrics.items()))


def test_shipped_arm_runs_train_then_evaluate_and_an_override_is_merged_in_between(bundle):
    shipped = baseline_commands(bundle, "afpe", 3, ["--max_epochs", "2"])
    assert shipped[0][:5] == [sys.executable, "-m", "monai.bundle", "run", "--config_file"]
    assert shipped[0][5] == "['configs/train.json']"
    assert shipped[1][5] == "['configs/train.json', 'configs/evaluate.json']"
    assert shipped[0][6:] == shipped[1][6:]
    assert shipped[0][6:] == [
        "--seed", "3", "--ckpt_dir", "baselines/afpe/seed3/models",
        "--output_dir", "baselines/afpe/seed3/eval", "--max_epochs", "2",
    ]  # fmt: skip
    override = baseline_commands(bundle, "sincos", 0)
    assert override[1][5] == "['configs/train.json', 'configs/baselines/sincos.json', 'configs/evaluate.json']"
    assert "baselines/sincos/seed0/models" in override[0]
    composed = baseline_commands(bundle, "sincos+class_token", 1)
    assert composed[0][5] == (
        "['configs/train.json', 'configs/baselines/sincos.json', 'configs/baselines/class_token.json']"
    )
    assert "baselines/sincos+class_token/seed1/eval" in composed[1]


def test_unknown_arm_names_the_arms_there_are(bundle):
    with pytest.raises(ValueError, match=r"no arm 'rotary'; the arms are afpe, class_token, sincos, composed"):
        baseline_commands(bundle, "rotary", 0)
    with pytest.raises(ValueError, match=r"no arm 'rotary' \(in 'sincos\+rotary'\)"):
        baseline_commands(bundle, "sincos+rotary", 0)
    with pytest.raises(ValueError, match=r"no arm 'afpe' \(in 'afpe\+sincos'\)"):
        baseline_commands(bundle, "afpe+sincos", 0)  # the shipped configs are always the base
    assert main(["bundle-baselines", str(bundle), "--arms", "afpe", "rotary"]) == 2
    assert not (bundle / "baselines").exists()  # nothing ran


def test_table_puts_the_shipped_arm_first_with_mean_and_sd_over_seeds(bundle):
    finish(bundle, "sincos", 0, test_accuracy=0.70, test_auroc=0.9)
    finish(bundle, "afpe", 10, test_accuracy=0.95, test_auroc=0.99)
    finish(bundle, "afpe", 2, test_accuracy=0.93, test_auroc=0.97, val_accuracy=0.5)
    lines = baselines_table(bundle).splitlines()
    assert lines[0] == "| arm | seeds | test_accuracy per seed | test_accuracy mean ± sd | test_auroc mean ± sd |"
    assert lines[2] == "| afpe | 2, 10 | 0.930 / 0.950 | 0.940 ± 0.014 | 0.980 ± 0.014 |"  # seeds sorted as numbers
    assert lines[3] == "| sincos | 0 | 0.700 | 0.700 | 0.900 |"
    assert len(lines) == 4


def test_table_only_prints_finished_runs_and_fails_without_any(bundle, capsys):
    assert main(["bundle-baselines", str(bundle), "--table-only"]) == 1
    assert "no finished baseline run" in capsys.readouterr().err
    finish(bundle, "sincos", 1, test_r2=0.5)
    assert main(["bundle-baselines", str(bundle), "--table-only"]) == 0
    assert "| sincos | 1 | 0.500 | 0.500 |" in capsys.readouterr().out


def test_not_a_bundle_and_passthrough_to_a_command_without_it_are_errors(tmp_path, capsys):
    assert main(["bundle-baselines", str(tmp_path)]) == 2
    assert "not a bundle folder (no configs/train.json)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["report", str(tmp_path), "--", "--max_epochs", "2"])
    assert "report takes no arguments after --: --max_epochs 2" in capsys.readouterr().err


@pytest.mark.slow
def test_a_failing_run_is_reported_with_its_log_and_the_others_still_run(bundle, capsys):
    (bundle / "configs" / "train.json").write_text('{"broken": "$undefined_name"')  # not JSON
    finish(bundle, "sincos", 0, test_r2=0.25)
    assert main(["bundle-baselines", str(bundle), "--seeds", "0", "--arms", "afpe", "sincos"]) == 1
    out, err = capsys.readouterr()
    assert "afpe seed 0:" in out and "FAILED" in out
    assert "failed runs: afpe seed 0 (see " in err and "run.log" in err
    log = (bundle / "baselines" / "afpe" / "seed0" / "run.log").read_text()
    assert log.startswith("$ ") and "monai.bundle run" in log
    assert "| sincos | 0 | 0.250 |" in out  # the finished run was kept, not rerun


@pytest.mark.slow
def test_a_run_still_training_is_neither_tabled_nor_skipped(bundle, capsys):
    """Training writes its validation metrics to the same metrics.csv; only test metrics mark a finished run."""
    finish(bundle, "sincos", 0, test_r2=0.5)
    finish(bundle, "afpe", 0, val_r2=0.4)
    assert "| afpe |" not in baselines_table(bundle)
    (bundle / "configs" / "train.json").write_text('{"broken": "$undefined_name"')  # not JSON: the run fails
    assert main(["bundle-baselines", str(bundle), "--seeds", "0", "--arms", "afpe", "sincos"]) == 1
    out, _ = capsys.readouterr()
    assert "afpe seed 0" in out and "sincos seed 0" not in out  # afpe was run again, the finished sincos kept
