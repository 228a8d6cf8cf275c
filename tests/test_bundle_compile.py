"""``--compile true`` in every bundle: each engine's inferer compiles the network, checkpoints stay uncompiled."""

from __future__ import annotations

import pytest
import torch
from bundle_helpers import BUNDLES, bundle_workflow, config_paths, run_workflow
from monai.bundle import ConfigParser

from monai_afpe.commands.report import read_metrics
from monai_afpe.inferers import AutocastInferer, CompiledInferer

INFERERS = {"train.json": ("train#inferer", "validate#inferer"), "inference.json": ("inferer",)}
BUNDLE_NAMES = sorted(path.name for path in BUNDLES.iterdir() if (path / "configs" / "train.json").is_file())


@pytest.mark.parametrize("bundle", BUNDLE_NAMES)
@pytest.mark.parametrize("config", sorted(INFERERS))
@pytest.mark.parametrize("compile_flag", [True, "false"])
def test_compile_switches_every_inferer(bundle, config, compile_flag):
    parser = ConfigParser()
    parser.read_config(config_paths(bundle, config))
    assert parser["compile"] is False  # the default stays eager
    parser["compile"], parser["bf16"] = compile_flag, True
    for key in INFERERS[config]:
        inferer = parser.get_parsed_content(key)
        assert isinstance(inferer, CompiledInferer), (bundle, key)
        assert inferer.enabled is (compile_flag is True)
        assert isinstance(inferer.inferer, AutocastInferer) and inferer.inferer.enabled


@pytest.mark.slow
def test_compiled_ct_training_evaluates_like_eager(tmp_path):
    tiny = {"num_samples": 40, "max_epochs": 1, "batch_size": 8, "hidden_size": 32, "num_layers": 1, "num_heads": 2}
    bundle = "afpe_ct_classification"
    run_workflow(bundle_workflow(bundle, ["train.json"], "train", bundle_root=tmp_path, compile=True, **tiny))
    checkpoint = torch.load(tmp_path / "models" / "model.pt", weights_only=True)
    assert not any("_orig_mod" in key for key in checkpoint)
    metrics = {}
    for flag in (False, True):
        out = tmp_path / f"eval_{flag}"
        run_workflow(
            bundle_workflow(
                bundle,
                ["train.json", "evaluate.json"],
                "infer",
                bundle_root=tmp_path,
                compile=flag,
                output_dir=str(out),
                **tiny,
            )
        )
        metrics[flag] = read_metrics(out / "metrics.csv")
    assert metrics[True].keys() == metrics[False].keys()
    for name, value in metrics[False].items():
        assert metrics[True][name] == pytest.approx(value, abs=1e-3, nan_ok=True), name
