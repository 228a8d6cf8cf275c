"""In-memory data for the experiments: generated or user data, read once through MONAI readers, kept as tensors.

Five sources (``data.source`` in a config; :data:`SOURCE_TASKS` gives the task of each):

- ``organ_shapes``: the synthetic anisotropic CT classification set
  (:func:`~monai_afpe.data.synthetic.generate_organ_shapes`), ``protocol: stride`` (every k-th slice,
  the paper's OrganMNIST3D protocol) or ``protocol: mixed`` (per-sample spacing). Generated once into a
  cache folder (keyed by every generator option), then read with ``LoadImaged``.
- ``organmnist3d``: a MedMNIST ``organmnist3d(_64).npz`` the user has (``path``), with the stride
  protocol (:func:`~monai_afpe.data.adapters.organmnist3d.load_organmnist3d`).
- ``echo``: synthetic echo loops with an exact ejection fraction
  (:func:`~monai_afpe.data.synthetic.echo.generate_echo`), read with ``LoadImage`` and the project's
  ``VideoReader``; training draws one random clip per video and epoch
  (:class:`~monai_afpe.transforms.clip_sampling.SampleClip`), evaluation averages the predictions
  over every clip of a video (EchoNet-Dynamic's protocol; ``test_clip_stride`` frames apart, or
  ``test_clips`` clips spread evenly over each video). Clip frames are ``clip_period`` frames apart, or,
  with ``clip_frame_interval`` (seconds), ``round(clip_frame_interval * fps)`` frames apart per video, so
  that a clip spans about the same time at every frame rate (:class:`VideoClipSampler`). Test set options:
  ``frame_step: n`` keeps every n-th frame of each test video before clip sampling (the video as it
  would have been recorded at ``1/n`` of the frame rate); ``fps: f`` resamples each test video to ``f``
  frames per second (:func:`~monai_afpe.transforms.resample_frame_rate`). The data option
  ``train_frame_rate: {fps_range, prob, log_uniform}`` resamples every training video to a random frame
  rate each epoch (:class:`~monai_afpe.transforms.RandFrameRate`) before its clip is drawn. It is a data
  option, not an arm's ``augment``: an arm's augmentation receives the epoch's clips, after clip sampling,
  when a clip's period in frames is already fixed, and it applies to every arm of the condition alike.
- ``ct_segmentation``: the synthetic abdomen with four labelled organs and per-volume spacing
  (:func:`~monai_afpe.data.synthetic.generate_ct_segmentation`, Decathlon layout), generated once into
  the cache folder and read with ``LoadImaged``; image and label map are resampled together (bilinear and
  nearest) when an arm resamples, then cropped or padded to a fixed input size divisible by 16 (UNETR's
  patch). Targets are the label maps.
- ``chest_xray``: synthetic PA chest radiographs with several exact labels each
  (:func:`~monai_afpe.data.synthetic.generate_chest_xray`: :data:`~monai_afpe.data.synthetic.CHEST_XRAY_LABELS`,
  defined in mm), a multi-label task like the paper's NIH chest X-ray one. Generated once into the cache
  folder as DICOM DX files (``format: dicom``, pixel size read from each file by
  :class:`~monai_afpe.data.readers.EnhancedDicomReader`) or PNG exports (``format: png``, pixel size from
  ``labels.csv``), listed by :func:`~monai_afpe.data.adapters.load_chest_xray_csv`. Images of every drawn
  size are resized to ``spatial_size`` (``Resized``, area interpolation), so the pixel spacing of the network
  input differs per image and per axis. Targets are float32 0/1 vectors, one entry per label.

Organ-shapes, CT-segmentation and chest X-ray test sets may be drawn anew (options ``num_samples``, ``seed``,
``generator``): a set of fresh volumes, all used for testing, with generator options merged over the
training data's, e.g. ``{generator: {slice_spacing_range: [4, 6]}}`` for slices thicker than any seen
in training. Their seed defaults to the data seed + :data:`SHIFTED_TEST_SEED_OFFSET`, so no organ
repeats a training one.

Spacing always comes from the image's affine after the last spatial transform
(:class:`~monai_afpe.transforms.ExtractSpacingd`). Volumes become float32 tensors: the intensity window
(CT: ``intensity_range`` in HU) mapped to [0, 1]; classification volumes are then normalised per volume
to zero mean and unit standard deviation (``NormalizeIntensityd``; the small organ is otherwise a faint
signal on a bright background and ViTs trained from scratch barely move from chance), segmentation
volumes stay in [0, 1] as in the CT segmentation bundle; radiographs are normalised per image (as in the chest
X-ray bundle), then resized. Videos stay uint8 until a batch is drawn, then
scale to [0, 1].
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.utils import ensure_tuple_rep, look_up_option

from monai_afpe.validation import check_positive_int, check_positive_number, is_positive_int, is_positive_number

__all__ = [
    "DATA_OPTION_KEYS",
    "TEST_SET_OPTION_KEYS",
    "SOURCE_TASKS",
    "SHIFTED_TEST_SEED_OFFSET",
    "FRAME_RATE_AUGMENT_KEYS",
    "Split",
    "VideoClipSampler",
    "ExperimentData",
    "load_experiment_data",
    "check_test_set_options",
    "source_options",
    "default_cache_dir",
]

#: keys shared by every source; each source also reads its own sub-mapping (``data.<source>``)
_COMMON_KEYS = ("seed", "anisotropy")
_SOURCE_KEYS = {
    "organ_shapes": ("num_samples", "fractions", "protocol", "spatial_size", "intensity_range", "generator"),
    "organmnist3d": ("path", "spacing", "max_samples"),
    "echo": (
        "num_samples",
        "fractions",
        "frame_size",
        "num_frames",
        "fps_range",
        "clip_frames",
        "clip_period",
        "clip_frame_interval",
        "test_clip_stride",
        "test_clips",
        "train_frame_rate",
        "generator",
    ),
    "ct_segmentation": ("num_samples", "fractions", "spatial_size", "input_size", "intensity_range", "generator"),
    "chest_xray": ("num_samples", "fractions", "spatial_size", "format", "generator"),
}
#: keys of a config's ``data`` mapping (and of a condition's ``data`` overrides)
DATA_OPTION_KEYS = ("source",) + _COMMON_KEYS + tuple(_SOURCE_KEYS)
#: options of a test set, per source
TEST_SET_OPTION_KEYS = {
    "organ_shapes": ("num_samples", "seed", "generator"),
    "organmnist3d": (),
    "echo": ("frame_step", "fps"),
    "ct_segmentation": ("num_samples", "seed", "generator"),
    "chest_xray": ("num_samples", "seed", "generator"),
}
#: what a model learns from each source
SOURCE_TASKS = {
    "organ_shapes": "classification",
    "organmnist3d": "classification",
    "echo": "regression",
    "ct_segmentation": "segmentation",
    "chest_xray": "multilabel",
}
#: added to the data seed for a drawn test set that gives no seed of its own
SHIFTED_TEST_SEED_OFFSET = 1000003
#: keys of the echo option ``train_frame_rate`` (the arguments of :class:`~monai_afpe.transforms.RandFrameRate`)
FRAME_RATE_AUGMENT_KEYS = ("fps_range", "prob", "log_uniform")


def default_cache_dir() -> Path:
    """Folder of generated data sets: ``$MONAI_AFPE_CACHE`` or ``~/.cache/monai_afpe``."""
    import os

    return Path(os.environ.get("MONAI_AFPE_CACHE", Path.home() / ".cache" / "monai_afpe"))


@dataclass
class Split:
    """One split in memory.

    Attributes:
        images: ``(N, C, *spatial)``, or ``(N, clips, C, *spatial)`` when ``clips`` (several clips per sample).
        targets: class indices ``(N,)`` (int64), regression targets ``(N,)`` (float32), 0/1 label vectors
            ``(N, K)`` (float32, multi-label) or label maps ``(N, 1, *spatial)`` (int64).
        spacing: ``(N, m)`` float32, per spatial axis of the network input (mm, s).
        clips: whether ``images`` holds several clips per sample whose predictions are averaged.
    """

    images: torch.Tensor
    targets: torch.Tensor
    spacing: torch.Tensor
    clips: bool = False

    def __len__(self) -> int:
        return int(self.targets.shape[0])

    def batches(self, batch_size: int, order: torch.Tensor | None = None) -> Iterator[tuple[torch.Tensor, ...]]:
        """``(images, targets, spacing)`` batches, float32 images in [0, 1], in ``order`` (default: as stored)."""
        order = torch.arange(len(self)) if order is None else order
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            images = self.images[index]
            if images.dtype == torch.uint8:
                images = images.float() / 255.0
            yield images, self.targets[index], self.spacing[index]


def _to_uint8(frames: torch.Tensor) -> torch.Tensor:
    """Frames as uint8 (interpolated frames are rounded to the nearest grey level)."""
    frames = torch.as_tensor(frames).as_subclass(torch.Tensor)
    if frames.is_floating_point():
        frames = frames.round().clamp(0, 255)
    return frames.to(torch.uint8)


class VideoClipSampler:
    """Clips of videos ``(C, T, H, W)``: one random clip per video for training, several per video for evaluation.

    A clip takes ``frames`` frames, ``period`` frames apart, or, with ``frame_interval`` (seconds), a period
    per video of ``max(1, round(frame_interval / dt))`` frames (the nearest integer), ``dt = 1 / fps`` the
    video's time step: clips of videos at different frame rates then span about the same time. A clip's time
    step is ``period * dt``, exact per video.

    Args:
        frames: frames per clip.
        period: frames between clip frames; give this or ``frame_interval``.
        frame_interval: seconds between clip frames; give this or ``period``.
        clip_stride: frames between the starts of evaluation clips.
        num_clips: evaluation clips per video, spread evenly over it, instead of ``clip_stride``; videos of
            different lengths (or frame rates) then give the same number of clips.
        frame_rate: resamples each training video to a random frame rate before its clip is drawn
            (:class:`~monai_afpe.transforms.RandFrameRate`), or ``None``.

    Raises:
        ValueError: neither or both of ``period`` and ``frame_interval``.
    """

    def __init__(
        self,
        frames: int,
        period: int | None = None,
        frame_interval: float | None = None,
        clip_stride: int = 16,
        num_clips: int | None = None,
        frame_rate: Any = None,
    ) -> None:
        if (period is None) == (frame_interval is None):
            raise ValueError(
                "VideoClipSampler: give period (frames) or frame_interval (seconds), exactly one; got "
                f"period={period!r}, frame_interval={frame_interval!r}."
            )
        self.frames, self.period, self.frame_interval = int(frames), period, frame_interval
        self.clip_stride, self.num_clips, self.frame_rate = int(clip_stride), num_clips, frame_rate

    def period_for(self, dt: float) -> int:
        """Frames between clip frames in a video of time step ``dt`` (seconds)."""
        if self.period is not None:
            return int(self.period)
        return max(1, round(self.frame_interval / dt))

    def training_split(self, videos: Split, seed: int) -> Split:
        """One random clip of each video of ``videos`` (``(N, C, T, H, W)``, spacing ``(dt, dy, dx)``), drawn with
        ``seed``; with ``frame_rate``, each video is resampled to a random frame rate first."""
        from monai.data import MetaTensor
        from monai.utils import MAX_SEED

        from monai_afpe.transforms import SampleClip, image_spacing

        state = np.random.RandomState(seed % MAX_SEED)
        if self.frame_rate is not None:
            self.frame_rate.set_random_state(state=state)
        clips, spacing = [], []
        for video, video_spacing in zip(videos.images, videos.spacing):
            if self.frame_rate is not None:
                affine = torch.diag(torch.cat([video_spacing.double(), torch.ones(1, dtype=torch.float64)]))
                video = self.frame_rate(MetaTensor(video, affine=affine))
                video_spacing = image_spacing(video).float()
            period = self.period_for(float(video_spacing[0]))
            sampler = SampleClip(frames=self.frames, period=period, mode="random").set_random_state(state=state)
            clips.append(_to_uint8(sampler(video)))
            spacing.append(video_spacing * torch.tensor([period, 1.0, 1.0]))
        return Split(torch.stack(clips), videos.targets, torch.stack(spacing))

    def evaluation_split(
        self, videos: Sequence, targets: torch.Tensor, frame_step: int = 1, fps: float | None = None
    ) -> Split:
        """Every evaluation clip of each video MetaTensor of ``videos``, stacked ``(N, clips, C, frames, H, W)``.

        Args:
            videos: video MetaTensors ``(C, T, H, W)`` whose affine holds the time step.
            targets: one target per video.
            frame_step: keep every ``frame_step``-th frame first (the video at ``1 / frame_step`` of its frame rate).
            fps: resample each video to this frame rate first
                (:func:`~monai_afpe.transforms.resample_frame_rate`), or ``None``.

        Raises:
            ValueError: videos that give different numbers of clips.
        """
        from monai_afpe.transforms import SampleClip, image_spacing, resample_frame_rate

        clips, spacing = [], []
        for video in videos:
            if frame_step > 1:  # the same loop recorded at 1 / frame_step of the frame rate
                video = SampleClip(
                    frames=-(-video.shape[1] // frame_step), period=frame_step, mode="all", clip_stride=video.shape[1]
                )(video)[0]
            if fps is not None:
                video = resample_frame_rate(video, fps)
            sampler = SampleClip(
                frames=self.frames,
                period=self.period_for(float(image_spacing(video)[0])),
                mode="all",
                clip_stride=self.clip_stride,
                num_clips=self.num_clips,
            )
            sampled = sampler(video)
            clips.append(_to_uint8(sampled))
            spacing.append(image_spacing(sampled[0]).float())
        counts = {c.shape[0] for c in clips}
        if len(counts) != 1:
            raise ValueError(
                f"echo videos give different numbers of clips {sorted(counts)} (clips every {self.clip_stride} "
                "frames); give data.echo.test_clips (clips per video, spread evenly) or generate videos of one length and "
                "frame rate."
            )
        return Split(torch.stack(clips), targets, torch.stack(spacing), clips=True)


@dataclass
class ExperimentData:
    """Training, validation and test data of one condition (and one preprocessing variant).

    Attributes:
        task: ``"classification"``, ``"multilabel"``, ``"regression"`` or ``"segmentation"``.
        num_outputs: classes (multi-label: labels; segmentation: labels including the background), or 1 for
            regression.
        train: the training split (for videos: whole videos, see :meth:`training_split`).
        validation: the validation split, as evaluated.
        tests: test split per test set name, as evaluated.
        input_size: spatial size of a network input.
        class_names: names of the classes (classification), of the labels (multi-label), or of the labels,
            background first (segmentation).
        target_mean, target_std: of the training targets (regression: the head's bias and scale).
        info: the data folder and the loading (and preprocessing) time per sample, in seconds.
        clip_sampler: for videos: cuts the training clips of each epoch (a :class:`VideoClipSampler`), else ``None``.
    """

    task: str
    num_outputs: int
    train: Split
    validation: Split
    tests: dict[str, Split]
    input_size: tuple[int, ...]
    class_names: tuple[str, ...] = ()
    target_mean: float = 0.0
    target_std: float = 1.0
    info: dict = field(default_factory=dict)
    clip_sampler: Any = None

    def training_split(self, seed: int) -> Split:
        """The training split for one epoch: videos become one random clip each, drawn with ``seed``."""
        if self.clip_sampler is None:
            return self.train
        return self.clip_sampler.training_split(self.train, seed)


def _frame_rate_augmentation(options: Any):
    """The :class:`~monai_afpe.transforms.RandFrameRate` of the echo option ``train_frame_rate`` (``prob`` default 1).

    Raises:
        ValueError: not a mapping of :data:`FRAME_RATE_AUGMENT_KEYS` with ``fps_range``, or invalid values.
    """
    from monai_afpe.transforms import RandFrameRate

    where = "data.echo.train_frame_rate"
    if not isinstance(options, Mapping) or "fps_range" not in options or set(options) - set(FRAME_RATE_AUGMENT_KEYS):
        raise ValueError(
            f"{where}: expected a mapping with fps_range (frames per second) and optionally prob and log_uniform, "
            f"got {options!r}."
        )
    try:
        return RandFrameRate(
            options["fps_range"], log_uniform=bool(options.get("log_uniform", False)), prob=options.get("prob", 1.0)
        )
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None


def _check_echo_options(options: Mapping) -> None:
    """Check the clip options of the echo source (``data.echo``), naming the key, the bad value and what is allowed."""
    if "clip_period" in options and "clip_frame_interval" in options:
        raise ValueError(
            "data.echo: give clip_period (frames between clip frames) or clip_frame_interval (seconds between clip "
            "frames; the period then follows each video's frame rate), not both; got "
            f"clip_period={options['clip_period']!r} and clip_frame_interval={options['clip_frame_interval']!r}."
        )
    if "test_clip_stride" in options and "test_clips" in options:
        raise ValueError(
            "data.echo: give test_clip_stride (frames between the starts of evaluation clips) or test_clips (clips "
            f"per video, spread evenly), not both; got test_clip_stride={options['test_clip_stride']!r} and "
            f"test_clips={options['test_clips']!r}."
        )
    for key, meaning in (
        ("clip_frames", "frames per clip"),
        ("clip_period", "frames between clip frames"),
        ("test_clip_stride", "frames between the starts of evaluation clips"),
        ("test_clips", "evaluation clips per video"),
    ):
        if key in options and not is_positive_int(options[key]):
            raise ValueError(f"data.echo.{key}: expected a positive integer ({meaning}), got {options[key]!r}.")
    interval = options.get("clip_frame_interval")
    if interval is not None and not is_positive_number(interval):
        raise ValueError(
            "data.echo.clip_frame_interval: expected seconds between clip frames, a finite number > 0, got "
            f"{interval!r}."
        )
    if "train_frame_rate" in options:
        _frame_rate_augmentation(options["train_frame_rate"])


def _check_generator_keys(where: str, generator: Any) -> dict:
    """A chest X-ray ``generator`` mapping whose keys are fields of
    :class:`~monai_afpe.data.synthetic.ChestXrayConfig` (its values are checked where the data is generated)."""
    from monai_afpe.data.synthetic.chest_xray import ChestXrayConfig

    allowed = [f.name for f in dataclasses.fields(ChestXrayConfig)]
    if not isinstance(generator, Mapping):
        raise ValueError(
            f"{where}: expected a mapping of ChestXrayConfig options ({', '.join(allowed)}), got {generator!r}."
        )
    unknown = sorted(set(generator) - set(allowed))
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown}; the chest X-ray generator takes {', '.join(allowed)}.")
    return dict(generator)


def _check_chest_xray_options(options: Mapping) -> None:
    """Check the options of the chest X-ray source (``data.chest_xray``), naming the key, the value and what is
    allowed; the generator options are checked by building the generator's configuration."""
    from monai_afpe.data.synthetic.chest_xray import CHEST_XRAY_FORMATS, ChestXrayConfig

    where = "data.chest_xray"
    if "num_samples" in options:
        check_positive_int(options["num_samples"], f"{where}.num_samples", "images")
    if "format" in options and options["format"] not in CHEST_XRAY_FORMATS:
        raise ValueError(
            f"{where}.format: expected one of {', '.join(CHEST_XRAY_FORMATS)} (the files read), got {options['format']!r}."
        )
    if "spatial_size" in options:
        size = options["spatial_size"]
        sizes = list(size) if isinstance(size, Sequence) and not isinstance(size, str) else [size]
        if len(sizes) not in (1, 2) or not all(is_positive_int(v) for v in sizes):
            raise ValueError(
                f"{where}.spatial_size: expected one or 2 positive integers (rows, columns of the network input), "
                f"got {size!r}."
            )
    generator = _check_generator_keys(f"{where}.generator", options.get("generator") or {})
    try:
        ChestXrayConfig(**generator)
    except ValueError as error:
        raise ValueError(f"{where}.generator: {error}") from None


def check_test_set_options(source: str, name: str, options: Mapping) -> None:
    """Check the options of test set ``name`` of data source ``source`` (see :data:`TEST_SET_OPTION_KEYS`).

    Raises:
        ValueError: unknown options; for echo, ``frame_step`` not a positive integer, ``fps`` not a finite
            number > 0, or both given; for chest_xray, generator options the generator does not take.
    """
    unknown = sorted(set(options) - set(TEST_SET_OPTION_KEYS[source]))
    if unknown:
        raise ValueError(
            f"test set {name!r}: unknown options {unknown}; {source} test sets take "
            f"{list(TEST_SET_OPTION_KEYS[source]) or 'no options'}."
        )
    if source == "chest_xray" and "generator" in options:
        _check_generator_keys(f"test set {name!r}: generator", options["generator"])
    if source != "echo":
        return
    if "frame_step" in options:
        check_positive_int(options["frame_step"], f"test set {name!r}: frame_step (keep every n-th frame)")
    if "fps" in options:
        check_positive_number(
            options["fps"], f"test set {name!r}: fps (the frame rate each test video is resampled to)"
        )
    if "frame_step" in options and "fps" in options:
        raise ValueError(
            f"test set {name!r}: give frame_step (keep every n-th frame) or fps (resample to a frame rate), not both."
        )


def source_options(options: Mapping) -> dict:
    """The options of the active source: its sub-mapping ``options[source]`` plus the shared keys.

    Raises:
        ValueError: an unknown source, unknown top-level keys, keys the source does not take, or invalid echo clip
            options (``clip_period`` with ``clip_frame_interval``, ``test_clip_stride`` with ``test_clips``, bad
            values, a bad ``train_frame_rate``), or invalid chest X-ray options (``format``, ``spatial_size``,
            ``num_samples``, ``generator`` keys and values).
    """
    source = look_up_option(options.get("source"), tuple(_SOURCE_KEYS))
    unknown = sorted(set(options) - set(DATA_OPTION_KEYS))
    if unknown:
        raise ValueError(f"data: unknown keys {unknown}; allowed: {', '.join(DATA_OPTION_KEYS)}.")
    specific = dict(options.get(source) or {})
    unknown = sorted(set(specific) - set(_SOURCE_KEYS[source]))
    if unknown:
        raise ValueError(
            f"data.{source}: unknown keys {unknown}; source {source!r} takes {', '.join(_SOURCE_KEYS[source])}."
        )
    if source == "echo" and "anisotropy" in options:
        raise ValueError("data.anisotropy (a slice stride) applies to volumes, not to the echo source.")
    if source == "echo":
        _check_echo_options(specific)
    if source == "chest_xray":
        if "anisotropy" in options:
            raise ValueError(
                "data.anisotropy (a slice stride) applies to volumes, not to the 2D chest_xray source: its pixel "
                "spacing is drawn per image (data.chest_xray.generator.spacing_range)."
            )
        _check_chest_xray_options(specific)
    if source == "ct_segmentation" and "anisotropy" in options:
        raise ValueError(
            "data.anisotropy (a slice stride) is not an option of the ct_segmentation source: it draws the slice "
            "spacing per volume (data.ct_segmentation.generator.slice_spacing_range)."
        )
    return {"source": source, **specific, **{k: options[k] for k in _COMMON_KEYS if k in options}}


def _cache_folder(cache_dir: Path, name: str, arguments: Mapping) -> Path:
    digest = hashlib.sha256(json.dumps(arguments, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return cache_dir / f"{name}-{digest}"


def _stack_items(
    items: list[dict], transform, spacing_key: str = "image_spacing"
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """Apply ``transform`` to every item and stack images, labels (class indices or label maps) and spacing;
    also seconds per item."""
    start = time.perf_counter()
    images, labels, spacing = [], [], []
    for item in items:
        out = transform(item)
        images.append(torch.as_tensor(out["image"]).as_subclass(torch.Tensor).float())
        labels.append(torch.as_tensor(out["label"]).as_subclass(torch.Tensor))
        spacing.append(torch.as_tensor(out[spacing_key], dtype=torch.float32))
    seconds = (time.perf_counter() - start) / max(len(items), 1)
    return torch.stack(images), torch.stack(labels), torch.stack(spacing), seconds


def _resample_transforms(
    resample: Mapping | None,
    spatial_dims: int,
    keys: tuple[str, ...] = ("image",),
    mode: tuple[str, ...] = ("bilinear",),
) -> list:
    """``Spacingd`` to ``resample["spacing"]`` (one interpolation ``mode`` per key) then ``ResizeWithPadOrCropd``
    to ``resample["spatial_size"]``; no transforms for ``None``."""
    from monai.transforms import ResizeWithPadOrCropd, Spacingd

    if resample is None:
        return []
    pixdim = tuple(float(s) for s in ensure_tuple_rep(resample["spacing"], spatial_dims))
    size = tuple(int(s) for s in ensure_tuple_rep(resample["spatial_size"], spatial_dims))
    return [Spacingd(keys, pixdim=pixdim, mode=mode), ResizeWithPadOrCropd(keys, spatial_size=size)]


def _decathlon_reader(label_paths: bool) -> Callable[[Path, str], list[dict]]:
    """``read(datalist, key)``: the items of one key of a Decathlon-style datalist, paths resolved against its
    folder; ``label_paths``: whether labels are files (label maps) or class indices."""
    from monai.data import load_decathlon_datalist

    def read(datalist: Path, key: str) -> list[dict]:
        return load_decathlon_datalist(datalist, label_paths, data_list_key=key, base_dir=datalist.parent)

    return read


def _stacked_splits(
    splits: Sequence[list[dict]], drawn: Mapping[str, list[dict] | None], transform, labels_as: Callable
) -> tuple[Split, Split, dict[str, Split], float]:
    """Train, validation and test sets stacked through ``transform`` (labels converted by ``labels_as``), the
    extra test sets of ``drawn`` (``None``: the test split itself), and the mean load seconds per sample."""

    def split(items: list[dict]) -> tuple[Split, float]:
        images, labels, spacing, seconds = _stack_items(items, transform)
        return Split(images, labels_as(labels), spacing), seconds

    (train, s1), (validation, s2), (test, s3) = (split(items) for items in splits)
    tests = {name: test if items is None else split(items)[0] for name, items in drawn.items()}
    return train, validation, tests, float(np.mean([s1, s2, s3]))


def _generator_arguments(options: Mapping, num_samples: int, **specific) -> dict:
    """The arguments of a synthetic source's generator: ``num_samples`` (default as given), ``seed``,
    ``fractions``, the source's own ``specific`` options, and last the config's ``generator`` mapping, which
    overrides any of them."""
    return {
        "num_samples": int(options.get("num_samples", num_samples)),
        "seed": int(options.get("seed", 0)),
        **specific,
        "fractions": tuple(options.get("fractions", (0.7, 0.15, 0.15))),
        **dict(options.get("generator") or {}),
    }


def _generated_items(
    name: str,
    generate: Callable[..., Any],
    index_file: str,
    read: Callable[[Path, str], list[dict]],
    arguments: dict,
    cache_dir: Path,
    test_sets: Mapping[str, Mapping],
    progress: bool,
) -> tuple[list[list[dict]], dict[str, list[dict] | None], Path]:
    """Items of a generated data set and of its drawn test sets, each generated once into the cache.

    Args:
        name: prefix of the cache folders.
        generate: ``generate(folder, progress=..., **arguments)`` writes the data set and ``index_file``.
        index_file: the file (in the folder) that lists the items and their splits.
        read: ``read(index path, split)`` gives the items of ``"training"``, ``"validation"`` or ``"test"``.
        arguments: the generator's arguments (the cache key), ``seed`` and ``num_samples`` among them.
        cache_dir: the cache folder.
        test_sets: test set name -> options; a test set with options is drawn anew: every volume of a fresh
            data set with those ``generator`` options merged over ``arguments``, ``num_samples`` (default: the
            size of the test split) and ``seed`` (default: the data seed + :data:`SHIFTED_TEST_SEED_OFFSET`).
        progress: show progress bars while generating.

    Returns:
        the items of the training, validation and test splits; per test set its drawn items, or ``None`` for
        the plain test split; the data set's folder.
    """

    def items(arguments: dict, keys: tuple[str, ...]) -> list[dict]:
        folder = _cache_folder(cache_dir, name, arguments)
        index = folder / index_file
        if not index.is_file():
            generate(folder, progress=progress, **arguments)
        return [i for k in keys for i in read(index, k)]

    splits = [items(arguments, (key,)) for key in ("training", "validation", "test")]
    drawn: dict[str, list[dict] | None] = {}
    for test_name, test_options in test_sets.items():
        if not test_options:
            drawn[test_name] = None
            continue
        test_arguments = {
            **arguments,
            "num_samples": int(test_options.get("num_samples", len(splits[2]))),
            "seed": int(test_options.get("seed", arguments["seed"] + SHIFTED_TEST_SEED_OFFSET)),
            **dict(test_options.get("generator") or {}),
        }
        drawn[test_name] = items(test_arguments, ("training", "validation", "test"))
    return splits, drawn, _cache_folder(cache_dir, name, arguments)


def _experiment_data(
    task: str,
    splits: Sequence[list[dict]],
    drawn: Mapping[str, list[dict] | None],
    transform,
    labels_as: Callable,
    class_names: Sequence[str],
    data_dir: Path | str,
    input_size: tuple[int, ...] | None = None,
) -> ExperimentData:
    """The data of a source read item by item: its splits and test sets stacked through ``transform``.

    Args:
        task: the :attr:`ExperimentData.task`.
        splits: the items of the training, validation and test splits, in that order.
        drawn: the test sets, as for :func:`_stacked_splits` (``{"test": None}``: the test split alone).
        transform: the preprocessing of one item.
        labels_as: converts the stacked labels (class indices, label maps or multi-label targets).
        class_names: one name per output; their number is :attr:`ExperimentData.num_outputs`.
        data_dir: the data folder (or file), recorded in :attr:`ExperimentData.info`.
        input_size: spatial size of a network input; None: that of the training images.
    """
    train, validation, tests, seconds = _stacked_splits(splits, drawn, transform, labels_as)
    return ExperimentData(
        task=task,
        num_outputs=len(class_names),
        train=train,
        validation=validation,
        tests=tests,
        input_size=tuple(train.images.shape[2:]) if input_size is None else input_size,
        class_names=tuple(class_names),
        info={"data_dir": str(data_dir), "load_seconds_per_sample": seconds},
    )


def _load_organ_shapes(
    options: dict, cache_dir: Path, resample: Mapping | None, test_sets: Mapping[str, Mapping], progress: bool
) -> ExperimentData:
    from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged, NormalizeIntensityd, ScaleIntensityRanged

    from monai_afpe.data.synthetic import ORGAN_SHAPE_CLASSES, generate_organ_shapes
    from monai_afpe.transforms import ExtractSpacingd

    protocol = options.get("protocol", "stride")
    arguments = _generator_arguments(
        options,
        600,
        protocol=protocol,
        spatial_size=options.get("spatial_size", 32),
        **({"anisotropy": int(options.get("anisotropy", 4))} if protocol == "stride" else {}),
    )
    splits, drawn, folder = _generated_items(
        "organ_shapes",
        generate_organ_shapes,
        "datalist.json",
        _decathlon_reader(False),
        arguments,
        cache_dir,
        test_sets,
        progress,
    )
    low, high = (float(v) for v in options.get("intensity_range", (-100.0, 300.0)))
    transform = Compose(
        [
            LoadImaged("image", image_only=True),
            EnsureChannelFirstd("image"),
            ScaleIntensityRanged("image", a_min=low, a_max=high, b_min=0.0, b_max=1.0, clip=True),
            *_resample_transforms(resample, 3),
            NormalizeIntensityd("image"),
            ExtractSpacingd("image", units_key_postfix=None),
        ]
    )
    return _experiment_data("classification", splits, drawn, transform, lambda y: y.long(), ORGAN_SHAPE_CLASSES, folder)


def _load_ct_segmentation(
    options: dict, cache_dir: Path, resample: Mapping | None, test_sets: Mapping[str, Mapping], progress: bool
) -> ExperimentData:
    from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged, ResizeWithPadOrCropd, ScaleIntensityRanged

    from monai_afpe.data.synthetic.ct_segmentation import CT_SEGMENTATION_LABELS, generate_ct_segmentation
    from monai_afpe.networks.nets.afpe_unetr import UNETR_PATCH_SIZE
    from monai_afpe.transforms import ExtractSpacingd

    arguments = _generator_arguments(
        options, 120, spatial_size=[int(s) for s in ensure_tuple_rep(options.get("spatial_size", (64, 64, 32)), 3)]
    )
    if resample is not None:
        size_key, input_size = "resample.spatial_size", resample["spatial_size"]
    else:
        size_key, input_size = "data.ct_segmentation.input_size", options.get("input_size", arguments["spatial_size"])
    input_size = tuple(int(s) for s in ensure_tuple_rep(input_size, 3))
    if any(s % UNETR_PATCH_SIZE for s in input_size):
        raise ValueError(
            f"{size_key}: the network input size must be a multiple of {UNETR_PATCH_SIZE} (UNETR's patch) per axis, "
            f"got {list(input_size)}."
        )
    splits, drawn, folder = _generated_items(
        "ct_segmentation",
        generate_ct_segmentation,
        "dataset.json",
        _decathlon_reader(True),
        arguments,
        cache_dir,
        test_sets,
        progress,
    )
    low, high = (float(v) for v in options.get("intensity_range", (-175.0, 250.0)))
    keys = ("image", "label")
    transform = Compose(
        [
            LoadImaged(keys, image_only=True),
            EnsureChannelFirstd(keys),
            ScaleIntensityRanged("image", a_min=low, a_max=high, b_min=0.0, b_max=1.0, clip=True),
            *_resample_transforms(resample, 3, keys, ("bilinear", "nearest")),
            ResizeWithPadOrCropd(keys, spatial_size=input_size),
            ExtractSpacingd("image", units_key_postfix=None),
        ]
    )

    class_names = [CT_SEGMENTATION_LABELS[k] for k in sorted(CT_SEGMENTATION_LABELS)]
    return _experiment_data(
        "segmentation", splits, drawn, transform, lambda y: y.round().long(), class_names, folder, input_size
    )


def _load_chest_xray(
    options: dict, cache_dir: Path, resample: Mapping | None, test_sets: Mapping[str, Mapping], progress: bool
) -> ExperimentData:
    from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged, NormalizeIntensityd, Resized

    from monai_afpe.data.adapters.chest_xray import load_chest_xray_csv
    from monai_afpe.data.readers import EnhancedDicomReader, RasterImageReader
    from monai_afpe.data.synthetic.chest_xray import CHEST_XRAY_LABELS, generate_chest_xray
    from monai_afpe.transforms import ExtractSpacingd, SetPixelSpacingd

    image_format = options.get("format", "dicom")
    arguments = _generator_arguments(options, 600, formats=[image_format])
    column = "Path" if image_format == "dicom" else "PNG"

    def read(labels_csv: Path, split: str) -> list[dict]:
        return load_chest_xray_csv(labels_csv, split, image_column=column)

    splits, drawn, folder = _generated_items(
        "chest_xray", generate_chest_xray, "labels.csv", read, arguments, cache_dir, test_sets, progress
    )
    size = tuple(int(s) for s in ensure_tuple_rep(options.get("spatial_size", 64), 2))
    png = image_format == "png"
    transform = Compose(
        [
            LoadImaged(
                "image", reader=RasterImageReader(pixel_spacing=1.0) if png else EnhancedDicomReader(), image_only=True
            ),
            EnsureChannelFirstd("image"),
            *([SetPixelSpacingd("image", spacing_key="pixel_spacing", spatial_axes=(0, 1))] if png else []),
            NormalizeIntensityd("image"),
            *(_resample_transforms(resample, 2) if resample is not None else [Resized("image", size, mode="area")]),
            ExtractSpacingd("image", units_key_postfix=None),
        ]
    )

    return _experiment_data("multilabel", splits, drawn, transform, lambda y: y.float(), CHEST_XRAY_LABELS, folder)


def _load_organmnist3d(options: dict, resample: Mapping | None) -> ExperimentData:
    from monai.transforms import Compose, NormalizeIntensityd, ScaleIntensityRanged

    from monai_afpe.data.adapters.organmnist3d import ORGANMNIST3D_CLASS_NAMES, load_organmnist3d
    from monai_afpe.transforms import ExtractSpacingd

    if not options.get("path"):
        raise ValueError(
            "data source 'organmnist3d' needs data.organmnist3d.path: the organmnist3d(_64).npz file (give --data PATH)."
        )
    transform = Compose(
        [
            ScaleIntensityRanged("image", a_min=0.0, a_max=255.0, b_min=0.0, b_max=1.0, clip=True),
            *_resample_transforms(resample, 3),
            NormalizeIntensityd("image"),
            ExtractSpacingd("image", units_key_postfix=None),
        ]
    )
    limit = options.get("max_samples")
    splits = []
    for split in ("train", "val", "test"):
        items = load_organmnist3d(
            options["path"],
            split,
            anisotropy=int(options.get("anisotropy", 1)),
            spacing=float(options.get("spacing", 1.0)),
        )
        splits.append(items[: int(limit)] if limit else items)
    return _experiment_data(
        "classification",
        splits,
        {"test": None},
        transform,
        lambda y: y.long(),
        ORGANMNIST3D_CLASS_NAMES,
        options["path"],
    )


def _load_echo(options: dict, cache_dir: Path, test_sets: Mapping[str, Mapping], progress: bool) -> ExperimentData:
    from monai.transforms import LoadImage

    from monai_afpe.data.adapters.echonet import load_echonet_datalist
    from monai_afpe.data.readers.video import VideoReader
    from monai_afpe.data.synthetic.echo import generate_echo
    from monai_afpe.transforms import image_spacing

    arguments = _generator_arguments(
        options,
        600,
        frame_size=options.get("frame_size", 32),
        num_frames=int(options.get("num_frames", 128)),
        fps_range=tuple(options.get("fps_range", (48, 52))),
    )
    folder = _cache_folder(cache_dir, "echo", arguments)
    if not (folder / "FileList.csv").is_file():
        generate_echo(folder, progress=progress, **arguments)
    frame_rate = options.get("train_frame_rate")
    sampler = VideoClipSampler(
        frames=int(options.get("clip_frames", 16)),
        period=None if "clip_frame_interval" in options else int(options.get("clip_period", 4)),
        frame_interval=options.get("clip_frame_interval"),
        clip_stride=int(options.get("test_clip_stride", 16)),
        num_clips=options.get("test_clips"),
        frame_rate=None if frame_rate is None else _frame_rate_augmentation(frame_rate),
    )
    loader = LoadImage(image_only=True)

    def read(split: str) -> tuple[list, torch.Tensor]:
        items = load_echonet_datalist(folder, split)
        videos = [
            loader(item["image"], reader=VideoReader(pixel_spacing=item["pixel_spacing"], grayscale=True))
            for item in items
        ]
        return videos, torch.tensor([item["label"] for item in items], dtype=torch.float32)

    start = time.perf_counter()
    train_videos, train_targets = read("train")
    val_videos, val_targets = read("val")
    test_videos, test_targets = read("test")
    load_seconds = (time.perf_counter() - start) / (len(train_videos) + len(val_videos) + len(test_videos))
    train = Split(
        torch.stack([v.as_tensor().to(torch.uint8) for v in train_videos]),
        train_targets,
        torch.stack([image_spacing(v).float() for v in train_videos]),
    )
    tests = {
        name: sampler.evaluation_split(
            test_videos, test_targets, int(test_options.get("frame_step", 1)), test_options.get("fps")
        )
        for name, test_options in test_sets.items()
    }
    validation = sampler.evaluation_split(val_videos, val_targets)
    return ExperimentData(
        task="regression",
        num_outputs=1,
        train=train,
        validation=validation,
        tests=tests,
        input_size=(sampler.frames, *train.images.shape[3:]),
        target_mean=float(train_targets.mean()),
        target_std=float(train_targets.std()),
        info={
            "data_dir": str(folder),
            "load_seconds_per_sample": load_seconds,
        },
        clip_sampler=sampler,
    )


def load_experiment_data(
    options: Mapping,
    cache_dir: Path | str | None = None,
    resample: Mapping | None = None,
    test_sets: Mapping[str, Mapping] | None = None,
    progress: bool = False,
) -> ExperimentData:
    """Build (generate if needed) and load the data of one condition into memory.

    Args:
        options: the config's ``data`` mapping with the condition's overrides merged in: ``source``,
            the shared keys (``seed``, ``anisotropy``) and one sub-mapping per source.
        cache_dir: folder of generated data sets (default :func:`default_cache_dir`).
        resample: ``{spacing, spatial_size}`` to resample every image (and label map) to (``Spacingd`` then
            ``ResizeWithPadOrCropd``), or ``None`` for native resolution (chest radiographs: resized to
            ``spatial_size``). Not for videos.
        test_sets: test set name -> options (see :data:`TEST_SET_OPTION_KEYS`); default one plain ``test``.
        progress: show progress bars while generating data.

    Raises:
        ValueError: unknown source or options that do not apply to it, a missing ``path``.
    """
    options = source_options(options)
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    test_sets = dict(test_sets or {"test": {}})
    source = options["source"]
    for name, test_options in test_sets.items():
        check_test_set_options(source, name, test_options)
    if source == "echo":
        if resample is not None:
            raise ValueError(
                "resample applies to images (organ_shapes, organmnist3d, ct_segmentation, chest_xray), not to echo "
                "videos."
            )
        return _load_echo(options, cache_dir, test_sets, progress)
    if source == "organ_shapes":
        return _load_organ_shapes(options, cache_dir, resample, test_sets, progress)
    if source == "ct_segmentation":
        return _load_ct_segmentation(options, cache_dir, resample, test_sets, progress)
    if source == "chest_xray":
        return _load_chest_xray(options, cache_dir, resample, test_sets, progress)
    data = _load_organmnist3d(options, resample)
    data.tests = {name: data.tests["test"] for name in test_sets}
    return data
