"""Compiled networks for MONAI engines: run another inferer with a ``torch.compile``-d view of the network."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import torch
from monai.inferers import Inferer, SimpleInferer

from monai_afpe.validation import check_flag

__all__ = ["CompiledInferer"]


class CompiledInferer(Inferer):
    """Run another inferer with ``torch.compile(network)`` in place of ``network``, called on plain tensors.

    The network is compiled at its first call and the compiled view is kept for as long as the network
    lives. It shares the network's parameters and buffers and follows its ``train()`` / ``eval()`` mode, so
    the optimiser, the checkpoint savers and loaders and the ONNX / TorchScript export of a bundle keep
    working on the uncompiled module (its ``state_dict`` keys carry no ``_orig_mod.`` prefix).

    MONAI's data arrive as :class:`~monai.data.MetaTensor`; a tensor subclass with ``__torch_function__``
    makes Dynamo trace every operation through its metadata handling, which breaks graphs and adds guards.
    Every tensor the wrapped inferer hands to the network (the input window or batch, ``spacing``, ...) is
    therefore passed on as a plain ``torch.Tensor`` view (no copy, gradients flow), while the wrapped inferer
    itself still sees MetaTensors (a sliding window's output keeps its input's metadata); per-sample
    spacings are tensors, so a new spacing does not recompile, while a new input shape (a last, smaller
    batch; a validation batch) compiles once more (``dynamic`` decides whether shapes become symbolic).

    Args:
        inferer: the inferer to run (default: ``SimpleInferer()``); it receives the compiled network.
        enabled: False runs ``inferer`` with the network unchanged (a config switches with one key).
        mode: ``torch.compile``'s ``mode`` (``None``, ``"default"``, ``"reduce-overhead"``,
            ``"max-autotune"``).
        dynamic: ``torch.compile``'s ``dynamic`` (None: static shapes first, symbolic after a recompile).
        fullgraph: ``torch.compile``'s ``fullgraph`` (True: a graph break is an error).
        backend: ``torch.compile``'s ``backend``: a name (``"inductor"``; ``"aot_eager"`` or ``"eager"`` to debug) or
            a callable ``(graph_module, example_inputs) -> callable``.

    Example::

        inferer = CompiledInferer(AutocastInferer(SlidingWindowInferer(roi_size=(64, 64, 32))), enabled=True)
        logits = inferer(image, network, spacing=spacing)

    Raises:
        ValueError: an ``inferer`` that is not callable.
    """

    def __init__(
        self,
        inferer: Inferer | None = None,
        enabled: bool = True,
        mode: str | None = None,
        dynamic: bool | None = None,
        fullgraph: bool = False,
        backend: str | Callable[..., Any] = "inductor",
    ) -> None:
        if inferer is not None and not callable(inferer):
            raise ValueError(f"inferer must be a callable MONAI inferer, got {type(inferer).__name__}.")
        self.inferer = SimpleInferer() if inferer is None else inferer
        self.enabled = check_flag(enabled, "enabled")
        self.options = {
            "mode": mode,
            "dynamic": dynamic,
            "fullgraph": check_flag(fullgraph, "fullgraph"),
            "backend": backend,
        }
        self._compiled: weakref.WeakKeyDictionary[torch.nn.Module, Callable[..., Any]] = weakref.WeakKeyDictionary()

    def compiled(self, network: torch.nn.Module) -> Callable[..., Any]:
        """The compiled view of ``network`` (compiled at the first request, then reused)."""
        if network not in self._compiled:
            self._compiled[network] = torch.compile(network, **self.options)
        return self._compiled[network]

    def __call__(self, inputs: torch.Tensor, network: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self.enabled:
            return self.inferer(inputs, network, *args, **kwargs)
        if not isinstance(network, torch.nn.Module):
            raise ValueError(f"CompiledInferer compiles a torch.nn.Module, got {type(network).__name__}.")
        compiled = self.compiled(network)

        def call(*call_args: Any, **call_kwargs: Any) -> Any:
            return compiled(*map(_plain, call_args), **{key: _plain(value) for key, value in call_kwargs.items()})

        return self.inferer(inputs, call, *args, **kwargs)


def _plain(value: Any) -> Any:
    """``value`` as a plain ``torch.Tensor`` view when it is a tensor subclass (a MetaTensor), else unchanged."""
    if isinstance(value, torch.Tensor) and type(value) is not torch.Tensor:
        return value.as_subclass(torch.Tensor)
    return value
