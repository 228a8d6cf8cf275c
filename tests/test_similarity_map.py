"""The similarity-map figure and its command."""

import pytest
import torch

from monai_afpe.cli import main
from monai_afpe.networks.blocks import build_positional_embedding, fourier_features, grid_positions
from monai_afpe.visualize import plane_of, token_similarity


def test_token_similarity_is_the_normalised_dot_product_for_fourier_features():
    afpe = build_positional_embedding("afpe", (5, 4), 64, scales=[1.0, 0.5])
    features = fourier_features(grid_positions([5, 4]), afpe.frequencies)
    expected = (features @ features[2 * 4 + 1] / 32).reshape(5, 4)
    torch.testing.assert_close(token_similarity(afpe, (2, 1)), expected, atol=1e-5, rtol=0)


def test_token_similarity_errors():
    with pytest.raises(ValueError, match=r"token must index the grid \[5, 4\]"):
        token_similarity(build_positional_embedding("afpe", (5, 4), 8), (5, 0))
    with pytest.raises(ValueError, match="adds no positional information"):
        token_similarity(build_positional_embedding("none", (5, 4), 8), (1, 1))


def test_plane_of_a_volume():
    volume = torch.arange(24.0).reshape(2, 3, 4)
    torch.testing.assert_close(plane_of(volume, 1, 2), volume[:, 2, :])
    with pytest.raises(ValueError, match=r"plane index along axis 1 must be in 0..2, got 3"):
        plane_of(volume, 1, 3)
    with pytest.raises(ValueError, match="needs the plane"):
        plane_of(volume, None, None)


def test_similarity_map_command_writes_a_png(tmp_path, capsys):
    output = tmp_path / "maps.png"
    assert main(["similarity-map", "--grid", "8", "8", "4", "--hidden-size", "96", "--output", str(output)]) == 0
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "4 encodings" in capsys.readouterr().out


def test_similarity_map_command_reports_bad_arguments(tmp_path):
    with pytest.raises(SystemExit, match="--grid needs 2 or 3 axes"):
        main(["similarity-map", "--grid", "8", "--output", str(tmp_path / "x.png")])
    two_axes = ["similarity-map", "--grid", "8", "8", "--output", str(tmp_path / "x.png")]
    with pytest.raises(SystemExit, match="--spacing and --patch-size need 2 values"):
        main(two_axes)
    with pytest.raises(SystemExit, match="sincos: hidden_size must be divisible"):
        main(two_axes + ["--spacing", "1", "1", "--patch-size", "4", "4", "--hidden-size", "30"])
