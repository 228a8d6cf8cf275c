"""Speed of the synthetic data generators on one CPU core, in memory and written to disk.

Measured per data set (wall-clock seconds, one process pinned to one core where the OS allows it):
    - in memory: drawing the samples (``sample_*``), no files;
    - on disk: the full ``generate_*`` call into a temporary folder (NIfTI / AVI writing, datalists).

Target (issue 5): 600 organ-shapes volumes of 32³ generated in under 10 s on one core.

Usage::

    python benchmarks/bench_synthetic_data.py                 # organ shapes (both protocols), CT seg, echo
    python benchmarks/bench_synthetic_data.py --num-shapes 600 --num-segmentation 0 --num-echo 0
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from monai_afpe.data.synthetic import (
    CTSegmentationConfig,
    EchoConfig,
    OrganShapesConfig,
    generate_ct_segmentation,
    generate_echo,
    generate_organ_shapes,
    sample_ct_segmentation,
    sample_echo,
    sample_organ_shape,
    sample_rng,
)

TARGET_SECONDS = 10.0  # for 600 organ-shapes volumes of 32^3


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def row(name: str, count: int, unit: str, memory: float, disk: float) -> None:
    print(
        f"{name:<24} {count:>5} {unit:<7} in memory {memory:7.2f} s ({count / memory:7.1f}/s)   "
        f"on disk {disk:7.2f} s ({count / disk:7.1f}/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-shapes", type=int, default=600, help="organ-shapes volumes (32^3)")
    parser.add_argument("--num-segmentation", type=int, default=20, help="CT segmentation volumes (64x64x32)")
    parser.add_argument("--num-echo", type=int, default=10, help="echo videos (96 frames of 112x112)")
    parser.add_argument("--all-cores", action="store_true", help="do not pin the process to one core")
    args = parser.parse_args()
    if not args.all_cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"cores used: {cores}")

    with tempfile.TemporaryDirectory() as tmp:
        if args.num_shapes:
            n = args.num_shapes
            for protocol, options in (("mixed", {}), ("stride", {"anisotropy": 4})):
                config = OrganShapesConfig(protocol=protocol, **options)
                memory = timed(lambda c=config: [sample_organ_shape(sample_rng(0, i), i % 6, c) for i in range(n)])
                out = os.path.join(tmp, f"shapes_{protocol}")
                disk = timed(lambda o=out, p=protocol, k=options: generate_organ_shapes(o, n, seed=0, protocol=p, **k))
                row(f"organ shapes {protocol}", n, "volumes", memory, disk)
                if protocol == "mixed":
                    verdict = "meets" if disk < TARGET_SECONDS * n / 600 else "MISSES"
                    print(f"  target: 600 volumes in < {TARGET_SECONDS:g} s on one core -> {verdict} ({disk:.2f} s)")
        if args.num_segmentation:
            n, config = args.num_segmentation, CTSegmentationConfig()
            memory = timed(lambda: [sample_ct_segmentation(sample_rng(0, i), config) for i in range(n)])
            disk = timed(lambda: generate_ct_segmentation(os.path.join(tmp, "segmentation"), n, seed=0))
            row("CT segmentation", n, "volumes", memory, disk)
        if args.num_echo:
            n, config = args.num_echo, EchoConfig()
            memory = timed(lambda: [sample_echo(sample_rng(0, i), config) for i in range(n)])
            disk = timed(lambda: generate_echo(os.path.join(tmp, "echo"), n, seed=0))
            row("echo (AVI, ffv1)", n, "videos", memory, disk)


if __name__ == "__main__":
    main()
