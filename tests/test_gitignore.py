"""What the bundles write (training, fine-tuning, evaluation, exports) is ignored by git; their sources are not."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OUTPUTS = [
    "data/datalist.json",
    "data_finetune/FileList.csv",
    "models/model.pt",
    "models/checkpoint_epoch=3.pt",
    "models/.model.pt.0a1b2c3d4e5f.tmp",
    "models/model.ts",
    "models/model.onnx",
    "models/spacing_contract.json",
    "models/finetune/model.pt",
    "models/finetune/checkpoint_epoch=4_iteration=17.pt",
    "models/finetune/.checkpoint_epoch=4.pt.0a1b2c3d4e5f.tmp",
    "models/finetune/spacing_contract.json",
    "eval/metrics.csv",
    "eval/overlays/case_000_overlay.png",
    "eval/finetune/metrics.csv",
    "eval/events.out.tfevents.1.host",
    "runs/events.out.tfevents.1.host",
]
SOURCES = ["configs/train.json", "configs/baselines/sincos.json", "docs/README.md", "LICENSE", "scripts/baselines.sh"]


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs a git checkout")
@pytest.mark.parametrize(
    "bundle", ["afpe_ct_classification", "afpe_cxr_multilabel", "afpe_echo_regression", "afpe_unetr_ct_segmentation"]
)
def test_bundle_outputs_are_ignored_and_sources_are_not(bundle):
    def ignored(paths):
        result = subprocess.run(
            ["git", "check-ignore", "--no-index", *(f"bundles/{bundle}/{p}" for p in paths)],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        return {line.split("/", 2)[2] for line in result.stdout.splitlines()}

    assert ignored(OUTPUTS) == set(OUTPUTS)
    assert ignored(SOURCES) == set()
