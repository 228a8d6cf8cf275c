"""Scale-search options and the kernel view of Fourier encodings."""

import math

import pytest
import torch

from monai_afpe.experiments.config import ConfigError, parse_experiment_config
from monai_afpe.experiments.search import check_search_options
from monai_afpe.experiments.similarity import HALF_SIMILARITY, analytic_kernel, empirical_kernel, run_similarity


def _config(search):
    return parse_experiment_config(
        {
            "name": "s",
            "kind": "scale_search",
            "data": {"source": "organ_shapes"},
            "arms": [{"name": "afpe", "pos_embed": "afpe"}, {"name": "sincos", "pos_embed": "sincos"}],
            "search": search,
        }
    )


def test_search_options_defaults_and_errors():
    options = check_search_options(_config({"arm": "afpe", "groups": [[0, 1], [2]]}))
    assert options["trials"] == 16 and options["seed"] == 1000 and options["low"] == 0.02 and options["high"] == 4.0
    for search, message in (
        ({"arm": "ifpe", "groups": [[0]]}, r"search.arm: 'ifpe' must name the searched arm"),
        ({"arm": "sincos", "groups": [[0]]}, r"must be a fixed-scale Fourier encoding"),
        ({"arm": "afpe", "groups": [[0, 1], [1]]}, r"every axis 0..m-1 must appear exactly once"),
        ({"arm": "afpe", "groups": [[0]], "low": 2.0, "high": 1.0}, r"need 0 < low < high"),
        ({"arm": "afpe", "groups": [[0]], "trials": 0}, r"search.trials: expected an integer >= 1"),
        ({"arm": "afpe", "groups": [[0]], "pruner": "median"}, r"unknown keys \['pruner'\]"),
    ):
        with pytest.raises(ConfigError, match=message):
            check_search_options(_config(search))


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
    path = run_similarity({"grid": [6, 6, 4], "patch_size": [4, 4, 2], "hidden_size": 48, "draws": 4}, tmp_path, "demo")
    text = path.read_text()
    assert (tmp_path / "similarity_maps.png").is_file() and (tmp_path / "kernel.png").is_file()
    # physical policy on extents (5*4*0.7, 5*4*0.7, 3*2*5) mm = (14, 14, 30): scales 14/30, 14/30, 1
    assert "| afpe | 0 | 0.467 |" in text and "| ifpe | 2 | 1.000 |" in text
    with pytest.raises(ValueError, match=r"similarity options \['size'\] are unknown"):
        run_similarity({"size": 3}, tmp_path)
