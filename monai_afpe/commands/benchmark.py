"""Run an experiment config: train and evaluate every arm over seeds, write results.csv, results.md and plots.

Kinds of experiment (the config's ``kind``): ``benchmark`` trains every condition x arm x seed and
reports first the config's ``primary_comparison``, then per-seed results, mean ± sd and paired
differences across seeds with bootstrap intervals (over seeds and test cases when the run wrote
``cases.csv``) and exact sign-flip p-values with Holm correction; ``scale_search`` searches per-axis
AFPE scales with Optuna and compares the best with the spacing-derived default on fresh seeds;
``similarity`` draws similarity maps and the kernel view (no training). Configs live in
``configs/experiments/``; ``--preset quick`` is sized for a laptop CPU, ``--preset full`` for a GPU
(see each config's ``expected_time``).
"""

from __future__ import annotations

import argparse
import shlex


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="experiment YAML, e.g. configs/experiments/anisotropy_sweep.yaml")
    parser.add_argument("--preset", help="preset of the config: quick, full, tiny (default: the base config)")
    parser.add_argument("--output", help="output folder (default: outputs/<experiment>-<preset>)")
    parser.add_argument("--seeds", type=int, help="number of seeds 0..N-1, overriding the config's")
    parser.add_argument(
        "--data", help="OrganMNIST3D .npz file (organmnist3d_64.npz): use it instead of the synthetic organ shapes"
    )
    parser.add_argument(
        "--cache-dir", help="folder of generated data sets (default: $MONAI_AFPE_CACHE or ~/.cache/monai_afpe)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="CPU threads per run (torch.set_num_threads), overriding the config's training.threads; "
        "1 lets two runs share a 2-core machine without oversubscription",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="run every network through torch.compile (overrides the config's training.compile)",
    )
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (cuda when available)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run in --output: the (condition, arm, seed) runs already complete in its "
        "results.csv and cases.csv.gz are kept, the others trained (each run is seeded on its own, so the "
        "result equals an uninterrupted run's); command.txt keeps the first command",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="train nothing: rewrite results.md and the plots from the results.csv (and cases.csv.gz) in --output "
        "(e.g. after an interrupted run, or a run of fewer seeds)",
    )


def run(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    import torch

    from monai_afpe.experiments.config import ConfigError, load_experiment_config
    from monai_afpe.experiments.report import read_cases, read_results_csv, write_benchmark_report
    from monai_afpe.experiments.runner import count_runs, finished_runs, run_benchmark
    from monai_afpe.experiments.search import run_scale_search
    from monai_afpe.experiments.similarity import run_similarity

    overrides: dict = {}
    if args.seeds is not None:
        if args.seeds < 1:
            raise SystemExit(f"monai-afpe benchmark: --seeds must be at least 1, got {args.seeds}")
        overrides["seeds"] = args.seeds
    if args.threads is not None:
        if args.threads < 1:
            raise SystemExit(f"monai-afpe benchmark: --threads must be at least 1, got {args.threads}")
        overrides["training"] = {"threads": args.threads}
    if args.compile:
        overrides.setdefault("training", {})["compile"] = True
    if args.data is not None:
        if not Path(args.data).is_file():
            raise SystemExit(f"monai-afpe benchmark: --data {args.data}: file not found")
        overrides["data"] = {"source": "organmnist3d", "organmnist3d": {"path": str(Path(args.data).resolve())}}
    try:
        config = load_experiment_config(args.config, args.preset, overrides)
    except (ConfigError, FileNotFoundError) as error:
        raise SystemExit(f"monai-afpe benchmark: {error}") from None
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    output = Path(args.output or Path("outputs") / f"{config.name}-{config.preset or 'base'}")

    def report(rows: list, command: str, elapsed: float | None, extra: list, references: tuple) -> Path:
        cases_path = output / "cases.csv.gz"
        return write_benchmark_report(
            rows,
            output,
            config.name,
            config.description,
            references,
            command,
            elapsed,
            extra_sections=extra,
            primary_comparison=config.primary_comparison,
            cases=read_cases(cases_path) if cases_path.is_file() else None,
        )

    if args.report_only:
        if config.kind != "benchmark":
            raise SystemExit(
                f"monai-afpe benchmark: --report-only rewrites benchmark reports; {config.name!r} is a {config.kind!r}."
            )
        if not (output / "results.csv").is_file():
            raise SystemExit(
                f"monai-afpe benchmark: --report-only: no results.csv in {output} (give the run's --output)."
            )
        command_file = output / "command.txt"
        command = command_file.read_text().strip() if command_file.is_file() else f"(unknown; report of {output})"
        path = report(read_results_csv(output / "results.csv"), command, None, [], config.reference_arms)
        print(f"wrote {path} from {output / 'results.csv'}")
        return 0
    output.mkdir(parents=True, exist_ok=True)
    command = "monai-afpe benchmark " + " ".join(
        shlex.quote(a)
        for a in [args.config]
        + (["--preset", args.preset] if args.preset else [])
        + (["--seeds", str(args.seeds)] if args.seeds else [])
        + (["--threads", str(args.threads)] if args.threads else [])
        + (["--data", args.data] if args.data else [])
        + (["--output", args.output] if args.output else [])
        + (["--device", args.device] if args.device != "auto" else [])
    )
    if not (args.resume and (output / "command.txt").is_file()):
        (output / "command.txt").write_text(command + "\n")
    else:
        command = (output / "command.txt").read_text().strip()
    progress = not args.no_progress
    start = time.perf_counter()
    if config.kind == "similarity":
        path = run_similarity(config.similarity, output, config.name)
        print(f"wrote {path} ({time.perf_counter() - start:.1f} s)")
        return 0
    print(
        f"{config.name} ({config.preset or 'base'}): {len(config.arms)} arms x {len(config.conditions)} condition(s) "
        f"x {len(config.seeds)} seeds on {device}; lengths in mm, time in s"
    )
    extra = []
    references = config.reference_arms
    if config.kind == "scale_search":
        references = references or (config.search.arm,)
        trials, rows = run_scale_search(config, output, args.cache_dir, device, progress)
        complete = sum(t["state"] == "complete" for t in trials)
        extra = [
            "## Scale search",
            "",
            f"{len(trials)} Optuna TPE trials ({complete} complete, {len(trials) - complete} pruned by the median rule), "
            f"all on seed {config.search.seed}; every trial in `trials.csv`.",
            "",
            "![search](search.png)",
            "",
        ]
    else:
        print(f"{count_runs(config)} training runs")
        if args.resume:
            try:
                kept = {(r["condition"], r["arm"], r["seed"]) for r in finished_runs(config, output)[0]}
            except ValueError as error:
                raise SystemExit(f"monai-afpe benchmark --resume: {error}") from None
            print(f"resuming: {len(kept)} (condition, arm, seed) runs kept from {output / 'results.csv'}")
        rows = run_benchmark(config, output, args.cache_dir, device, progress, resume=args.resume)
    elapsed = time.perf_counter() - start
    path = report(rows, command, elapsed, extra, references)
    print(f"wrote {output / 'results.csv'} and {path} ({elapsed / 60:.1f} min)")
    return 0
