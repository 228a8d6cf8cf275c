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
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "EXACT_BOOTSTRAP_MAX_SEEDS",
    "EXACT_SIGN_FLIP_MAX_SEEDS",
    "PairedComparison",
    "bootstrap_mean_interval",
    "sign_flip_p_value",
    "smallest_sign_flip_p_value",
    "paired_comparison",
]

#: largest number of seeds for which the bootstrap distribution is enumerated exactly (92378 multisets)
EXACT_BOOTSTRAP_MAX_SEEDS = 10
#: largest number of seeds for which all ``2^n`` sign patterns are enumerated
EXACT_SIGN_FLIP_MAX_SEEDS = 16


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
    if num_seeds < 1:
        raise ValueError(f"num_seeds must be a positive integer, got {num_seeds!r}.")
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
