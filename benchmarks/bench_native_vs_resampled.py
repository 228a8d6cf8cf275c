"""R4, cost: a network at native resolution against the same network after resampling to isotropic spacing.

On the spacing-awareness data (organ shapes, 32³ voxels, in-plane 0.6-1.2 mm, slices 1-3 mm) a
spacing-aware network reads each volume as it is: 4 x 4 x 4 tokens of 8³ voxels. Resampling to an
isotropic spacing either keeps the field of view, which multiplies the tokens by the anisotropy, or
crops back to 32³, which keeps the tokens and drops the anatomy outside the crop (harmless for the
centred synthetic organ, not for a CT scan). This script measures, in one process with the pipelines
interleaved, for the CT bundle's architecture (convolutional stem 16-32-64, 8³ patches, hidden 96, 3
blocks):

    - tokens per volume;
    - the train step (forward, cross-entropy, backward, AdamW) of a batch, fp32 and bf16 autocast;
    - the activations autograd saves for backward in one step (the part of memory that grows with tokens);
    - the resampling itself (MONAI ``Spacing`` + ``ResizeWithPadOrCrop``) per volume.

The accuracy of the same pipelines, trained, is in ``docs/results/native_vs_resampled``
(``configs/experiments/native_vs_resampled.yaml``). Usage::

    python benchmarks/bench_native_vs_resampled.py --rounds 5 --batch 32
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from monai.data import MetaTensor
from monai.transforms import ResizeWithPadOrCrop, Spacing

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_networks import CT_BUNDLE_TRANSFORMER  # noqa: E402

from monai_afpe.experiments.training import saved_activation_bytes  # noqa: E402
from monai_afpe.networks.nets import AFPEViT  # noqa: E402

NATIVE_SIZE = (32, 32, 32)
COARSEST = (1.2, 1.2, 3.0)  # the largest spacing of the training range: the field of view to keep
FINEST_INPLANE = 0.6


def multiple_of(value: float, step: int = 8) -> int:
    return int(math.ceil(value / step) * step)


def pipelines() -> dict[str, tuple[tuple[int, int, int], float | None]]:
    """Name -> (network input size, isotropic spacing resampled to, or None for native)."""
    fov = [n * s for n, s in zip(NATIVE_SIZE, COARSEST)]
    return {
        "native (spacing-aware)": (NATIVE_SIZE, None),
        "1 mm, cropped to 32³ (R1's resample arms)": (NATIVE_SIZE, 1.0),
        "1 mm, full field of view": (tuple(multiple_of(f / 1.0) for f in fov), 1.0),
        "0.6 mm (finest in-plane), full field of view": (
            tuple(multiple_of(f / FINEST_INPLANE) for f in fov),
            FINEST_INPLANE,
        ),
    }


def network(size) -> AFPEViT:
    torch.manual_seed(0)
    return AFPEViT(
        1,
        size,
        8,
        **CT_BUNDLE_TRANSFORMER,
        num_classes=6,
        stem_channels=(16, 32, 64),
        pos_embed="afpe",
        pos_embed_kwargs={"mode": "physical", "reference_extent": 32.0, "scales": 1.0},
    )


def resample_seconds(size, spacing, repeats: int = 20) -> float:
    """Seconds to resample one native volume (spacing = the coarsest of the range) to ``spacing`` and ``size``."""
    if spacing is None:
        return 0.0
    volume = MetaTensor(
        torch.randn(1, *NATIVE_SIZE), affine=torch.diag(torch.tensor([*COARSEST, 1.0], dtype=torch.float64))
    )
    resample, crop = Spacing(pixdim=spacing, mode="bilinear"), ResizeWithPadOrCrop(size)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        crop(resample(volume))
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per pipeline (after one warm-up)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cases = pipelines()
    nets = {name: network(size) for name, (size, _) in cases.items()}
    optimizers = {name: torch.optim.AdamW(net.parameters(), lr=1e-4) for name, net in nets.items()}
    inputs = {name: torch.randn(args.batch, 1, *size) for name, (size, _) in cases.items()}
    spacing = torch.tensor([[1.0, 1.0, 1.0]]).expand(args.batch, 3)
    target = torch.arange(args.batch) % 6
    times = {(name, bf16): [] for name in cases for bf16 in (False, True)}
    memory = {}

    def step(name: str, bf16: bool, measure: bool = False) -> float:
        net, x = nets[name], inputs[name]
        native_spacing = spacing * (torch.tensor(COARSEST) if cases[name][1] is None else cases[name][1])

        def forward():
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                return F.cross_entropy(net(x, spacing=native_spacing).float(), target)

        start = time.perf_counter()
        if measure:
            loss, memory[name] = saved_activation_bytes(forward)
        else:
            loss = forward()
        optimizers[name].zero_grad(set_to_none=True)
        loss.backward()
        optimizers[name].step()
        return time.perf_counter() - start

    for name in cases:  # warm-up, and the saved activations of one fp32 step
        step(name, False, measure=True)
        step(name, True)
    for _ in range(args.rounds):
        for name in cases:
            for bf16 in (False, True):
                times[(name, bf16)].append(step(name, bf16))

    native = next(iter(cases))
    print(f"batch {args.batch}, {args.threads} threads, best of {args.rounds} interleaved rounds")
    print(
        "| pipeline | input | tokens | train step fp32 | bf16 | vs native (bf16) | saved activations | resample / volume |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, (size, iso) in cases.items():
        tokens = int(np.prod([n // 8 for n in size])) + 1
        fp32, bf16 = min(times[(name, False)]), min(times[(name, True)])
        ratio = bf16 / min(times[(native, True)])
        print(
            f"| {name} | {'x'.join(map(str, size))} | {tokens} | {fp32:.3f} s | {bf16:.3f} s | {ratio:.2f}x | "
            f"{memory[name] / 2**20:.0f} MB | {1000 * resample_seconds(size, iso):.1f} ms |"
        )


if __name__ == "__main__":
    main()
