"""The CT bundle's network with its convolutional stem channels-last (as shipped) against the default layout.

``PatchEmbedding`` stores a 3D stem's weights and activations in ``torch.channels_last_3d`` because oneDNN's
backward pass of stride-2 3D convolutions is slow in the default layout on some CPUs. This builds the network of
``bundles/afpe_ct_classification/configs/train.json`` and a copy with the stem in the default layout (same
weights), and times their train steps (forward, MSE, backward, AdamW) interleaved on a batch of the bundle's
size, under the bundle's precision choice (``bf16: auto``). Best and median of ``--steps`` rounds; a ratio above
1 means channels-last is faster.

Usage::

    python benchmarks/bench_stem_layout.py --steps 24
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
from pathlib import Path

import torch
from monai.bundle import ConfigParser

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_networks import interleaved_seconds, make_train_step  # noqa: E402

from monai_afpe.inferers import computes_natively_in  # noqa: E402

TRAIN_CONFIG = Path(__file__).resolve().parents[1] / "bundles" / "afpe_ct_classification" / "configs" / "train.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=24, help="timed rounds")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = ConfigParser()
    config.read_config(TRAIN_CONFIG)
    shipped = config.get_parsed_content("network_def")
    default_layout = copy.deepcopy(shipped)
    default_layout.patch_embedding.channels_last = False
    default_layout.to(memory_format=torch.contiguous_format)

    batch = config.get_parsed_content("batch_size")
    torch.manual_seed(0)
    x = torch.randn(batch, 1, *config.get_parsed_content("spatial_size"))
    spacing = torch.tensor(config.get_parsed_content("default_spacing")).repeat(batch, 1)
    target = torch.randn(batch, config.get_parsed_content("num_classes"))
    bf16 = computes_natively_in("cpu", torch.bfloat16)

    def autocast():
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)

    steps = {
        label: make_train_step(model, lambda images, model=model: model(images, spacing=spacing), x, target, autocast)
        for label, model in (("channels-last stem", shipped), ("default layout", default_layout))
    }
    times = interleaved_seconds(steps, args.steps, args.warmup, torch.device("cpu"))
    print(f"torch {torch.__version__}, {args.threads} threads, {'bfloat16' if bf16 else 'float32'}, batch {batch}")
    print("| stem layout | best train step [s] | median [s] |")
    print("|---|---|---|")
    for label, seconds in times.items():
        print(f"| {label} | {min(seconds):.4f} | {statistics.median(seconds):.4f} |")
    best = {label: min(seconds) for label, seconds in times.items()}
    median = {label: statistics.median(seconds) for label, seconds in times.items()}
    print(
        f"default / channels-last: {best['default layout'] / best['channels-last stem']:.2f}x best, "
        f"{median['default layout'] / median['channels-last stem']:.2f}x median"
    )


if __name__ == "__main__":
    main()
