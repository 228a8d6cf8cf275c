"""Search per-axis AFPE scales with Optuna (TPE sampling, median pruning), then test the winner across seeds.

The paper (arXiv 2509.02488) picked its EchoNet scales by 50 random runs and reported the best one —
a winner's-curse estimate. Here the search optimises the validation score of runs that share one
seed (``search.seed``, distinct from the benchmark seeds, so that trials differ only in their
scales), stops poor trials early (Optuna's ``MedianPruner`` on the per-epoch validation score), and
then trains the best scales and the spacing-derived default on fresh seeds and compares them on the
test set with paired statistics.

Options: the ``search`` section of a ``scale_search`` experiment
(:class:`~monai_afpe.experiments.config.SearchConfig`: keys, meanings and defaults).
"""

from __future__ import annotations

import csv
import dataclasses
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from monai_afpe.experiments.arms import build_network, model_options, resolve_scales
from monai_afpe.experiments.augmentation import spacing_augmentation
from monai_afpe.experiments.config import ArmConfig, ConfigError, ExperimentConfig
from monai_afpe.experiments.figures import save_figure
from monai_afpe.experiments.runner import DataCache, run_benchmark
from monai_afpe.experiments.training import METRIC_DIRECTIONS, PRIMARY_METRICS, train_and_evaluate

__all__ = ["run_scale_search", "plot_search"]


def _scales_from_groups(groups: list[list[int]], values: list[float]) -> tuple[float, ...]:
    scales = [0.0] * sum(len(g) for g in groups)
    for group, value in zip(groups, values):
        for axis in group:
            scales[axis] = float(value)
    return tuple(scales)


def run_scale_search(
    config: ExperimentConfig,
    output_dir: Path | str,
    cache_dir: Path | str | None = None,
    device: str = "cpu",
    progress: bool = True,
) -> tuple[list[dict], list[dict]]:
    """Search the scales, write ``trials.csv`` and ``search.png``, then run the best-vs-default benchmark.

    Returns:
        the trial rows and the benchmark rows (best scales, default and any other arm, over ``config.seeds``).

    Raises:
        ConfigError: the config has no ``search`` section, or its ``groups`` do not cover the data's axes.
    """
    import optuna
    from tqdm.auto import tqdm

    options = config.search
    if options is None:
        raise ConfigError(f"{config.path or '<config>'}: search: {config.name!r} has no search section.")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    arm = config.arm(options.arm)
    condition = config.conditions[0]
    data = DataCache(config, cache_dir).get(condition.data, arm.resample)
    primary = PRIMARY_METRICS[data.task]
    higher = METRIC_DIRECTIONS[primary]
    groups = options.groups
    if len(groups) and sum(len(g) for g in groups) != len(data.input_size):
        raise ConfigError(
            f"{config.path or '<config>'}: search.groups covers {sum(len(g) for g in groups)} axes but the data has "
            f"{len(data.input_size)} (input size {data.input_size})."
        )
    patch_size = model_options(config, condition.model, arm.model, arm.network)["patch_size"]
    augment = None if arm.augment is None else spacing_augmentation(arm.augment, data.input_size)
    default_scales = resolve_scales(arm, {a.name: a for a in config.arms}, data, patch_size)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize" if higher else "minimize",
        sampler=optuna.samplers.TPESampler(seed=options.seed),
        pruner=optuna.pruners.MedianPruner(
            n_startup_trials=options.startup_trials, n_warmup_steps=options.warmup_epochs
        ),
    )
    searched = dataclasses.replace(arm, scales=None, tune=None)
    bar = tqdm(total=options.trials, desc=f"{config.name} search", unit="trial", disable=not progress)
    rows: list[dict] = []

    def objective(trial: "optuna.Trial") -> float:
        values = [trial.suggest_float(f"s{i}", options.low, options.high, log=True) for i in range(len(groups))]
        scales = _scales_from_groups(groups, values)
        network = build_network(
            config, dataclasses.replace(searched, scales=list(scales)), data, options.seed, condition.model
        )

        def report(epoch: int, validation: Mapping) -> bool:
            trial.report(validation[primary], epoch)
            return trial.should_prune()

        result = train_and_evaluate(
            network, data, config.training, options.seed, device, on_epoch=report, augment=augment
        )
        score = result.history[-1][f"val_{primary}"]
        rows.append(
            {
                "trial": trial.number,
                "state": "pruned" if result.stopped_early else "complete",
                **{f"scale_group{i}": v for i, v in enumerate(values)},
                "ratio": values[-1] / values[0] if len(values) > 1 else 1.0,
                "bandwidth": math.sqrt(sum(s * s for s in scales)),
                f"val_{primary}": score,
                "epochs": len(result.history),
            }
        )
        bar.update(1)
        complete = [r[f"val_{primary}"] for r in rows if r["state"] == "complete"]
        if complete:
            bar.set_postfix_str(f"best {(max if higher else min)(complete):.3f}")
        if result.stopped_early:
            raise optuna.TrialPruned()
        return score

    study.optimize(objective, n_trials=options.trials)
    bar.close()
    with open(output_dir / "trials.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    best_values = [study.best_params[f"s{i}"] for i in range(len(groups))]
    best_scales = _scales_from_groups(groups, best_values)
    plot_search(rows, primary, groups, default_scales, best_scales, output_dir / "search.png")

    best_arm = ArmConfig(
        name="afpe-searched",
        pos_embed=arm.pos_embed,
        scales=[round(s, 5) for s in best_scales],
        pos_embed_kwargs=dict(arm.pos_embed_kwargs),
        description=f"best of {options.trials} trials",
    )
    final = dataclasses.replace(
        config,
        kind="benchmark",
        conditions=(condition,),
        arms=tuple(config.arms) + (best_arm,),
        reference_arms=(arm.name,),
    )
    benchmark_rows = run_benchmark(final, output_dir, cache_dir, device, progress)
    return rows, benchmark_rows


def plot_search(
    rows: list[dict], metric: str, groups: list[list[int]], default_scales, best_scales, path: Path | str
) -> Path:
    """Validation score of every trial against the ratio of the last to the first searched scale (log axis)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    complete = [r for r in rows if r["state"] == "complete"]
    pruned = [r for r in rows if r["state"] == "pruned"]
    if complete:
        points = ax.scatter(
            [r["ratio"] for r in complete],
            [r[f"val_{metric}"] for r in complete],
            c=np.log10([r["bandwidth"] for r in complete]),
            cmap="viridis",
            label="complete trial",
        )
        fig.colorbar(points, ax=ax, label="log10 ||s|| (overall bandwidth)")
    if pruned:
        ax.scatter(
            [r["ratio"] for r in pruned],
            [r[f"val_{metric}"] for r in pruned],
            marker="x",
            color="gray",
            label="pruned (last epoch)",
        )
    first, last = groups[0][0], groups[-1][0]
    if default_scales is not None:
        ax.axvline(
            default_scales[last] / default_scales[first],
            color="tab:red",
            linestyle="--",
            label="spacing-derived default",
        )
    ax.axvline(best_scales[last] / best_scales[first], color="tab:green", linestyle=":", label="best trial")
    ax.set_xscale("log")
    ax.set_xlabel(f"scale ratio s[axis {last}] / s[axis {first}]")
    ax.set_ylabel(f"validation {metric}")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)
