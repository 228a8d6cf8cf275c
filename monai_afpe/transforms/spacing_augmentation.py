"""Random spacing augmentation: resample an image to a randomly drawn voxel spacing, or a video to a random frame rate.

A network trained on mixed-spacing data with a physical-mode AFPE (arXiv 2509.02488) should see a wider
range of voxel spacings than the training set holds. :class:`RandSpacing` draws a target spacing per
spatial axis, in physical units (mm, or s), and resamples the image to it with MONAI's own
:class:`monai.transforms.Spacing`, so the affine is updated by MONAI and
:func:`~monai_afpe.transforms.image_spacing` (and :class:`~monai_afpe.transforms.ExtractSpacingd`) then
read the drawn spacing. :class:`RandFrameRate` does the same for the time axis of a video
``(C, T, H, W)``: it draws a frame rate and resamples the frames to it, so ``dt = 1 / fps`` afterwards.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import (
    InvertibleTransform,
    LazyTransform,
    MapTransform,
    Randomizable,
    RandomizableTransform,
    ResizeWithPadOrCrop,
    Spacing,
)
from monai.utils import TraceKeys, TransformBackends, ensure_tuple_rep, look_up_option

from monai_afpe.transforms.spacing import _filename, image_spacing, image_spatial_shape
from monai_afpe.validation import check_positive_number, check_probability, is_number, is_positive_int

__all__ = [
    "FRAME_RATE_MODES",
    "RandSpacing",
    "RandSpacingd",
    "RandSpacingD",
    "RandSpacingDict",
    "RandFrameRate",
    "RandFrameRated",
    "RandFrameRateD",
    "RandFrameRateDict",
    "resample_frame_rate",
]

#: ``"linear"``: interpolate linearly between the two neighbouring frames; ``"nearest"``: take the nearest frame
FRAME_RATE_MODES = ("linear", "nearest")

_Range = tuple[float, float]


def _check_range(name: str, value, unit: str) -> _Range:
    """A ``(low, high)`` pair of finite numbers with ``0 < low <= high``."""
    if not (isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2):
        raise ValueError(f"{name} must be a (low, high) pair of numbers > 0 ({unit}), got {value!r}.")
    low, high = value
    if not (is_number(low) and is_number(high) and math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"{name} must be a (low, high) pair of finite numbers ({unit}), got {value!r}.")
    if low <= 0 or high <= 0:
        raise ValueError(f"{name} must be positive ({unit}): 0 < low <= high, got {value!r}.")
    if low > high:
        raise ValueError(f"{name} must have low <= high, got low={low} > high={high}.")
    return float(low), float(high)


def _check_spacing_range(spacing_range) -> tuple[_Range | None, ...]:
    """Normalise ``spacing_range``: one ``(low, high)`` for every axis, or one entry (``None`` or a pair) per axis."""
    if isinstance(spacing_range, Sequence) and not isinstance(spacing_range, str) and len(spacing_range) > 0:
        if all(is_number(v) for v in spacing_range):
            return (_check_range("spacing_range", spacing_range, "mm or s"),)
        return tuple(
            None if entry is None else _check_range(f"spacing_range[{axis}]", entry, "mm or s")
            for axis, entry in enumerate(spacing_range)
        )
    raise ValueError(
        "spacing_range must be a (low, high) pair for every axis, or one entry per spatial axis, each None "
        f"(keep that axis' spacing) or a (low, high) pair in mm (or s); got {spacing_range!r}."
    )


def _check_tie_axes(tie_axes) -> tuple[tuple[int, ...], ...]:
    message = (
        "tie_axes must be a sequence of groups of distinct non-negative spatial axes (channel excluded), each axis "
        f"in at most one group, e.g. ((0, 1),) for a common in-plane spacing; got {tie_axes!r}."
    )
    if tie_axes is None:
        return ()
    if not isinstance(tie_axes, Sequence) or isinstance(tie_axes, str):
        raise ValueError(message)
    groups, seen = [], set()
    for group in tie_axes:
        if not isinstance(group, Sequence) or isinstance(group, str) or len(group) == 0:
            raise ValueError(message)
        if not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) and a >= 0 for a in group):
            raise ValueError(message)
        axes = tuple(int(a) for a in group)
        if len(set(axes)) != len(axes) or seen & set(axes):
            raise ValueError(message)
        seen |= set(axes)
        groups.append(axes)
    return tuple(groups)


def _draw(R: np.random.RandomState, value_range: _Range, log_uniform: bool) -> float:
    low, high = value_range
    if log_uniform:
        return float(math.exp(R.uniform(math.log(low), math.log(high))))
    return float(R.uniform(low, high))


class RandSpacing(RandomizableTransform, InvertibleTransform, LazyTransform):
    """Resample a channel-first MetaTensor to a random voxel spacing, drawn per spatial axis in physical units.

    With probability ``prob``, a target spacing is drawn for every axis that has a range in
    ``spacing_range`` (uniformly, or log-uniformly), axes in one group of ``tie_axes`` getting the same draw;
    the other axes keep their spacing. The image is resampled to that spacing with MONAI's
    :class:`monai.transforms.Spacing` (directions and the field of view are kept, so the physical extent
    ``size x spacing`` stays the same within one voxel), and then, if ``spatial_size`` is given, padded or
    cropped around its centre to that size with :class:`monai.transforms.ResizeWithPadOrCrop`. The affine
    is updated by MONAI, so :func:`~monai_afpe.transforms.image_spacing` and
    :class:`~monai_afpe.transforms.ExtractSpacingd` placed after it read the drawn spacing.

    Unlike MONAI's :class:`~monai.transforms.RandZoom`, which draws a *zoom factor* relative to the
    image's current spacing, the draw here is an *absolute* target spacing: a 0.7 mm and a 3 mm scan both
    come out in ``spacing_range``, so the network sees the spacings a deployment will see, whatever the
    training set's own.

    The transform supports MONAI's lazy resampling (both MONAI transforms it wraps are lazy): in
    ``Compose(..., lazy=True)`` the resampling and the padding or cropping are fused with the neighbouring
    lazy spatial transforms into one interpolation. As with MONAI's own ``Spacingd``, lazy resampling then
    takes the interpolation mode from ``Compose``'s ``overrides`` (e.g.
    ``overrides={"label": {"mode": "nearest"}}``), not from ``mode``. Run eagerly, it is invertible
    (:meth:`inverse`, :class:`~monai.transforms.Invertd`). It is random: with
    :class:`~monai.data.CacheDataset`, place it after the cached deterministic transforms (loading,
    orientation, intensity scaling); MONAI's caching stops at the first random transform anyway.

    Args:
        spacing_range: a ``(low, high)`` range of target spacing for every spatial axis, or one entry per
            spatial axis, either ``None`` (keep that axis' spacing) or a ``(low, high)`` range, in the
            image's units (mm; s for a video's time axis). ``0 < low <= high``.
        tie_axes: groups of spatial axes (channel excluded) that get one common draw, e.g. ``((0, 1),)``
            for a common in-plane spacing; the axes of a group must have the same range.
        log_uniform: draw ``log(spacing)`` uniformly (as many draws below 1 mm as above for ``(0.5, 2)``)
            instead of the spacing itself.
        mode: interpolation mode of :class:`monai.transforms.Spacing` (``"bilinear"``, ``"nearest"``, or a
            spline order 0-5).
        padding_mode: padding mode of :class:`monai.transforms.Spacing` (``"border"``, ``"zeros"``,
            ``"reflection"``).
        spatial_size: size to pad or crop the resampled image to (centred), one value or one per axis;
            ``None`` keeps the resampled size (which changes with the drawn spacing).
        prob: probability of resampling; otherwise the image keeps its spacing (and is only padded or cropped
            to ``spatial_size``, if given, so that every output has that size).
        align_corners: see :class:`monai.transforms.Spacing`.
        dtype: data type of the resampling computation (the output is float32, as MONAI's).
        lazy: run lazily (see MONAI's lazy resampling).
        pad_mode: padding mode of :class:`monai.transforms.ResizeWithPadOrCrop` (``"constant"``, ``"edge"``,
            ``"reflect"``, ...); ``"edge"`` continues a normalised background instead of padding zeros.
        pad_kwargs: further arguments of :class:`monai.transforms.ResizeWithPadOrCrop`'s padding
            (e.g. ``value=-1000`` with ``pad_mode="constant"``).

    Example::

        # 0.5-1.5 mm in plane (one draw for both in-plane axes), 1-5 mm between slices, 96^3 output
        aug = RandSpacing(((0.5, 1.5), (0.5, 1.5), (1.0, 5.0)), tie_axes=((0, 1),), spatial_size=96, prob=0.8)
        image = aug(image)  # image_spacing(image) is the drawn spacing

    Raises:
        ValueError: invalid arguments (at construction), or at call time an image that is not a MetaTensor
            or whose number of spatial axes does not fit ``spacing_range`` or ``tie_axes``.
    """

    backend = Spacing.backend

    def __init__(
        self,
        spacing_range: Sequence[Sequence[float] | None] | Sequence[float],
        tie_axes: Sequence[Sequence[int]] | None = None,
        log_uniform: bool = False,
        mode: str | int = "bilinear",
        padding_mode: str = "border",
        spatial_size: Sequence[int] | int | None = None,
        prob: float = 0.1,
        align_corners: bool = False,
        dtype: np.dtype | torch.dtype | type | None = np.float64,
        lazy: bool = False,
        pad_mode: str = "constant",
        **pad_kwargs,
    ) -> None:
        RandomizableTransform.__init__(self, check_probability(prob, "prob"))
        LazyTransform.__init__(self, lazy=lazy)
        self.spacing_range = _check_spacing_range(spacing_range)
        self.tie_axes = _check_tie_axes(tie_axes)
        self.log_uniform = bool(log_uniform)
        if spatial_size is not None:
            sizes = spatial_size if isinstance(spatial_size, Sequence) else (spatial_size,)
            if not sizes or not all(is_positive_int(s) for s in sizes):
                raise ValueError(
                    "spatial_size must be None or one positive integer (or one per spatial axis), "
                    f"got {spatial_size!r}."
                )
        self.spatial_size = spatial_size
        # persistent MONAI transforms: their trace entries are matched by instance in ``inverse``
        self.spacer = Spacing(
            pixdim=1.0, mode=mode, padding_mode=padding_mode, align_corners=align_corners, dtype=dtype, lazy=lazy
        )
        self.resizer = (
            None if spatial_size is None else ResizeWithPadOrCrop(spatial_size, mode=pad_mode, lazy=lazy, **pad_kwargs)
        )
        #: last drawn target spacing per axis (None: axis kept); empty before the first draw
        self.drawn_spacing: tuple[float | None, ...] = ()

    @LazyTransform.lazy.setter  # type: ignore
    def lazy(self, val: bool) -> None:
        self._lazy = val
        self.spacer.lazy = val
        if self.resizer is not None:
            self.resizer.lazy = val

    def axis_ranges(self, spatial_dims: int) -> tuple[_Range | None, ...]:
        """The range (or None) of each of ``spatial_dims`` axes; checks ``spacing_range`` and ``tie_axes`` fit."""
        try:
            ranges = (
                self.spacing_range * spatial_dims
                if len(self.spacing_range) == 1
                else ensure_tuple_rep(self.spacing_range, spatial_dims)
            )
        except ValueError:
            raise ValueError(
                f"spacing_range has {len(self.spacing_range)} entries but the image has {spatial_dims} spatial axes; "
                f"give one (low, high) pair for all axes or one entry per axis, got {self.spacing_range!r}."
            ) from None
        for group in self.tie_axes:
            if max(group) >= spatial_dims:
                raise ValueError(
                    f"tie_axes group {group} names an axis beyond the {spatial_dims} spatial axes of the image."
                )
            group_ranges = {ranges[a] for a in group}
            if len(group_ranges) != 1 or None in group_ranges:
                raise ValueError(
                    f"tie_axes group {group} must tie axes with one common (low, high) spacing_range, "
                    f"got {[ranges[a] for a in group]}."
                )
        return ranges

    def randomize(self, data: int) -> None:
        """Draw whether to resample and, if so, the target spacing for an image of ``data`` spatial axes."""
        super().randomize(None)
        if not self._do_transform:
            return
        ranges = self.axis_ranges(int(data))
        spacing: list[float | None] = [None] * len(ranges)
        for group in self.tie_axes:
            value = _draw(self.R, ranges[group[0]], self.log_uniform)
            for axis in group:
                spacing[axis] = value
        tied = {a for group in self.tie_axes for a in group}
        for axis, value_range in enumerate(ranges):
            if axis not in tied and value_range is not None:
                spacing[axis] = _draw(self.R, value_range, self.log_uniform)
        self.drawn_spacing = tuple(spacing)

    def __call__(
        self,
        img: MetaTensor,
        mode: str | int | None = None,
        padding_mode: str | None = None,
        randomize: bool = True,
        lazy: bool | None = None,
    ) -> MetaTensor:
        """
        Args:
            img: channel-first MetaTensor ``(C, *spatial)`` with an affine.
            mode, padding_mode: override the constructor's for this call (the dictionary version passes one
                per key).
            randomize: draw anew; False reuses the last draw (the dictionary version draws once per item).
            lazy: override the constructor's ``lazy`` for this call.
        """
        if not isinstance(img, MetaTensor):
            raise ValueError(
                "RandSpacing needs a MetaTensor with an affine (e.g. from monai.transforms.LoadImage), since the "
                f"target spacing is in physical units; got {type(img).__name__}."
            )
        rank = len(image_spatial_shape(img))
        if randomize:
            self.randomize(rank)
        elif self._do_transform and len(self.drawn_spacing) != rank:
            raise ValueError(
                f"{_filename(img)}: the last draw has {len(self.drawn_spacing)} axes but the image has {rank} "
                "spatial axes; all keys of one item must have the same number of spatial axes."
            )
        lazy_ = self.lazy if lazy is None else lazy
        if not self._do_transform:
            # still padded or cropped to spatial_size, so that a batch collates
            out = img.clone() if self.resizer is None else self.resizer(img, lazy=lazy_)
            self.push_transform(out, replace=True, lazy=lazy_)
            return out
        image_spacing(img)  # validates the affine, naming the file
        # Spacing keeps an axis whose target is non-positive (monai.data.utils.zoom_affine)
        self.spacer.pixdim = np.array([0.0 if s is None else s for s in self.drawn_spacing], dtype=np.float64)
        out = self.spacer(img, mode=mode, padding_mode=padding_mode, lazy=lazy_)
        if self.resizer is not None:
            out = self.resizer(out, lazy=lazy_)
        self.push_transform(out, replace=True, lazy=lazy_)
        return out

    def inverse(self, data: MetaTensor) -> MetaTensor:
        """Undo the resampling (and padding or cropping): back to the input's geometry and shape."""
        transform = self.pop_transform(data)
        if not transform[TraceKeys.DO_TRANSFORM]:
            return data if self.resizer is None else self.resizer.inverse(data)
        data.applied_operations.append(transform[TraceKeys.EXTRA_INFO])
        if self.resizer is not None:
            data = self.resizer.inverse(data)
        return self.spacer.inverse(data)


class RandSpacingd(Randomizable, MapTransform, InvertibleTransform, LazyTransform):
    """Dictionary wrapper of :class:`RandSpacing`: one draw per item, applied to every key.

    Image and label get the same spacing and geometry; give ``mode`` per key, e.g.
    ``mode=("bilinear", "nearest")`` for ``keys=("image", "label")`` (with lazy resampling, give the label's
    mode in ``Compose``'s ``overrides`` instead, as for MONAI's ``Spacingd``).

    Args:
        keys: keys of the MetaTensors to resample.
        spacing_range, tie_axes, log_uniform, spatial_size, prob, align_corners, dtype, lazy, pad_mode,
            pad_kwargs: see :class:`RandSpacing`.
        mode: interpolation mode, one or one per key.
        padding_mode: padding mode of the resampling, one or one per key.
        allow_missing_keys: don't raise if a key is missing.

    Example::

        Compose([
            LoadImaged(("image", "label")), EnsureChannelFirstd(("image", "label")),
            RandSpacingd(("image", "label"), ((0.6, 1.2), (0.6, 1.2), (1.0, 4.0)), tie_axes=((0, 1),),
                         mode=("bilinear", "nearest"), spatial_size=(96, 96, 32), prob=0.8),
            ExtractSpacingd("image"),
        ])
    """

    backend = RandSpacing.backend

    def __init__(
        self,
        keys: KeysCollection,
        spacing_range: Sequence[Sequence[float] | None] | Sequence[float],
        tie_axes: Sequence[Sequence[int]] | None = None,
        log_uniform: bool = False,
        mode: Sequence[str | int] | str | int = "bilinear",
        padding_mode: Sequence[str] | str = "border",
        spatial_size: Sequence[int] | int | None = None,
        prob: float = 0.1,
        align_corners: bool = False,
        dtype: np.dtype | torch.dtype | type | None = np.float64,
        lazy: bool = False,
        allow_missing_keys: bool = False,
        pad_mode: str = "constant",
        **pad_kwargs,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        LazyTransform.__init__(self, lazy=lazy)
        self.rand_spacing = RandSpacing(
            spacing_range,
            tie_axes=tie_axes,
            log_uniform=log_uniform,
            spatial_size=spatial_size,
            prob=prob,
            align_corners=align_corners,
            dtype=dtype,
            lazy=lazy,
            pad_mode=pad_mode,
            **pad_kwargs,
        )
        try:
            self.mode = ensure_tuple_rep(mode, len(self.keys))
            self.padding_mode = ensure_tuple_rep(padding_mode, len(self.keys))
        except ValueError:
            raise ValueError(
                f"mode and padding_mode must be one value or one per key ({len(self.keys)} keys: {self.keys}), "
                f"got mode={mode!r}, padding_mode={padding_mode!r}."
            ) from None

    @LazyTransform.lazy.setter  # type: ignore
    def lazy(self, val: bool) -> None:
        self._lazy = val
        self.rand_spacing.lazy = val

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None) -> RandSpacingd:
        super().set_random_state(seed, state)
        self.rand_spacing.set_random_state(seed, state)
        return self

    def randomize(self, data: int) -> None:
        self.rand_spacing.randomize(data)

    def __call__(self, data: Mapping[Hashable, MetaTensor], lazy: bool | None = None) -> dict[Hashable, MetaTensor]:
        d = dict(data)
        keys = list(self.key_iterator(d))
        if not keys:
            return d
        ranks = {key: len(image_spatial_shape(d[key])) for key in keys if isinstance(d[key], MetaTensor)}
        if len(ranks) < len(keys):
            wrong = {key: type(d[key]).__name__ for key in keys if key not in ranks}
            raise ValueError(f"RandSpacingd needs MetaTensors with an affine under every key, got {wrong}.")
        if len(set(ranks.values())) > 1:
            raise ValueError(
                f"RandSpacingd: the images under {keys} must have equal numbers of spatial axes, got {ranks}."
            )
        self.randomize(ranks[keys[0]])
        lazy_ = self.lazy if lazy is None else lazy
        for key, mode, padding_mode in self.key_iterator(d, self.mode, self.padding_mode):
            d[key] = self.rand_spacing(d[key], mode=mode, padding_mode=padding_mode, randomize=False, lazy=lazy_)
        return d

    def inverse(self, data: Mapping[Hashable, MetaTensor]) -> dict[Hashable, MetaTensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.rand_spacing.inverse(d[key])
        return d


def _check_video(img: MetaTensor, caller: str) -> None:
    """Raise unless ``img`` is a channel-first video MetaTensor ``(C, T, H, W)`` without pending lazy operations."""
    if not isinstance(img, MetaTensor):
        raise ValueError(
            f"{caller} needs a video MetaTensor (C, T, H, W) whose affine holds the time step dt "
            f"(e.g. from monai_afpe.data.readers.VideoReader); got {type(img).__name__}."
        )
    name = _filename(img)
    if img.ndim != 4:
        raise ValueError(f"{name}: {caller} expects a channel-first video (C, T, H, W), got shape {tuple(img.shape)}.")
    if img.has_pending_operations:
        raise ValueError(
            f"{name}: {caller} runs eagerly on images without pending lazy operations; place it before the "
            "lazy spatial transforms or apply them first."
        )


def resample_frame_rate(img: MetaTensor, fps: float, mode: str = "linear") -> MetaTensor:
    """Resample the time axis of a video ``(C, T, H, W)`` to ``fps`` frames per second, keeping its time span.

    The deterministic core of :class:`RandFrameRate`: new frame ``k`` sits at ``t_0 + k / fps`` (the first
    frame stays where it was), for as many frames as fit in the original span ``(T - 1) dt``, so
    ``T_new - 1 = floor((T - 1) dt fps)``. Each new frame is a linear interpolation of its two neighbouring
    frames (``mode="linear"``, float32 output) or the nearest frame (``mode="nearest"``, dtype kept). The
    affine's time column is rescaled to length ``1 / fps`` (its direction kept), so
    :func:`~monai_afpe.transforms.image_spacing` reads ``(1 / fps, dy, dx)``; other axes and the origin are
    unchanged. ``meta["frame_rate"]``, if present, is set to the new rate.

    Args:
        img: video MetaTensor ``(C, T, H, W)`` whose affine's first column is the time step ``dt`` (s), without
            pending lazy operations.
        fps: the new frame rate (frames per second), a finite number > 0.
        mode: ``"linear"`` or ``"nearest"``.

    Example::

        video_25 = resample_frame_rate(video, 25.0)  # image_spacing(video_25)[0] == 0.04

    Raises:
        ValueError: ``img`` is not such a video, ``fps`` is not a finite number > 0, or an unknown ``mode``.
    """
    _check_video(img, "resample_frame_rate")
    check_positive_number(fps, f"{_filename(img)}: fps", unit="frames per second")
    mode = look_up_option(mode, FRAME_RATE_MODES)
    dt = float(image_spacing(img)[0])
    num_frames = int(img.shape[1])
    ratio = (1.0 / float(fps)) / dt  # old frames per new frame
    num_new = int(math.floor((num_frames - 1) / ratio + 1e-6)) + 1
    data = img.as_tensor()
    position = torch.arange(num_new, dtype=torch.float64, device=data.device) * ratio
    position = position.clamp(0, num_frames - 1)
    if mode == "nearest":
        frames = data[:, torch.round(position).long()]
    else:
        lower = torch.floor(position).long().clamp(max=num_frames - 1)
        upper = (lower + 1).clamp(max=num_frames - 1)
        weight = (position - lower).to(torch.float32).view(1, -1, *([1] * (data.ndim - 2)))
        data = data.to(torch.float32)
        frames = data[:, lower] * (1 - weight) + data[:, upper] * weight
    out = MetaTensor(frames.contiguous())
    out.copy_meta_from(img)
    affine = img.affine.clone()
    affine[:-1, 0] = img.affine[:-1, 0] * ratio
    out.affine = affine
    if "frame_rate" in out.meta:
        out.meta["frame_rate"] = f"{float(fps):.6g}"
    return out


class RandFrameRate(RandomizableTransform):
    """Resample the time axis of a video ``(C, T, H, W)`` to a random frame rate, keeping its time span.

    Time is spatial axis 0, with ``dt`` (seconds per frame) the length of the affine's first column, as
    :class:`~monai_afpe.data.readers.VideoReader` loads videos. With probability ``prob`` a frame rate
    ``fps`` is drawn from ``fps_range`` (frames per second) and the video is resampled to ``dt_new = 1 / fps``
    by :func:`resample_frame_rate`: the time span is kept, so the number of frames changes by the ratio of
    the frame rates, ``T_new - 1 = floor((T - 1) dt / dt_new)``; new frames are linear interpolations
    (``mode="linear"``, float32 output) or nearest frames (``mode="nearest"``, dtype kept); the affine's
    time column is rescaled so :func:`~monai_afpe.transforms.image_spacing` reads ``(1 / fps, dy, dx)``, and
    ``meta["frame_rate"]``, if present, is set to the new rate.

    It runs eagerly (no lazy resampling) and is not invertible. It is random: with
    :class:`~monai.data.CacheDataset`, place it after the cached deterministic transforms and before
    clip sampling (:class:`~monai_afpe.transforms.SampleClipd`).

    Args:
        fps_range: ``(low, high)`` frames per second, ``0 < low <= high``.
        mode: ``"linear"`` or ``"nearest"``.
        log_uniform: draw ``log(fps)`` uniformly instead of ``fps``.
        prob: probability of resampling; otherwise the video is returned unchanged.

    Example::

        aug = RandFrameRate(fps_range=(25.0, 60.0), prob=0.5)
        video = aug(video)  # image_spacing(video)[0] == 1 / aug.drawn_fps

    Raises:
        ValueError: invalid arguments (at construction), or at call time an input that is not a 4D
            MetaTensor without pending lazy operations.
    """

    backend = [TransformBackends.TORCH]

    def __init__(
        self, fps_range: Sequence[float], mode: str = "linear", log_uniform: bool = False, prob: float = 0.1
    ) -> None:
        RandomizableTransform.__init__(self, check_probability(prob, "prob"))
        self.fps_range = _check_range("fps_range", fps_range, "frames per second")
        self.mode = look_up_option(mode, FRAME_RATE_MODES)
        self.log_uniform = bool(log_uniform)
        #: last drawn frame rate (frames per second); None before the first draw
        self.drawn_fps: float | None = None

    def randomize(self, data=None) -> None:
        """Draw whether to resample and, if so, the new frame rate."""
        super().randomize(None)
        if self._do_transform:
            self.drawn_fps = _draw(self.R, self.fps_range, self.log_uniform)

    def __call__(self, img: MetaTensor, mode: str | None = None, randomize: bool = True) -> MetaTensor:
        """
        Args:
            img: video MetaTensor ``(C, T, H, W)`` whose affine's first column is the time step.
            mode: override the constructor's ``mode`` for this call.
            randomize: draw anew; False reuses the last draw (the dictionary version draws once per item).
        """
        _check_video(img, "RandFrameRate")
        if randomize:
            self.randomize()
        if not self._do_transform:
            return img
        return resample_frame_rate(img, float(self.drawn_fps), self.mode if mode is None else mode)


class RandFrameRated(Randomizable, MapTransform):
    """Dictionary wrapper of :class:`RandFrameRate`: one draw per item, applied to every key.

    A video and its per-frame masks get the same frame rate; give ``mode`` per key, e.g.
    ``mode=("linear", "nearest")`` for ``keys=("video", "mask")``.

    Args:
        keys: keys of the videos to resample.
        fps_range, log_uniform, prob: see :class:`RandFrameRate`.
        mode: ``"linear"`` or ``"nearest"``, one or one per key.
        allow_missing_keys: don't raise if a key is missing.
    """

    backend = RandFrameRate.backend

    def __init__(
        self,
        keys: KeysCollection,
        fps_range: Sequence[float],
        mode: Sequence[str] | str = "linear",
        log_uniform: bool = False,
        prob: float = 0.1,
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        try:
            modes = ensure_tuple_rep(mode, len(self.keys))
        except ValueError:
            raise ValueError(f"mode must be one value or one per key ({len(self.keys)} keys), got {mode!r}.") from None
        self.mode = tuple(look_up_option(m, FRAME_RATE_MODES) for m in modes)
        self.rand_frame_rate = RandFrameRate(fps_range, mode=self.mode[0], log_uniform=log_uniform, prob=prob)

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None) -> RandFrameRated:
        super().set_random_state(seed, state)
        self.rand_frame_rate.set_random_state(seed, state)
        return self

    def randomize(self, data=None) -> None:
        self.rand_frame_rate.randomize(data)

    def __call__(self, data: Mapping[Hashable, MetaTensor]) -> dict[Hashable, MetaTensor]:
        d = dict(data)
        self.randomize()
        for key, mode in self.key_iterator(d, self.mode):
            d[key] = self.rand_frame_rate(d[key], mode=mode, randomize=False)
        return d


RandSpacingD = RandSpacingDict = RandSpacingd
RandFrameRateD = RandFrameRateDict = RandFrameRated
