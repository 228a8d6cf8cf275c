"""EchoNet-style clip sampling from channel-first video ``(C, T, H, W)``: ``frames`` frames ``period`` apart.

EchoNet-Dynamic trains on one random clip per video and averages its test predictions over every clip
of the video; the video ViT of arXiv 2509.02488 samples 16 frames at period 4. ``mode="random"``
draws one clip per call (training); ``mode="all"`` returns every clip (or ``num_clips`` clips spread
evenly over the video), deterministically, stacked on a new leading axis ``(N, C, frames, H, W)`` for
test-time averaging (see
:class:`~monai_afpe.inferers.ClipAveragingInferer`). A video shorter than one clip
(``(frames - 1) * period + 1`` frames) is padded with zero frames at its end, as EchoNet-Dynamic does,
with a warning.

On a :class:`~monai.data.MetaTensor` the time column of the affine (spatial axis 0) is multiplied by
``period`` and its origin moved to the clip's first frame, so the time step read from the affine
afterwards is ``period * dt``; ``meta["clip_starts"]`` lists the first frame of each clip.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Mapping

import numpy as np
import torch
from monai.config import KeysCollection, NdarrayOrTensor
from monai.data import MetaTensor
from monai.transforms import MapTransform, Randomizable, Transform
from monai.utils import TransformBackends, look_up_option

from monai_afpe.validation import check_positive_int

__all__ = [
    "CLIP_MODES",
    "SampleClip",
    "SampleClipd",
    "SampleClipD",
    "SampleClipDict",
]

#: ``"random"``: one random clip; ``"all"``: every clip, stacked
CLIP_MODES = ("random", "all")


class SampleClip(Randomizable, Transform):
    """Sample ``frames`` frames, ``period`` frames apart, from a channel-first video ``(C, T, H, W)``.

    Args:
        frames: frames per clip.
        period: step between sampled frames (1 keeps consecutive frames).
        mode: ``"random"`` (one clip, uniformly random start; output ``(C, frames, H, W)``) or ``"all"``
            (clips starting at ``0, clip_stride, 2 clip_stride, ...``; output ``(N, C, frames, H, W)``).
        clip_stride: step between the starts of consecutive clips in ``"all"`` mode (1: every clip).
        num_clips: in ``"all"`` mode, take this many clips instead, their starts spread evenly from the first
            frame to the last start that fits (rounded to frames; a video with fewer distinct clips repeats
            some), so videos of any length give the same number of clips; ``None`` uses ``clip_stride``.

    Example::

        train = SampleClip(frames=16, period=4)            # (3, 16, 112, 112) from (3, T, 112, 112)
        test = SampleClip(frames=16, period=4, mode="all")  # (N, 3, 16, 112, 112)
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(
        self,
        frames: int = 16,
        period: int = 4,
        mode: str = "random",
        clip_stride: int = 1,
        num_clips: int | None = None,
    ) -> None:
        self.frames = check_positive_int(frames, "frames")
        self.period = check_positive_int(period, "period")
        self.mode = look_up_option(mode, CLIP_MODES)
        self.clip_stride = check_positive_int(clip_stride, "clip_stride")
        self.num_clips = None if num_clips is None else check_positive_int(num_clips, "num_clips")
        self._start = 0

    @property
    def span(self) -> int:
        """Frames covered by one clip: ``(frames - 1) * period + 1``."""
        return (self.frames - 1) * self.period + 1

    def starts(self, num_frames: int) -> np.ndarray:
        """First frame of every clip that ``"all"`` mode takes from a video of ``num_frames`` frames."""
        last = max(num_frames - self.span, 0)
        if self.num_clips is not None:
            return np.round(np.linspace(0, last, self.num_clips)).astype(np.int64)
        return np.arange(0, last + 1, self.clip_stride)

    def randomize(self, data: int) -> None:
        """Draw the start of the next random clip for a video of ``data`` frames."""
        self._start = int(self.R.randint(0, max(int(data) - self.span, 0) + 1))

    def __call__(self, img: NdarrayOrTensor, randomize: bool = True) -> NdarrayOrTensor:
        """
        Args:
            img: video ``(C, T, H, W)`` (numpy, tensor or MetaTensor).
            randomize: draw a new start (``"random"`` mode); False reuses the last one.
        """
        if img.ndim != 4:
            raise ValueError(f"SampleClip expects a channel-first video (C, T, H, W), got shape {tuple(img.shape)}.")
        num_frames = int(img.shape[1])
        if self.mode == "random":
            if randomize:
                self.randomize(num_frames)
            starts = np.array([self._start])
        else:
            starts = self.starts(num_frames)
        if num_frames < self.span:
            warnings.warn(
                f"SampleClip: a video of {num_frames} frames is shorter than one clip of {self.frames} frames at "
                f"period {self.period} ({self.span} frames); padding it with zero frames at its end.",
                stacklevel=2,
            )
        clips = self._take(img, starts, num_frames)
        return clips[0] if self.mode == "random" else clips

    def _take(self, img: NdarrayOrTensor, starts: np.ndarray, num_frames: int) -> NdarrayOrTensor:
        """Clips ``(N, C, frames, H, W)``; indices beyond the video select appended zero frames."""
        index = starts[:, None] + self.period * np.arange(self.frames)[None, :]
        padding = max(int(index.max()) + 1 - num_frames, 0)
        if isinstance(img, torch.Tensor):
            data = img.as_tensor() if isinstance(img, MetaTensor) else img
            if padding:
                data = torch.cat([data, data.new_zeros((data.shape[0], padding, *data.shape[2:]))], dim=1)
            clips = data[:, torch.as_tensor(index, device=data.device)].movedim(1, 0)
        else:
            data = np.asarray(img)
            if padding:
                data = np.concatenate([data, np.zeros((data.shape[0], padding, *data.shape[2:]), data.dtype)], axis=1)
            clips = np.moveaxis(data[:, index], 1, 0)
        if not isinstance(img, MetaTensor):
            return clips
        out = MetaTensor(clips)
        out.copy_meta_from(img)
        affine = img.affine.clone()
        affine[:, 3] = img.affine[:, 3] + int(starts[0]) * img.affine[:, 0]
        affine[:, 0] = img.affine[:, 0] * self.period
        out.affine = affine
        out.meta["clip_starts"] = [int(s) for s in starts]
        return out


class SampleClipd(Randomizable, MapTransform):
    """Dictionary wrapper of :class:`SampleClip`: the same clip (or clips) from every key.

    All keys must hold videos with the same number of frames (e.g. a video and per-frame masks).

    Args:
        keys: keys of the videos to sample.
        frames, period, mode, clip_stride, num_clips: see :class:`SampleClip`.
        allow_missing_keys: don't raise if a key is missing.
    """

    backend = SampleClip.backend

    def __init__(
        self,
        keys: KeysCollection,
        frames: int = 16,
        period: int = 4,
        mode: str = "random",
        clip_stride: int = 1,
        num_clips: int | None = None,
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        self.sampler = SampleClip(frames=frames, period=period, mode=mode, clip_stride=clip_stride, num_clips=num_clips)

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None) -> SampleClipd:
        super().set_random_state(seed, state)
        self.sampler.set_random_state(seed, state)
        return self

    def randomize(self, data: int) -> None:
        self.sampler.randomize(data)

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        keys = list(self.key_iterator(d))
        lengths = {key: int(d[key].shape[1]) for key in keys if getattr(d[key], "ndim", 0) == 4}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"SampleClipd: the videos under {keys} must have equal frame counts, got {lengths}.")
        if keys and lengths:
            self.randomize(next(iter(lengths.values())))
        for key in keys:
            d[key] = self.sampler(d[key], randomize=False)
        return d


SampleClipD = SampleClipDict = SampleClipd
