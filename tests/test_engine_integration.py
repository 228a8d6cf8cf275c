"""MONAI engines pass each batch's spacing to the networks through PrepareBatchExtraInput."""

import pytest
import torch
from monai.engines import PrepareBatchExtraInput, SupervisedEvaluator, SupervisedTrainer
from monai.inferers import SimpleInferer, SlidingWindowInferer

PREPARE_BATCH = PrepareBatchExtraInput(extra_keys={"spacing": "image_spacing"})


def ct_batches(num_batches=2, batch=2, size=(16, 16, 8)):
    """Batch dictionaries as a DataLoader over spacing-reading transforms yields them: spacing (B, m) per batch."""
    generator = torch.Generator().manual_seed(0)
    return [
        {
            "image": torch.randn(batch, 1, *size, generator=generator),
            "label": torch.randn(batch, 1, generator=generator),
            "image_spacing": torch.rand(batch, 3, generator=generator, dtype=torch.float64) * 4 + 0.5,
        }
        for _ in range(num_batches)
    ]


@pytest.fixture
def physical_vit(tiny_vit):
    """A tiny regression ViT whose learnable AFPE scales act in physical mode."""
    return tiny_vit(
        1,
        (16, 16, 8),
        (4, 4, 2),
        pos_embed="afpe_learnable_scales",
        pos_embed_kwargs={"mode": "physical", "reference_extent": 50.0},
        num_classes=1,
        task="regression",
    )


def record_spacing(net):
    """The ``spacing`` keyword of every call of ``net``."""
    seen = []
    net.register_forward_pre_hook(lambda module, args, kwargs: seen.append(kwargs.get("spacing")), with_kwargs=True)
    return seen


def test_supervised_trainer_passes_spacing_and_trains_the_encoding(physical_vit):
    net = physical_vit
    seen = record_spacing(net)
    log_scales = net.position_embedding.log_scales.detach().clone()
    batches = ct_batches()
    trainer = SupervisedTrainer(
        device=torch.device("cpu"),
        max_epochs=1,
        train_data_loader=batches,
        network=net,
        optimizer=torch.optim.Adam(net.parameters(), lr=1e-2),
        loss_function=torch.nn.MSELoss(),
        prepare_batch=PREPARE_BATCH,
        decollate=False,
    )
    trainer.run()
    assert trainer.state.iteration == 2 and torch.isfinite(trainer.state.output["loss"])
    assert len(seen) == 2
    for spacing, batch in zip(seen, batches):
        torch.testing.assert_close(spacing, batch["image_spacing"])
    assert not torch.allclose(net.position_embedding.log_scales, log_scales)  # spacing-conditioned scales learned


def test_supervised_evaluator_predicts_with_each_batchs_spacing(physical_vit):
    net = physical_vit.eval()
    seen = record_spacing(net)
    batch = ct_batches(num_batches=1)[0]
    evaluator = SupervisedEvaluator(
        device=torch.device("cpu"),
        val_data_loader=[batch],
        network=net,
        inferer=SimpleInferer(),
        prepare_batch=PREPARE_BATCH,
        decollate=False,
    )
    evaluator.run()
    torch.testing.assert_close(seen[0], batch["image_spacing"])
    with torch.no_grad():
        expected = net(batch["image"], spacing=batch["image_spacing"])
    torch.testing.assert_close(evaluator.state.output["pred"], expected)
    with torch.no_grad():  # the spacing matters: another spacing gives another prediction
        assert not torch.allclose(net(batch["image"], spacing=batch["image_spacing"].flip(0)), expected)


def test_sliding_window_evaluator_passes_spacing_to_every_window(tiny_unetr):
    net = tiny_unetr(
        1, 2, 32, pos_embed="afpe", pos_embed_kwargs={"mode": "physical", "reference_extent": 200.0}
    ).eval()
    seen = record_spacing(net)
    batch = ct_batches(num_batches=1, batch=1, size=(32, 32, 64))[0]
    evaluator = SupervisedEvaluator(
        device=torch.device("cpu"),
        val_data_loader=[batch],
        network=net,
        prepare_batch=PREPARE_BATCH,
        inferer=SlidingWindowInferer(roi_size=32, sw_batch_size=2, overlap=0.0),
        decollate=False,
    )
    evaluator.run()
    assert evaluator.state.output["pred"].shape == (1, 2, 32, 32, 64)
    assert len(seen) == 1 and torch.equal(seen[0], batch["image_spacing"])  # one call holding both windows
    with torch.no_grad():
        left = net(batch["image"][..., :32], spacing=batch["image_spacing"])
    torch.testing.assert_close(evaluator.state.output["pred"][..., :32], left, rtol=1e-4, atol=1e-5)
