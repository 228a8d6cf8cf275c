"""Train step time and activation memory from 512 to 16k tokens: AFPEViT (with and without gradient
checkpointing) against MONAI's ViT (default and fused attention) and PyTorch's ``nn.TransformerEncoder``.

Each token count is a 3D input of ``grid x patch`` voxels with patch 4 x 4 x 4 and batch 1; the networks
share their sizes (``--hidden``, ``--layers``, ``--heads``; MLP 4x hidden). Per network and size, in
one process with the networks interleaved: the best of ``--steps`` train steps (forward, MSE, backward,
AdamW) after one warm-up step, and the bytes autograd saves for backward in one forward (parameters
excluded: the activation memory a train step needs on top of the weights and optimizer). MONAI's
default attention builds the N x N attention matrix per head, so it only runs up to
``--max-tokens-unfused`` tokens. Writes a JSON file and, with ``--figure``, a PNG of both curves.

Usage::

    python benchmarks/bench_token_scaling.py --figure docs/figures/token_scaling.png   # CPU, fp32, ~5 min on 2 cores
    python benchmarks/bench_token_scaling.py --device cuda --bf16 --hidden 384 --layers 8 --heads 8
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

import torch
from monai.networks.nets import ViT

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_networks import TorchEncoderViT, activation_bytes, interleaved_seconds, make_train_step  # noqa: E402

from monai_afpe.networks.nets import AFPEViT, MonaiViTClassifier  # noqa: E402

GRIDS = [(8, 8, 8), (8, 8, 16), (8, 16, 16), (16, 16, 16), (16, 16, 32), (16, 32, 32)]
PATCH = (4, 4, 4)


def networks(grid, args, device) -> dict:
    sizes = dict(
        in_channels=1,
        img_size=tuple(g * p for g, p in zip(grid, PATCH)),
        patch_size=PATCH,
        hidden_size=args.hidden,
        mlp_dim=4 * args.hidden,
        num_layers=args.layers,
        num_heads=args.heads,
    )
    tokens = grid[0] * grid[1] * grid[2]
    afpe = dict(pos_embed="afpe", num_classes=1, task="regression")
    models = {
        "AFPEViT": AFPEViT(**sizes, **afpe),
        "AFPEViT checkpointed": AFPEViT(**sizes, **afpe, gradient_checkpointing=True),
        "MONAI ViT fused": MonaiViTClassifier(**sizes, num_classes=1),
        "PyTorch encoder": TorchEncoderViT(**sizes),
    }
    if tokens <= args.max_tokens_unfused:
        vit = ViT(**sizes, classification=True, num_classes=1, post_activation=None)
        models["MONAI ViT"] = vit

    def forward(label, model):
        return (lambda t: model(t)[0]) if label == "MONAI ViT" else model

    forwards = {label: forward(label, model) for label, model in models.items()}
    return {label: (m.to(device).train(), forwards[label]) for label, m in models.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=192)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=16384)
    parser.add_argument("--max-tokens-unfused", type=int, default=4096)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--json", default="token_scaling.json")
    parser.add_argument("--figure", help="PNG of time and memory against tokens")
    args = parser.parse_args()
    device = torch.device(args.device)
    autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if args.bf16 else contextlib.nullcontext
    print(
        f"torch {torch.__version__}, {device}, {torch.get_num_threads()} threads, hidden {args.hidden}, "
        f"{args.layers} layers, {'bf16 autocast' if args.bf16 else 'fp32'}"
    )
    results = []
    for grid in GRIDS:
        tokens = grid[0] * grid[1] * grid[2]
        if tokens > args.max_tokens:
            break
        torch.manual_seed(0)
        models = networks(grid, args, device)
        x = torch.randn(1, 1, *(g * p for g, p in zip(grid, PATCH)), device=device)
        target = torch.randn(1, 1, device=device)
        row = {"tokens": tokens, "grid": grid, "models": {}}
        for label, (model, forward) in models.items():
            with autocast():
                row["models"][label] = {"activation_bytes": activation_bytes(forward, x, model)}
        steps = {label: make_train_step(m, f, x, target, autocast) for label, (m, f) in models.items()}
        for label, seconds in interleaved_seconds(steps, args.steps, 1, device).items():
            row["models"][label]["train_s"] = min(seconds)
        results.append(row)
        cells = ", ".join(
            f"{label} {m['train_s']:.2f} s / {m['activation_bytes'] / 2**20:.0f} MiB"
            for label, m in row["models"].items()
        )
        print(f"{tokens:6d} tokens: {cells}", flush=True)
        del models, steps
    Path(args.json).write_text(json.dumps({"args": vars(args), "results": results}, indent=1))
    print(f"\n| tokens | {' | '.join(results[0]['models'])} |")
    print("|---" * (1 + len(results[0]["models"])) + "|")
    for row in results:
        cells = [
            f"{m['train_s']:.2f} s, {m['activation_bytes'] / 2**20:.0f} MiB" if (m := row["models"].get(label)) else "—"
            for label in results[0]["models"]
        ]
        print(f"| {row['tokens']} | {' | '.join(cells)} |")
    if args.figure:
        import matplotlib.pyplot as plt

        figure, axes = plt.subplots(1, 2, figsize=(10, 4))
        for label in dict.fromkeys(name for row in results for name in row["models"]):
            rows = [row for row in results if label in row["models"]]
            tokens = [row["tokens"] for row in rows]
            axes[0].plot(tokens, [row["models"][label]["train_s"] for row in rows], marker="o", label=label)
            axes[1].plot(tokens, [row["models"][label]["activation_bytes"] / 2**30 for row in rows], marker="o")
        for axis, title in zip(axes, ("train step [s]", "activation memory [GiB]")):
            axis.set(xscale="log", yscale="log", xlabel="tokens", title=title)
            axis.grid(True, which="both", alpha=0.3)
        axes[0].legend(fontsize=8)
        figure.suptitle(
            f"hidden {args.hidden}, {args.layers} layers, batch 1, {device.type} "
            f"{'bf16 autocast' if args.bf16 else 'fp32'}, {torch.get_num_threads()} threads"
        )
        figure.tight_layout()
        figure.savefig(args.figure, dpi=100)
        print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
