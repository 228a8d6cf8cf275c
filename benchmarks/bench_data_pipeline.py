"""Where a bundle's training epoch goes: the data pipeline against the network's steps, in one process.

For a bundle's ``configs/train.json`` (its own data, transforms, data loader, network, inferer, loss and
optimiser), each round measures, interleaved:

- ``data``: one pass over the training data loader alone (cache copies, random augmentation, spacing
  extraction, collation), keeping the batches;
- ``network``: the trainer's own ``_iteration`` (prepare_batch, inferer, loss, backward, optimiser step and
  the handlers of MONAI's ``IterationEvents``, such as gradient clipping) on those kept batches, so no data
  work is left in it; ignite's ``ITERATION_COMPLETED`` handlers (post-processing, metrics, loggers, the
  learning rate schedule) do not run;
- ``epoch``: the trainer's iteration on batches as the data loader yields them, as in training.

It prints the wall and CPU seconds of each, the epoch's ratio to the network steps alone (the performance
issue's target is at most 1.25) and the share of the epoch that is not the network. The cached data set is
built once before the rounds and reported on its own (``cache``). Validation, checkpoints and the learning
rate schedule's epoch events do not run; each round's steps start from the weights the previous left.

Example::

    python benchmarks/bench_data_pipeline.py bundles/afpe_ct_classification --rounds 2 --threads 2
    python benchmarks/bench_data_pipeline.py bundles/afpe_echo_regression --rounds 2 -- --num_samples 240
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch


class Stopwatch:
    """Wall and process CPU seconds of a block."""

    def __enter__(self) -> Stopwatch:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def _overrides(pairs: list[str]) -> dict:
    """``--key value`` pairs after ``--`` as a dict (values parsed as JSON when they are JSON)."""
    if len(pairs) % 2:
        raise SystemExit(f"overrides come in '--key value' pairs, got {pairs}")
    out = {}
    for key, value in zip(pairs[::2], pairs[1::2]):
        if not key.startswith("--"):
            raise SystemExit(f"override names start with '--', got {key!r}")
        try:
            out[key[2:]] = json.loads(value)
        except json.JSONDecodeError:
            out[key[2:]] = value
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, help="bundle folder (holding configs/train.json)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of data, network and epoch")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the bundle's num_threads)")
    parser.add_argument("--configs", nargs="+", default=["train.json"], help="configs merged in this order")
    args = parser.parse_args(argv)

    from monai.bundle import ConfigWorkflow

    bundle = args.bundle.resolve()
    overrides = {"num_threads": args.threads, **_overrides(extra)}
    with Stopwatch() as cache:
        workflow = ConfigWorkflow(
            config_file=[str(bundle / "configs" / name) for name in args.configs],
            workflow_type="train",
            bundle_root=str(bundle),
            **overrides,
        )
        workflow.initialize()
        trainer = workflow.parser.get_parsed_content("train#trainer")
        loader = trainer.data_loader
    torch.set_num_threads(args.threads)
    trainer.network.train()

    results: dict[str, list[Stopwatch]] = {"data": [], "network": [], "epoch": []}
    steps = 0
    for _ in range(args.rounds):
        with Stopwatch() as data:
            batches = list(loader)
        with Stopwatch() as network:
            for batch in batches:
                trainer._iteration(trainer, batch)
        with Stopwatch() as epoch:
            for batch in loader:
                trainer._iteration(trainer, batch)
        steps = len(batches)
        for name, watch in zip(results, (data, network, epoch)):
            results[name].append(watch)

    def best(name: str) -> Stopwatch:
        return min(results[name], key=lambda watch: watch.wall)

    print(f"bundle {bundle.name}, {steps} steps per epoch, {args.threads} threads, overrides {overrides}")
    print(f"cache (data set built once): {cache.wall:.1f} s wall, {cache.cpu:.1f} s CPU")
    print("| part | wall s (best of rounds) | CPU s | per step, wall ms |")
    print("|---|---|---|---|")
    for name in results:
        watch = best(name)
        print(f"| {name} | {watch.wall:.2f} | {watch.cpu:.2f} | {1000 * watch.wall / max(steps, 1):.0f} |")
    epoch, network = best("epoch"), best("network")
    print(
        f"epoch / network steps alone: {epoch.wall / network.wall:.2f}x wall, {epoch.cpu / network.cpu:.2f}x CPU; "
        f"not the network: {100 * (1 - network.wall / epoch.wall):.0f}% of the epoch (wall)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
