"""A benchmark killed part-way resumes where it stopped: finished runs are kept, the rest trained, the result
equals an uninterrupted run's; results written atomically; a resume into another experiment's folder refused."""

import csv
import gzip

import pytest
import yaml

from monai_afpe.cli import main

CONFIG = {
    "name": "resume_demo",
    "kind": "benchmark",
    "seeds": 2,
    "data": {
        "source": "organ_shapes",
        "seed": 3,
        "organ_shapes": {
            "protocol": "mixed",
            "num_samples": 24,
            "spatial_size": 16,
            "generator": {"inplane_spacing_range": [1.6, 2.0]},
        },
    },
    "test_sets": [{"name": "test"}],
    "model": {"patch_size": 8, "hidden_size": 24, "mlp_dim": 24, "num_layers": 1, "num_heads": 2},
    "training": {"epochs": 1, "batch_size": 8, "bf16": False, "threads": 1},
    "arms": [{"name": "sincos", "pos_embed": "sincos"}, {"name": "afpe", "pos_embed": "afpe", "scales": 1.0}],
    "presets": {"other": {}},
}
METRICS = ("accuracy", "auroc", "loss", "val_auroc")


def _read(path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as f:
        return list(csv.DictReader(f))


def _write(path, rows):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_resume_keeps_finished_runs_and_equals_an_uninterrupted_run(tmp_path, capsys):
    config = tmp_path / "demo.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    out = tmp_path / "out"
    argv = ["benchmark", str(config), "--output", str(out), "--cache-dir", str(tmp_path / "cache"), "--no-progress"]
    assert main(argv) == 0
    full, full_cases = _read(out / "results.csv"), _read(out / "cases.csv.gz")
    assert not list(out.glob(".*.tmp"))  # no temporary file of the atomic writes is left
    # a kill: the last run (afpe, seed 1) never written; afpe seed 0 killed between the two files
    _write(out / "results.csv", [r for r in full if (r["arm"], r["seed"]) != ("afpe", "1")])
    _write(out / "cases.csv.gz", [r for r in full_cases if r["arm"] == "sincos"])
    kept = {(r["arm"], r["seed"]): r["seconds_per_epoch"] for r in full if r["arm"] == "sincos"}
    assert main(argv + ["--resume"]) == 0
    assert "resuming: 2 (condition, arm, seed) runs kept" in capsys.readouterr().out
    resumed = _read(out / "results.csv")
    assert sorted((r["arm"], r["seed"]) for r in resumed) == sorted((r["arm"], r["seed"]) for r in full)
    by_run = {(r["arm"], r["seed"]): r for r in resumed}
    for row in full:
        assert {m: by_run[(row["arm"], row["seed"])][m] for m in METRICS} == {m: row[m] for m in METRICS}
    for run, seconds in kept.items():  # kept runs were not trained again
        assert by_run[run]["seconds_per_epoch"] == seconds
    assert sorted(map(tuple, (r.values() for r in _read(out / "cases.csv.gz")))) == sorted(
        map(tuple, (r.values() for r in full_cases))
    )
    assert "resume_demo" in (out / "results.md").read_text()
    with pytest.raises(
        SystemExit,
        match=r"results.csv: written by experiment 'resume_demo' preset '', not 'resume_demo' preset 'other'",
    ):
        main(argv + ["--resume", "--preset", "other"])
