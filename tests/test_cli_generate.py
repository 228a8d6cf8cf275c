"""``monai-afpe generate``: each data set from the command line, seeded, deterministic, with clear errors."""

from __future__ import annotations

import csv
import json

import pytest

from monai_afpe.cli import COMMANDS, main


def _files(root):
    return {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_generate_is_registered():
    assert COMMANDS["generate"] == "monai_afpe.commands.generate"


def test_organ_shapes_seeded_and_deterministic(tmp_path, capsys):
    args = ["generate", "organ-shapes", "--num", "12", "--seed", "3", "--quiet"]
    assert main([*args[:2], str(tmp_path / "a"), *args[2:]]) == 0
    out = capsys.readouterr().out
    assert "wrote organ-shapes (seed 3)" in out and "datalist.json" in out and "spacing in mm: in-plane" in out
    assert main([*args[:2], str(tmp_path / "b"), *args[2:]]) == 0
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert main(["generate", "organ-shapes", str(tmp_path / "c"), "--num", "12", "--seed", "4", "--quiet"]) == 0
    assert _files(tmp_path / "a") != _files(tmp_path / "c")
    header = json.loads((tmp_path / "a" / "datalist.json").read_text())
    assert header["seed"] == 3 and header["config"]["protocol"] == "mixed"
    assert header["numTraining"] + header["numValidation"] + header["numTest"] == 12


def test_organ_shapes_stride_protocol(tmp_path, capsys):
    argv = ["generate", "organ-shapes", str(tmp_path), "--num", "6", "--protocol", "stride", "--anisotropy", "8"]
    with pytest.raises(SystemExit, match=r"does not fit in 16x16x16 voxels of 1 x 1 x 1 mm with one voxel to spare"):
        main([*argv, "--size", "16", "--quiet"])
    assert main([*argv, "--size", "16", "--radius", "2.5", "3", "--masks", "--quiet", "--force"]) == 0
    header = json.loads((tmp_path / "datalist.json").read_text())
    assert header["output_shape"] == [16, 16, 2] and header["config"]["anisotropy"] == 8
    assert header["config"]["radius_range"] == [2.5, 3.0]
    assert "slice 8" in capsys.readouterr().out
    assert len(list((tmp_path / "masks").iterdir())) == 6


def test_ct_segmentation_and_echo(tmp_path, capsys):
    assert (
        main(["generate", "ct-segmentation", str(tmp_path / "seg"), "--num", "3", "--size", "32", "32", "8", "--quiet"])
        == 0
    )
    assert json.loads((tmp_path / "seg" / "dataset.json").read_text())["numTraining"] == 1
    argv = ["generate", "echo", str(tmp_path / "echo"), "--num", "3", "--frame-size", "32", "--frames", "80"]
    assert main([*argv, "--dicom", "--codec", "mjpeg", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "videos: 1 TRAIN, 1 VAL, 1 TEST" in out and "pixel size" in out
    with open(tmp_path / "echo" / "FileList.csv", newline="") as f:
        names = [row["FileName"] for row in csv.DictReader(f)]
    assert sorted(p.stem for p in (tmp_path / "echo" / "Videos").iterdir()) == names
    assert sorted(p.stem for p in (tmp_path / "echo" / "DICOM").iterdir()) == names


def test_errors(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    with pytest.raises(SystemExit, match="is not empty; choose another folder or pass --force"):
        main(["generate", "organ-shapes", str(tmp_path / "full"), "--num", "6", "--quiet"])
    assert main(["generate", "organ-shapes", str(tmp_path / "full"), "--num", "6", "--quiet", "--force"]) == 0
    with pytest.raises(SystemExit, match="anisotropy=3 applies to protocol 'stride' only"):
        main(["generate", "organ-shapes", str(tmp_path / "m"), "--anisotropy", "3", "--quiet"])
    with pytest.raises(SystemExit, match=r"--size takes 1 or 3 values, got \[32, 32\]"):
        main(["generate", "organ-shapes", str(tmp_path / "s"), "--size", "32", "32", "--quiet"])
    with pytest.raises(SystemExit, match=r"num_frames=20 must exceed the longest heart period"):
        main(["generate", "echo", str(tmp_path / "e"), "--frames", "20", "--quiet"])
    with pytest.raises(SystemExit):  # argparse rejects an unknown data set
        main(["generate", "mri", str(tmp_path / "x")])
