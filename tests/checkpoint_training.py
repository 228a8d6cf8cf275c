"""A tiny seeded MONAI training run with :class:`~monai_afpe.handlers.ResumableCheckpoint`, in-process or as a script.

Tests build it in their own process (:func:`build`) or run this file in a subprocess, which they then
kill: ``--pause-at-iteration N --pause-file F`` writes ``F`` after iteration ``N`` and waits while ``F``
exists (the test signals the process, then removes ``F``); ``--die-in-save-at-epoch K`` writes half of
epoch ``K``'s checkpoint and then SIGKILLs itself, as a power cut during the write would. The script
writes the final network weights to ``--out``.

Everything random (data, shuffling, dropout, initialisation) comes from the global generators that
``monai.utils.set_determinism`` seeds, so an uninterrupted run and a killed-and-resumed one are comparable
weight for weight.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import signal
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import torch
from ignite.engine import Events
from ignite.metrics import Accuracy, Metric
from monai.engines import SupervisedEvaluator, SupervisedTrainer
from monai.handlers import LrScheduleHandler, ValidationHandler, from_engine
from monai.utils import set_determinism

from monai_afpe.handlers import AtomicCheckpointSaver, ResumableCheckpoint

NUM_TRAIN, BATCH_SIZE = 48, 8
EPOCH_LENGTH = NUM_TRAIN // BATCH_SIZE


class ScriptedMetric(Metric):
    """A validation "metric" that is ``values[epoch]``: tests choose when the best model comes."""

    def __init__(self, values: dict[int, float]) -> None:
        self.values = values
        super().__init__()

    def reset(self) -> None:
        pass

    def update(self, output) -> None:
        pass

    def compute(self) -> float:
        raise NotImplementedError

    def iteration_completed(self, engine) -> None:
        pass

    def completed(self, engine, name: str) -> None:
        engine.state.metrics[name] = self.values[engine.state.epoch]


def build(
    save_dir: Path, max_epochs: int = 4, resume: bool = False, seed: int = 0, metric_values=None, **checkpoint_options
):
    """A trainer, its evaluator (saving the best ``model.pt``) and a ResumableCheckpoint attached to the trainer."""
    set_determinism(seed=seed)
    generator = torch.Generator().manual_seed(1234)  # the data are the same whatever the seed
    x = torch.randn(NUM_TRAIN + 16, 4, generator=generator)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    items = [{"image": x[i], "label": y[i]} for i in range(len(x))]
    train_loader = torch.utils.data.DataLoader(items[:NUM_TRAIN], batch_size=BATCH_SIZE, shuffle=True)
    val_loader = torch.utils.data.DataLoader(items[NUM_TRAIN:], batch_size=8, shuffle=False)
    network = torch.nn.Sequential(
        torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Dropout(0.3), torch.nn.Linear(16, 2)
    )
    optimizer = torch.optim.Adam(network.parameters(), lr=0.01)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=5, gamma=0.7)
    best_saver = AtomicCheckpointSaver(
        save_dir, {"model": network}, save_key_metric=True, key_metric_filename="model.pt"
    )
    accuracy = Accuracy(output_transform=from_engine(["pred", "label"]))
    metric = ScriptedMetric(metric_values) if metric_values else accuracy
    evaluator = SupervisedEvaluator(
        device=torch.device("cpu"),
        val_data_loader=val_loader,
        network=network,
        key_val_metric={"val_metric": metric},
        val_handlers=[best_saver],
        decollate=False,
    )
    trainer = SupervisedTrainer(
        device=torch.device("cpu"),
        max_epochs=max_epochs,
        train_data_loader=train_loader,
        network=network,
        optimizer=optimizer,
        loss_function=torch.nn.CrossEntropyLoss(),
        train_handlers=[
            LrScheduleHandler(scheduler, epoch_level=False, print_lr=False),
            ValidationHandler(validator=evaluator, interval=1, epoch_level=True),
        ],
        decollate=False,
    )
    checkpoint = ResumableCheckpoint(
        save_dir=save_dir,
        save_dict={"model": network, "optimizer": optimizer, "lr_scheduler": scheduler, "trainer": trainer},
        resume=resume,
        evaluator=evaluator,
        key_metric_savers=[best_saver],
        **checkpoint_options,
    )
    return SimpleNamespace(
        trainer=trainer, evaluator=evaluator, network=network, checkpoint=checkpoint, best_saver=best_saver
    )


def weights(network: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.detach().clone() for key, value in network.state_dict().items()}


def _pause(engine, iteration: int, pause_file: Path) -> None:
    if engine.state.iteration == iteration:
        pause_file.write_text(str(os.getpid()))
        deadline = time.monotonic() + 120
        while pause_file.exists() and time.monotonic() < deadline:
            time.sleep(0.01)


def _die_while_saving(epoch: int) -> None:
    """Make ``torch.save`` of epoch ``epoch``'s resumable checkpoint write half of it, then SIGKILL the process."""
    save = torch.save

    def partial_save(obj, f, *args, **kwargs):
        trainer_state = obj.get("trainer") if isinstance(obj, dict) else None
        if trainer_state is not None and trainer_state["iteration"] == epoch * EPOCH_LENGTH:
            buffer = io.BytesIO()
            save(obj, buffer, *args, **kwargs)
            f.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
            f.flush()
            os.fsync(f.fileno())
            os.kill(os.getpid(), signal.SIGKILL)
        return save(obj, f, *args, **kwargs)

    torch.save = partial_save


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--save-dir", type=Path, required=True)
    parser.add_argument("--max-epochs", type=int, default=4)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--pause-at-iteration", type=int)
    parser.add_argument("--pause-file", type=Path)
    parser.add_argument("--die-in-save-at-epoch", type=int)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    torch.set_num_threads(1)
    run = build(args.save_dir, max_epochs=args.max_epochs, resume=args.resume)
    if args.pause_at_iteration is not None:
        run.trainer.add_event_handler(Events.ITERATION_COMPLETED, _pause, args.pause_at_iteration, args.pause_file)
    if args.die_in_save_at_epoch is not None:
        _die_while_saving(args.die_in_save_at_epoch)
    previous = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    run.checkpoint.attach(run.trainer)
    run.trainer.run()
    if (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) != previous:
        print("signal handlers were not restored", file=sys.stderr)
        return 3
    if args.out is not None:
        torch.save({"weights": weights(run.network), "iteration": run.trainer.state.iteration}, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
