"""Scale-search options and the kernel view of Fourier encodings."""

import math

import pytest
import torch

from monai_afpe.experiments.config import ConfigError, SimilarityConfig, parse_experiment_config
from monai_afpe.experiments.search import run_scale_search
from monai_afpe.experiments.similarity import HALF_SIMILARITY, analytic_kernel, empirical_kernel, run_similarity


def _config(search):
    return parse_experiment_config(
        {
            "name": "s",
            "kind": "scale_search",
            "data": {"source": "organ_shapes"},
            "arms": [{"name": "afpe", "pos_embed": "afpe"}, {"name": "sincos", "pos_embed": "sincos"}],
            "search": search,
        },
        source="s.yaml",
    )


def test_search_options_defaults_and_errors(tmp_path):
    options = _config({"arm": "afpe", "groups": [[0, 1], [2]]}).search
    assert options.trials == 16 and options.seed == 1000 and options.low == 0.02 and options.high == 4.0
    assert options.startup_trials == 4 and options.warmup_epochs == 2 and options.groups == [[0, 1], [2]]
    for search, message in (
        ({"arm": "ifpe", "groups": [[0]]}, r"^s.yaml: search.arm: 'ifpe' must name the searched arm"),
        ({"arm": "sincos", "groups": [[0]]}, r"must be a fixed-scale Fourier encoding \(afpe or ifpe\), got 'sincos'"),
        ({"arm": "afpe", "groups": [[0, 1], [1]]}, r"search.groups: every axis 0..m-1 must appear exactly once"),
        ({"arm": "afpe", "groups": [[0]], "low": 2.0, "high": 1.0}, r"^s.yaml: search: need 0 < low < high"),
        ({"arm": "afpe", "groups": [[0]], "trials": 0}, r"search.trials: expected an integer >= 1"),
        ({"arm": "afpe"}, r"^s.yaml: search: missing required key 'groups'"),
        (
            {"arm": "afpe", "groups": [[0]], "pruner": "median"},
            r"^s.yaml: search: unknown key 'pruner'; allowed keys: arm, groups, low, high, trials, seed, "
            r"startup_trials, warmup_epochs\.$",
        ),
    ):
        with pytest.raises(ConfigError, match=message):
            _config(search)
    with pytest.raises(ConfigError, match=r"^s.yaml: search: a scale_search experiment needs this section"):
        _config(None)
    benchmark = parse_experiment_config(
        {
            "name": "b",
            "kind": "benchmark",
            "data": {"source": "organ_shapes"},
            "arms": [{"name": "a", "pos_embed": "afpe"}],
        }
    )
    with pytest.raises(ConfigError, match=r"^<config>: search: 'b' has no search section"):
        run_scale_search(benchmark, tmp_path)


def test_mean_empirical_kernel_approaches_the_gaussian_kernel():
    scales = [1.0, 0.5, 0.25]
    displacement = torch.zeros(21, 3)
    displacement[:, 1] = torch.linspace(0, 1, 21)
    analytic = analytic_kernel(scales, displacement)
    assert float(analytic[0]) == pytest.approx(1.0)
    assert float(analytic_kernel(scales, torch.tensor([0.0, HALF_SIMILARITY / 0.5, 0.0]))) == pytest.approx(0.5)
    draws = empirical_kernel(scales, displacement, hidden_size=256, draws=64)
    assert draws.shape == (64, 21)
    torch.testing.assert_close(draws[:, 0], torch.ones(64))  # a token is identical to itself
    # one draw of 128 frequencies deviates by ~1/sqrt(128); the mean of 64 draws by ~1/sqrt(64 * 128)
    assert float((draws.mean(0).double() - analytic).abs().max()) < 0.03
    assert 0.3 / math.sqrt(128) < float(draws[:, 10].std()) < 3 / math.sqrt(128)


def test_run_similarity_writes_the_figure_and_the_table(tmp_path):
    options = SimilarityConfig(grid=[6, 6, 4], patch_size=[4, 4, 2], hidden_size=48, draws=4)
    path = run_similarity(options, tmp_path, "demo")
    text = path.read_text()
    assert (tmp_path / "similarity_maps.png").is_file() and (tmp_path / "kernel.png").is_file()
    # physical policy on extents (5*4*0.7, 5*4*0.7, 3*2*5) mm = (14, 14, 30): scales 14/30, 14/30, 1
    assert "| afpe | 0 | 0.467 |" in text and "| ifpe | 2 | 1.000 |" in text
    # the options are checked when they are made, from a file or in code
    with pytest.raises(ConfigError, match=r"^grid, spacing and patch_size need 2 or 3 values each, got \[6, 6\]"):
        SimilarityConfig(grid=[6, 6], patch_size=[4, 4, 2])
    with pytest.raises(ConfigError, match=r"^encodings\[1\]: 'fpe' is not one of none, learnable"):
        SimilarityConfig(encodings=["sincos", "fpe"])
