"""In-memory experiment data: generated organ shapes, an OrganMNIST3D npz, echo clips; spacing from the affine."""

import numpy as np
import pytest
import torch

from monai_afpe.experiments.data import load_experiment_data, source_options

TINY_SHAPES = {"num_samples": 12, "spatial_size": 16, "generator": {"isotropic_spacing": 2.0}}


def test_source_options_merge_shared_keys_and_reject_others():
    options = {
        "source": "organ_shapes",
        "seed": 3,
        "anisotropy": 4,
        "organ_shapes": {"protocol": "stride"},
        "echo": {"frame_size": 8},
    }
    assert source_options(options) == {"source": "organ_shapes", "protocol": "stride", "seed": 3, "anisotropy": 4}
    with pytest.raises(ValueError, match=r"data.organ_shapes: unknown keys \['frames'\]"):
        source_options({"source": "organ_shapes", "organ_shapes": {"frames": 3}})
    with pytest.raises(ValueError, match=r"data: unknown keys \['path'\]"):
        source_options({"source": "organ_shapes", "path": "x"})
    with pytest.raises(ValueError, match="applies to volumes, not to the echo source"):
        source_options({"source": "echo", "anisotropy": 2})
    with pytest.raises(ValueError, match="Unsupported option 'mnist'"):
        source_options({"source": "mnist"})


def test_organ_shapes_stride_protocol(tmp_path):
    data = load_experiment_data({"source": "organ_shapes", "anisotropy": 4, "organ_shapes": TINY_SHAPES}, tmp_path)
    assert data.task == "classification" and data.num_outputs == 6
    assert data.input_size == (16, 16, 4)
    assert data.train.images.shape[1:] == (1, 16, 16, 4) and data.train.images.dtype == torch.float32
    torch.testing.assert_close(data.train.spacing, torch.tensor([[2.0, 2.0, 8.0]]).expand(len(data.train), 3))
    # normalised per volume
    assert data.train.images.flatten(1).mean(1).abs().max() < 1e-4
    assert len(data.train) + len(data.validation) + len(data.tests["test"]) == 12
    again = load_experiment_data({"source": "organ_shapes", "anisotropy": 4, "organ_shapes": TINY_SHAPES}, tmp_path)
    torch.testing.assert_close(again.train.images, data.train.images)  # generated once, read again from the cache
    assert len(list(tmp_path.iterdir())) == 1


def test_resampling_to_isotropic_spacing(tmp_path):
    resample = {"spacing": 4.0, "spatial_size": [8, 8, 8]}
    data = load_experiment_data(
        {"source": "organ_shapes", "anisotropy": 4, "organ_shapes": TINY_SHAPES}, tmp_path, resample
    )
    assert data.input_size == (8, 8, 8)
    torch.testing.assert_close(data.train.spacing[0], torch.tensor([4.0, 4.0, 4.0]))


def test_organmnist3d_npz_with_the_stride_protocol(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 5), ("val", 3), ("test", 4)):
        arrays[f"{split}_images"] = rng.integers(0, 255, size=(n, 8, 8, 8), dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % 11)[:, None]
    path = tmp_path / "organmnist3d.npz"
    np.savez(path, **arrays)
    options = {"source": "organmnist3d", "anisotropy": 2, "organmnist3d": {"path": str(path), "max_samples": 4}}
    data = load_experiment_data(options, tmp_path)
    assert data.num_outputs == 11 and data.input_size == (8, 8, 4)
    assert (len(data.train), len(data.validation), len(data.tests["test"])) == (4, 3, 4)
    torch.testing.assert_close(data.train.spacing[0], torch.tensor([1.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="needs data.organmnist3d.path"):
        load_experiment_data({"source": "organmnist3d"}, tmp_path)


def test_echo_clips_and_a_halved_frame_rate(tmp_path):
    echo = {
        "num_samples": 8,
        "frame_size": 16,
        "num_frames": 80,
        "clip_frames": 8,
        "clip_period": 4,
        "test_clip_stride": 20,
    }
    tests = {"same": {}, "half": {"frame_step": 2}}
    data = load_experiment_data({"source": "echo", "echo": echo}, tmp_path, test_sets=tests)
    assert data.task == "regression" and data.input_size == (8, 16, 16)
    assert data.train.images.dtype == torch.uint8 and data.train.images.shape[1:] == (1, 80, 16, 16)
    clips = data.training_split(seed=0)
    assert clips.images.shape[1:] == (1, 8, 16, 16)
    torch.testing.assert_close(clips.spacing[:, 0], data.train.spacing[:, 0] * 4)
    same, half = data.tests["same"], data.tests["half"]
    assert same.clips and same.images.shape[1] == 3  # clips of span 29 frames start at 0, 20 and 40 of 80
    assert half.images.shape[1] == 1  # 40 frames left, span 29: one clip
    torch.testing.assert_close(half.spacing[:, 0], same.spacing[:, 0] * 2)
    torch.testing.assert_close(half.spacing[:, 1:], same.spacing[:, 1:])
    assert 25 <= float(data.train.targets.min()) and float(data.train.targets.max()) <= 75  # EF in %
    with pytest.raises(ValueError, match=r"test set 'x': unknown options \['frame_rate'\]"):
        load_experiment_data({"source": "echo", "echo": echo}, tmp_path, test_sets={"x": {"frame_rate": 2}})
    with pytest.raises(ValueError, match="resample applies to images"):
        load_experiment_data({"source": "echo", "echo": echo}, tmp_path, resample={"spacing": 1.0, "spatial_size": 8})
