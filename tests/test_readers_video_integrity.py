"""VideoReader: a video cut short decodes to fewer frames than its container declares, and that is an error.

FFmpeg drops the frames it cannot decode without an error, so an AVI cut in half used to load as a
shorter clip and train silently. The files are real: the synthetic echo generator's AVI (96 frames,
lossless FFV1) and PyAV-written MJPEG / MP4 / Matroska files.
"""

from __future__ import annotations

import re
import warnings

import pytest

av = pytest.importorskip("av")

from monai.transforms import LoadImage  # noqa: E402
from readers_testdata import write_video  # noqa: E402

from monai_afpe.data.readers import FRAME_COUNT_MISMATCH, ImageMetadataError, VideoReader  # noqa: E402
from monai_afpe.data.synthetic import generate_echo  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:.*(nvImageCodec|NvImgCodec).*")


@pytest.fixture(scope="module")
def echo_video(tmp_path_factory):
    """One synthetic echo AVI of 96 frames (32 x 32 pixels)."""
    root = tmp_path_factory.mktemp("echo_video")
    generate_echo(root, num_samples=1, seed=0, frame_size=32)
    return next((root / "Videos").glob("*.avi"))


def cut(source, target, fraction):
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * fraction)])
    return target


def load(path, **options):
    return LoadImage(reader=VideoReader(pixel_spacing=1.0, grayscale=True, **options), image_only=True)(str(path))


def test_intact_video_declares_and_decodes_the_same_frames(echo_video):
    video = VideoReader(pixel_spacing=1.0, grayscale=True).read(str(echo_video))
    assert video.declared_frames == len(video.frames) == 96
    assert load(echo_video).shape == (1, 96, 32, 32)


def test_avi_cut_in_half_is_an_error_naming_the_file_and_both_counts(echo_video, tmp_path):
    half = cut(echo_video, tmp_path / "half.avi", 0.5)
    with pytest.raises(ImageMetadataError) as error:
        load(half)
    match = re.fullmatch(
        re.escape(f"{half}: frames: declared 96 (container header), decoded ")
        + r"(\d+)"
        + re.escape(": the file is truncated or damaged"),
        str(error.value),
    )
    assert match is not None, str(error.value)
    assert 0 < int(match.group(1)) < 96
    assert error.value.source == str(half) and error.value.field == "frames"


def test_frame_count_mismatch_warn_keeps_the_decoded_frames(echo_video, tmp_path):
    half = cut(echo_video, tmp_path / "half.avi", 0.5)
    with pytest.warns(
        UserWarning, match=r"half\.avi: frames: declared 96 \(container header\), decoded \d+; using the \d+"
    ):
        img = load(half, frame_count_mismatch="warn")
    assert 0 < img.shape[1] < 96


def test_unknown_frame_count_policy_is_refused():
    assert FRAME_COUNT_MISMATCH == ("error", "warn")
    with pytest.raises(ValueError, match=r"Unsupported option 'ignore'"):
        VideoReader(frame_count_mismatch="ignore")


@pytest.mark.parametrize(
    "suffix, codec, pix_fmt, declared",
    [("avi", "mjpeg", "yuvj420p", 8), ("mp4", "mpeg4", "yuv420p", 8), ("mkv", "ffv1", "bgr0", None)],
)
def test_containers_with_and_without_a_declared_count(tmp_path, suffix, codec, pix_fmt, declared):
    """AVI and MP4 headers state the count; Matroska does not, and is read without the check."""
    path = tmp_path / f"clip.{suffix}"
    write_video(path, codec, pix_fmt)
    reader = VideoReader(pixel_spacing=1.0)
    video = reader.read(str(path))
    assert video.declared_frames == declared and len(video.frames) == 8
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no frame-count warning or error for an intact file
        array, _ = reader.get_data(video)
    assert array.shape == (3, 8, 32, 48)
