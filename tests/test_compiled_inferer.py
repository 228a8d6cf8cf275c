"""CompiledInferer: compiled views of bundle networks that match eager results and compile one graph."""

import pytest
import torch
from monai.data import MetaTensor
from monai.inferers import SlidingWindowInferer

from monai_afpe.inferers import AutocastInferer, CompiledInferer

PHYSICAL = {"mode": "physical", "reference_extent": 100.0}


class GraphCounter:
    """A ``torch.compile`` backend that records every graph Dynamo hands it and runs it eagerly."""

    def __init__(self):
        self.graphs = []

    def __call__(self, graph_module, example_inputs):
        self.graphs.append(graph_module)
        return graph_module.forward


@pytest.fixture
def vit(tiny_vit):
    return tiny_vit(1, (16, 16, 8), (8, 8, 4), num_classes=3, pos_embed_kwargs=PHYSICAL).eval()


def _meta_batch(spacings):
    images = MetaTensor(torch.randn(len(spacings), 1, 16, 16, 8, generator=torch.Generator().manual_seed(0)))
    return images, MetaTensor(torch.tensor(spacings))


def test_matches_the_network_with_one_graph_across_spacings(vit):
    counter = GraphCounter()
    inferer = CompiledInferer(backend=counter)
    for spacings in ([[1.0, 1.0, 3.0], [0.7, 0.7, 5.0]], [[0.5, 0.5, 1.0], [2.0, 2.0, 2.0]]):
        images, spacing = _meta_batch(spacings)
        expected = vit(images.as_tensor(), spacing=spacing.as_tensor())
        torch.testing.assert_close(inferer(images, vit, spacing=spacing), expected)
    assert len(counter.graphs) == 1  # MetaTensors stripped: no graph break; new spacings: no recompile
    assert inferer.compiled(vit) is inferer.compiled(vit)


@pytest.mark.slow
def test_a_metatensor_reaching_the_network_would_break_its_graph(vit):
    """Why the inferer strips MetaTensors: compiling the network on them splits it into many graphs."""
    counter = GraphCounter()
    images, spacing = _meta_batch([[1.0, 1.0, 3.0], [0.7, 0.7, 5.0]])
    torch._dynamo.reset()
    torch.compile(vit, backend=counter)(images, spacing=spacing)
    assert len(counter.graphs) > 1


def test_trains_the_network_itself(tiny_vit):
    net = tiny_vit(1, (16, 16, 8), (8, 8, 4), num_classes=3, pos_embed_kwargs=PHYSICAL).train()
    keys = list(net.state_dict())
    inferer = CompiledInferer(AutocastInferer(enabled=False), backend=GraphCounter())
    images, spacing = _meta_batch([[1.0, 1.0, 3.0], [0.7, 0.7, 5.0]])
    inferer(images, net, spacing=spacing).sum().backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)
    assert list(net.state_dict()) == keys  # checkpoints keep the uncompiled keys (no "_orig_mod.")


@pytest.mark.slow
def test_sliding_window_output_keeps_the_input_metadata(tiny_unetr):
    net = tiny_unetr(1, 3, (16, 16, 16), pos_embed_kwargs=PHYSICAL).eval()
    affine = torch.diag(torch.tensor([0.8, 0.8, 2.5, 1.0]))
    image = MetaTensor(torch.randn(1, 1, 24, 16, 16), affine=affine)
    spacing = torch.tensor([[0.8, 0.8, 2.5]])
    window = SlidingWindowInferer(roi_size=(16, 16, 16), overlap=0.5)
    with torch.no_grad():
        expected = window(image, net, spacing=spacing)
        out = CompiledInferer(window, backend=GraphCounter())(image, net, spacing=spacing)
    assert isinstance(out, MetaTensor)
    torch.testing.assert_close(out.affine, image.affine)
    torch.testing.assert_close(out.as_tensor(), expected.as_tensor())


def test_disabled_runs_the_network_uncompiled(vit):
    counter = GraphCounter()
    images, spacing = _meta_batch([[1.0, 1.0, 3.0]])
    out = CompiledInferer(enabled="false", backend=counter)(images, vit, spacing=spacing)
    assert counter.graphs == []
    torch.testing.assert_close(out.as_tensor(), vit(images, spacing=spacing).as_tensor())


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="inferer must be a callable MONAI inferer, got int"):
        CompiledInferer(inferer=3)
    with pytest.raises(ValueError, match="enabled"):
        CompiledInferer(enabled="sometimes")
    with pytest.raises(ValueError, match="compiles a torch.nn.Module, got function"):
        CompiledInferer(backend=GraphCounter())(torch.zeros(1), lambda x: x)


@pytest.mark.slow
def test_inductor_matches_eager(vit):
    images, spacing = _meta_batch([[1.0, 1.0, 3.0], [0.7, 0.7, 5.0]])
    with torch.no_grad():
        expected = vit(images.as_tensor(), spacing=spacing.as_tensor())
        out = CompiledInferer()(images, vit, spacing=spacing)
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)
