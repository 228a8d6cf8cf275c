"""Speed, memory and FLOP utilisation of AFPEViT and AFPEUNETR against their peers, in one process.

Peers, at the same sizes and precision:
    - ``MONAI ViT``: ``monai.networks.nets.ViT`` as constructed by default (its own attention);
    - ``MONAI ViT fused``: the same with ``use_flash_attention`` set on its blocks (PyTorch's fused
      ``scaled_dot_product_attention``, which MONAI 1.6 offers on ``SABlock`` but not through ``ViT``);
    - ``PyTorch encoder``: a convolutional patch embedding, a learned position table, PyTorch's
      ``nn.TransformerEncoder`` (pre-norm, GELU, fused attention) and a linear head on the same tokens;
    - for the ``unetr`` configuration: MONAI's ``UNETR`` by default and with fused attention, against
      ``AFPEUNETR`` with the same 12 blocks;
    - with ``--bf16`` on CPU: our network with PyTorch's fused attention kernel at every sequence length
      (by default it attends sequences of at most 256 tokens unfused in bfloat16 on CPU);
    - with ``--compile``: ``torch.compile`` of AFPEViT and of the fastest eager peer (compile time and the
      number of recompiles over a second spacing are reported).
timm's ViT blocks are not among them: timm needs torchvision, and torchvision's PyPI wheel for the pinned
torch is a CUDA build whose operators do not load with the CPU torch.

Measured per configuration:
    - train step (forward, MSE loss, backward, AdamW step) and inference (batch forward, no grad) times;
    - the cost of the positional encoding itself, static (cached table) and spacing-conditioned
      (physical mode, per-sample spacing), as a share of an AFPEViT train step, at the run's thread
      count and on one thread (small operations pay for cross-thread synchronisation when other
      processes load the machine);
    - activation memory: bytes of the tensors autograd saves for backward in one forward (parameters
      excluded), plus the CUDA allocator's peak over a train step on a GPU;
    - model FLOP utilisation: the train step's FLOPs (``torch.utils.flop_counter`` for matmuls and
      convolutions, plus ``12 N² D`` per block and sample for attention, which the counter does not see
      in the fused kernel) per second, against the best of ten square matmuls timed in the same run.

Usage::

    python benchmarks/bench_networks.py                               # echo, ct and unetr on CPU, fp32
    python benchmarks/bench_networks.py --configs echo --bf16         # every network under bf16 autocast
    python benchmarks/bench_networks.py --configs ct-bundle --bf16    # the CT bundle's small transformer
    python benchmarks/bench_networks.py --configs echo --compile      # adds compiled AFPEViT and peer
    python benchmarks/bench_networks.py --configs echo --steps 5 --device cuda --bf16

The networks run interleaved, ``--steps`` rounds after ``--warmup`` rounds, so that load from other
processes hits all alike; the table shows the best round of each (load only ever slows a run down, so
the best round is the closest to the machine's own speed, as for the matmul rate) and, for the speed
ratios, also the ratio of the medians. A ratio above 1 means AFPEViT (AFPEUNETR) is faster. The JSON
output keeps every round.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import resource
import statistics
import time

import torch
import torch.nn.functional as F
from monai.networks.nets import UNETR, ViT
from torch.utils.flop_counter import FlopCounterMode

from monai_afpe.networks.blocks import SDPASelfAttention, build_positional_embedding
from monai_afpe.networks.nets import AFPEUNETR, AFPEViT, MonaiUNETR, MonaiViTClassifier

VIT_BASE = dict(hidden_size=768, mlp_dim=3072, num_layers=12, num_heads=12)
"""The transformer sizes of ViT-Base (MONAI's ``ViT`` and ``UNETR`` defaults), shared by the ``ct`` and ``unetr`` configurations."""

CT_BUNDLE_TRANSFORMER = dict(hidden_size=96, mlp_dim=384, num_layers=3, num_heads=4)
"""The transformer sizes of the CT classification bundle's AFPEViT (``bundles/afpe_ct_classification``)."""

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
        **VIT_BASE,
        batch=2,
        spacing=(0.8, 0.8, 2.5),
        reference_extent=200.0,
    ),
    # the CT classification bundle's transformer on 32^3 volumes: patch 8 -> 4 x 4 x 4 tokens (with linear
    # patches here, as the peers have; the bundle puts a convolutional stem in front)
    "ct-bundle": dict(
        in_channels=1,
        img_size=(32, 32, 32),
        patch_size=(8, 8, 8),
        **CT_BUNDLE_TRANSFORMER,
        batch=32,
        spacing=(0.9, 0.9, 3.0),
        reference_extent=32.0,
    ),
    # MONAI UNETR (ViT-Base encoder, 12 blocks) on a 96^3 CT crop against AFPEUNETR of the same sizes
    "unetr": dict(
        in_channels=1,
        out_channels=5,
        img_size=(96, 96, 96),
        patch_size=(16, 16, 16),
        feature_size=16,
        **VIT_BASE,
        batch=1,
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


class TorchEncoderViT(torch.nn.Module):
    """The PyTorch peer: convolutional patches, a learned position table, ``nn.TransformerEncoder``
    (pre-norm, GELU, no dropout) and a linear head on the class token."""

    def __init__(self, in_channels, img_size, patch_size, hidden_size, mlp_dim, num_layers, num_heads, num_classes=1):
        super().__init__()
        conv = {2: torch.nn.Conv2d, 3: torch.nn.Conv3d}[len(img_size)]
        self.patch = conv(in_channels, hidden_size, patch_size, stride=patch_size)
        tokens = 1
        for size, patch in zip(img_size, patch_size):
            tokens *= size // patch
        self.cls_token = torch.nn.Parameter(torch.zeros(1, 1, hidden_size))
        self.position = torch.nn.Parameter(torch.zeros(1, tokens + 1, hidden_size))
        layer = torch.nn.TransformerEncoderLayer(
            hidden_size, num_heads, mlp_dim, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = torch.nn.TransformerEncoder(
            layer, num_layers, norm=torch.nn.LayerNorm(hidden_size), enable_nested_tensor=False
        )
        self.head = torch.nn.Linear(hidden_size, num_classes)

    def forward(self, x):
        tokens = self.patch(x).flatten(2).transpose(1, 2)
        tokens = torch.cat([self.cls_token.expand(len(tokens), -1, -1), tokens], dim=1) + self.position
        return self.head(self.encoder(tokens)[:, 0])


def build_models(name: str, cfg: dict, device: torch.device) -> dict:
    """label -> (module, forward) of the configuration's networks, ours first."""
    sizes = {k: cfg[k] for k in ("in_channels", "img_size", "patch_size", "hidden_size", "mlp_dim", "num_heads")}
    if name == "unetr":
        del sizes["patch_size"]  # 16, fixed by MONAI's UNETR and by AFPEUNETR
        out = cfg["out_channels"]
        ours = AFPEUNETR(
            **sizes, out_channels=out, num_layers=cfg["num_layers"], feature_size=cfg["feature_size"],
            pos_embed="afpe",
        )  # fmt: skip
        default = UNETR(**sizes, out_channels=out, feature_size=cfg["feature_size"])
        fused = MonaiUNETR(**sizes, out_channels=out, feature_size=cfg["feature_size"])
        models = {"AFPEUNETR": ours, "MONAI UNETR": default, "MONAI UNETR fused": fused}
        return {label: (m.to(device), m) for label, m in models.items()}
    sizes["num_layers"] = cfg["num_layers"]
    ours = AFPEViT(**sizes, pos_embed="afpe", num_classes=1, task="regression").to(device)
    default = ViT(**sizes, classification=True, num_classes=1, post_activation=None).to(device)
    fused = MonaiViTClassifier(**sizes, pos_embed="learnable", num_classes=1).to(device)
    encoder = TorchEncoderViT(**sizes).to(device)
    return {
        "AFPEViT": (ours, ours),
        "MONAI ViT": (default, lambda t: default(t)[0]),
        "MONAI ViT fused": (fused, fused),
        "PyTorch encoder": (encoder, encoder),
    }


def with_fused_attention_only(ours: torch.nn.Module, label: str) -> dict:
    """A copy of our network that uses PyTorch's fused attention kernel at every sequence length.

    In bfloat16 on CPU, ``SDPASelfAttention`` attends short sequences without the fused kernel
    (``UNFUSED_BF16_CPU_MAX_TOKENS``); this copy measures what that choice gains.
    """
    fused = copy.deepcopy(ours)
    for module in fused.modules():
        if isinstance(module, SDPASelfAttention):
            module.unfused_bf16_cpu_max_tokens = 0
    return {f"{label}, fused kernel only": (fused, fused)}


def bench_config(name: str, cfg: dict, args, device: torch.device) -> dict:
    dtype = torch.bfloat16 if args.bf16 else torch.float32
    autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if args.bf16 else contextlib.nullcontext
    batch = cfg["batch"]
    torch.manual_seed(0)
    x = torch.randn(batch, cfg["in_channels"], *cfg["img_size"], device=device)
    models = build_models(name, cfg, device)
    ours_label = next(iter(models))
    ours, ours_forward = models[ours_label]
    if args.bf16 and device.type == "cpu":
        models = {ours_label: models[ours_label], **with_fused_attention_only(ours, ours_label), **models}
    target = torch.zeros_like(ours_forward(x).float()).normal_()
    vit = ours.vit if name == "unetr" else ours
    grid = vit.grid_size
    tokens = int(torch.tensor(grid).prod()) + (0 if vit.cls_token is None else 1)
    # attention: forward 4 N² D, backward 8 N² D per block and sample
    attention_flops = 12 * tokens**2 * cfg["hidden_size"] * cfg["num_layers"] * batch
    flops = counted_train_flops(ours, ours_forward, x, target, autocast) + attention_flops
    matmul_rate = matmul_flops_per_second(device, dtype)
    result = {
        "config": name,
        "input": [batch, cfg["in_channels"], *cfg["img_size"]],
        "tokens": tokens,
        "parameters": sum(p.numel() for p in ours.parameters()),
        "train_flops": flops,
        "matmul_flops_per_s": matmul_rate,
        "ours": ours_label,
        "models": {},
    }
    if args.compile:
        compile_peers(models, name, x, target, autocast, args, device, result)
    steps = {}
    for label, (model, forward) in models.items():
        model.train()
        steps[label] = make_train_step(model, forward, x, target, autocast)
        result["models"].setdefault(label, {})
        if "compiled" not in label:
            with autocast():
                result["models"][label]["activation_bytes"] = activation_bytes(forward, x, model)
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
    if name == "unetr":
        return result

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


def compile_peers(models: dict, name: str, x, target, autocast, args, device, result: dict) -> None:
    """Add ``torch.compile`` of ours and of the fastest eager peer (one train step each to choose it); record
    each compile time and the recompiles that a second spacing (ours, physical mode) causes."""
    import torch._dynamo

    ours_label = next(iter(models))
    peers = {label: model for label, model in models.items() if not label.startswith(ours_label)}
    steps = {label: make_train_step(m, f, x, target, autocast) for label, (m, f) in peers.items()}
    peer_times = interleaved_seconds(steps, 1, 1, device)
    fastest = min(peer_times, key=lambda label: min(peer_times[label]))
    for label in (ours_label, fastest):
        model, forward = models[label]
        compiled = torch.compile(forward)
        torch._dynamo.utils.counters.clear()
        start = time.perf_counter()
        make_train_step(model, compiled, x, target, autocast)()
        synchronize(device)
        compile_s = time.perf_counter() - start
        recompiles = None
        if label == ours_label and name != "unetr":
            physical = AFPEViT(
                **{k: CONFIGS[name][k] for k in ("in_channels", "img_size", "patch_size", "hidden_size", "mlp_dim",
                                                  "num_layers", "num_heads")},
                pos_embed="afpe", pos_embed_kwargs={"mode": "physical", "reference_extent": CONFIGS[name]["reference_extent"]},
                num_classes=1, task="regression",
            ).to(device)  # fmt: skip
            compiled_physical = torch.compile(physical)
            torch._dynamo.utils.counters.clear()
            for spacing in (CONFIGS[name]["spacing"], [2 * v for v in CONFIGS[name]["spacing"]]):
                with autocast():
                    compiled_physical(x, torch.tensor([spacing] * len(x), device=device))
            recompiles = int(torch._dynamo.utils.counters["stats"]["unique_graphs"]) - 1
        models[f"{label} compiled"] = (model, compiled)
        result["models"][f"{label} compiled"] = {"compile_s": compile_s, "recompiles_second_spacing": recompiles}


def print_table(r: dict, args) -> None:
    models = r["models"]
    ours = r["ours"]
    best = {
        label: {k: min(v) for k, v in m.items() if k.endswith("_s") and isinstance(v, list)}
        for label, m in models.items()
    }
    gb = 1024**3
    print(
        f"\n== {r['config']}: input {tuple(r['input'])}, {r['tokens']} tokens, "
        f"{r['parameters'] / 1e6:.1f} M parameters ({ours}), {'bf16 autocast' if args.bf16 else 'fp32'}, "
        f"best of {args.steps}"
    )
    print(
        f"   {ours} train step {r['train_flops'] / 1e9:.0f} GFLOP; "
        f"matmul {r['matmul_flops_per_s'] / 1e9:.0f} GFLOP/s measured now"
    )
    print(
        "   | network | train step [s] | peer / ours (median) | inference [s] | peer / ours (median) "
        "| activations [GiB] | MFU |"
    )
    print("   |---|---|---|---|---|---|---|")
    for label, m in models.items():
        cells = [label]
        for key in ("train_s", "infer_s"):
            ratio = best[label][key] / best[ours][key]
            median = statistics.median(m[key]) / statistics.median(models[ours][key])
            cells += [f"{best[label][key]:.3f}", f"{ratio:.2f}x ({median:.2f}x)"]
        cells.append(f"{m['activation_bytes'] / gb:.3f}" if "activation_bytes" in m else "")
        mfu = r["train_flops"] / best[label]["train_s"] / r["matmul_flops_per_s"] if label.startswith(ours) else None
        cells.append(f"{mfu:.0%}" if mfu is not None else "")
        print("   | " + " | ".join(cells) + " |")
    for label, m in models.items():
        if "compile_s" in m:
            extra = (
                ""
                if m["recompiles_second_spacing"] is None
                else f", recompiles for a second spacing: {m['recompiles_second_spacing']}"
            )
            print(f"   {label}: first step (compilation) {m['compile_s']:.0f} s{extra}")
        if "cuda_peak_bytes" in m:
            print(f"   {label}: CUDA peak {m['cuda_peak_bytes'] / gb:.2f} GiB")
    if args.peak_tflops:
        for label in (name for name in models if name.startswith(ours)):
            achieved = r["train_flops"] / best[label]["train_s"]
            print(
                f"   {label}: {achieved / 1e12:.1f} TFLOP/s = {achieved / (args.peak_tflops * 1e12):.0%} of the stated peak"
            )
    if "pe_static_s" in r:
        train_step = best[ours]["train_s"]
        for label, key in (("static AFPE", "static"), ("spacing-conditioned AFPE", "spacing")):
            many, one = min(r[f"pe_{key}_s"]), min(r[f"pe_{key}_1thread_s"])
            print(
                f"   {label:26s}{many * 1e3:7.3f} ms = {many / train_step:.3%} of a train step "
                f"(1 thread: {one * 1e3:.3f} ms = {one / train_step:.3%})"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", choices=sorted(CONFIGS), default=["echo", "ct", "unetr"])
    parser.add_argument(
        "--steps", type=int, default=3, help="timed rounds (the table shows the best round and the ratio of medians)"
    )
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (and the bf16 matmul rate)")
    parser.add_argument("--compile", action="store_true", help="also torch.compile ours and the fastest peer")
    parser.add_argument(
        "--peak-tflops", type=float, help="the device's dense peak at this precision (e.g. 989 for an H100 SXM in bf16)"
    )
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
