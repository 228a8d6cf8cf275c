"""Experiment harness: configs with presets, runs over arms and seeds, paired statistics, reports, scale search.

Reproduces and extends the positional-encoding comparisons of "Anisotropic Fourier Features for
Positional Encoding in Medical Imaging" (arXiv 2509.02488) with several seeds per arm, paired
comparisons across seeds, bandwidth-matched isotropic baselines and a pruned scale search. The
``monai-afpe benchmark`` command drives it from ``configs/experiments/*.yaml``.
"""

from monai_afpe.experiments.arms import build_network, resolve_scales, tokens_per_sample
from monai_afpe.experiments.augmentation import spacing_augmentation
from monai_afpe.experiments.config import (
    ARM_NETWORKS,
    DATA_SOURCES,
    EXPERIMENT_KINDS,
    ArmConfig,
    ConditionConfig,
    ConfigError,
    ExperimentConfig,
    TestSetConfig,
    TrainingConfig,
    load_experiment_config,
    parse_experiment_config,
)
from monai_afpe.experiments.data import ExperimentData, Split, load_experiment_data
from monai_afpe.experiments.report import (
    read_cases,
    read_results_csv,
    write_benchmark_report,
    write_cases_csv,
    write_results_csv,
)
from monai_afpe.experiments.runner import count_runs, run_benchmark
from monai_afpe.experiments.statistics import (
    MIN_SEEDS_FOR_SIGNIFICANCE,
    HierarchicalComparison,
    PairedComparison,
    bootstrap_mean_interval,
    hierarchical_bootstrap,
    holm_adjust,
    paired_comparison,
    sign_flip_p_value,
    smallest_sign_flip_p_value,
)
from monai_afpe.experiments.training import RunResult, evaluate, train_and_evaluate

__all__ = [
    "ARM_NETWORKS",
    "DATA_SOURCES",
    "HierarchicalComparison",
    "MIN_SEEDS_FOR_SIGNIFICANCE",
    "hierarchical_bootstrap",
    "holm_adjust",
    "read_cases",
    "spacing_augmentation",
    "write_cases_csv",
    "EXPERIMENT_KINDS",
    "ArmConfig",
    "ConditionConfig",
    "ConfigError",
    "ExperimentConfig",
    "ExperimentData",
    "PairedComparison",
    "RunResult",
    "Split",
    "TestSetConfig",
    "TrainingConfig",
    "bootstrap_mean_interval",
    "build_network",
    "count_runs",
    "evaluate",
    "load_experiment_config",
    "load_experiment_data",
    "paired_comparison",
    "parse_experiment_config",
    "read_results_csv",
    "resolve_scales",
    "run_benchmark",
    "sign_flip_p_value",
    "smallest_sign_flip_p_value",
    "tokens_per_sample",
    "train_and_evaluate",
    "write_benchmark_report",
    "write_results_csv",
]
