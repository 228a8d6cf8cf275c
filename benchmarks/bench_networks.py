"""Speed, memory and FLOP utilisation of AFPEViT against MONAI's ViT at the same configuration.

Measured in one process, per configuration:
    - train step (forward, MSE loss, backward, AdamW step) and inference (batch forward, no grad) times
      of ``AFPEViT`` (static grid-mode AFPE) and ``monai.networks.nets.ViT`` with the same sizes;
    - the cost of the positional encoding itself, static (cached table) and spacing-conditioned
      (physical mode, per-sample spacing), as a share of an AFPEViT train step, at the run's thread
      count and on one thread (small operations pay for cross-thread synchronisation when other
      processes load the machine);
    - activation memory: bytes of the tensors autograd saves for backward in one forward (parameters
      excluded), plus the CUDA allocator's peak over a train step on a GPU;
    - model FLOP utilisation: the train step's FLOPs (``torch.utils.flop_counter`` for matmuls and
      convolutions, plus ``12 N² D`` per block and sample for attention, which the counter does not see
      in the fused kernel) per second, against the best of ten square matmuls timed in the same run.

Targets (issue 4): train step >= 2.0x MONAI's ViT at the echo configuration on CPU fp32; static AFPE
<= 1% of a train step, spacing-conditioned <= 3%; MFU >= 70% of the measured fp32 matmul rate.

Usage::

    python benchmarks/bench_networks.py                      # echo and ct on CPU, fp32
    python benchmarks/bench_networks.py --configs echo --steps 5 --device cuda --bf16

The two networks (and the two encodings) run interleaved, ``--steps`` rounds after ``--warmup``
rounds, so that load from other processes hits both alike; the table shows the best round of each
(load only ever slows a run down, so the best round is the closest to the machine's own speed, as for
the matmul rate) and, for the speed ratios, also the ratio of the medians. The JSON output keeps every
round.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import statistics
import time

import torch
import torch.nn.functional as F
from monai.networks.nets import ViT
from torch.utils.flop_counter import FlopCounterMode

from monai_afpe.networks.blocks import build_positional_embedding
from monai_afpe.networks.nets import AFPEViT

CONFIGS = {
    # EchoNet-Dynamic video ViT of the paper: 16 frames of 112 x 112, tubelets 2 x 8 x 8 -> 8 x 14 x 14 tokens
    "echo": dict(
        in_channels=3,
        img_size=(16, 112, 112),
        patch_size=(2, 8, 8),
        hidden_size=384,
        mlp_dim=1024,
        num_layers=8,
        num_heads=8,
        batch=2,
        spacing=(1 / 12.5, 0.3, 0.3),
        reference_extent=(0.5, 100.0, 100.0),
    ),
    # MONAI UNETR's ViT on a 96^3 CT crop: patch 16 -> 6 x 6 x 6 tokens, ViT-Base width
    "ct": dict(
        in_channels=1,
        img_size=(96, 96, 96),
        patch_size=(16, 16, 16),
        hidden_size=768,
        mlp_dim=3072,
        num_layers=12,
        num_heads=12,
        batch=2,
        spacing=(0.8, 0.8, 2.5),
        reference_extent=200.0,
    ),
}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def interleaved_seconds(fns: dict, steps: int, warmup: int, device: torch.device) -> dict:
    """Run the callables in turn, ``steps`` rounds after ``warmup`` rounds; every duration of each, in seconds.

    Interleaving exposes the compared callables to the same load from other processes.
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict = {label: [] for label in fns}
    for _ in range(steps):
        for label, fn in fns.items():
            synchronize(device)
            start = time.perf_counter()
            fn()
            synchronize(device)
            times[label].append(time.perf_counter() - start)
    return times


def matmul_flops_per_second(device: torch.device, dtype: torch.dtype) -> float:
    """The best rate of ten square matmuls, large enough to reach the machine's matmul peak.

    The best rather than the median: on a shared machine a neighbour's load only ever slows a run
    down, so the fastest repetition is the closest to the peak (which makes the MFU conservative).
    """
    n = 8192 if device.type == "cuda" else 2048
    a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    return 2 * n**3 / min(interleaved_seconds({"mm": lambda: torch.mm(a, b)}, 10, 2, device)["mm"])


def activation_bytes(forward, x: torch.Tensor, model: torch.nn.Module) -> int:
    """Bytes of the distinct tensors autograd saves for backward in one forward, parameters excluded."""
    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in parameters:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        forward(x)
    return sum(saved.values())


def make_train_step(model, forward, x, target, autocast):
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step():
        optimizer.zero_grad(set_to_none=True)
        with autocast():
            out = forward(x)
        F.mse_loss(out.float(), target).backward()
        optimizer.step()

    return step


def counted_train_flops(model, forward, x, target, autocast) -> int:
    """FLOPs of forward and backward that the flop counter sees (matmuls, convolutions, einsum attention)."""
    with FlopCounterMode(display=False) as counter:
        with autocast():
            out = forward(x)
        F.mse_loss(out.float(), target).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def bench_config(name: str, cfg: dict, args, device: torch.device) -> dict:
    dtype = torch.bfloat16 if args.bf16 else torch.float32
    autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if args.bf16 else contextlib.nullcontext
    sizes = {
        k: cfg[k]
        for k in ("in_channels", "img_size", "patch_size", "hidden_size", "mlp_dim", "num_layers", "num_heads")
    }
    batch = cfg["batch"]
    torch.manual_seed(0)
    x = torch.randn(batch, cfg["in_channels"], *cfg["img_size"], device=device)
    target = torch.randn(batch, 1, device=device)
    ours = AFPEViT(**sizes, pos_embed="afpe", num_classes=1, task="regression").to(device)
    monai = ViT(**sizes, classification=True, num_classes=1, post_activation=None).to(device)
    models = {"AFPEViT": (ours, lambda t: ours(t)), "MONAI ViT": (monai, lambda t: monai(t)[0])}

    grid = ours.grid_size
    tokens = 1 + int(torch.tensor(grid).prod())  # with the class token
    # attention: forward 4 N² D, backward 8 N² D per block and sample
    attention_flops = 12 * tokens**2 * cfg["hidden_size"] * cfg["num_layers"] * batch
    flops = counted_train_flops(ours, models["AFPEViT"][1], x, target, autocast) + attention_flops
    monai_counted = counted_train_flops(monai, models["MONAI ViT"][1], x, target, autocast)
    matmul_rate = matmul_flops_per_second(device, dtype)

    result = {
        "config": name,
        "input": [batch, cfg["in_channels"], *cfg["img_size"]],
        "tokens": tokens,
        "parameters": sum(p.numel() for p in ours.parameters()),
        "train_flops": flops,
        "monai_counted_train_flops": monai_counted,
        "matmul_flops_per_s": matmul_rate,
        "models": {},
    }
    steps = {}
    for label, (model, forward) in models.items():
        model.train()
        steps[label] = make_train_step(model, forward, x, target, autocast)
        with autocast():
            result["models"][label] = {"activation_bytes": activation_bytes(forward, x, model)}
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
            steps[label]()
            result["models"][label]["cuda_peak_bytes"] = torch.cuda.max_memory_allocated(device)
    for label, seconds in interleaved_seconds(steps, args.steps, args.warmup, device).items():
        result["models"][label]["train_s"] = seconds
    for model, _ in models.values():
        model.eval()
    inference = {label: (lambda forward=forward: forward(x)) for label, (_, forward) in models.items()}
    with torch.no_grad(), autocast():
        for label, seconds in interleaved_seconds(inference, args.steps, args.warmup, device).items():
            result["models"][label]["infer_s"] = seconds

    # the encoding alone, as the network calls it in training (tokens that require grad), at the run's
    # thread count and on one thread (no cross-thread synchronisation, which a loaded machine makes costly)
    patch_tokens = torch.randn(batch, tokens - 1, cfg["hidden_size"], device=device, requires_grad=True)
    spacing = torch.tensor([cfg["spacing"]] * batch, device=device)
    physical = build_positional_embedding(
        "afpe",
        grid,
        cfg["hidden_size"],
        mode="physical",
        patch_size=ours.patch_size,
        reference_extent=cfg["reference_extent"],
    ).to(device)
    encodings = {
        "static": lambda: ours.position_embedding(patch_tokens, None, grid),
        "spacing": lambda: physical(patch_tokens, spacing, grid),
    }
    threads = torch.get_num_threads()
    for label, num_threads in (("", threads), ("_1thread", 1)):
        torch.set_num_threads(num_threads)
        with autocast():
            for kind, seconds in interleaved_seconds(encodings, 20 * args.steps, 3, device).items():
                result[f"pe_{kind}{label}_s"] = seconds
    torch.set_num_threads(threads)
    return result


def print_table(r: dict, args) -> None:
    ours, monai = r["models"]["AFPEViT"], r["models"]["MONAI ViT"]
    best = {label: {k: min(v) for k, v in m.items() if k.endswith("_s")} for label, m in r["models"].items()}
    train_step = best["AFPEViT"]["train_s"]
    gb = 1024**3
    print(
        f"\n== {r['config']}: input {tuple(r['input'])}, {r['tokens']} tokens, "
        f"{r['parameters'] / 1e6:.1f} M parameters, "
        f"{'bf16 autocast' if args.bf16 else 'fp32'}"
    )
    print(
        f"   train step {r['train_flops'] / 1e9:.0f} GFLOP (MONAI ViT counted with einsum attention: "
        f"{r['monai_counted_train_flops'] / 1e9:.0f}); matmul {r['matmul_flops_per_s'] / 1e9:.0f} GFLOP/s measured now"
    )
    rows = []
    for key, label in (("train_s", "train step [s]"), ("infer_s", "inference [s]")):
        a, b = best["AFPEViT"][key], best["MONAI ViT"][key]
        median = statistics.median(monai[key]) / statistics.median(ours[key])
        rows.append(
            (
                label,
                f"{a:.3f}",
                f"{b:.3f}",
                f"{b / a:.2f}x (median {median:.2f}x)",
                ">= 2.0x (echo, CPU fp32)" if key == "train_s" else "",
            )
        )
    a, b = ours["activation_bytes"], monai["activation_bytes"]
    rows.append(("activations [GiB]", f"{a / gb:.3f}", f"{b / gb:.3f}", f"{b / a:.1f}x smaller", ""))
    if "cuda_peak_bytes" in ours:
        a, b = ours["cuda_peak_bytes"], monai["cuda_peak_bytes"]
        rows.append(("CUDA peak [GiB]", f"{a / gb:.2f}", f"{b / gb:.2f}", f"{b / a:.1f}x smaller", ""))
    mfu = {label: r["train_flops"] / best[label]["train_s"] / r["matmul_flops_per_s"] for label in best}
    rows.append(("MFU vs matmul", f"{mfu['AFPEViT']:.0%}", f"{mfu['MONAI ViT']:.0%}", "", ">= 70%"))
    print(f"   {'best of ' + str(args.steps):20s}{'AFPEViT':>10s}{'MONAI ViT':>12s}{'MONAI / AFPEViT':>28s}   target")
    for label, a, b, ratio, target in rows:
        print(f"   {label:20s}{a:>10s}{b:>12s}{ratio:>28s}   {target}")
    for label, key, target in (("static AFPE", "static", "<= 1%"), ("spacing-conditioned AFPE", "spacing", "<= 3%")):
        many, one = min(r[f"pe_{key}_s"]), min(r[f"pe_{key}_1thread_s"])
        print(
            f"   {label:26s}{many * 1e3:7.3f} ms = {many / train_step:.3%} of a train step "
            f"(1 thread: {one * 1e3:.3f} ms = {one / train_step:.3%})   target {target}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", choices=sorted(CONFIGS), default=["echo", "ct"])
    parser.add_argument(
        "--steps", type=int, default=3, help="timed rounds (the table shows the best round and the ratio of medians)"
    )
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (and the bf16 matmul rate)")
    parser.add_argument("--json", help="also write the measurements to this file")
    args = parser.parse_args()
    device = torch.device(args.device)
    print(
        f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} CPU threads"
        + (f", {torch.cuda.get_device_name(device)}" if device.type == "cuda" else "")
    )
    results = [bench_config(name, CONFIGS[name], args, device) for name in args.configs]
    for r in results:
        print_table(r, args)
    print(f"\nprocess peak resident memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2:.2f} GiB")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
