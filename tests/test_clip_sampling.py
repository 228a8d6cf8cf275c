"""EchoNet-style clip sampling: frames and period, random and all-clips modes, affine time step, padding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from monai_afpe.transforms.clip_sampling import SampleClip, SampleClipd


def _video(frames: int = 40, channels: int = 2) -> MetaTensor:
    """(C, T, H, W) whose value at frame t is t (plus 1000 per channel), 50 frames/s, 0.5 mm pixels."""
    data = (
        torch.arange(frames, dtype=torch.float32)[None, :, None, None]
        + 1000 * torch.arange(channels)[:, None, None, None]
    )
    affine = torch.diag(torch.tensor([0.02, 0.5, 0.5, 1.0], dtype=torch.float64))
    affine[:3, 3] = torch.tensor([0.1, -3.0, 4.0], dtype=torch.float64)
    return MetaTensor(data.expand(channels, frames, 3, 4).clone(), affine=affine)


def test_random_clip_takes_frames_period_apart_and_updates_the_time_step():
    transform = SampleClip(frames=4, period=3).set_random_state(0)
    starts = set()
    for _ in range(200):
        clip = transform(_video())
        assert clip.shape == (2, 4, 3, 4)
        frames = clip[0, :, 0, 0].numpy()
        start = int(frames[0])
        np.testing.assert_array_equal(frames, start + 3 * np.arange(4))
        np.testing.assert_array_equal(clip[1, :, 0, 0].numpy(), frames + 1000)
        assert clip.meta["clip_starts"] == [start]
        np.testing.assert_allclose(clip.pixdim, (0.06, 0.5, 0.5))
        np.testing.assert_allclose(clip.affine[:3, 3], (0.1 + 0.02 * start, -3.0, 4.0))
        starts.add(start)
    assert starts == set(range(40 - 10 + 1))  # every start that fits, from 0 to T - span


def test_random_state_makes_clips_reproducible():
    def starts(seed: int) -> list[int]:
        transform = SampleClip(frames=8, period=2).set_random_state(seed)
        return [transform(_video()).meta["clip_starts"][0] for _ in range(6)]

    assert starts(5) == starts(5)
    assert starts(5) != starts(6)


def test_all_mode_returns_every_clip_deterministically():
    transform = SampleClip(frames=4, period=3, mode="all")
    clips = transform(_video())
    assert clips.shape == (31, 2, 4, 3, 4)
    np.testing.assert_array_equal(clips[:, 0, :, 0, 0].numpy(), np.arange(31)[:, None] + 3 * np.arange(4)[None])
    assert clips.meta["clip_starts"] == list(range(31))
    assert torch.equal(transform(_video()), clips)
    strided = SampleClip(frames=4, period=3, mode="all", clip_stride=10)(_video())
    assert strided.meta["clip_starts"] == [0, 10, 20, 30]
    np.testing.assert_allclose(strided.affine[0, 0], 0.06)


def test_num_clips_spreads_a_fixed_number_of_clips_over_any_length():
    transform = SampleClip(frames=4, period=3, mode="all", num_clips=3)
    assert transform(_video(40)).meta["clip_starts"] == [0, 15, 30]  # last start that fits: 40 - 10
    assert transform(_video(21)).meta["clip_starts"] == [0, 6, 11]  # round(5.5) = 6 (numpy rounds half to even)
    assert transform(_video(10)).meta["clip_starts"] == [0, 0, 0]  # one distinct clip, repeated
    assert SampleClipd("video", frames=4, period=3, mode="all", num_clips=2)({"video": _video()})["video"].shape[0] == 2


def test_numpy_and_plain_tensor_inputs_keep_their_type():
    array = _video().numpy()
    clip = SampleClip(frames=5, period=2, mode="all")(array)
    assert isinstance(clip, np.ndarray) and clip.shape == (32, 2, 5, 3, 4)
    tensor = SampleClip(frames=5, period=2)(_video().as_tensor())
    assert type(tensor) is torch.Tensor and tensor.shape == (2, 5, 3, 4)


def test_short_video_is_padded_with_zero_frames_and_warns():
    with pytest.warns(UserWarning, match="shorter than one clip of 8 frames at period 4 \\(29 frames\\); padding"):
        clip = SampleClip(frames=8, period=4)(_video(frames=10))
    np.testing.assert_array_equal(clip[0, :, 0, 0].numpy(), [0, 4, 8, 0, 0, 0, 0, 0])
    with pytest.warns(UserWarning):
        clips = SampleClip(frames=8, period=4, mode="all")(_video(frames=10))
    assert clips.shape == (1, 2, 8, 3, 4)


def test_dictionary_version_takes_the_same_clip_from_every_key():
    transform = SampleClipd(keys=("image", "mask"), frames=4, period=2).set_random_state(1)
    for _ in range(10):
        out = transform({"image": _video(), "mask": _video(channels=1), "label": 55.0})
        assert torch.equal(out["image"][0], out["mask"][0])
        assert out["label"] == 55.0
    with pytest.raises(ValueError, match="equal frame counts"):
        transform({"image": _video(40), "mask": _video(30)})


@pytest.mark.parametrize(
    "options, message",
    [
        ({"frames": 0}, "frames must be a positive integer"),
        ({"period": 1.5}, "period must be a positive integer"),
        ({"mode": "center"}, "center"),
        ({"clip_stride": 0}, "clip_stride must be a positive integer"),
        ({"num_clips": 0}, "num_clips must be a positive integer"),
    ],
)
def test_invalid_arguments(options, message):
    with pytest.raises(ValueError, match=message):
        SampleClip(**options)


def test_non_video_input_raises():
    with pytest.raises(ValueError, match=r"channel-first video \(C, T, H, W\), got shape \(3, 4, 5\)"):
        SampleClip()(torch.zeros(3, 4, 5))
