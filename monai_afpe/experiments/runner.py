"""Run a benchmark: every condition x arm x seed (x tuning candidate), one row per run and test set.

Each seed fixes three things for every arm alike: the network initialisation, the Fourier draw ``G``
of the positional embedding and the order of the training samples; the data set itself is the same
for all seeds (its own ``data.seed``), so arms are paired by seed. An arm with ``tune`` trains every
candidate for each seed and keeps the one with the best validation score (the primary metric of the
task); the test set is used only for the kept one. Besides ``results.csv`` (metrics per run and test
set), ``cases.csv.gz`` keeps every test case's prediction (for segmentation: the case's mean foreground Dice),
for statistics that resample test cases.

With a ``finetune`` section, each kept model is then fine-tuned on a few labelled volumes of a target
data set (another spacing, say) and compared with the same arm trained from scratch on those volumes:
test sets ``finetune-n`` and ``scratch-n`` on the target's test split.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from monai_afpe.experiments.arms import build_network, model_options, resolve_scales
from monai_afpe.experiments.augmentation import spacing_augmentation
from monai_afpe.experiments.config import ArmConfig, ExperimentConfig, ResampleConfig, deep_merge
from monai_afpe.experiments.data import SHIFTED_TEST_SEED_OFFSET, ExperimentData, Split, load_experiment_data
from monai_afpe.experiments.report import (
    case_rows,
    read_csv_rows,
    read_results_csv,
    write_cases_csv,
    write_results_csv,
)
from monai_afpe.experiments.training import (
    METRIC_DIRECTIONS,
    PRIMARY_METRICS,
    RunResult,
    case_targets,
    train_and_evaluate,
)

__all__ = [
    "tune_candidates",
    "count_runs",
    "DataCache",
    "finetune_target",
    "finetune_runs",
    "finished_runs",
    "run_benchmark",
    "result_rows",
]


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


def _finetune_runs_per_seed(config: ExperimentConfig) -> int:
    """Fine-tuning runs after each arm's training run (one per ``n``, twice with ``from_scratch``)."""
    if config.finetune is None:
        return 0
    return len(config.finetune.num_samples) * (2 if config.finetune.from_scratch else 1)


def count_runs(config: ExperimentConfig) -> int:
    """Training runs a benchmark makes: conditions x seeds x (candidates of each arm, plus fine-tuning runs)."""
    per_seed = sum(len(tune_candidates(a)) + _finetune_runs_per_seed(config) for a in config.arms)
    return len(config.conditions) * len(config.seeds) * per_seed


def finetune_target(
    config: ExperimentConfig, cache: "DataCache", condition_data: Mapping, resample: ResampleConfig | None
) -> ExperimentData:
    """The target data of ``config.finetune`` for one condition and preprocessing, with its own test split only.

    Its data seed is the fine-tuning ``data.seed``, or the condition's data seed plus
    :data:`~monai_afpe.experiments.data.SHIFTED_TEST_SEED_OFFSET`, so its volumes are not the training ones.
    """
    spec = config.finetune
    target = deep_merge(condition_data, spec.data)
    if "seed" not in spec.data:
        target["seed"] = int(deep_merge(config.data, condition_data).get("seed", 0)) + SHIFTED_TEST_SEED_OFFSET
    return cache.get(target, resample, {"test": {}})


def finetune_runs(
    config: ExperimentConfig,
    arm: ArmConfig,
    network: torch.nn.Module,
    target: ExperimentData,
    seed: int,
    condition_model: Mapping,
    chosen: tuple[str, Any] | None,
    device: str | torch.device,
    augment=None,
) -> list[tuple[ExperimentData, RunResult]]:
    """Fine-tune a trained ``network`` (a copy) on the first ``n`` target training volumes, for each ``n`` of
    ``config.finetune``, and (``from_scratch``) train a fresh network of ``arm`` on the same volumes.

    Returns:
        ``(data, result)`` per run, the data's only test set (the target's test split) named ``finetune-n``
        or ``scratch-n``.

    Raises:
        ValueError: a ``num_samples`` larger than the target's training split.
    """
    spec = config.finetune
    runs = []
    for n in spec.num_samples:
        if n > len(target.train):
            raise ValueError(
                f"finetune.num_samples {n} exceeds the {len(target.train)} training volumes of the target data; "
                "raise finetune.data's num_samples."
            )
        train = target.train
        few = dataclasses.replace(
            target, train=Split(train.images[:n], train.targets[:n], train.spacing[:n], train.clips)
        )
        training = dataclasses.replace(
            config.training,
            epochs=spec.epochs,
            learning_rate=spec.learning_rate,
            warmup_epochs=spec.warmup_epochs,
            batch_size=min(config.training.batch_size, n),
        )
        starts = [(f"finetune-{n}", copy.deepcopy(network))]
        if spec.from_scratch:
            starts.append((f"scratch-{n}", build_network(config, arm, few, seed, condition_model, chosen)))
        for name, model in starts:
            run_data = dataclasses.replace(few, tests={name: target.tests["test"]})
            runs.append((run_data, train_and_evaluate(model, run_data, training, seed, device, augment=augment)))
    return runs


def _run_key(row: Mapping) -> tuple[str, str, str]:
    return row["condition"], row["arm"], str(row["seed"])


def finished_runs(config: ExperimentConfig, output_dir: Path | str) -> tuple[list[dict], list[dict]]:
    """The rows of ``results.csv`` and ``cases.csv.gz`` in ``output_dir`` whose (condition, arm, seed) run is
    complete in both files, as written (strings): what an interrupted benchmark keeps when resumed.

    Raises:
        ValueError: ``results.csv`` of another experiment or preset (naming the file and both values).
    """
    output_dir = Path(output_dir)
    results, cases_path = output_dir / "results.csv", output_dir / "cases.csv.gz"
    if not results.is_file() or not cases_path.is_file():
        return [], []
    rows, cases = read_csv_rows(results), read_csv_rows(cases_path)
    for row in rows[:1]:
        found, expected = (row["experiment"], row["preset"]), (config.name, config.preset or "")
        if found != expected:
            raise ValueError(
                f"{results}: written by experiment {found[0]!r} preset {found[1]!r}, not {expected[0]!r} preset "
                f"{expected[1]!r}; resume only the run that wrote it (or give another --output)."
            )
    done = {_run_key(r) for r in rows} & {_run_key(r) for r in cases}
    return [r for r in rows if _run_key(r) in done], [r for r in cases if _run_key(r) in done]


class DataCache:
    """Loads each (condition, preprocessing) data set once and keeps it in memory while it is needed."""

    def __init__(self, config: ExperimentConfig, cache_dir: Path | str | None):
        self.config = config
        self.cache_dir = cache_dir
        self._data: dict[str, ExperimentData] = {}

    def get(
        self, condition_data: Mapping, resample: ResampleConfig | None, test_sets: Mapping | None = None
    ) -> ExperimentData:
        """The data of a condition (with ``resample``); ``test_sets`` defaults to the config's test sets."""
        tests = {t.name: t.options for t in self.config.test_sets} if test_sets is None else dict(test_sets)
        resample = None if resample is None else dataclasses.asdict(resample)
        key = json.dumps([dict(condition_data), resample, tests], sort_keys=True, default=str)
        if key not in self._data:
            options = deep_merge(self.config.data, condition_data)
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
    resume: bool = False,
) -> list[dict]:
    """Train and evaluate every run of ``config``; rows go to ``output_dir/results.csv`` and ``cases.csv.gz`` as they come.

    Both files are rewritten after every (condition, arm, seed) run, each by a temporary file and a rename, so
    a kill loses at most the run in progress.

    Args:
        config: a ``benchmark`` experiment.
        output_dir: folder of ``results.csv`` (created).
        cache_dir: folder of generated data sets.
        device: where to train.
        progress: show a tqdm progress bar over runs.
        resume: keep the runs already complete in ``output_dir`` (see :func:`finished_runs`) and train only
            the others. Every run is seeded on its own, so the result equals an uninterrupted run's.

    Returns:
        the rows (see :func:`result_rows`), those kept by ``resume`` included.
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
    rows, cases = finished_runs(config, output_dir) if resume else ([], [])
    done = {_run_key(r) for r in rows}
    bar = tqdm(total=count_runs(config), desc=config.name, unit="run", disable=not progress)
    for condition in config.conditions:
        for arm in config.arms:
            data = cache.get(condition.data, arm.resample)
            patch_size = model_options(config, condition.model, arm.model, arm.network)["patch_size"]
            augment = None if arm.augment is None else spacing_augmentation(arm.augment, data.input_size)
            for seed in config.seeds:
                if (condition.name, arm.name, str(seed)) in done:
                    bar.update(len(tune_candidates(arm)) + _finetune_runs_per_seed(config))
                    continue
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
                        best = (score, candidate, result, network)
                    bar.update(1)
                _, chosen, result, network = best
                scales = resolve_scales(arm, arms, data, patch_size, chosen)
                runs = [(data, result)]
                if config.finetune is not None:
                    target = finetune_target(config, cache, condition.data, arm.resample)
                    bar.set_postfix_str(f"{condition.name} {arm.name} seed {seed} fine-tuning")
                    tuned = finetune_runs(config, arm, network, target, seed, condition.model, chosen, device, augment)
                    runs += tuned
                    bar.update(len(tuned))
                for run_data, run in runs:
                    rows.extend(result_rows(config, condition.name, arm, seed, run, run_data, scales, chosen))
                    for name, predictions in run.test_predictions.items():
                        targets = case_targets(run_data.tests[name], run_data.task).numpy()
                        cases.extend(case_rows(condition.name, arm.name, seed, name, predictions.numpy(), targets))
                write_results_csv(rows, output_dir / "results.csv")
                write_cases_csv(cases, output_dir / "cases.csv.gz")
        cache.clear()
    bar.close()
    return read_results_csv(output_dir / "results.csv") if done else rows
