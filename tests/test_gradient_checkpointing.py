"""Gradient checkpointing in AFPEViT / AFPEUNETR: the same outputs and gradients, fewer saved activations."""

import torch


def _saved_bytes(fn):
    saved = {}

    def pack(tensor):
        saved[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        out = fn()
    return out, sum(saved.values())


def test_same_outputs_and_gradients_with_fewer_saved_activations(tiny_vit):
    x = torch.randn(2, 1, 16, 16, 16)
    spacing = torch.tensor([[1.0, 1.0, 3.0], [0.8, 0.8, 5.0]])
    options = dict(num_layers=4, pos_embed="afpe", pos_embed_kwargs={"mode": "physical", "reference_extent": 32.0})
    plain = tiny_vit(1, 16, 4, **options)
    checkpointed = tiny_vit(1, 16, 4, gradient_checkpointing=True, **options)
    checkpointed.load_state_dict(plain.state_dict())
    results = []
    for net in (plain, checkpointed):
        net.train()
        out, saved = _saved_bytes(lambda net=net: net(x, spacing))
        out.sum().backward()
        results.append((out.detach(), [p.grad.clone() for p in net.parameters()], saved))
    torch.testing.assert_close(results[0][0], results[1][0])
    for a, b in zip(results[0][1], results[1][1]):
        torch.testing.assert_close(a, b)
    assert results[1][2] < 0.6 * results[0][2]


def test_evaluation_and_torchscript_run_without_checkpointing(tiny_vit, tiny_unetr):
    net = tiny_vit(1, 16, 8, gradient_checkpointing=True).eval()
    x = torch.randn(1, 1, 16, 16, 16)
    scripted = torch.jit.script(net)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), net(x))
    unetr = tiny_unetr(1, 2, 32, gradient_checkpointing=True)
    assert unetr.vit.gradient_checkpointing
    out = unetr(torch.randn(1, 1, 32, 32, 32))
    out.mean().backward()
    assert out.shape == (1, 2, 32, 32, 32)
