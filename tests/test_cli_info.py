"""``monai-afpe info``: shape, spacing with units, orientation and AFPE scales; one-line errors on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from readers_testdata import (
    CT5N,
    FUNCTIONAL,
    UNSET,
    US_CINE,
    write_series,
    write_slice,
    write_us_cine,
    write_us_image,
    write_video,
)

from monai_afpe.cli import main

pytestmark = pytest.mark.filterwarnings("ignore:.*(nvImageCodec|NvImgCodec).*")

CT5N_SPACING = [0.488281, 0.488281, 2.5]


def info(capsys, *args):
    code = main(["info", *(str(a) for a in args)])
    out, err = capsys.readouterr()
    return code, out, err


def records(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def test_ct5n_series_json(capsys):
    code, out, err = info(capsys, CT5N, "--json")
    assert code == 0 and err == ""
    (record,) = records(out)
    assert {"path", "shape", "spacing", "units", "scales"} <= record.keys()
    assert record["path"] == str(CT5N) and record["shape"] == [1, 16, 16, 5]
    assert record["spacing"] == pytest.approx(CT5N_SPACING)
    assert record["units"] == ["mm", "mm", "mm"] and record["orientation"] == "LPI"
    # physical policy, one token per voxel: extents 15 * 0.488281, 15 * 0.488281 and 4 * 2.5 mm
    assert record["scales"] == pytest.approx([15 * 0.488281 / 10, 15 * 0.488281 / 10, 1.0], rel=1e-6)


def test_nifti_with_policy_and_patch_size(capsys):
    code, out, _ = info(capsys, FUNCTIONAL, "--json", "--policy", "resolution", "--base-scale", "0.5")
    (record,) = records(out)
    assert code == 0 and record["spacing"] == [4.0, 4.0, 8.0] and record["orientation"] == "LAS"
    assert record["shape"] == [20, 17, 21, 3] and record["scales"] == pytest.approx([0.5, 0.5, 0.25])
    code, out, _ = info(capsys, FUNCTIONAL, "--json", "--policy", "fixed", "--scales", "1", "2", "3")
    assert records(out)[0]["scales"] == [1.0, 2.0, 3.0]


def test_ultrasound_cine_time_axis_in_seconds(capsys):
    code, out, err = info(capsys, US_CINE, "--json", "--temporal-base-scale", "0.8", "--patch-size", "2", "16", "16")
    (record,) = records(out)
    assert code == 0 and record["spatial_shape"] == [30, 240, 320]
    assert record["spacing"] == pytest.approx([0.033333, 0.510497056, 0.510497056])
    assert record["units"] == ["s", "mm", "mm"] and record["orientation"] is None
    # time alone in its unit group gets the temporal base scale; space: extents 14 and 19 patches of 16
    assert record["scales"] == pytest.approx([0.8, 14 / 19, 1.0], rel=1e-6)
    assert err.count("\n") == 1 and "warning:" in err and "outside the 320 x 240 image" in err


def test_time_axis_without_temporal_base_scale_gives_no_scales(capsys):
    code, out, err = info(capsys, US_CINE, "--json")
    assert code == 0 and records(out)[0]["scales"] is None
    assert "scales: not derived: the time axis needs --temporal-base-scale" in err


def test_video_with_pixel_spacing(tmp_path, capsys):
    pytest.importorskip("av")
    write_video(tmp_path / "clip.mp4", "mpeg4", "yuv420p", rate=Fraction(30000, 1001))
    args = ["--json", "--pixel-spacing", "0.5", "--temporal-base-scale", "0.7"]
    code, out, err = info(capsys, tmp_path / "clip.mp4", *args)
    (record,) = records(out)
    assert code == 0 and err == ""
    assert record["shape"] == [3, 8, 32, 48] and record["spacing"] == pytest.approx([1001 / 30000, 0.5, 0.5])
    assert record["scales"] == pytest.approx([0.7, 31 / 47, 1.0], rel=1e-6)


def test_human_readable_table(capsys):
    code, out, _ = info(capsys, CT5N, FUNCTIONAL)
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3
    assert lines[0].split() == ["PATH", "SHAPE", "(C,", "...)", "SPACING", "ORIENTATION", "SCALES"]
    assert "(1, 16, 16, 5)" in lines[1] and "0.488281, 0.488281, 2.5 mm" in lines[1] and "LPI" in lines[1]
    assert "4, 4, 8 mm" in lines[2] and "LAS" in lines[2]


def test_ultrasound_still_image_in_the_table(tmp_path, capsys):
    """A single-frame ultrasound image: pixel size from its regions, no patient axes (more in test_readers_hospital_exports)."""
    code, out, err = info(capsys, write_us_image(tmp_path / "us.dcm"))
    lines = out.splitlines()
    assert code == 0 and err == "" and len(lines) == 2
    assert "(1, 8, 10)" in lines[1] and "0.3, 0.4 mm" in lines[1] and "n/a (no patient axes)" in lines[1]


def _uneven_series(tmp_path: Path) -> Path:
    write_series(tmp_path / "uneven", [0.0, 2.0, 4.0, 7.0])
    return tmp_path / "uneven"


def _no_pixel_spacing(tmp_path: Path) -> Path:
    return write_slice(tmp_path / "nospacing.dcm", pixel_spacing=UNSET)


def _no_frame_time(tmp_path: Path) -> Path:
    return write_us_cine(tmp_path / "notime.dcm", timing={})


@pytest.mark.parametrize(
    "make, extra, field",
    [
        (_uneven_series, [], "ImagePositionPatient (0020,0032): slice positions are not uniformly spaced"),
        (_no_pixel_spacing, [], "PixelSpacing (0028,0030): missing"),
        (_no_frame_time, [], "FrameTime (0018,1063)"),
        (lambda tmp_path: tmp_path / "absent.nii.gz", [], "no such file or folder"),
        (lambda tmp_path: CT5N, ["--patch-size", "8", "8", "8"], "smaller than patch_size"),
    ],
    ids=["uneven-series", "no-pixel-spacing", "no-frame-time", "missing-file", "smaller-than-patch"],
)
def test_bad_input_gives_one_line_naming_file_and_field(tmp_path, capsys, make, extra, field):
    path = make(tmp_path)
    code, out, err = info(capsys, path, *extra)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("monai-afpe info: error: ")
    assert str(path) in err and field in err and "Traceback" not in err


def test_good_paths_are_reported_when_others_fail(tmp_path, capsys):
    code, out, err = info(capsys, tmp_path / "absent.nii", CT5N, "--json")
    assert code == 1 and records(out)[0]["spacing"] == pytest.approx(CT5N_SPACING)
    assert err.strip() == f"monai-afpe info: error: {tmp_path / 'absent.nii'}: no such file or folder"


def test_bad_options_exit_2_with_one_line(capsys):
    code, out, err = info(capsys, CT5N, "--policy", "isotropic")
    assert code == 2 and out == "" and err.count("\n") == 1 and "policy" in err and "isotropic" in err


@pytest.mark.slow
def test_console_script_done_criterion():
    """The installed ``monai-afpe`` command: CT5N, functional.nii and the 30-frame echo cine."""
    script = Path(sys.executable).parent / "monai-afpe"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "monai_afpe.cli"]
    args = ["info", str(CT5N), str(FUNCTIONAL), str(US_CINE), "--json", "--temporal-base-scale", "0.5"]
    result = subprocess.run(command + args, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    ct, nifti, cine = records(result.stdout)
    assert ct["spacing"] == pytest.approx(CT5N_SPACING) and nifti["spacing"] == [4.0, 4.0, 8.0]
    assert cine["spatial_shape"][0] == 30 and cine["spacing"][0] == pytest.approx(0.033333) and cine["units"][0] == "s"
