"""Paired statistics: bootstrap over seeds and over seeds x test cases, exact sign-flip test, Holm correction."""

import itertools

import numpy as np
import pytest
import torch

from monai_afpe.experiments.statistics import (
    MIN_SEEDS_FOR_SIGNIFICANCE,
    bootstrap_mean_interval,
    case_metric,
    hierarchical_bootstrap,
    holm_adjust,
    may_mark_significant,
    paired_comparison,
    sign_flip_p_value,
    smallest_sign_flip_p_value,
)


def test_paired_comparison_of_a_known_difference():
    reference = [0.80, 0.70, 0.75, 0.90]
    arm = [0.83, 0.72, 0.76, 0.95]  # differences 0.03, 0.02, 0.01, 0.05
    c = paired_comparison(arm, reference)
    assert c.n == 4
    assert c.mean == pytest.approx(0.0275)
    assert c.sd == pytest.approx(np.std([0.03, 0.02, 0.01, 0.05], ddof=1))
    assert c.wins == 4
    assert c.p_value == pytest.approx(2 / 16)  # only the observed pattern and its mirror are as extreme
    # the exact bootstrap equals brute force over all 4^4 ordered resamples (inverted-CDF quantiles)
    d = np.array([0.03, 0.02, 0.01, 0.05])
    means = np.sort([d[list(i)].mean() for i in itertools.product(range(4), repeat=4)])
    assert c.ci_low == pytest.approx(means[int(np.ceil(0.025 * 256)) - 1])
    assert c.ci_high == pytest.approx(means[int(np.ceil(0.975 * 256)) - 1])
    assert 0.01 < c.ci_low < c.mean < c.ci_high < 0.05
    assert c.excludes_zero
    assert paired_comparison(arm, reference, higher_is_better=False).wins == 0


def test_paired_comparison_rejects_unpaired_input():
    with pytest.raises(ValueError, match="one value per seed for both arms, got 3 and 2"):
        paired_comparison([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="must be finite"):
        paired_comparison([1.0, float("nan")], [1.0, 2.0])


def test_sign_flip_p_value_matches_a_brute_force_count():
    d = np.array([0.4, -0.1, 0.3, 0.2, 0.25])
    observed = abs(d.mean())
    patterns = list(itertools.product((1, -1), repeat=5))
    extreme = sum(abs(np.dot(p, d) / 5) >= observed - 1e-12 for p in patterns)
    assert sign_flip_p_value(d) == pytest.approx(extreme / 32)
    greater = sum(np.dot(p, d) / 5 >= d.mean() - 1e-12 for p in patterns)
    assert sign_flip_p_value(d, "greater") == pytest.approx(greater / 32)
    assert sign_flip_p_value(-d, "less") == pytest.approx(greater / 32)


def test_smallest_p_value_with_few_seeds():
    for n in (3, 4, 5, 6):
        all_positive = np.arange(1.0, n + 1)
        assert sign_flip_p_value(all_positive) == pytest.approx(smallest_sign_flip_p_value(n))
    assert smallest_sign_flip_p_value(3) == 0.25
    assert smallest_sign_flip_p_value(5) == 0.0625
    assert smallest_sign_flip_p_value(6) < 0.05
    assert sign_flip_p_value([0.0, 0.0, 0.0]) == 1.0


def test_exact_bootstrap_interval_on_a_small_case():
    # three seeds: the mean of a resample is 1 only for (1, 1, 1), probability 1/27 > 2.5%
    assert bootstrap_mean_interval([1.0, 2.0, 3.0]) == pytest.approx((1.0, 3.0))
    # at 50% the interval shrinks inside the range
    low, high = bootstrap_mean_interval([1.0, 2.0, 3.0], confidence=0.5)
    assert 1.0 < low <= 2.0 <= high < 3.0
    # a constant difference has a degenerate interval
    assert bootstrap_mean_interval([0.5] * 4) == pytest.approx((0.5, 0.5))


def test_monte_carlo_bootstrap_for_many_seeds_is_close_to_normal_theory():
    d = np.random.default_rng(0).normal(1.0, 2.0, size=40)
    low, high = bootstrap_mean_interval(d, num_resamples=20000, seed=1)
    half = 1.96 * d.std(ddof=0) / np.sqrt(40)
    assert low == pytest.approx(d.mean() - half, abs=0.1)
    assert high == pytest.approx(d.mean() + half, abs=0.1)


def test_bootstrap_coverage_on_a_toy_is_below_nominal_with_few_seeds():
    """Documented property: with 3 seeds the 95% percentile interval covers the true mean about 76% of the time;
    with 12 seeds it is close to nominal."""
    rng = np.random.default_rng(0)

    def coverage(n: int, trials: int) -> float:
        hits = 0
        for _ in range(trials):
            low, high = bootstrap_mean_interval(
                rng.normal(1.0, 1.0, n), num_resamples=2000, seed=int(rng.integers(1 << 30))
            )
            hits += low <= 1.0 <= high
        return hits / trials

    assert 0.68 < coverage(3, 600) < 0.84
    assert 0.87 < coverage(12, 300) < 0.98


def test_argument_errors():
    with pytest.raises(ValueError, match="at least one paired difference"):
        bootstrap_mean_interval([])
    with pytest.raises(ValueError, match=r"confidence must lie in \(0, 1\), got 1.5"):
        bootstrap_mean_interval([1.0], confidence=1.5)
    with pytest.raises(ValueError, match="alternative must be"):
        sign_flip_p_value([1.0], alternative="bigger")


def test_holm_adjust_on_a_hand_computed_example():
    # sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> max(0.06, 0.04) = 0.06
    assert holm_adjust([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm_adjust([0.3, 0.9]) == pytest.approx([0.6, 0.9])
    assert holm_adjust([0.5, 0.6]) == [1.0, 1.0]  # capped at 1, and monotone
    assert holm_adjust([0.2]) == [0.2] and holm_adjust([]) == []
    with pytest.raises(ValueError, match=r"p-values must lie in \[0, 1\]"):
        holm_adjust([0.1, float("nan")])


def test_significance_needs_six_seeds_and_a_small_adjusted_p_value():
    assert MIN_SEEDS_FOR_SIGNIFICANCE == 6
    assert not may_mark_significant(5, 0.001)
    assert may_mark_significant(6, 0.03)
    assert not may_mark_significant(6, 0.05)
    assert may_mark_significant(8, 0.08, alpha=0.1)
    with pytest.raises(ValueError, match="alpha must lie in"):
        may_mark_significant(6, 0.01, alpha=0.0)


def _classification(num_seeds: int, num_cases: int, num_classes: int, separation: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    targets = rng.integers(0, num_classes, num_cases)
    logits = rng.normal(size=(num_seeds, num_cases, num_classes))
    logits[:, np.arange(num_cases), targets] += separation
    probabilities = np.exp(logits)
    return probabilities / probabilities.sum(axis=2, keepdims=True), targets


def test_case_metrics_match_monai_and_ignite():
    from ignite.metrics.regression import R2Score
    from monai.metrics import compute_roc_auc

    probabilities, targets = _classification(1, 200, 4, 1.0)
    probabilities = np.round(probabilities[0], 1)  # many ties
    one_hot = torch.nn.functional.one_hot(torch.as_tensor(targets), 4).float()
    expected = float(compute_roc_auc(torch.as_tensor(probabilities), one_hot, average="macro"))
    assert case_metric("auroc", probabilities, targets) == pytest.approx(expected, abs=1e-6)  # MONAI: float32
    assert case_metric("accuracy", probabilities, targets) == pytest.approx(
        np.mean(probabilities.argmax(axis=1) == targets)
    )
    # a test set lacking class 3: the class is left out of the macro average (MONAI would give NaN)
    kept = targets != 3
    per_class = [float(compute_roc_auc(torch.as_tensor(probabilities[kept, k]), one_hot[kept, k])) for k in range(3)]
    assert case_metric("auroc", probabilities[kept], targets[kept]) == pytest.approx(np.mean(per_class))
    assert np.isnan(case_metric("auroc", probabilities[targets == 1], targets[targets == 1]))

    rng = np.random.default_rng(1)
    y = rng.normal(size=50)
    prediction = y + rng.normal(0.0, 0.5, 50)
    r2 = R2Score()
    r2.update((torch.as_tensor(prediction), torch.as_tensor(y)))
    assert case_metric("r2", prediction, y) == pytest.approx(r2.compute())
    assert case_metric("mae", prediction, y) == pytest.approx(np.abs(prediction - y).mean())
    assert np.isnan(case_metric("r2", prediction, np.ones(50)))


def test_an_arm_compared_with_itself_differs_by_exactly_zero():
    probabilities, targets = _classification(3, 40, 3, 0.5)
    for metric in ("accuracy", "auroc"):
        c = hierarchical_bootstrap(list(probabilities), list(probabilities), targets, metric, num_resamples=300)
        assert (c.mean, c.ci_low, c.ci_high) == (0.0, 0.0, 0.0)
        assert c.p_value == 1.0 and not c.excludes_zero
    values = np.random.default_rng(0).normal(size=(3, 40))
    for metric in ("r2", "mae"):
        c = hierarchical_bootstrap(values, values, targets.astype(float), metric, num_resamples=300)
        assert (c.mean, c.ci_low, c.ci_high) == (0.0, 0.0, 0.0)


def test_an_arm_that_is_always_better_has_an_interval_above_zero():
    reference, targets = _classification(6, 60, 3, 0.5)
    better = reference.copy()
    better[:, np.arange(60), targets] += 2.0  # more mass on the true class for every case and seed
    better /= better.sum(axis=2, keepdims=True)
    for metric in ("accuracy", "auroc"):
        c = hierarchical_bootstrap(list(better), list(reference), targets, metric, num_resamples=500)
        assert 0.0 < c.ci_low <= c.mean <= c.ci_high and c.excludes_zero
        assert all(d > 0 for d in c.differences) and c.p_value == pytest.approx(2 / 2**6)
    rng = np.random.default_rng(0)
    y = rng.normal(size=60)
    ref_prediction = y + rng.normal(0.0, 1.0, (6, 60))
    closer = y + 0.5 * (ref_prediction - y)  # every error halved
    assert hierarchical_bootstrap(closer, ref_prediction, y, "mae", num_resamples=500).ci_high < 0.0
    assert hierarchical_bootstrap(closer, ref_prediction, y, "r2", num_resamples=500).ci_low > 0.0


def test_hierarchical_bootstrap_is_reproducible_with_a_seed():
    a, targets = _classification(4, 50, 3, 1.0, seed=1)
    b, _ = _classification(4, 50, 3, 0.8, seed=2)
    first = hierarchical_bootstrap(list(a), list(b), targets, "auroc", num_resamples=400, seed=7)
    assert hierarchical_bootstrap(list(a), list(b), targets, "auroc", num_resamples=400, seed=7) == first
    assert hierarchical_bootstrap(list(a), list(b), targets, "auroc", num_resamples=400, seed=8) != first


def _mae_with_shared_case_errors(num_cases: int, num_seeds: int = 6):
    """Per-case errors shared by every seed (one test set) plus a per-seed shift of the arm's error."""
    rng = np.random.default_rng(3)
    targets = np.zeros(num_cases)
    reference = np.broadcast_to(1.0 + rng.exponential(0.5, num_cases), (num_seeds, num_cases))
    shift = rng.normal(0.0, 0.05, num_seeds)[:, None]
    arm = 1.0 + rng.exponential(0.5, num_cases)[None, :] + shift  # positive: MAE = mean error
    return arm, reference, targets


def test_hierarchical_interval_includes_test_case_noise():
    widths = {}
    for num_cases in (20, 20000):
        arm, reference, targets = _mae_with_shared_case_errors(num_cases)
        c = hierarchical_bootstrap(arm, reference, targets, "mae", num_resamples=1000, seed=0)
        seed_low, seed_high = bootstrap_mean_interval(c.differences)
        widths[num_cases] = (c.ci_high - c.ci_low, seed_high - seed_low)
    # 20 cases: the test-set noise (sd ~0.16 of the mean difference) dominates the seed noise (~0.02)
    small_hierarchical, small_seed_only = widths[20]
    assert small_hierarchical > 3.0 * small_seed_only
    # 20000 cases: the test-set noise has vanished and both intervals measure the seeds
    large_hierarchical, large_seed_only = widths[20000]
    assert 0.8 * large_seed_only < large_hierarchical < 1.3 * large_seed_only
    assert large_hierarchical < small_hierarchical / 3.0


def test_a_resample_lacking_a_class_skips_that_class():
    probabilities, targets = _classification(3, 30, 3, 1.0)
    targets[:] = np.where(targets == 2, 1, targets)
    targets[0] = 2  # one case of class 2: about 37% of resamples lack it
    c = hierarchical_bootstrap(list(probabilities), list(probabilities[::-1]), targets, "auroc", num_resamples=500)
    assert c.num_undefined == 0 and np.isfinite([c.ci_low, c.ci_high]).all()
    binary = np.zeros(30, dtype=int)
    binary[0] = 1  # two classes, one case of class 1: resamples without it have no defined class
    c = hierarchical_bootstrap(
        list(probabilities[..., :2]), list(probabilities[::-1, :, :2]), binary, "auroc", num_resamples=500
    )
    assert 100 < c.num_undefined < 300  # (29/30)^30 ~ 0.36 of 500


def test_hierarchical_bootstrap_at_a_harness_size_and_errors():
    a, targets = _classification(6, 300, 6, 1.0, seed=1)
    b, _ = _classification(6, 300, 6, 0.8, seed=2)
    c = hierarchical_bootstrap(list(a), list(b), targets, "auroc", num_resamples=2000)
    assert c.num_undefined == 0 and np.isfinite([c.ci_low, c.ci_high]).all() and c.ci_low < c.ci_high
    with pytest.raises(ValueError, match="metric must be one of accuracy, auroc, r2, mae, dice, got 'f1'"):
        hierarchical_bootstrap(list(a), list(b), targets, "f1")
    with pytest.raises(ValueError, match=r"same seeds and cases for both arms, got shapes \(6, 300, 6\) and \(5"):
        hierarchical_bootstrap(list(a), list(b[:5]), targets, "auroc")
    with pytest.raises(ValueError, match=r"shape \(n_cases,\) with n_cases = 300"):
        hierarchical_bootstrap(list(a), list(b), targets, "mae")
    with pytest.raises(ValueError, match="undefined on the full test set"):
        hierarchical_bootstrap(a[:, :, 0], b[:, :, 0], np.ones(300), "r2")
    with pytest.raises(ValueError, match="class indices in"):
        hierarchical_bootstrap(list(a), list(b), targets + 6, "accuracy")
