"""What the four bundles log and how their multi-GPU runs end, read from their configs: the same choices everywhere
(runs are in the bundle tests)."""

import pytest
from bundle_helpers import config_paths
from monai.bundle import ConfigParser

BUNDLES = ["afpe_ct_classification", "afpe_cxr_multilabel", "afpe_echo_regression", "afpe_unetr_ct_segmentation"]


def parsed(bundle: str, *configs: str) -> ConfigParser:
    parser = ConfigParser()
    parser.read_config(config_paths(bundle, *configs))
    return parser


def targets(handlers: list[dict]) -> list[str]:
    return [handler["_target_"] for handler in handlers]


@pytest.mark.parametrize("bundle", BUNDLES)
def test_training_logs_loss_and_learning_rate_to_console_and_tensorboard(bundle):
    train = parsed(bundle, "train.json")
    values = train.get("train#log_values")
    assert "'train_loss':" in values and "'lr': @optimizer.param_groups[0]['lr']" in values
    handlers = train.get("train#handlers")
    stats, board = (
        next(h for h in handlers if h["_target_"] == name) for name in ("StatsHandler", "TensorBoardStatsHandler")
    )
    assert stats["output_transform"] == board["output_transform"] == "@train#log_values"
    assert stats["iteration_log"] == "$lambda engine, iteration: iteration % @log_interval == 0"
    assert train.get("log_interval") == 20
    assert board["_disabled_"] == "$not monai.utils.optional_import('torch.utils.tensorboard')[1]"
    # the scheduler steps after the loggers, so the learning rate logged is the one the iteration used
    assert targets(handlers)[-1] == "LrScheduleHandler"


@pytest.mark.parametrize("bundle", BUNDLES)
def test_validation_and_evaluation_explain_odd_metrics_and_evaluation_shows_progress(bundle):
    assert "monai_afpe.handlers.MetricNotes" in targets(parsed(bundle, "train.json").get("validate#handlers"))
    evaluate = targets(parsed(bundle, "train.json", "evaluate.json").get("validate#handlers"))
    assert "monai_afpe.handlers.MetricNotes" in evaluate and "ignite.handlers.ProgressBar" in evaluate


def test_segmentation_images_in_tensorboard_and_overlays_at_evaluation():
    validate = parsed("afpe_unetr_ct_segmentation", "train.json").get("validate#handlers")
    (images,) = [h for h in validate if h["_target_"] == "TensorBoardImageHandler"]
    assert images["_disabled_"] == "$not monai.utils.optional_import('torch.utils.tensorboard')[1]"
    evaluate = parsed("afpe_unetr_ct_segmentation", "train.json", "evaluate.json")
    (overlays,) = [h for h in evaluate.get("validate#handlers") if "SegmentationOverlaySaver" in h["_target_"]]
    assert overlays["_disabled_"] == "$not monai.utils.optional_import('matplotlib')[1]"
    assert evaluate.get("overlay_images") == 3


def test_multi_gpu_configs_log_on_rank_0_only_and_alike():
    """Rank 0 logs (StatsHandler, TensorBoard, progress bars, INFO messages); other ranks keep what must run on
    every rank (the scheduler, validation, MetricsSaver's gathering) and their warnings."""
    configs = {bundle: parsed(bundle, "train.json", "multi_gpu_train.json") for bundle in BUNDLES}
    for bundle, config in configs.items():
        assert config.get("rank") == "$dist.get_rank()", bundle
        assert config.get("train#trainer#train_handlers") == (
            "$@train#handlers if @rank == 0 else [h for h in @train#handlers if "
            "isinstance(h, (monai.handlers.LrScheduleHandler, monai.handlers.ValidationHandler))]"
        ), bundle
        assert config.get("validate#evaluator#val_handlers") == (
            "$@validate#handlers if @rank == 0 else "
            "[h for h in @validate#handlers if isinstance(h, monai.handlers.MetricsSaver)]"
        ), bundle
        assert "$logging.disable(logging.INFO) if dist.get_rank() > 0 else None" in config.get("initialize"), bundle
        assert {"$import logging", "$import torch.distributed as dist"} <= set(config.get("imports")), bundle
        assert config.get("train#dataset#progress") == "$@rank == 0", bundle
        assert config.get("validate#dataset").get("progress", True) in (False, "$@rank == 0"), bundle


@pytest.mark.parametrize("bundle", BUNDLES)
@pytest.mark.parametrize("workflow", ["train", "evaluate"])
def test_multi_gpu_ranks_meet_before_the_process_group_is_destroyed(bundle, workflow):
    """A rank that destroys its gloo group while another still works can abort at exit (SIGABRT, "terminate called
    without an active exception"): every rank waits at a barrier first, and destroying is the last step."""
    configs = ["train.json"] + (["evaluate.json"] if workflow == "evaluate" else []) + [f"multi_gpu_{workflow}.json"]
    finalize = parsed(bundle, *configs).get("finalize")
    assert finalize[-2:] == [
        "$dist.is_initialized() and dist.barrier()",
        "$dist.is_initialized() and dist.destroy_process_group()",
    ], bundle
