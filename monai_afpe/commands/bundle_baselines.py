"""Train and evaluate a bundle's baseline arms over seeds, then print one table of their test metrics.

A baseline arm is the bundle's own recipe with only the network's use of spacing changed: an override file
``configs/baselines/<arm>.json`` merged over ``configs/train.json`` (and ``configs/evaluate.json``); the arm
``afpe`` is the shipped configuration itself. Each (arm, seed) trains with ``--seed`` set (initialisation
and frequency draw; the data stay those of ``data_seed``) and evaluates on the test split; checkpoints,
metrics, the log and the wall time go to ``<bundle>/baselines/<arm>/seed<k>/``. A run whose
``eval/metrics.csv`` holds test metrics (``test_*``; training writes its validation metrics to the same
file) is kept, so an interrupted table resumes where it stopped. Arms compose with ``+``:
``native+mean_pooling`` merges ``native.json`` and then ``mean_pooling.json``, so one change can
be tried on top of another without a file that repeats both. Arguments after
``--`` go to every ``python -m monai.bundle run`` unchanged (e.g. ``-- --max_epochs 2 --num_samples 48``
for a smoke test).

Example (from anywhere)::

    monai-afpe bundle-baselines bundles/afpe_echo_regression --seeds 0 1 2 \\
        --arms afpe sincos sincos_spacing_embedding monai_vit_resample
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["SHIPPED_ARM", "baseline_commands", "baselines_table"]

SHIPPED_ARM = "afpe"
PASSTHROUGH = True  # arguments after -- go to every bundle run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", help="bundle folder (holding configs/train.json and configs/evaluate.json)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="training seeds (default: 0 1 2)")
    parser.add_argument(
        "--arms",
        nargs="+",
        default=None,
        help=f"'{SHIPPED_ARM}' (the shipped configs) and override names in configs/baselines/ (default: all), "
        "composed with '+' (a+b merges a.json, then b.json); arguments after -- go to every bundle run",
    )
    parser.add_argument("--table-only", action="store_true", help="print the table of finished runs, run nothing")


def _available_arms(bundle: Path) -> list[str]:
    return [SHIPPED_ARM] + sorted(p.stem for p in (bundle / "configs" / "baselines").glob("*.json"))


def baseline_commands(bundle: str | Path, arm: str, seed: int, extra: Sequence[str] = ()) -> list[list[str]]:
    """The train and the evaluate command of one (arm, seed), to run in the bundle folder.

    ``arm`` is ``afpe``, an override name, or override names joined by ``+`` (merged in that order).

    Raises:
        ValueError: ``arm`` is neither ``afpe`` nor override files in ``configs/baselines/``, naming the ones
            there are.
    """
    bundle = Path(bundle)
    arms = _available_arms(bundle)
    parts = [] if arm == SHIPPED_ARM else arm.split("+")
    for part in parts:
        if part == SHIPPED_ARM or part not in arms:
            raise ValueError(
                f"{bundle / 'configs' / 'baselines'}: no arm '{part}'"
                + (f" (in '{arm}')" if len(parts) > 1 else "")
                + f"; the arms are {', '.join(arms)}, composed with '+'."
            )
    configs = ["configs/train.json"] + [f"configs/baselines/{part}.json" for part in parts]
    out = f"baselines/{arm}/seed{seed}"
    common = ["--seed", str(seed), "--ckpt_dir", f"{out}/models", "--output_dir", f"{out}/eval", *extra]
    run = [sys.executable, "-m", "monai.bundle", "run", "--config_file"]
    return [
        [*run, repr(configs), *common],
        [*run, repr([*configs, "configs/evaluate.json"]), *common],
    ]


def _test_metrics(file: Path) -> dict[str, float]:
    """The ``test_*`` metrics of a run's ``metrics.csv`` (none while the run is still training)."""
    from monai_afpe.commands.report import read_metrics

    return {k: v for k, v in read_metrics(file).items() if k.startswith("test_")} if file.is_file() else {}


def baselines_table(bundle: str | Path) -> str:
    """A Markdown table of every finished run under ``<bundle>/baselines``: one row per arm, the shipped arm
    first; per test metric the mean (and the sample standard deviation over seeds, from 2 seeds), the first
    metric also per seed.

    Raises:
        FileNotFoundError: no finished run.
    """
    root = Path(bundle) / "baselines"
    files = sorted(root.glob("*/seed*/eval/metrics.csv"), key=lambda p: (p.parts[-4], int(p.parts[-3][4:])))
    runs: dict[str, dict[int, dict[str, float]]] = {}
    for file in files:
        if metrics := _test_metrics(file):
            runs.setdefault(file.parts[-4], {})[int(file.parts[-3][4:])] = metrics
    if not runs:
        raise FileNotFoundError(
            f"{root}: no finished baseline run (no <arm>/seed<k>/eval/metrics.csv with test metrics)"
        )
    names = list(dict.fromkeys(name for arm in runs.values() for seed in arm.values() for name in seed))
    order = sorted(runs, key=lambda arm: (arm != SHIPPED_ARM, arm))
    header = ["arm", "seeds", f"{names[0]} per seed", *(f"{name} mean ± sd" for name in names)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for arm in order:
        seeds = runs[arm]
        first = " / ".join(f"{seeds[s].get(names[0], float('nan')):.3f}" for s in sorted(seeds))
        cells = [arm, ", ".join(str(s) for s in sorted(seeds)), first]
        for name in names:
            values = [seeds[s][name] for s in sorted(seeds) if name in seeds[s]]
            spread = f" ± {statistics.stdev(values):.3f}" if len(values) > 1 else ""
            cells.append(f"{statistics.mean(values):.3f}{spread}" if values else "")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    bundle = Path(args.bundle).resolve()
    if not (bundle / "configs" / "train.json").is_file():
        print(f"{bundle}: not a bundle folder (no configs/train.json)", file=sys.stderr)
        return 2
    extra = list(getattr(args, "passthrough", []))
    failed = []
    if not args.table_only:
        arms = args.arms or _available_arms(bundle)
        for arm in arms:  # check every name before the first hour-long run
            try:
                baseline_commands(bundle, arm, 0)
            except ValueError as error:
                print(error, file=sys.stderr)
                return 2
        for seed in args.seeds:
            for arm in arms:
                out = bundle / "baselines" / arm / f"seed{seed}"
                if _test_metrics(out / "eval" / "metrics.csv"):
                    continue
                out.mkdir(parents=True, exist_ok=True)
                start, ok = time.monotonic(), True
                with open(out / "run.log", "w", encoding="utf-8") as log:
                    for command in baseline_commands(bundle, arm, seed, extra):
                        log.write("$ " + " ".join(command) + "\n")
                        log.flush()
                        ok = subprocess.run(command, cwd=bundle, stdout=log, stderr=subprocess.STDOUT).returncode == 0
                        if not ok:
                            failed.append(f"{arm} seed {seed} (see {out / 'run.log'})")
                            break
                seconds = time.monotonic() - start
                (out / "seconds.txt").write_text(f"{seconds:.0f}\n", encoding="utf-8")
                print(f"{arm} seed {seed}: {seconds:.0f} s{'' if ok else ' FAILED'}", flush=True)
    try:
        print(baselines_table(bundle))
    except FileNotFoundError as error:
        print(error, file=sys.stderr)
        return 1
    if failed:
        print("failed runs: " + "; ".join(failed), file=sys.stderr)
        return 1
    return 0
