"""VideoReader (PyAV): (C, T, H, W), dt from the container's exact frame rate, pixel spacing given or 1 mm."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

av = pytest.importorskip("av")

import torch  # noqa: E402
from monai.data import DataLoader, Dataset  # noqa: E402
from monai.transforms import Compose, LoadImage, LoadImaged  # noqa: E402
from readers_testdata import sample_frames, write_video  # noqa: E402

from monai_afpe.data.readers import ImageMetadataError, VideoReader  # noqa: E402
from monai_afpe.transforms import ComputeAFPEScalesd, ExtractSpacingd, image_spacing  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:.*(nvImageCodec|NvImgCodec).*")

CODECS = [  # (suffix, codec, pixel format, frame rate, lossless)
    ("avi", "mjpeg", "yuvj420p", Fraction(25), False),
    ("avi", "ffv1", "bgr0", Fraction(25), True),
    ("mp4", "mpeg4", "yuv420p", Fraction(30000, 1001), False),
    ("mp4", "libx264", "yuv420p", Fraction(30000, 1001), False),
]


def load(path, reader):
    return LoadImage(reader=reader, image_only=True, ensure_channel_first=True)(str(path))


@pytest.mark.parametrize("suffix, codec, pix_fmt, rate, lossless", CODECS, ids=[f"{c[0]}-{c[1]}" for c in CODECS])
def test_decoded_frames_and_exact_frame_interval(tmp_path, suffix, codec, pix_fmt, rate, lossless):
    if codec not in av.codecs_available:
        pytest.skip(f"the installed PyAV has no {codec} encoder")
    path = tmp_path / f"clip.{suffix}"
    frames = write_video(path, codec, pix_fmt, rate)
    img = load(path, VideoReader(pixel_spacing=(0.3, 0.4)))
    assert img.shape == (3, 8, 32, 48)
    np.testing.assert_allclose(img.affine, np.diag([float(1 / rate), 0.3, 0.4, 1.0]))
    assert img.meta["frame_rate"] == str(rate)
    assert img.meta["spacing_units"] == ("s", "mm", "mm")
    expected = np.moveaxis(frames, -1, 0).astype(np.float32)
    if lossless:
        np.testing.assert_array_equal(img.numpy(), expected)
    else:  # flat blocks survive lossy coding up to a few grey levels
        assert np.median(np.abs(img.numpy() - expected)) <= 2


def test_grayscale_and_loadimaged(tmp_path):
    path = tmp_path / "grey.avi"
    frames = write_video(path, "ffv1", "gray")
    data = LoadImaged(keys="image", reader=VideoReader(pixel_spacing=0.5, grayscale=True))({"image": str(path)})
    img = data["image"]
    assert img.shape == (1, 8, 32, 48)
    np.testing.assert_allclose(image_spacing(img), [0.04, 0.5, 0.5])
    luma = av.VideoFrame.from_ndarray(frames[3], format="rgb24").to_ndarray(format="gray")
    np.testing.assert_array_equal(img[0, 3].numpy(), luma)


def test_unknown_pixel_spacing_defaults_to_1mm_with_a_warning(tmp_path):
    path = tmp_path / "clip.avi"
    write_video(path, "mjpeg", "yuvj420p")
    with pytest.warns(UserWarning, match=r"clip.avi: pixel spacing: unknown in a video file; using 1.0 mm"):
        img = load(path, VideoReader())
    np.testing.assert_allclose(image_spacing(img), [0.04, 1.0, 1.0])


def test_unknown_frame_rate_is_an_error(tmp_path):
    """A one-frame NUT file: the container has no average frame rate."""
    path = tmp_path / "still.nut"
    write_video(path, "ffv1", "bgr0", frames=sample_frames(1))
    with pytest.raises(ImageMetadataError, match=r"still.nut: average_rate \(container frame rate\): unknown"):
        load(path, VideoReader(pixel_spacing=1.0))


def test_single_frame_has_too_few_dimensions(tmp_path):
    path = tmp_path / "still.avi"
    write_video(path, "ffv1", "bgr0", frames=sample_frames(1))
    with pytest.raises(ImageMetadataError, match="still.avi: frames: 1 frame: too few dimensions"):
        load(path, VideoReader(pixel_spacing=1.0))


def test_variable_frame_rate_warns(tmp_path):
    path = tmp_path / "vfr.mkv"
    write_video(path, "ffv1", "bgr0", frames=sample_frames(5), pts=[0, 10, 50, 60, 200])
    with pytest.warns(
        UserWarning, match=r"vfr.mkv: frame timestamps: variable frame rate \(intervals from 0.01 to 0.14 s\)"
    ):
        load(path, VideoReader(pixel_spacing=1.0))


def test_no_video_stream(tmp_path):
    path = tmp_path / "sound.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with pytest.raises(ImageMetadataError, match="sound.mkv: video stream: none in the file"):
        load(path, VideoReader(pixel_spacing=1.0))


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), (0.5, float("inf")), (1.0, 2.0, 3.0)])
def test_bad_pixel_spacing_argument(bad):
    with pytest.raises(ValueError, match="pixel_spacing must be one or 2 finite numbers > 0"):
        VideoReader(pixel_spacing=bad)


def test_verify_suffix():
    reader = VideoReader(pixel_spacing=1.0)
    assert reader.verify_suffix("a.avi") and reader.verify_suffix(["a.mp4", "b.MOV"])
    assert not reader.verify_suffix("a.nii.gz")


def test_batches_of_clips_carry_spacing_and_scales(tmp_path):
    for i in range(2):
        write_video(tmp_path / f"clip{i}.avi", "ffv1", "bgr0")
    transform = Compose(
        [
            LoadImaged(keys="image", reader=VideoReader(pixel_spacing=0.5)),
            ExtractSpacingd(keys="image"),
            ComputeAFPEScalesd(keys="image", patch_size=(2, 8, 8), temporal_axes=(0,), temporal_base_scale=0.8),
        ]
    )
    data = [{"image": str(tmp_path / f"clip{i}.avi")} for i in range(2)]
    batch = next(iter(DataLoader(Dataset(data, transform), batch_size=2)))
    assert batch["image"].shape == (2, 3, 8, 32, 48)
    torch.testing.assert_close(batch["image_spacing"], torch.tensor([[0.04, 0.5, 0.5]] * 2))
    # time alone in its unit group: 0.8; space: extents 3 * 8 * 0.5 = 12 and 5 * 8 * 0.5 = 20 mm
    torch.testing.assert_close(batch["image_scales"], torch.tensor([[0.8, 0.6, 1.0]] * 2))
