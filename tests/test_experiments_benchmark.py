"""The ``monai-afpe benchmark`` command end to end on the tiny presets (generated data in a temporary cache)."""

import csv
from pathlib import Path

import pytest

from monai_afpe.cli import main

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "experiments"


def _csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_anisotropy_sweep_tiny_end_to_end(run_tiny_benchmark):
    output = run_tiny_benchmark("anisotropy_sweep")
    rows = _csv(output / "results.csv")
    # 4 arms x 2 seeds x 1 condition x 1 test set; ifpe-tuned trained 2 candidates but reports its chosen one
    assert len(rows) == 8
    assert {r["arm"] for r in rows} == {"sincos", "afpe-resolution", "ifpe-matched", "ifpe-tuned"}
    assert {r["seed"] for r in rows} == {"0", "1"} and {r["condition"] for r in rows} == {"k=4"}
    tuned = [r for r in rows if r["arm"] == "ifpe-tuned"]
    assert all(r["tuned"] in ("values=0.5", "values=1.0") for r in tuned)
    assert all(r["scales"] == " ".join([r["tuned"].split("=")[1].rstrip("0").rstrip(".")] * 3) for r in tuned)
    assert next(r for r in rows if r["arm"] == "afpe-resolution")["scales"] == "0.5 0.5 0.125"
    for row in rows:
        assert 0.0 <= float(row["accuracy"]) <= 1.0
        assert int(row["tokens"]) == 2 * 2 * 2 + 1  # 16x16x4 volume (k = 4), patch 8x8x2, class token
    text = (output / "results.md").read_text()
    assert (
        "### Paired differences in AUROC vs sincos" in text
        and "### Paired differences in AUROC vs ifpe-matched" in text
    )
    assert (output / "command.txt").read_text().startswith("monai-afpe benchmark ")
    assert "--preset tiny" in (output / "command.txt").read_text()
    assert (output / "auroc.png").is_file() and (output / "accuracy.png").is_file()


def test_seeds_override_and_bad_arguments(run_tiny_benchmark, tmp_path):
    output = run_tiny_benchmark("similarity_kernel", "--seeds", "1")
    assert {"similarity_maps.png", "kernel.png", "results.md", "command.txt"} <= {p.name for p in output.iterdir()}
    assert "| afpe | 2 |" in (output / "results.md").read_text()
    with pytest.raises(SystemExit, match="--seeds must be at least 1"):
        main(["benchmark", str(CONFIGS / "anisotropy_sweep.yaml"), "--seeds", "0"])
    with pytest.raises(SystemExit, match="no preset 'huge'"):
        main(["benchmark", str(CONFIGS / "anisotropy_sweep.yaml"), "--preset", "huge"])
    with pytest.raises(SystemExit, match="--data .*missing.npz: file not found"):
        main(["benchmark", str(CONFIGS / "anisotropy_sweep.yaml"), "--data", str(tmp_path / "missing.npz")])


def test_echo_ablation_tiny_end_to_end(run_tiny_benchmark):
    output = run_tiny_benchmark("echo_ablation")
    rows = _csv(output / "results.csv")
    assert len(rows) == 3 * 2 * 2  # arms x seeds x test sets (same and half frame rate)
    assert {r["test_set"] for r in rows} == {"same frame rate", "half frame rate"}
    assert {"r2", "mae", "rmse"} <= set(rows[0])
    assert "### Change of R² between test sets" in (output / "results.md").read_text()


def test_mixed_spacing_tiny_end_to_end(run_tiny_benchmark):
    output = run_tiny_benchmark("mixed_spacing")
    rows = _csv(output / "results.csv")
    resampled = [r for r in rows if r["arm"] == "resample-iso-sincos"]
    native = [r for r in rows if r["arm"] == "sincos"]
    assert len(rows) == 6 and len(resampled) == 2
    assert float(resampled[0]["load_ms_per_sample"]) > 0 and int(native[0]["tokens"]) == 2 * 2 * 2 + 1


def test_scale_search_tiny_end_to_end(run_tiny_benchmark):
    pytest.importorskip("optuna")
    output = run_tiny_benchmark("scale_search")
    trials = _csv(output / "trials.csv")
    assert len(trials) == 3 and {t["state"] for t in trials} <= {"complete", "pruned"}
    rows = _csv(output / "results.csv")
    assert {r["arm"] for r in rows} == {"afpe-physical", "afpe-resolution", "afpe-searched"}
    best = max((t for t in trials if t["state"] == "complete"), key=lambda t: float(t["val_auroc"]))
    searched = next(r for r in rows if r["arm"] == "afpe-searched")["scales"].split()
    assert float(searched[0]) == pytest.approx(float(best["scale_group0"]), rel=1e-3)
    assert float(searched[2]) == pytest.approx(float(best["scale_group1"]), rel=1e-3)
    assert (output / "search.png").is_file() and "## Scale search" in (output / "results.md").read_text()


@pytest.mark.slow
def test_compiled_runs_match_eager_runs(run_tiny_benchmark):
    eager = _csv(run_tiny_benchmark("mixed_spacing", "--seeds", "1") / "results.csv")
    compiled_output = run_tiny_benchmark("mixed_spacing", "--seeds", "1", "--compile")
    compiled = _csv(compiled_output / "results.csv")
    assert [(r["arm"], r["test_set"]) for r in compiled] == [(r["arm"], r["test_set"]) for r in eager]
    for ours, theirs in zip(compiled, eager):
        assert float(ours["auroc"]) == pytest.approx(float(theirs["auroc"]), abs=0.02), ours["arm"]
        assert ours["memory_kind"] == "none" and theirs["memory_kind"] == "saved_activations"
    assert "memory (not measured: compiled on a CPU)" in (compiled_output / "results.md").read_text()
