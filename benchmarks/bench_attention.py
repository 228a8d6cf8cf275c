"""PyTorch's fused attention kernel against ``unfused_attention``, by sequence length, precision and pass.

``SDPASelfAttention`` picks between the two (``UNFUSED_BF16_CPU_MAX_TOKENS``); this measures what the
choice rests on. For each shape ``(batch, heads, tokens, head_dim)`` and dtype, the two run interleaved,
``--rounds`` times after one warm-up, on random queries, keys and values: forward and backward (the sum of
the output), and the forward alone without autograd. The table shows the best round of each (load from
other processes only slows a round down) and ``unfused / fused``: below 1, the unfused path is faster.

Usage::

    python benchmarks/bench_attention.py                      # CPU, float32 and bfloat16
    python benchmarks/bench_attention.py --device cuda --rounds 10
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from monai_afpe.networks.blocks.attention import unfused_attention

SHAPES = (  # (batch, heads, tokens, head_dim): the CT bundle's transformer, then longer sequences
    (32, 4, 65, 24),
    (16, 4, 129, 24),
    (8, 6, 257, 32),
    (4, 6, 513, 32),
    (2, 6, 1025, 32),
    (2, 8, 1569, 48),  # the paper's EchoNet clip
    (1, 4, 4097, 48),
)


ATTENTIONS = {"fused": F.scaled_dot_product_attention, "unfused": unfused_attention}


def training_call(attend, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor):
    """Forward and backward of ``attend`` on the given tensors."""
    return lambda: attend(q, k, v).float().sum().backward()


def inference_call(attend, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor):
    """Forward of ``attend`` without autograd."""

    def run() -> None:
        with torch.no_grad():
            attend(q, k, v)

    return run


def best_seconds(fns: dict, rounds: int, repeats: int, device: torch.device) -> dict:
    """Best time per call of each function over ``rounds`` interleaved rounds of ``repeats`` calls."""
    best = dict.fromkeys(fns, float("inf"))
    for round_index in range(rounds + 1):
        for label, fn in fns.items():
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            for _ in range(repeats):
                fn()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if round_index:  # round 0 warms up
                best[label] = min(best[label], (time.perf_counter() - start) / repeats)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5, help="calls per round")
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} CPU threads")
    print("| dtype | batch x heads x tokens x head_dim | pass | fused [ms] | unfused [ms] | unfused / fused |")
    print("|---|---|---|---|---|---|")
    for dtype in (torch.float32, torch.bfloat16):
        for shape in SHAPES:
            torch.manual_seed(0)
            q, k, v = (torch.randn(shape, device=device, dtype=dtype, requires_grad=True) for _ in range(3))

            for name, wrap in (("forward + backward", training_call), ("forward", inference_call)):
                fns = {label: wrap(fn, q, k, v) for label, fn in ATTENTIONS.items()}
                best = best_seconds(fns, args.rounds, args.repeats, device)
                print(
                    f"| {str(dtype).removeprefix('torch.')} | {' x '.join(map(str, shape))} | {name} "
                    f"| {best['fused'] * 1e3:.2f} | {best['unfused'] * 1e3:.2f} | {best['unfused'] / best['fused']:.2f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
