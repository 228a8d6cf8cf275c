"""Run a benchmark: every condition x arm x seed (x tuning candidate), one row per run and test set.

Each seed fixes three things for every arm alike: the network initialisation, the Fourier draw ``G``
of the positional embedding and the order of the training samples; the data set itself is the same
for all seeds (its own ``data.seed``), so arms are paired by seed. An arm with ``tune`` trains every
candidate for each seed and keeps the one with the best validation score (the primary metric of the
task); the test set is used only for the kept one. Besides ``results.csv`` (metrics per run and test
set), ``cases.csv`` keeps every test case's prediction (for segmentation: the case's mean foreground Dice),
for statistics that resample test cases.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from monai_afpe.experiments.arms import build_network, model_options, resolve_scales
from monai_afpe.experiments.config import ArmConfig, ExperimentConfig, deep_merge
from monai_afpe.experiments.data import ExperimentData, load_experiment_data
from monai_afpe.experiments.augmentation import spacing_augmentation
from monai_afpe.experiments.report import case_rows, write_cases_csv, write_results_csv
from monai_afpe.experiments.training import (
    METRIC_DIRECTIONS,
    PRIMARY_METRICS,
    RunResult,
    case_targets,
    train_and_evaluate,
)

__all__ = ["tune_candidates", "count_runs", "DataCache", "run_benchmark", "result_rows"]


def tune_candidates(arm: ArmConfig) -> list[tuple[str, Any] | None]:
    """``(key, value)`` overrides to train for ``arm``: its ``tune`` candidates, or ``[None]``."""
    if not arm.tune:
        return [None]
    ((key, values),) = arm.tune.items()
    return [(key, value) for value in values]


def _better(score: float, best: float, higher: bool) -> bool:
    """Whether ``score`` beats ``best``; an undefined score (NaN) never beats a defined one."""
    if math.isnan(score):
        return False
    return math.isnan(best) or (score > best if higher else score < best)


def count_runs(config: ExperimentConfig) -> int:
    """Training runs a benchmark makes: conditions x seeds x (candidates of each arm)."""
    return len(config.conditions) * len(config.seeds) * sum(len(tune_candidates(a)) for a in config.arms)


class DataCache:
    """Loads each (condition, preprocessing) data set once and keeps it in memory while it is needed."""

    def __init__(self, config: ExperimentConfig, cache_dir: Path | str | None):
        self.config = config
        self.cache_dir = cache_dir
        self._data: dict[str, ExperimentData] = {}

    def get(self, condition_data: Mapping, resample: Mapping | None) -> ExperimentData:
        key = json.dumps([dict(condition_data), resample], sort_keys=True, default=str)
        if key not in self._data:
            options = deep_merge(self.config.data, condition_data)
            tests = {t.name: t.options for t in self.config.test_sets}
            self._data[key] = load_experiment_data(options, self.cache_dir, resample, tests)
        return self._data[key]

    def clear(self) -> None:
        self._data.clear()


def _format_scales(scales) -> str:
    return "" if scales is None else " ".join(f"{float(s):.4g}" for s in scales)


def result_rows(
    config: ExperimentConfig,
    condition: str,
    arm: ArmConfig,
    seed: int,
    result: RunResult,
    data: ExperimentData,
    scales,
    chosen: tuple[str, Any] | None,
) -> list[dict]:
    """One row per test set: identifiers, test metrics, validation score, scales and costs."""
    primary = PRIMARY_METRICS[data.task]
    common = {
        "experiment": config.name,
        "preset": config.preset or "",
        "condition": condition,
        "arm": arm.name,
        "network": arm.network,
        "pos_embed": arm.pos_embed,
        "seed": seed,
    }
    costs = {
        f"val_{primary}": result.validation[primary],
        "scales": _format_scales(scales),
        "final_scales": _format_scales(result.final_scales) if arm.pos_embed == "afpe_learnable_scales" else "",
        "tuned": "" if chosen is None else f"{chosen[0]}={json.dumps(chosen[1])}",
        "tokens": result.tokens,
        "params": result.params,
        "train_gflop_per_sample": round(result.train_gflop, 6),
        "seconds_per_epoch": round(result.seconds_per_epoch, 4),
        "memory_mb": round(result.memory_mb, 3),
        "memory_kind": result.memory_kind,
        "load_ms_per_sample": round(1000.0 * data.info.get("load_seconds_per_sample", 0.0), 3),
        "epochs": len(result.history),
    }
    return [{**common, "test_set": name, **metrics, **costs} for name, metrics in result.tests.items()]


def run_benchmark(
    config: ExperimentConfig,
    output_dir: Path | str,
    cache_dir: Path | str | None = None,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> list[dict]:
    """Train and evaluate every run of ``config``; rows go to ``output_dir/results.csv`` and ``cases.csv`` as they come.

    Args:
        config: a ``benchmark`` experiment.
        output_dir: folder of ``results.csv`` (created).
        cache_dir: folder of generated data sets.
        device: where to train.
        progress: show a tqdm progress bar over runs.

    Returns:
        the rows (see :func:`result_rows`).
    """
    from tqdm.auto import tqdm

    if config.kind != "benchmark":
        raise ValueError(
            f"run_benchmark runs kind 'benchmark' experiments, got {config.name!r} of kind {config.kind!r}."
        )
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    cache = DataCache(config, cache_dir)
    arms = {a.name: a for a in config.arms}
    rows: list[dict] = []
    cases: list[dict] = []
    bar = tqdm(total=count_runs(config), desc=config.name, unit="run", disable=not progress)
    for condition in config.conditions:
        for arm in config.arms:
            data = cache.get(condition.data, arm.resample)
            patch_size = model_options(config, condition.model, arm.model, arm.network)["patch_size"]
            augment = None if arm.augment is None else spacing_augmentation(arm.augment, data.input_size)
            for seed in config.seeds:
                best = None
                for candidate in tune_candidates(arm):
                    bar.set_postfix_str(
                        f"{condition.name} {arm.name} seed {seed}" + (f" {candidate[1]}" if candidate else "")
                    )
                    network = build_network(config, arm, data, seed, condition.model, candidate)
                    result = train_and_evaluate(network, data, config.training, seed, device, augment=augment)
                    score = result.validation[PRIMARY_METRICS[data.task]]
                    higher = METRIC_DIRECTIONS[PRIMARY_METRICS[data.task]]
                    if best is None or _better(score, best[0], higher):
                        best = (score, candidate, result)
                    bar.update(1)
                _, chosen, result = best
                scales = resolve_scales(arm, arms, data, patch_size, chosen)
                rows.extend(result_rows(config, condition.name, arm, seed, result, data, scales, chosen))
                for name, predictions in result.test_predictions.items():
                    targets = case_targets(data.tests[name], data.task).numpy()
                    cases.extend(case_rows(condition.name, arm.name, seed, name, predictions.numpy(), targets))
                write_results_csv(rows, output_dir / "results.csv")
                write_cases_csv(cases, output_dir / "cases.csv")
        cache.clear()
    bar.close()
    return rows
