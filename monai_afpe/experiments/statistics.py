"""Paired comparisons of two arms across seeds: mean difference, a bootstrap interval and an exact sign-flip test.

The AFPE paper (arXiv 2509.02488) compared encodings with one seed per setting and t-tests over
bootstrap replicates of a single test set; such replicates share one trained network and one
frequency draw, so they measure test-set noise, not the variation between training runs that a user
will see. Here the unit of replication is the seed (network initialisation and Fourier draw ``G``
together): every arm is trained once per seed, and two arms are compared through their per-seed
differences ``d_i = metric(arm, seed i) - metric(reference, seed i)``.

Two summaries of ``d`` are reported:

- a **paired bootstrap percentile interval** over seeds: the distribution of the mean of ``n`` seeds
  drawn with replacement from the ``n`` observed differences. For ``n`` up to
  :data:`EXACT_BOOTSTRAP_MAX_SEEDS` it is computed exactly (every multiset of seeds, weighted by its
  multinomial probability), so it does not depend on a random number generator. With 3-5 seeds this
  interval is *optimistic*: it can never be wider than the range of the observed differences and
  covers the true mean difference less often than its nominal level (about 0.76 for n = 3, 0.83 for
  n = 5 and 0.90 for n = 8 at a nominal 0.95 on normal differences, see the tests). Read it as "where the mean of these
  seeds' differences lies under resampling", not as a guarantee.
- an **exact sign-flip permutation test** of "no difference": under the null the sign of each
  ``d_i`` is exchangeable, so the p-value is the fraction of the ``2^n`` sign patterns whose mean is at
  least as extreme as the observed one. It makes no normality assumption and is exact, but its
  smallest two-sided p-value is ``2 / 2^n``: 0.25 for 3 seeds, 0.125 for 4, 0.0625 for 5 and 0.031 for
  6 — fewer than 6 seeds can never reach p < 0.05.

The seed-level interval ignores that every seed is scored on one finite test set. When per-case
predictions are kept, :func:`hierarchical_bootstrap` resamples both levels: seeds with replacement and,
in the same replicate, the test cases with replacement, recomputing the metric from the predictions
(so AUROC and R², which are not means over cases, are handled correctly); multi-label AUROC (0/1 label
vectors as targets, one probability per label) is the macro mean over labels. Segmentation keeps each case's
mean foreground Dice as its prediction, and the metric ``dice`` is the mean of these per-case values. Its interval includes the
test-set sampling noise and does not shrink below it however many seeds are run.

Several comparisons in one report are corrected with :func:`holm_adjust` (Holm-Bonferroni), and
:func:`may_mark_significant` allows the word "significant" only with at least
:data:`MIN_SEEDS_FOR_SIGNIFICANCE` seeds and a Holm-adjusted p-value below ``alpha``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from monai_afpe.validation import check_positive_int

__all__ = [
    "EXACT_BOOTSTRAP_MAX_SEEDS",
    "EXACT_SIGN_FLIP_MAX_SEEDS",
    "MIN_SEEDS_FOR_SIGNIFICANCE",
    "CASE_METRICS",
    "PairedComparison",
    "HierarchicalComparison",
    "bootstrap_mean_interval",
    "sign_flip_p_value",
    "smallest_sign_flip_p_value",
    "paired_comparison",
    "case_metric",
    "hierarchical_bootstrap",
    "holm_adjust",
    "may_mark_significant",
]

#: largest number of seeds for which the bootstrap distribution is enumerated exactly (92378 multisets)
EXACT_BOOTSTRAP_MAX_SEEDS = 10
#: largest number of seeds for which all ``2^n`` sign patterns are enumerated
EXACT_SIGN_FLIP_MAX_SEEDS = 16
#: fewest seeds with which a comparison may be called significant (the exact sign-flip test's smallest
#: two-sided p-value is 2 / 2^6 = 0.031 at 6 seeds; below that it cannot reach 0.05)
MIN_SEEDS_FOR_SIGNIFICANCE = 6
#: metrics that :func:`case_metric` and :func:`hierarchical_bootstrap` recompute from per-case predictions
CASE_METRICS = ("accuracy", "auroc", "r2", "mae", "dice")
#: most ``resamples x cases`` entries held at once by :func:`hierarchical_bootstrap` (memory bound)
_CHUNK_ENTRIES = 1 << 20


def _differences(differences: Sequence[float]) -> np.ndarray:
    d = np.asarray(differences, dtype=np.float64).reshape(-1)
    if d.size == 0:
        raise ValueError("differences must hold at least one paired difference, got none.")
    if not np.all(np.isfinite(d)):
        raise ValueError(f"differences must be finite, got {d.tolist()}.")
    return d


def _check_confidence(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}.")
    return float(confidence)


def bootstrap_mean_interval(
    differences: Sequence[float], confidence: float = 0.95, num_resamples: int = 20000, seed: int = 0
) -> tuple[float, float]:
    """Percentile interval of the mean difference under resampling of seeds with replacement.

    Exact for ``n <= EXACT_BOOTSTRAP_MAX_SEEDS``: each multiset of ``n`` seeds is weighted by its
    multinomial probability ``n! / (prod c_j!) / n^n``; above that, ``num_resamples`` Monte Carlo
    resamples from a generator seeded with ``seed``. Quantiles use the inverted empirical CDF.

    Args:
        differences: per-seed paired differences.
        confidence: nominal level of the two-sided interval.
        num_resamples: Monte Carlo resamples (only for more than ``EXACT_BOOTSTRAP_MAX_SEEDS`` seeds).
        seed: seed of the Monte Carlo resampling.

    Returns:
        ``(low, high)``.
    """
    d = _differences(differences)
    confidence = _check_confidence(confidence)
    n = d.size
    if n <= EXACT_BOOTSTRAP_MAX_SEEDS:
        means, weights = [], []
        log_norm = math.lgamma(n + 1) - n * math.log(n)
        for combo in itertools.combinations_with_replacement(range(n), n):
            counts = np.bincount(combo, minlength=n)
            means.append(float(counts @ d) / n)
            weights.append(math.exp(log_norm - sum(math.lgamma(c + 1) for c in counts)))
        means_arr, weights_arr = np.asarray(means), np.asarray(weights)
    else:
        if num_resamples < 100:
            raise ValueError(f"num_resamples must be at least 100, got {num_resamples!r}.")
        rng = np.random.default_rng(seed)
        means_arr = d[rng.integers(0, n, size=(num_resamples, n))].mean(axis=1)
        weights_arr = np.full(num_resamples, 1.0 / num_resamples)
    order = np.argsort(means_arr, kind="stable")
    means_arr, cdf = means_arr[order], np.cumsum(weights_arr[order])
    cdf /= cdf[-1]
    alpha = 1.0 - confidence

    def quantile(q: float) -> float:
        return float(means_arr[min(int(np.searchsorted(cdf, q - 1e-12, side="left")), means_arr.size - 1)])

    return quantile(alpha / 2.0), quantile(1.0 - alpha / 2.0)


def sign_flip_p_value(
    differences: Sequence[float], alternative: str = "two-sided", num_resamples: int = 20000, seed: int = 0
) -> float:
    """Permutation p-value of "mean difference = 0" by flipping the signs of the paired differences.

    Exact (all ``2^n`` patterns, the observed one included) for ``n <= EXACT_SIGN_FLIP_MAX_SEEDS``;
    otherwise ``num_resamples`` random patterns plus the observed one.

    Args:
        differences: per-seed paired differences.
        alternative: ``"two-sided"`` (``|mean|`` at least as large), ``"greater"`` or ``"less"``.
        num_resamples: random sign patterns for large ``n``.
        seed: seed of the random patterns.
    """
    d = _differences(differences)
    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError(f"alternative must be 'two-sided', 'greater' or 'less', got {alternative!r}.")
    n = d.size
    if n <= EXACT_SIGN_FLIP_MAX_SEEDS:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=n)))
    else:
        rng = np.random.default_rng(seed)
        signs = np.vstack([np.ones(n), rng.choice((1.0, -1.0), size=(num_resamples, n))])
    means = signs @ d / n
    observed = d.mean()
    tolerance = 1e-12 * max(1.0, float(np.abs(d).max()))
    if alternative == "two-sided":
        extreme = np.abs(means) >= abs(observed) - tolerance
    elif alternative == "greater":
        extreme = means >= observed - tolerance
    else:
        extreme = means <= observed + tolerance
    return float(extreme.mean())


def smallest_sign_flip_p_value(num_seeds: int, alternative: str = "two-sided") -> float:
    """The smallest p-value an exact sign-flip test can give with ``num_seeds`` seeds: ``2 / 2^n`` two-sided."""
    num_seeds = check_positive_int(num_seeds, "num_seeds")
    return (2.0 if alternative == "two-sided" else 1.0) / 2.0**num_seeds


@dataclass(frozen=True)
class PairedComparison:
    """Summary of per-seed paired differences ``arm - reference``.

    Attributes:
        n: number of seeds.
        mean: mean difference.
        sd: sample standard deviation of the differences (0 for one seed).
        ci_low, ci_high: paired bootstrap percentile interval of the mean.
        p_value: exact two-sided sign-flip p-value.
        wins: seeds on which the arm is better than the reference (``d > 0``; for a metric where lower
            is better, pass ``-d``).
        confidence: nominal level of the interval.
    """

    n: int
    mean: float
    sd: float
    ci_low: float
    ci_high: float
    p_value: float
    wins: int
    confidence: float

    @property
    def excludes_zero(self) -> bool:
        """Whether the bootstrap interval lies strictly on one side of zero."""
        return self.ci_low > 0.0 or self.ci_high < 0.0


def paired_comparison(
    values: Sequence[float], reference: Sequence[float], confidence: float = 0.95, higher_is_better: bool = True
) -> PairedComparison:
    """Compare an arm with a reference arm seed by seed.

    Args:
        values: the arm's metric per seed.
        reference: the reference arm's metric for the same seeds, in the same order.
        confidence: nominal level of the bootstrap interval.
        higher_is_better: direction of the metric, used only to count wins.

    Raises:
        ValueError: when the two lists differ in length (the pairing is by seed) or hold non-finite values.
    """
    values_arr = np.asarray(values, dtype=np.float64).reshape(-1)
    reference_arr = np.asarray(reference, dtype=np.float64).reshape(-1)
    if values_arr.size != reference_arr.size:
        raise ValueError(
            f"paired comparison needs one value per seed for both arms, got {values_arr.size} and {reference_arr.size}."
        )
    d = _differences(values_arr - reference_arr)
    low, high = bootstrap_mean_interval(d, confidence)
    better = d > 0 if higher_is_better else d < 0
    return PairedComparison(
        n=int(d.size),
        mean=float(d.mean()),
        sd=float(d.std(ddof=1)) if d.size > 1 else 0.0,
        ci_low=low,
        ci_high=high,
        p_value=sign_flip_p_value(d),
        wins=int(better.sum()),
        confidence=_check_confidence(confidence),
    )


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni step-down adjusted p-values, in the order given.

    With ``m`` p-values sorted as ``p_(1) <= ... <= p_(m)``, the adjusted value of ``p_(i)`` is
    ``min(1, max_{j <= i} (m - j + 1) p_(j))``: monotone in the raw p-values and capped at 1. Rejecting
    where the adjusted value is below ``alpha`` controls the family-wise error rate at ``alpha`` under
    any dependence between the tests.

    Args:
        p_values: raw p-values in [0, 1].

    Raises:
        ValueError: a p-value outside [0, 1] or not a number.
    """
    p = np.asarray(p_values, dtype=np.float64).reshape(-1)
    if not np.all((p >= 0.0) & (p <= 1.0)):
        raise ValueError(f"p-values must lie in [0, 1], got {p.tolist()}.")
    m = p.size
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    return adjusted.tolist()


def may_mark_significant(num_seeds: int, adjusted_p_value: float, alpha: float = 0.05) -> bool:
    """Whether a comparison may be called significant: at least :data:`MIN_SEEDS_FOR_SIGNIFICANCE`
    seeds and a (Holm-)adjusted p-value below ``alpha``."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}.")
    return num_seeds >= MIN_SEEDS_FOR_SIGNIFICANCE and adjusted_p_value < alpha


def _auroc(probabilities: np.ndarray, targets: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Macro one-vs-rest AUROC of every seed under every case weighting, by a weighted rank count.

    ``targets`` are class indices ``(N,)`` or, for a multi-label task, 0/1 label vectors ``(N, K)`` (then
    "class" below reads "label": the positives of label ``k`` are the cases with ``targets[:, k] = 1``).

    A case with weight ``w`` counts ``w`` times (a bootstrap multiplicity). Per class, AUROC is the
    weighted fraction of (positive, negative) pairs ranked correctly, ties counting one half (the
    Mann-Whitney statistic, as :func:`monai.metrics.compute_roc_auc`). A class without positives or
    without negatives among the weighted cases is left out of that weighting's macro average; a
    weighting where no class is defined gives NaN.
    """
    num_seeds, _, num_classes = probabilities.shape
    is_class = targets == 1 if targets.ndim == 2 else targets[:, None] == np.arange(num_classes)
    total = weights.sum(axis=1)
    auc_sum = np.zeros((num_seeds, weights.shape[0]))
    defined_classes = np.zeros(weights.shape[0])
    for k in range(num_classes):
        positive = is_class[:, k]
        positive_total = weights[:, positive].sum(axis=1)
        defined = (positive_total > 0) & (positive_total < total)
        if not defined.any():
            continue
        pairs = np.where(defined, positive_total * (total - positive_total), 1.0)
        for s in range(num_seeds):
            order = np.argsort(probabilities[s, :, k], kind="stable")
            scores = probabilities[s, order, k]
            starts = np.flatnonzero(np.r_[True, scores[1:] != scores[:-1]])
            sorted_weights = weights[:, order]
            is_positive = positive[order]
            negative = np.where(is_positive, 0.0, sorted_weights)
            below = (np.cumsum(negative, axis=1) - negative)[:, starts]  # negatives strictly below each tie group
            tied = np.add.reduceat(negative, starts, axis=1)
            positives = np.add.reduceat(np.where(is_positive, sorted_weights, 0.0), starts, axis=1)
            auc = (positives * (below + 0.5 * tied)).sum(axis=1) / pairs
            auc_sum[s] += np.where(defined, auc, 0.0)
        defined_classes += defined
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(defined_classes > 0, auc_sum / defined_classes, np.nan)


def _weighted_metric(metric: str, predictions: np.ndarray, targets: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``metric`` of every seed (``predictions``: ``(S, N, K)`` or ``(S, N)``) under every case weighting
    (``weights``: ``(R, N)``), shape ``(S, R)``; NaN where the metric is undefined."""
    total = weights.sum(axis=1)
    if metric == "accuracy":
        return (predictions.argmax(axis=2) == targets).astype(np.float64) @ weights.T / total
    if metric == "auroc":
        return _auroc(predictions, targets, weights)
    if metric == "mae":
        return np.abs(predictions - targets) @ weights.T / total
    if metric == "dice":  # the predictions are per-case Dice values; the metric is their mean
        return predictions @ weights.T / total
    # r2: 1 - residual sum of squares / total sum of squares about the (weighted) mean target
    mean = weights @ targets / total
    spread = (weights * (targets[None, :] - mean[:, None]) ** 2).sum(axis=1)
    present = weights > 0
    varies = np.where(present, targets, np.inf).min(axis=1) < np.where(present, targets, -np.inf).max(axis=1)
    residual = (predictions - targets) ** 2 @ weights.T
    return np.where(varies, 1.0 - residual / np.where(varies, spread, 1.0), np.nan)


def _stack_predictions(name: str, predictions: Sequence[np.ndarray], metric: str, targets: np.ndarray) -> np.ndarray:
    try:
        stacked = np.stack([np.asarray(p, dtype=np.float64) for p in predictions])
    except ValueError as error:
        raise ValueError(f"{name} must hold one array of the same shape per seed: {error}") from None
    if stacked.ndim < 2 or stacked.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one seed's per-case predictions, got shape {stacked.shape}.")
    expected = "(n_cases, n_classes)" if metric in ("accuracy", "auroc") else "(n_cases,)"
    if stacked.ndim != (3 if metric in ("accuracy", "auroc") else 2) or stacked.shape[1] != targets.shape[0]:
        raise ValueError(
            f"{name}: metric {metric!r} needs per seed an array of shape {expected} with n_cases = "
            f"{targets.shape[0]} (the targets), got {stacked.shape[1:]}."
        )
    if targets.ndim == 2 and stacked.shape[2] != targets.shape[1]:
        raise ValueError(
            f"{name}: multi-label targets have {targets.shape[1]} labels, the predictions {stacked.shape[2]} columns."
        )
    if not np.all(np.isfinite(stacked)):
        raise ValueError(f"{name} must be finite.")
    return stacked


@dataclass(frozen=True)
class HierarchicalComparison:
    """Difference ``arm - reference`` of a metric over seeds and test cases.

    Attributes:
        metric: the metric recomputed from per-case predictions (one of :data:`CASE_METRICS`).
        n: number of seeds.
        n_cases: test cases per seed.
        mean: mean over seeds of the per-seed differences on the full test set.
        ci_low, ci_high: percentile interval of the mean difference over replicates that resample seeds
            and test cases.
        p_value: exact two-sided sign-flip p-value of the per-seed differences.
        confidence: nominal level of the interval.
        num_resamples: replicates drawn.
        num_undefined: replicates left out because the metric was undefined on their cases (R² of
            constant targets, AUROC with a single class present).
        differences: per-seed differences on the full test set, in the order of the seeds given.
    """

    metric: str
    n: int
    n_cases: int
    mean: float
    ci_low: float
    ci_high: float
    p_value: float
    confidence: float
    num_resamples: int
    num_undefined: int
    differences: tuple[float, ...]

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval lies strictly on one side of zero."""
        return self.ci_low > 0.0 or self.ci_high < 0.0


def _targets(targets: np.ndarray, metric: str) -> np.ndarray:
    """``targets`` as float64: ``(n_cases,)``, or 0/1 label vectors ``(n_cases, K)`` for multi-label ``auroc``.

    Raises:
        ValueError: label vectors for another metric, or with values other than 0 and 1.
    """
    targets = np.asarray(targets, dtype=np.float64)
    if targets.ndim != 2:
        return targets.reshape(-1)
    if metric != "auroc":
        raise ValueError(
            f"0/1 label vectors (n_cases, K) as targets are multi-label: metric 'auroc' only, got {metric!r}."
        )
    if not np.all((targets == 0) | (targets == 1)):
        raise ValueError("multi-label targets must be 0/1 label vectors (n_cases, K).")
    return targets


def case_metric(metric: str, predictions: np.ndarray, targets: np.ndarray) -> float:
    """``metric`` of one set of per-case predictions, as :func:`hierarchical_bootstrap` computes it.

    Args:
        metric: ``accuracy`` or ``auroc`` (macro one-vs-rest; ``predictions`` are class probabilities
            ``(n_cases, K)``, ``targets`` class indices; for ``auroc`` also multi-label: ``predictions`` label
            probabilities ``(n_cases, K)``, ``targets`` 0/1 label vectors ``(n_cases, K)``, the macro mean over
            labels), ``r2`` or ``mae`` (``predictions`` and
            ``targets`` are values ``(n_cases,)``), or ``dice`` (``predictions`` are each case's Dice
            ``(n_cases,)``, the metric is their mean; ``targets`` only give the number of cases).
        predictions: per-case predictions.
        targets: per-case targets.

    Returns:
        the metric; NaN when undefined (R² of constant targets; AUROC when every class is absent or
        is the only one present). AUROC leaves a class that has no positives or no negatives out of
        the macro average, where :func:`monai.metrics.compute_roc_auc` would return NaN.
    """
    if metric not in CASE_METRICS:
        raise ValueError(f"metric must be one of {', '.join(CASE_METRICS)}, got {metric!r}.")
    targets = _targets(targets, metric)
    stacked = _stack_predictions("predictions", [predictions], metric, targets)
    return float(_weighted_metric(metric, stacked, targets, np.ones((1, targets.shape[0])))[0, 0])


def hierarchical_bootstrap(
    predictions: Sequence[np.ndarray],
    reference_predictions: Sequence[np.ndarray],
    targets: np.ndarray,
    metric: str,
    confidence: float = 0.95,
    num_resamples: int = 2000,
    seed: int = 0,
) -> HierarchicalComparison:
    """Paired bootstrap of ``metric(arm) - metric(reference)`` over seeds and test cases.

    Each replicate draws ``n`` seeds with replacement and ``n_cases`` test cases with replacement, then
    recomputes the metric of both arms for every drawn seed on the drawn cases, and averages the
    differences over the drawn seeds. The same case indices serve both arms (paired) and every seed:
    all seeds are scored on one test set, so test-set noise is shared between seeds and must not
    average out over them. Replicates where the metric is undefined on the drawn cases (see
    :func:`case_metric`) are left out and counted. The interval is the percentile interval of the
    replicate means (inverted empirical CDF); the p-value is the exact sign-flip test of the per-seed
    differences on the full test set (:func:`sign_flip_p_value`).

    Args:
        predictions: the arm's per-case predictions, one array per seed: class probabilities
            ``(n_cases, K)`` for ``accuracy`` and ``auroc``, values ``(n_cases,)`` for ``r2`` and ``mae``,
            per-case Dice ``(n_cases,)`` for ``dice``.
        reference_predictions: the reference arm's, for the same seeds in the same order.
        targets: ``(n_cases,)`` class indices or values, or for multi-label ``auroc`` 0/1 label vectors
            ``(n_cases, K)``; the same for every seed.
        metric: one of :data:`CASE_METRICS`.
        confidence: nominal level of the interval.
        num_resamples: bootstrap replicates (at least 100).
        seed: seed of the ``numpy`` generator; the same seed gives the same interval.

    Raises:
        ValueError: unknown metric, shapes that do not match, unpaired seeds, a metric undefined on the
            full test set, or every replicate undefined.
    """
    if metric not in CASE_METRICS:
        raise ValueError(f"metric must be one of {', '.join(CASE_METRICS)}, got {metric!r}.")
    confidence = _check_confidence(confidence)
    if num_resamples < 100:
        raise ValueError(f"num_resamples must be at least 100, got {num_resamples!r}.")
    targets = _targets(targets, metric)
    if targets.shape[0] < 2:
        raise ValueError(f"targets must hold at least 2 test cases, got {targets.shape[0]}.")
    arm = _stack_predictions("predictions", predictions, metric, targets)
    reference = _stack_predictions("reference_predictions", reference_predictions, metric, targets)
    if arm.shape != reference.shape:
        raise ValueError(
            "paired comparison needs the same seeds and cases for both arms, "
            f"got shapes {arm.shape} and {reference.shape}."
        )
    if (
        metric in ("accuracy", "auroc")
        and targets.ndim == 1
        and not (np.all(targets == np.round(targets)) and targets.min() >= 0 and targets.max() < arm.shape[2])
    ):
        raise ValueError(f"metric {metric!r} needs class indices in [0, {arm.shape[2] - 1}] as targets.")
    num_seeds, num_cases = arm.shape[:2]

    def differences(weights: np.ndarray) -> np.ndarray:
        return _weighted_metric(metric, arm, targets, weights) - _weighted_metric(metric, reference, targets, weights)

    observed = differences(np.ones((1, num_cases)))[:, 0]
    if not np.all(np.isfinite(observed)):
        raise ValueError(f"metric {metric!r} is undefined on the full test set (constant targets or a single class).")
    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK_ENTRIES // num_cases)
    means = []
    for start in range(0, num_resamples, chunk):
        size = min(chunk, num_resamples - start)
        offsets = np.arange(size)[:, None]
        seed_draws = rng.integers(0, num_seeds, size=(size, num_seeds)) + offsets * num_seeds
        seed_counts = np.bincount(seed_draws.ravel(), minlength=size * num_seeds).reshape(size, num_seeds)
        case_draws = rng.integers(0, num_cases, size=(size, num_cases)) + offsets * num_cases
        case_counts = np.bincount(case_draws.ravel(), minlength=size * num_cases).reshape(size, num_cases)
        means.append((seed_counts * differences(case_counts.astype(np.float64)).T).sum(axis=1) / num_seeds)
    replicates = np.concatenate(means)
    defined = replicates[np.isfinite(replicates)]
    if defined.size == 0:
        raise ValueError(f"metric {metric!r} is undefined on every bootstrap replicate.")
    alpha = 1.0 - confidence
    low, high = np.quantile(defined, [alpha / 2.0, 1.0 - alpha / 2.0], method="inverted_cdf")
    return HierarchicalComparison(
        metric=metric,
        n=int(num_seeds),
        n_cases=int(num_cases),
        mean=float(observed.mean()),
        ci_low=float(low),
        ci_high=float(high),
        p_value=sign_flip_p_value(observed),
        confidence=confidence,
        num_resamples=int(num_resamples),
        num_undefined=int(replicates.size - defined.size),
        differences=tuple(float(d) for d in observed),
    )
