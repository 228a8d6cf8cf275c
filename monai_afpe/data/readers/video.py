"""A MONAI ``ImageReader`` for video files (AVI, MP4, ...) decoded with PyAV: ``(C, T, H, W)`` with ``(dt, dy, dx)``.

PyAV (FFmpeg's libraries) rather than OpenCV: it reports the container's frame rate as an exact
rational (30000/1001, not 29.97002997) and each frame's presentation timestamp, so ``dt`` is exact and
variable frame rates can be detected; it also writes videos (the tests make their own files) and needs
no GUI libraries. A video has no physical pixel size, so it must be given (``pixel_spacing``) or
defaults to 1 mm with a warning; AFPE (arXiv 2509.02488) then treats time (s) and space (mm) as
separate unit groups.

A file cut short still decodes, to fewer frames, without an error from FFmpeg: the number of frames
decoded is compared with the number the container declares (AVI and MP4 headers state it), and a
difference is an error (or, with ``frame_count_mismatch="warn"``, a warning).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from monai.config import PathLike
from monai.data.utils import is_supported_format
from monai.utils import ensure_tuple, look_up_option, optional_import, require_pkg

from monai_afpe.data.readers.reader_base import ChannelStackReader, cine_metadata
from monai_afpe.data.readers.validation import ImageMetadataError
from monai_afpe.validation import check_per_axis

av, has_av = optional_import("av")

__all__ = ["FRAME_COUNT_MISMATCH", "VIDEO_SUFFIXES", "DecodedVideo", "VideoReader"]

VIDEO_SUFFIXES = ("avi", "mp4", "mov", "m4v", "mkv", "webm")
"""File suffixes :meth:`VideoReader.verify_suffix` accepts."""

FRAME_COUNT_MISMATCH = ("error", "warn")
"""What :class:`VideoReader` does when the decoded frames are fewer or more than the container declares."""


@dataclass(frozen=True)
class DecodedVideo:
    """The frames and timing of a video's first video stream, as decoded by :meth:`VideoReader.read`.

    Args:
        filename: the file.
        frames: ``(T, H, W, C)`` uint8 frames (``C`` = 3 for RGB, 1 for grey); ``None`` without a video stream.
        average_rate: the container's average frame rate (frames/s), ``None`` when it does not know it.
        times: presentation time (s) of each frame, ``None`` where the frame has no timestamp.
        time_base: the stream's time base (s), the resolution of ``times``.
        declared_frames: the number of frames the container declares (``nb_frames`` of the stream
            header), ``None`` when it does not say (e.g. Matroska / WebM).
    """

    filename: str
    frames: np.ndarray | None
    average_rate: Fraction | None
    times: tuple[float | None, ...]
    time_base: Fraction | None
    declared_frames: int | None = None


@require_pkg(pkg_name="av")
class VideoReader(ChannelStackReader):
    """Load a video as a channel-first ``(C, T, H, W)`` array with affine ``diag(dt, dy, dx, 1)``.

    ``dt = 1 / average frame rate`` of the container, in seconds (an error when the container does not
    know its frame rate; a warning when the frames' timestamps show a variable frame rate).
    ``(dy, dx)`` is ``pixel_spacing`` in mm; a video has no physical pixel size, so without it 1.0 mm is
    used and a warning says so. ``meta["spacing_units"]`` is ``("s", "mm", "mm")``, ``meta["frame_rate"]``
    the exact rate as a string (e.g. ``"30000/1001"``). The affine is not a patient (RAS) affine: do not
    apply orientation transforms to videos.

    Usable with MONAI's loader: ``LoadImaged(keys="image", reader=VideoReader(pixel_spacing=0.5))``.
    All frames are decoded into memory (uint8). Several files are concatenated along the channel axis.

    A truncated or damaged file decodes to fewer frames than its container declares (FFmpeg drops what
    it cannot decode without an error): that difference raises :class:`ImageMetadataError` naming the
    file and both counts, or, with ``frame_count_mismatch="warn"``, warns and keeps the decoded frames.
    Containers that declare no count (Matroska, WebM) are not checked.

    Args:
        pixel_spacing: ``(dy, dx)`` or one value, in mm; ``None`` uses 1.0 mm with a warning.
        grayscale: decode to one grey channel instead of three RGB channels.
        frame_count_mismatch: ``"error"`` or ``"warn"`` when the decoded frame count differs from the
            container's declared count.
        kwargs: passed to ``av.open``.

    Raises:
        ImageMetadataError: from ``get_data``, naming the file and the field: no video stream, no
            frames, an unknown or zero frame rate, a decoded frame count other than the declared one.
        ValueError: an unknown ``frame_count_mismatch``.
    """

    def __init__(
        self,
        pixel_spacing: Sequence[float] | float | None = None,
        grayscale: bool = False,
        frame_count_mismatch: str = "error",
        **kwargs,
    ):
        super().__init__()
        self.pixel_spacing = None if pixel_spacing is None else check_per_axis(pixel_spacing, 2, "pixel_spacing")
        self.grayscale = grayscale
        self.frame_count_mismatch = look_up_option(frame_count_mismatch, FRAME_COUNT_MISMATCH)
        self.kwargs = kwargs

    def verify_suffix(self, filename: Sequence[PathLike] | PathLike) -> bool:
        """Whether PyAV is installed and every name has one of :data:`VIDEO_SUFFIXES`."""
        return has_av and is_supported_format(filename, VIDEO_SUFFIXES)

    def read(self, data: Sequence[PathLike] | PathLike, **kwargs):
        """Decode the first video stream of each file into a :class:`DecodedVideo` (a list for several files).

        Raises:
            ImageMetadataError: FFmpeg cannot open or decode the file (empty, not a video, cut inside a frame),
                naming the file (field ``file``) and FFmpeg's reason.
        """
        videos = [self._decode(str(name), {**self.kwargs, **kwargs}) for name in ensure_tuple(data)]
        return videos if len(videos) > 1 else videos[0]

    def _decode(self, filename: str, options: dict) -> DecodedVideo:
        try:
            return self._decode_frames(filename, options)
        except av.error.FFmpegError as error:  # its message names an FFmpeg function, not always the file
            reason = error.strerror or str(error)
            raise ImageMetadataError(
                filename, "file", f"FFmpeg cannot open or decode it ({reason}): not a video, or truncated or damaged"
            ) from error

    def _decode_frames(self, filename: str, options: dict) -> DecodedVideo:
        with av.open(filename, **options) as container:
            if not container.streams.video:
                return DecodedVideo(filename, None, None, (), None)
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            frames, times = [], []
            for frame in container.decode(stream):
                array = frame.to_ndarray(format="gray" if self.grayscale else "rgb24")
                frames.append(array[..., None] if self.grayscale else array)
                times.append(frame.time)
            stacked = np.stack(frames) if frames else np.zeros((0, 0, 0, 1 if self.grayscale else 3), np.uint8)
            declared = int(stream.frames or 0) or None
            return DecodedVideo(filename, stacked, stream.average_rate, tuple(times), stream.time_base, declared)

    def get_one(self, img: DecodedVideo, index: int) -> tuple[np.ndarray, dict]:
        """``(C, T, H, W)`` array and metadata of one video (``index`` is not used: the video knows its file)."""
        dt = self._frame_interval(img)
        self._check_frame_count(img)
        if self.pixel_spacing is None:
            warnings.warn(
                f"{img.filename}: pixel spacing: unknown in a video file; using 1.0 mm "
                "(give VideoReader(pixel_spacing=...) the true size)",
                stacklevel=3,
            )
        dy, dx = self.pixel_spacing or (1.0, 1.0)
        array = np.moveaxis(img.frames, -1, 0)  # (C, T, H, W)
        return array, cine_metadata(dt, dy, dx, array.shape[1:], frame_rate=str(img.average_rate))

    def _check_frame_count(self, video: DecodedVideo) -> None:
        """Raise (or warn) when the decoded frames are not as many as the container declares."""
        decoded, declared = len(video.frames), video.declared_frames
        if declared is None or decoded == declared:
            return
        field, problem = "frames", f"declared {declared} (container header), decoded {decoded}"
        if self.frame_count_mismatch == "warn":
            warnings.warn(f"{video.filename}: {field}: {problem}; using the {decoded} decoded frames", stacklevel=4)
            return
        raise ImageMetadataError(video.filename, field, f"{problem}: the file is truncated or damaged")

    @staticmethod
    def _frame_interval(video: DecodedVideo) -> float:
        """``1 / average rate`` in seconds, after checking the stream, the frames and the rate."""
        if video.frames is None:
            raise ImageMetadataError(video.filename, "video stream", "none in the file")
        if len(video.frames) == 0:
            raise ImageMetadataError(video.filename, "video stream", "no frame could be decoded")
        rate = video.average_rate
        if rate is None or rate <= 0:
            raise ImageMetadataError(
                video.filename,
                "average_rate (container frame rate)",
                f"unknown ({rate}): the time between frames is unknown",
            )
        dt = float(1 / rate)
        if len(video.frames) < 2:
            raise ImageMetadataError(
                video.filename, "frames", "1 frame: too few dimensions for a video (T, H, W); at least 2 are needed"
            )
        if None not in video.times:
            intervals = np.diff(video.times)
            slack = max(0.01 * dt, float(video.time_base or 0))
            if np.abs(intervals - dt).max() > slack:
                warnings.warn(
                    f"{video.filename}: frame timestamps: variable frame rate (intervals from {intervals.min():.6g} "
                    f"to {intervals.max():.6g} s); using dt = 1 / average rate "
                    f"= {dt:.6g} s",
                    stacklevel=4,
                )
        return dt
