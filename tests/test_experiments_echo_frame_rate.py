"""Echo frame rate in the harness: clips matched in time span, test sets resampled to a frame rate, frame-rate
augmentation of the training videos, option errors, and the echo_frame_rate config end to end."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from monai_afpe.experiments.config import ConfigError, load_experiment_config, parse_experiment_config
from monai_afpe.experiments.data import load_experiment_data
from monai_afpe.transforms import SampleClip, resample_frame_rate

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "experiments"
ECHO = {
    "num_samples": 8,
    "frame_size": 16,
    "num_frames": 80,
    "fps_range": [30, 60],
    "clip_frames": 8,
    "clip_frame_interval": 0.08,
    "test_clips": 3,
}


def _period(fps: torch.Tensor, interval: float = 0.08) -> torch.Tensor:
    """Frames between clip frames for ``interval`` seconds: round(interval * fps), at least 1."""
    return torch.clamp(torch.round(interval * fps), min=1)


@pytest.fixture(scope="module")
def echo_data(tmp_path_factory):
    cache = tmp_path_factory.mktemp("echo_frame_rate")
    tests = {"native": {}, "20 fps": {"fps": 20}, "90 fps": {"fps": 90}, "half": {"frame_step": 2}}
    return load_experiment_data({"source": "echo", "echo": ECHO}, cache, test_sets=tests), cache


def test_clips_span_the_same_time_at_every_frame_rate(echo_data):
    data, _ = echo_data
    fps = torch.round(1 / data.train.spacing[:, 0].double())
    assert len(set(fps.tolist())) > 1 and 30 <= fps.min() and fps.max() <= 60  # mixed frame rates
    clips = data.training_split(seed=0)
    assert clips.images.shape[1:] == (1, 8, 16, 16) and clips.images.dtype == torch.uint8
    # the network's time step is period / fps, exact per video; space is untouched
    torch.testing.assert_close(clips.spacing[:, 0].double(), _period(fps) / fps, rtol=1e-6, atol=0)
    torch.testing.assert_close(clips.spacing[:, 1:], data.train.spacing[:, 1:])
    # every clip spans about 7 x 0.08 s, within half a frame per gap of the video's own rate
    assert torch.all((clips.spacing[:, 0].double() * 7 - 0.56).abs() <= 3.5 / fps + 1e-9)
    assert torch.equal(data.training_split(seed=3).images, data.training_split(seed=3).images)
    native = data.tests["native"]
    assert native.clips and native.images.shape[1:3] == (3, 1)  # test_clips clips per video, whatever its length
    assert data.validation.images.shape[1] == 3


def test_test_sets_are_resampled_to_their_frame_rate_with_matched_clips(echo_data):
    data, cache = echo_data
    for fps, period in ((20, 2), (90, 7)):  # round(0.08 * 20) = 2, round(0.08 * 90) = 7
        split = data.tests[f"{fps} fps"]
        assert split.images.shape[1] == 3 and split.images.dtype == torch.uint8
        torch.testing.assert_close(split.spacing[:, 0], torch.full((len(split),), period / fps))
        torch.testing.assert_close(split.spacing[:, 1:], data.tests["native"].spacing[:, 1:])
    # the same frames as resample_frame_rate then clip sampling by hand
    from monai.transforms import LoadImage

    from monai_afpe.data.adapters.echonet import load_echonet_datalist
    from monai_afpe.data.readers.video import VideoReader

    items = load_echonet_datalist(Path(data.info["data_dir"]), "test")
    videos = [
        LoadImage(image_only=True)(i["image"], reader=VideoReader(pixel_spacing=i["pixel_spacing"], grayscale=True))
        for i in items
    ]
    video, fps = videos[0], 1 / float(videos[0].pixdim[0])
    resampled = resample_frame_rate(video, 20.0)
    assert resampled.shape[1] == int((video.shape[1] - 1) * 20 / fps + 1e-6) + 1  # the time span is kept
    expected = SampleClip(frames=8, period=2, mode="all", num_clips=3)(resampled)
    assert torch.equal(data.tests["20 fps"].images[0], expected.as_tensor().round().to(torch.uint8))
    # frame_step keeps working: every 2nd frame, then the period of the halved frame rate
    fps = torch.tensor([1 / float(v.pixdim[0]) for v in videos], dtype=torch.float64)
    torch.testing.assert_close(data.tests["half"].spacing[:, 0].double(), _period(fps / 2) * 2 / fps, rtol=1e-6, atol=0)


def test_training_videos_are_resampled_to_a_random_frame_rate_before_the_clip(echo_data):
    _, cache = echo_data
    echo = {**ECHO, "train_frame_rate": {"fps_range": [20, 20]}}  # prob defaults to 1
    data = load_experiment_data({"source": "echo", "echo": echo}, cache)
    clips = data.training_split(seed=1)
    torch.testing.assert_close(clips.spacing[:, 0], torch.full((len(clips),), 2 / 20))
    assert clips.images.dtype == torch.uint8 and torch.equal(clips.images, data.training_split(seed=1).images)
    never = {**echo, "train_frame_rate": {"fps_range": [20, 20], "prob": 0}}
    kept = load_experiment_data({"source": "echo", "echo": never}, cache)
    fps = torch.round(1 / kept.train.spacing[:, 0].double())
    dt = kept.training_split(seed=1).spacing[:, 0].double()
    torch.testing.assert_close(dt, _period(fps) / fps, rtol=1e-6, atol=0)


@pytest.mark.parametrize(
    "echo, test_set, message",
    [
        ({"clip_period": 4}, {}, r"clip_period.*or clip_frame_interval.*not both.*clip_period=4"),
        ({"clip_frame_interval": -0.1}, {}, r"data.echo.clip_frame_interval: expected seconds .* > 0, got -0.1"),
        ({"test_clip_stride": 16}, {}, r"give test_clip_stride .* or test_clips .*, not both"),
        ({"test_clips": 0}, {}, r"data.echo.test_clips: expected a positive integer .*got 0"),
        ({"train_frame_rate": {"prob": 0.5}}, {}, r"data.echo.train_frame_rate: expected a mapping with fps_range"),
        ({"train_frame_rate": {"fps_range": [30, 60], "prob": 2}}, {}, r"data.echo.train_frame_rate: prob must be"),
        ({}, {"fps": 0}, r"test set 'x': fps .* must be a finite number > 0, got 0"),
        ({}, {"fps": 20, "frame_step": 2}, r"test set 'x': give frame_step .* or fps .*, not both"),
        ({}, {"frame_step": 1.5}, r"test set 'x': frame_step .* must be a positive integer, got 1.5"),
    ],
)
def test_bad_options_are_named(tmp_path, echo, test_set, message):
    with pytest.raises(ValueError, match=message):
        load_experiment_data({"source": "echo", "echo": {**ECHO, **echo}}, tmp_path, test_sets={"x": test_set})
    raw = {
        "name": "bad",
        "kind": "benchmark",
        "data": {"source": "echo", "echo": {**ECHO, **echo}},
        "test_sets": [{"name": "x", "options": test_set}],
        "arms": [{"name": "sincos", "pos_embed": "sincos"}],
    }
    with pytest.raises(ConfigError, match=message):  # caught when the config is read, before any data is made
        parse_experiment_config(raw)


def test_config_presets_parse_and_compare_physical_with_index_time():
    for preset in ("quick", "full", "tiny"):
        config = load_experiment_config(CONFIGS / "echo_frame_rate.yaml", preset)
        assert config.data["echo"]["clip_frame_interval"] == 0.08 and "clip_period" not in config.data["echo"]
        assert {t.options.get("fps") for t in config.test_sets} == {None, 45, 20, 90}
    assert load_experiment_config(CONFIGS / "echo_frame_rate.yaml").seeds == tuple(range(6))
    assert config.primary_comparison.arm == ("afpe-physical-time",)
    assert config.primary_comparison.reference == ("afpe-grid-time", "sincos")


def test_echo_frame_rate_tiny_runs_end_to_end(run_tiny_benchmark):
    output = run_tiny_benchmark("echo_frame_rate")
    with open(output / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["arm"] for r in rows} == {"afpe-physical-time", "afpe-grid-time", "sincos"}
    assert {r["test_set"] for r in rows} == {"native 30-60 fps", "45 fps", "20 fps", "90 fps"}
    assert len(rows) == 3 * 2 * 4  # arms x seeds x test sets
    assert "## Primary comparison" in (output / "results.md").read_text()
