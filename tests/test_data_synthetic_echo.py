"""Synthetic echo: exact EF by construction, ED / ES on frames, nuisances independent of EF, real files."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from monai_afpe.data.synthetic import (
    FILELIST_COLUMNS,
    EchoConfig,
    area_length_volume,
    generate_echo,
    sample_echo,
    sample_rng,
)

av = pytest.importorskip("av")
pydicom = pytest.importorskip("pydicom")


def _mask_volume(mask: np.ndarray, spacing: float) -> float:
    """Area-length volume (mm³) of a rendered cavity mask: area from the pixel count, length from its moments."""
    points = np.argwhere(mask) * spacing
    area = len(points) * spacing**2
    length = 4.0 * math.sqrt(np.linalg.eigvalsh(np.cov(points.T, bias=True))[-1])
    return float(area_length_volume(area, length))


@pytest.fixture(scope="module")
def samples():
    """Loops at both ends of the EF range and in between (default 112 x 112 x 96 frames)."""
    extremes = [sample_echo(sample_rng(9, i), EchoConfig(ef_range=(ef, ef))) for i, ef in enumerate((0.25, 0.75))]
    return extremes + [sample_echo(sample_rng(4, i)) for i in range(6)]


def test_ef_from_the_geometry_is_exact(samples):
    for s in samples:
        volumes = area_length_volume(math.pi * s.lv_length * s.lv_diameter / 4.0, s.lv_length)
        np.testing.assert_allclose(volumes, math.pi * s.lv_length * s.lv_diameter**2 / 6.0, rtol=1e-12)
        edv, esv = volumes[s.ed_frame], volumes[s.es_frame]
        assert abs((edv - esv) / edv - s.ef) < 1e-9
        assert abs(edv / 1000.0 - s.edv) < 1e-9 and abs(esv / 1000.0 - s.esv) < 1e-9
        # ED and ES are the largest and smallest volumes of the whole loop, on sampled frames
        assert volumes.max() == pytest.approx(edv, rel=1e-12) and volumes.min() == pytest.approx(esv, rel=1e-12)
    assert samples[0].ef == 0.25 and samples[1].ef == 0.75


def test_ef_from_rendered_cavity_masks_within_3_points(samples):
    for s in samples:
        volumes = np.array([_mask_volume(mask, s.pixel_spacing) for mask in s.cavity])
        assert abs(1.0 - volumes.min() / volumes.max() - s.ef) < 0.03
        assert abs(volumes[s.ed_frame] / 1000.0 - s.edv) < 0.03 * s.edv


def test_timing_puts_ed_and_es_on_frames(samples):
    for s in samples:
        assert s.period_frames % 2 == 0
        assert (s.es_frame - s.ed_frame) % s.period_frames == s.period_frames // 2
        assert s.heart_rate == pytest.approx(60.0 * s.fps / s.period_frames)
        assert 30 <= s.fps <= 60 and 40 <= s.heart_rate <= 125
        areas = s.cavity.sum(axis=(1, 2))
        for frame in range(s.ed_frame, len(areas), s.period_frames):
            assert areas[frame] == areas.max()


def test_myocardium_thickens_in_systole_and_stays_in_the_sector(samples):
    for s in samples:
        assert s.wall_thickness[s.es_frame] > s.wall_thickness[s.ed_frame]
        assert s.wall_thickness[s.ed_frame] == pytest.approx(s.record["wall_thickness_ed"])
        assert not (s.cavity & ~s.sector).any()
        assert s.video.dtype == np.uint8 and not s.video[:, ~s.sector].any()
        blood = s.video[s.cavity].mean()
        assert blood < 0.5 * s.video[:, s.sector].mean()  # dark blood pool in brighter tissue


def test_nuisances_are_drawn_independently_of_ef():
    low = sample_echo(sample_rng(2, 0), EchoConfig(ef_range=(0.3, 0.3)))
    high = sample_echo(sample_rng(2, 0), EchoConfig(ef_range=(0.7, 0.7)))
    for key, value in low.record.items():
        if key not in ("ef", "esv_ml", "lv_diameter_es"):
            assert high.record[key] == value, key
    assert high.record["ef"] == 0.7 and low.record["ef"] == 0.3


@pytest.mark.parametrize(
    "options, message",
    [
        ({"num_frames": 40}, r"num_frames=40 must exceed the longest heart period \(72 frames"),
        ({"fps_range": (29.5, 60)}, "integer frame rates"),
        ({"ef_range": (0.2, 0.99)}, "ef_range"),
        ({"shortening_range": (0.1, 0.8)}, "shortening_range"),
        ({"frame_size": 8}, "at least 16 pixels"),
    ],
)
def test_config_validation(options, message):
    with pytest.raises(ValueError, match=message):
        EchoConfig(**options)


@pytest.fixture(scope="module")
def echo_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("echo")
    options = {"frame_size": (64, 80), "num_frames": 30, "fps_range": (25, 30), "heart_rate_range": (80, 100)}
    generate_echo(root / "a", num_samples=4, seed=1, write_dicom=True, **options)
    generate_echo(root / "b", num_samples=4, seed=1, write_dicom=True, **options)
    return root, EchoConfig(**options)


def test_files_are_deterministic(echo_dir):
    root, _ = echo_dir
    files = sorted(p.relative_to(root / "a") for p in (root / "a").rglob("*") if p.is_file())
    assert len(files) == 1 + 4 + 4
    for name in files:
        assert (root / "a" / name).read_bytes() == (root / "b" / name).read_bytes(), name


def test_file_list_and_avi_match_the_samples(echo_dir):
    root, config = echo_dir
    with open(root / "a" / "FileList.csv", newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == FILELIST_COLUMNS
        rows = list(reader)
    assert sorted(row["Split"] for row in rows) == ["TEST", "TRAIN", "TRAIN", "VAL"]
    for index, row in enumerate(rows):
        sample = sample_echo(sample_rng(1, index), config)
        assert float(row["EF"]) / 100.0 == pytest.approx(sample.ef, abs=1e-12)
        assert float(row["EDV"]) == sample.edv and float(row["ESV"]) == sample.esv
        assert (int(row["FrameHeight"]), int(row["FrameWidth"]), int(row["NumberOfFrames"])) == (64, 80, 30)
        assert float(row["PixelSpacing"]) == sample.pixel_spacing and int(row["FPS"]) == sample.fps
        with av.open(str(root / "a" / "Videos" / f"{row['FileName']}.avi")) as container:
            stream = container.streams.video[0]
            assert stream.average_rate == sample.fps
            frames = np.stack([frame.to_ndarray(format="gray") for frame in container.decode(stream)])
        np.testing.assert_array_equal(frames, sample.video)  # lossless FFV1


def test_dicom_cine_tags(echo_dir):
    root, config = echo_dir
    sample = sample_echo(sample_rng(1, 0), config)
    ds = pydicom.dcmread(root / "a" / "DICOM" / "Echo0000.dcm")
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.3.1" and ds.Modality == "US"
    assert int(ds.NumberOfFrames) == 30 and (ds.Rows, ds.Columns) == (64, 80)
    assert float(ds.FrameTime) == pytest.approx(1000.0 / sample.fps, rel=1e-9)
    assert ds.FrameIncrementPointer == 0x00181063
    region = ds.SequenceOfUltrasoundRegions[0]
    assert region.RegionSpatialFormat == 1 and region.PhysicalUnitsXDirection == region.PhysicalUnitsYDirection == 3
    assert region.PhysicalDeltaX == region.PhysicalDeltaY == pytest.approx(sample.pixel_spacing / 10.0)
    assert (region.ReferencePixelX0, region.ReferencePixelY0) == (39, 0)  # below the transducer, first row
    assert region.ReferencePixelPhysicalValueY == pytest.approx(0.05 * sample.pixel_spacing)  # pixel centre, cm
    assert region.ReferencePixelPhysicalValueX == pytest.approx(-0.05 * sample.pixel_spacing)  # column 39 of 0..79
    assert 0 <= region.RegionLocationMinX0 <= region.RegionLocationMaxX1 < ds.Columns
    assert 0 <= region.RegionLocationMinY0 <= region.RegionLocationMaxY1 < ds.Rows
    np.testing.assert_array_equal(ds.pixel_array, sample.video)


def test_files_load_through_the_project_readers(echo_dir):
    from monai.transforms import LoadImage

    from monai_afpe.data.readers import UltrasoundCineReader, VideoReader

    root, config = echo_dir
    sample = sample_echo(sample_rng(1, 0), config)
    spacing = (sample.pixel_spacing, sample.pixel_spacing)
    video = LoadImage(reader=VideoReader(pixel_spacing=spacing, grayscale=True), image_only=True)(
        str(root / "a" / "Videos" / "Echo0000.avi")
    )
    cine = LoadImage(reader=UltrasoundCineReader(), image_only=True)(str(root / "a" / "DICOM" / "Echo0000.dcm"))
    for image in (video, cine):
        assert image.shape == (1, 30, 64, 80)
        np.testing.assert_array_equal(image[0].numpy(), sample.video)
        np.testing.assert_allclose(image.pixdim, (1.0 / sample.fps, *spacing), rtol=1e-6)


@pytest.mark.parametrize("codec, tolerance", [("ffv1", 0), ("rawvideo", 0), ("mjpeg", 3)])
def test_avi_codecs_round_trip(tmp_path, codec, tolerance):
    from monai_afpe.data.synthetic.writers import write_avi

    smooth = np.add.outer(np.arange(6) * 20, np.add.outer(np.arange(24) * 4, np.arange(32) * 3)).astype(np.uint8)
    path = write_avi(tmp_path / f"{codec}.avi", smooth, fps=37.5, codec=codec)
    with av.open(str(path)) as container:
        assert container.streams.video[0].average_rate == 37.5
        decoded = np.stack([frame.to_ndarray(format="gray") for frame in container.decode(video=0)])
    assert np.abs(decoded.astype(int) - smooth).mean() <= tolerance
    with pytest.raises(ValueError, match="h265"):
        write_avi(tmp_path / "x.avi", smooth, fps=25, codec="h265")
    with pytest.raises(ValueError, match=r"uint8 array \(frames, height, width\)"):
        write_avi(tmp_path / "x.avi", smooth.astype(np.float32), fps=25)
