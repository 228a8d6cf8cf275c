"""AutocastInferer: bfloat16 compute on CPU inside MONAI engines, float32 outputs, a switch that changes nothing."""

import logging

import pytest
import torch
from monai.engines import SupervisedTrainer
from monai.inferers import SimpleInferer

from monai_afpe.inferers import AutocastInferer, ClipAveragingInferer, computes_natively_in


def _matmul_dtypes(net):
    seen = []
    for module in net.modules():
        if isinstance(module, torch.nn.Linear):
            module.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    return seen


def test_network_runs_in_bfloat16_and_outputs_come_back_float32(tiny_vit):
    torch.manual_seed(0)
    net = tiny_vit(1, 16, 8, num_classes=3).eval()
    x, spacing = torch.randn(2, 1, 16, 16, 16), torch.tensor([[1.0, 1.0, 3.0], [0.8, 0.8, 5.0]])
    seen = _matmul_dtypes(net)
    with torch.no_grad():
        reference = SimpleInferer()(x, net, spacing=spacing)
        assert set(seen) == {torch.float32}
        seen.clear()
        out = AutocastInferer()(x, net, spacing=spacing)
    assert set(seen) == {torch.bfloat16}
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, reference, atol=0.1, rtol=0.05)
    assert not torch.equal(out, reference)  # it did compute in bfloat16


def test_disabled_is_the_wrapped_inferer_exactly_and_clip_averaging_is_wrapped(tiny_vit):
    torch.manual_seed(0)
    net = tiny_vit(1, 16, 8, num_classes=1, task="regression").eval()
    clips = torch.randn(2, 3, 1, 16, 16, 16)
    spacing = torch.tensor([[1.0, 1.0, 3.0], [0.8, 0.8, 5.0]])
    inner = ClipAveragingInferer(clip_batch_size=2)
    with torch.no_grad():
        reference = inner(clips, net, spacing=spacing)
        torch.testing.assert_close(
            AutocastInferer(inner, enabled=False)(clips, net, spacing=spacing), reference, rtol=0, atol=0
        )
        out = AutocastInferer(inner)(clips, net, spacing=spacing)
    assert out.shape == (2, 1) and out.dtype == torch.float32
    torch.testing.assert_close(out, reference, atol=0.1, rtol=0.05)


def test_a_monai_trainer_step_in_bfloat16_keeps_float32_weights_and_gradients(tiny_vit):
    torch.manual_seed(0)
    net = tiny_vit(1, 16, 8, num_classes=2)
    data = [{"image": torch.randn(2, 1, 16, 16, 16), "label": torch.tensor([0, 1])}]
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    before = [p.detach().clone() for p in net.parameters()]
    trainer = SupervisedTrainer(
        device=torch.device("cpu"),
        max_epochs=1,
        train_data_loader=data,
        network=net,
        optimizer=optimizer,
        loss_function=torch.nn.CrossEntropyLoss(),
        inferer=AutocastInferer(),
        decollate=False,
    )
    trainer.run()
    assert trainer.state.output["pred"].dtype == torch.float32
    assert torch.isfinite(torch.as_tensor(trainer.state.output["loss"]))
    assert all(p.dtype == torch.float32 and p.grad.dtype == torch.float32 for p in net.parameters())
    assert any(not torch.equal(a, p) for a, p in zip(before, net.parameters()))


def test_outputs_in_containers_and_bad_arguments():
    def network(x):
        return {"logits": x * 2, "index": torch.tensor([1]), "parts": (x, [x + 1])}

    out = AutocastInferer()(torch.ones(1, 2), network)
    assert out["logits"].dtype == torch.float32 and out["index"].dtype == torch.int64
    assert out["parts"][0].dtype == torch.float32 and out["parts"][1][0].dtype == torch.float32
    with pytest.raises(ValueError, match="float64"):
        AutocastInferer(dtype="float64")
    with pytest.raises(ValueError, match="inferer must be a callable MONAI inferer, got int"):
        AutocastInferer(inferer=3)


def test_auto_follows_the_device_and_says_what_it_chose(tiny_vit, monkeypatch, caplog):
    torch.manual_seed(0)
    net = tiny_vit(1, 16, 8, num_classes=3).eval()
    x, spacing = torch.randn(2, 1, 16, 16, 16), torch.tensor([[1.0, 1.0, 3.0], [0.8, 0.8, 5.0]])
    seen = _matmul_dtypes(net)
    for native, expected in ((True, torch.bfloat16), (False, torch.float32)):
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda native=native: native)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
        assert computes_natively_in("cpu", torch.bfloat16) is native
        inferer = AutocastInferer(enabled="auto")
        seen.clear()
        with caplog.at_level(logging.INFO, logger="monai_afpe.inferers.autocast"), torch.no_grad():
            out = inferer(x, net, spacing=spacing)
            inferer(x, net, spacing=spacing)
        assert set(seen) == {expected} and out.dtype == torch.float32
        messages = [r.getMessage() for r in caplog.records if "enabled='auto'" in r.getMessage()]
        assert messages == [f"AutocastInferer(enabled='auto'): {str(expected).removeprefix('torch.')} on cpu."]
        caplog.clear()
    assert computes_natively_in("meta", torch.bfloat16) is False


def test_auto_counts_emulated_cuda_bfloat16_as_not_native(monkeypatch):
    """Before Ampere, torch.cuda.is_bf16_supported() is True by emulation only; that is slower than float32."""
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation)
    assert computes_natively_in("cuda", torch.bfloat16) is False
    assert computes_natively_in("cuda:0", torch.float16) is True


def test_enabled_takes_flags_from_configs_and_refuses_other_words():
    assert AutocastInferer(enabled="false").enabled is False and AutocastInferer(enabled=" Auto ").enabled == "auto"
    with pytest.raises(ValueError, match=r"enabled must be true, false or 'auto', got 'sometimes'"):
        AutocastInferer(enabled="sometimes")
