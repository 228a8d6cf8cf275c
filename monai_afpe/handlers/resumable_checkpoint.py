"""A training checkpoint that survives SIGKILL, SIGTERM and Ctrl-C and resumes where the run stopped.

MONAI's ``CheckpointSaver`` writes in place and removes the previous file first, and ``save_final``
writes the last state only when a run ends normally, so a killed run may have nothing to resume from;
a resumed run also forgets the best validation score and lets the key-metric saver overwrite the best
model with a worse one. :class:`ResumableCheckpoint` saves every epoch with ignite's ``Checkpoint`` and
:class:`~monai_afpe.handlers.AtomicDiskSaver`, stops cleanly on a signal after saving, and on resume loads
the newest complete file with MONAI's ``CheckpointLoader``, best scores included.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import threading
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ignite import distributed as idist
from ignite.engine import Engine, Events
from ignite.handlers import Checkpoint, EarlyStopping
from monai.handlers import CheckpointLoader, CheckpointSaver, EarlyStopHandler

from monai_afpe.handlers.atomic_disk_saver import TEMPORARY_SUFFIX, AtomicDiskSaver
from monai_afpe.handlers.checkpoint_files import (
    CHECKPOINT_EXTENSION,
    CheckpointFile,
    _check_prefix,
    _newest_readable,
    list_checkpoints,
    read_checkpoint_keys,
)
from monai_afpe.validation import check_flag, check_positive_int

__all__ = ["RESERVED_KEYS", "ResumableCheckpoint"]

RNG_KEY = "rng_state"
BEST_METRIC_KEY = "best_metric"
KEY_METRIC_SAVERS_KEY = "key_metric_savers"
EARLY_STOPPING_KEY = "early_stopping"
RESERVED_KEYS = (RNG_KEY, BEST_METRIC_KEY, KEY_METRIC_SAVERS_KEY, EARLY_STOPPING_KEY)
"""Checkpoint entries that :class:`ResumableCheckpoint` adds to ``save_dict``; ``save_dict`` may not use them."""


def _scalar(value: Any) -> Any:
    """A Python number for a metric (a tensor or numpy scalar would need more than ``weights_only`` allows)."""
    if isinstance(value, (torch.Tensor, np.ndarray, np.generic)):
        return value.item()
    return value


def _saved_items(checkpoint: Checkpoint) -> list[tuple[Any, str]]:
    """(priority, file name) of the files an ignite ``Checkpoint`` keeps, from its public ``state_dict``."""
    (items,) = checkpoint.state_dict().values()  # the key is "_saved" in ignite 0.5, "saved" in its docs
    return [(priority, name) for priority, name in items]


def _load_saved_items(checkpoint: Checkpoint, items: Sequence[tuple[Any, str]]) -> None:
    """Replace the record of an ignite ``Checkpoint`` with ``items`` through its public ``load_state_dict``."""
    (key,) = checkpoint.state_dict().keys()
    checkpoint.load_state_dict({key: [(priority, name) for priority, name in items]})


class _RandomStates:
    """Global random states of torch (CPU and the current CUDA device), numpy and Python, as tensors and numbers."""

    def state_dict(self) -> dict:
        version, mt_state, gauss_next = random.getstate()
        name, keys, position, has_gauss, cached_gaussian = np.random.get_state()
        state = {
            "torch": torch.get_rng_state(),
            "numpy": {
                "name": str(name),
                "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
                "position": int(position),
                "has_gauss": int(has_gauss),
                "cached_gaussian": float(cached_gaussian),
            },
            "python": {
                "version": int(version),
                "state": torch.tensor(mt_state, dtype=torch.int64),
                "gauss_next": gauss_next,
            },
        }
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state()
        return state

    def load_state_dict(self, state: Mapping) -> None:
        torch.set_rng_state(state["torch"].cpu())
        numpy_state = state["numpy"]
        np.random.set_state(
            (
                numpy_state["name"],
                numpy_state["keys"].cpu().numpy().astype(np.uint32),
                numpy_state["position"],
                numpy_state["has_gauss"],
                numpy_state["cached_gaussian"],
            )
        )
        python_state = state["python"]
        random.setstate((python_state["version"], tuple(python_state["state"].tolist()), python_state["gauss_next"]))
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state(state["cuda"].cpu())


class _BestMetrics:
    """``state.best_metric`` and ``state.best_metric_epoch`` of MONAI workflows (trainer, evaluator)."""

    def __init__(self, engines: Mapping[str, Engine]) -> None:
        self.engines = dict(engines)

    def state_dict(self) -> dict:
        return {
            name: {
                "best_metric": _scalar(engine.state.best_metric),
                "best_metric_epoch": int(engine.state.best_metric_epoch),
            }
            for name, engine in self.engines.items()
            if hasattr(engine.state, "best_metric")
        }

    def load_state_dict(self, state: Mapping) -> None:
        for name, engine in self.engines.items():
            if name in state:
                engine.state.best_metric = state[name]["best_metric"]
                engine.state.best_metric_epoch = state[name]["best_metric_epoch"]


class _KeyMetricSavers:
    """The record of MONAI ``CheckpointSaver``\\ s' key-metric checkpoints: (score, file name) of the best files."""

    def __init__(self, savers: Sequence[CheckpointSaver], logger: logging.Logger) -> None:
        self.savers = list(savers)
        self.logger = logger

    def state_dict(self) -> dict:
        # MONAI keeps the key-metric ignite Checkpoint private; its state_dict is ignite's public format
        records = [_saved_items(saver._key_metric_checkpoint) for saver in self.savers]
        return {
            str(index): [(float(_scalar(score)), str(name)) for score, name in saved]
            for index, saved in enumerate(records)
        }

    def load_state_dict(self, state: Mapping) -> None:
        if len(state) != len(self.savers):
            warnings.warn(
                f"the checkpoint records {len(state)} key-metric saver(s), this run has {len(self.savers)}; "
                "restoring them in order as far as both go.",
                stacklevel=2,
            )
        for index, saver in enumerate(self.savers):
            saved = state.get(str(index))
            if saved is None:
                continue
            handler = saver._key_metric_checkpoint.save_handler
            folder = Path(getattr(handler, "dirname", saver.save_dir))
            kept = []
            for score, name in saved:
                # MONAI's fixed key_metric_filename (e.g. model.pt) replaces the name ignite records
                path = folder / (getattr(handler, "filename", None) or name)
                if path.is_file():
                    kept.append((score, name))
                else:
                    warnings.warn(
                        f"best-metric file {path} (score {score}) recorded in the checkpoint is missing; "
                        "the next validation saves a new one.",
                        stacklevel=2,
                    )
            _load_saved_items(saver._key_metric_checkpoint, kept)
            if kept:
                self.logger.info(f"Key-metric saver {index} keeps {folder} file(s) of score(s) {[s for s, _ in kept]}")


class _EarlyStopping:
    """State of an ignite ``EarlyStopping`` or MONAI ``EarlyStopHandler`` (patience counter and best score)."""

    def __init__(self, handler: EarlyStopping | EarlyStopHandler) -> None:
        self.handler = handler

    def _ignite(self) -> EarlyStopping | None:
        return self.handler._handler if isinstance(self.handler, EarlyStopHandler) else self.handler

    def state_dict(self) -> dict:
        handler = self._ignite()
        if handler is None:  # MONAI creates its ignite handler when it knows the trainer
            return {}
        return {"counter": int(handler.counter), "best_score": _scalar(handler.best_score)}

    def load_state_dict(self, state: Mapping) -> None:
        handler = self._ignite()
        if not state:
            return
        if handler is None:
            raise RuntimeError(
                "cannot restore early stopping: the EarlyStopHandler has no trainer yet (set its trainer)."
            )
        handler.counter = state["counter"]
        handler.best_score = state["best_score"]


def _signal_number(value: str | int) -> signal.Signals:
    try:
        return signal.Signals[value] if isinstance(value, str) else signal.Signals(value)
    except (KeyError, ValueError):
        allowed = ", ".join(sorted(s.name for s in signal.Signals))
        raise ValueError(f"unknown signal {value!r} in stop_signals; allowed: {allowed}.") from None


class ResumableCheckpoint:
    """Save a resumable training checkpoint every epoch and on SIGTERM / SIGINT; resume from the newest complete one.

    Attach it to the trainer *after* the ``ValidationHandler`` (a bundle's ``run`` section attaches
    checkpoint handlers after the trainer's own handlers), so that each epoch's checkpoint includes that
    epoch's validation. It

    - saves ``save_dict`` (model, optimizer, lr scheduler, the trainer; any object with ``state_dict`` and
      ``load_state_dict``), the global random states, the best key metric and its epoch of the trainer and
      ``evaluator``, the record of ``key_metric_savers`` and ``early_stopping`` to
      ``<save_dir>/<file_prefix>_epoch=<E>.pt`` every ``save_interval`` epochs and when the run completes,
      with ignite's ``Checkpoint`` and :class:`~monai_afpe.handlers.AtomicDiskSaver`: each file appears
      complete or not at all, and the previous one is removed only after the next one is complete;
    - on SIGTERM or SIGINT (``stop_signals``) finishes the current iteration, saves
      ``<file_prefix>_epoch=<E>_iteration=<I>.pt`` (at the last iteration of an epoch it waits for the
      epoch's handlers, validation included, and saves ``..._epoch=<E>.pt``), stops the engine with
      ``engine.terminate()`` and lets ``run()`` return normally; a second signal goes to the handler that
      was installed before (for Ctrl-C: ``KeyboardInterrupt`` at once). Previous handlers come back when
      the run completes or terminates;
    - with ``resume=True`` loads ``load_path``, or else the newest file of ``file_prefix`` in ``save_dir``
      that can be read, with MONAI's ``CheckpointLoader`` when the run starts. A newer file that cannot
      be read is skipped with a warning naming it; with no readable file the error names every file. The
      best score and the key-metric savers' record come back too, so a key-metric ``CheckpointSaver``
      (``model.pt``) is overwritten only by a better model than any before the interruption.

    A run killed with SIGKILL resumes from the last epoch it saved and repeats the epoch it was in. With
    the random states restored, a resumed run on a seeded, deterministic pipeline gives the weights of
    an uninterrupted run, as long as all randomness comes from the global generators (shuffling, dropout,
    DataLoader worker seeds). Random transforms that keep their own generator (MONAI's ``Randomizable``
    with ``num_workers=0``) are not part of the checkpoint, so their draws after resume differ (the run is
    still a valid continuation). A run stopped inside an epoch resumes at its iteration but draws the rest
    of that epoch's batches from a fresh data iterator.

    Every file left by an earlier run (``resume=False``, or files newer than the one resumed from) stays
    until this run's first checkpoint is complete, then is removed, so that resume never picks up a
    stale file; a stray temporary file from a killed save is removed at start. In a distributed run
    attach it on every rank: every rank loads, only rank 0 writes, and a stop signal on any rank stops
    all ranks at the same iteration.

    Args:
        save_dir: folder of the checkpoint files.
        save_dict: objects to save and restore by name, e.g. ``{"model": net, "optimizer": opt,
            "lr_scheduler": sched, "trainer": trainer}``; must include the engine this handler is attached
            to. Names in ``RESERVED_KEYS`` are taken.
        resume: load a checkpoint when the run starts.
        load_path: the checkpoint to resume from; None: the newest readable one in ``save_dir``.
        evaluator: the validation engine, whose ``state.best_metric`` / ``best_metric_epoch`` are saved.
        key_metric_savers: MONAI ``CheckpointSaver``\\ (s) with ``save_key_metric=True`` (e.g. the evaluator's
            ``model.pt`` saver) whose record of the best file is saved, so that after resume they
            overwrite it only with a better model.
        early_stopping: an ignite ``EarlyStopping`` or MONAI ``EarlyStopHandler`` whose patience counter and
            best score are saved.
        file_prefix: first part of the file names.
        save_interval: save at the end of every ``save_interval``-th epoch (and when the run completes).
        n_saved: how many checkpoint files to keep (newest); None keeps all. Two by default, so an older
            complete file remains if the newest is damaged later.
        save_rng_state: save and restore the global random states of torch, numpy and Python.
        stop_signals: names or numbers of the signals that save and stop the run; None or empty: none.
            Signal handlers can only be installed from the main thread; elsewhere they are skipped with a
            warning.
        map_location: ``map_location`` for loading (e.g. the training device).
        strict: load module state dicts strictly.
        name: logger name; None: the engine's logger.

    Raises:
        ValueError: for arguments that cannot work, with what was expected.
    """

    def __init__(
        self,
        save_dir: str | os.PathLike,
        save_dict: Mapping[str, Any],
        resume: bool = False,
        load_path: str | os.PathLike | None = None,
        evaluator: Engine | None = None,
        key_metric_savers: CheckpointSaver | Sequence[CheckpointSaver] | None = None,
        early_stopping: EarlyStopping | EarlyStopHandler | None = None,
        file_prefix: str = "checkpoint",
        save_interval: int = 1,
        n_saved: int | None = 2,
        save_rng_state: bool = True,
        stop_signals: Sequence[str | int] | None = ("SIGTERM", "SIGINT"),
        map_location: Any = None,
        strict: bool = True,
        name: str | None = None,
    ) -> None:
        if save_dir is None or str(save_dir) == "":
            raise ValueError("save_dir must be the folder of the checkpoint files, got nothing.")
        if not isinstance(save_dict, Mapping) or not save_dict:
            raise ValueError(f"save_dict must be a non-empty mapping of names to objects to save, got {save_dict!r}.")
        for key, obj in save_dict.items():
            if key in RESERVED_KEYS:
                raise ValueError(
                    f"save_dict key {key!r} is reserved for what ResumableCheckpoint adds; reserved: {RESERVED_KEYS}."
                )
            if not (hasattr(obj, "state_dict") and hasattr(obj, "load_state_dict")):
                raise ValueError(f"save_dict[{key!r}] ({type(obj).__name__}) has no state_dict / load_state_dict.")
        save_interval = check_positive_int(save_interval, "save_interval", unit="epochs")
        n_saved = check_positive_int(n_saved, "n_saved", unit="files to keep", allow_none=True)
        if evaluator is not None and not hasattr(evaluator, "state"):
            raise ValueError(f"evaluator must be an ignite / MONAI engine, got {type(evaluator).__name__}.")
        if isinstance(key_metric_savers, CheckpointSaver):
            key_metric_savers = [key_metric_savers]
        savers = list(key_metric_savers or [])
        for index, saver in enumerate(savers):
            if not isinstance(saver, CheckpointSaver) or getattr(saver, "_key_metric_checkpoint", None) is None:
                raise ValueError(
                    f"key_metric_savers[{index}] must be a monai.handlers.CheckpointSaver with save_key_metric=True, "
                    f"got {type(saver).__name__}."
                )
        if early_stopping is not None and not isinstance(early_stopping, (EarlyStopping, EarlyStopHandler)):
            raise ValueError(
                "early_stopping must be an ignite.handlers.EarlyStopping or monai.handlers.EarlyStopHandler, "
                f"got {type(early_stopping).__name__}."
            )
        self.save_dir = Path(save_dir).expanduser()
        self.save_dict = dict(save_dict)
        self.resume = check_flag(resume, "resume")
        self.load_path = None if load_path is None or str(load_path) == "" else Path(load_path).expanduser()
        self.evaluator = evaluator
        self.key_metric_savers = savers
        self.early_stopping = early_stopping
        self.file_prefix = _check_prefix(file_prefix)
        self.save_interval = save_interval
        self.n_saved = n_saved
        self.save_rng_state = bool(save_rng_state)
        self.stop_signals = [_signal_number(s) for s in (stop_signals or [])]
        self.map_location = map_location
        self.strict = strict
        self.logger = logging.getLogger(name)
        self._name = name
        self._checkpoint: Checkpoint | None = None
        self._previous_handlers: dict[signal.Signals, Any] = {}
        self._stop_signal: signal.Signals | None = None
        self._running = False
        self._last_saved_iteration: int | None = None
        self._stale: list[Path] = []
        self._world_size = 1
        self.loaded_path: Path | None = None
        """The file the last resume loaded (None before, or without resume)."""

    # -- attaching -------------------------------------------------------------------------------------
    def attach(self, engine: Engine) -> None:
        """Register the handler's events on ``engine`` (the trainer, which must be one of ``save_dict``'s values)."""
        if not any(obj is engine for obj in self.save_dict.values()):
            raise ValueError(
                "save_dict must include the engine ResumableCheckpoint is attached to "
                "(e.g. 'trainer': @train#trainer): its state says where to resume."
            )
        if self._name is None:
            self.logger = engine.logger
        to_save: dict[str, Any] = dict(self.save_dict)
        if self.save_rng_state:
            to_save[RNG_KEY] = _RandomStates()
        engines = {"trainer": engine, **({"evaluator": self.evaluator} if self.evaluator is not None else {})}
        to_save[BEST_METRIC_KEY] = _BestMetrics(engines)
        if self.key_metric_savers:
            to_save[KEY_METRIC_SAVERS_KEY] = _KeyMetricSavers(self.key_metric_savers, self.logger)
        if self.early_stopping is not None:
            to_save[EARLY_STOPPING_KEY] = _EarlyStopping(self.early_stopping)
        self._to_save = to_save
        self._checkpoint = Checkpoint(
            to_save=to_save,
            save_handler=AtomicDiskSaver(self.save_dir),
            filename_prefix=self.file_prefix,
            score_function=lambda e: e.state.iteration,
            score_name="iteration",
            n_saved=self.n_saved,
            global_step_transform=lambda e, _: self._file_step(e),
            filename_pattern="{filename_prefix}_{global_step}.{ext}",
        )
        engine.add_event_handler(Events.STARTED, self._started)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._iteration_completed)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self._epoch_completed)
        engine.add_event_handler(Events.TERMINATE, self._completed)
        engine.add_event_handler(Events.COMPLETED, self._completed)

    @staticmethod
    def _at_epoch_end(engine: Engine) -> bool:
        length = engine.state.epoch_length
        return length is not None and engine.state.iteration % length == 0

    def _file_step(self, engine: Engine) -> str:
        """The part of the file name after the prefix: ``epoch=E`` or ``epoch=E_iteration=I``."""
        if self._at_epoch_end(engine):
            return f"epoch={engine.state.iteration // engine.state.epoch_length}"
        return f"epoch={engine.state.epoch}_iteration={engine.state.iteration}"

    @property
    def _saves(self) -> bool:
        return idist.get_rank() == 0  # AtomicDiskSaver writes on rank 0 only

    # -- events ----------------------------------------------------------------------------------------
    def _started(self, engine: Engine) -> None:
        self._stop_signal = None
        self._running = True
        self._world_size = idist.get_world_size()
        if self._saves:
            pattern = f".{self.file_prefix}_epoch=*.{CHECKPOINT_EXTENSION}.*{TEMPORARY_SUFFIX}"
            for temporary in self.save_dir.glob(pattern):
                self.logger.warning(f"Removing {temporary}, left by a save that was interrupted.")
                temporary.unlink(missing_ok=True)
        existing = list_checkpoints(self.save_dir, self.file_prefix)
        if self.resume:
            loaded = self._load(engine)
            managed = [f for f in existing if loaded is not None and f.order <= loaded.order]
            self._stale = [f.path for f in existing if f not in managed]
            # ignite's Checkpoint keeps n_saved files across the restart: it learns of the files it wrote before
            epoch_length = engine.state.epoch_length or 0
            saved = [(f.epoch * epoch_length if f.iteration is None else f.iteration, f.path.name) for f in managed]
            _load_saved_items(self._checkpoint, saved)
            self._last_saved_iteration = engine.state.iteration
            if self._stale:
                self.logger.warning(f"Checkpoint files newer than the one resumed from will be replaced: {self._stale}")
        else:
            self._stale = [f.path for f in existing]
            self._last_saved_iteration = None
            if self._stale:
                self.logger.warning(
                    f"{self.save_dir} holds {len(self._stale)} checkpoint file(s) of an earlier run; they are "
                    "removed once this run has saved its first checkpoint (resume=True continues from them instead)."
                )
        self._install_signal_handlers()  # after loading: a failed resume leaves the process's handlers alone

    def _load(self, engine: Engine) -> CheckpointFile | None:
        """Load the checkpoint to resume from; return it as listed in ``save_dir`` (None: a file from elsewhere)."""
        if self.load_path is not None:
            path, keys = self.load_path, read_checkpoint_keys(self.load_path)
            files = list_checkpoints(self.save_dir, self.file_prefix)
            listed = next((f for f in files if f.path.resolve() == path.resolve()), None)
        else:
            listed, keys = _newest_readable(self.save_dir, self.file_prefix)
            path = listed.path
        missing = [key for key in self.save_dict if key not in keys]
        if missing:
            raise KeyError(f"checkpoint {path} has no {missing}; it holds {keys}, expected every key of save_dict.")
        load_dict = {key: obj for key, obj in self._to_save.items() if key in keys}
        absent = [key for key in self._to_save if key not in load_dict]
        if absent:
            warnings.warn(f"checkpoint {path} has no {absent}; those start afresh.", stacklevel=2)
        loader = CheckpointLoader(
            load_path=str(path), load_dict=load_dict, map_location=self.map_location, strict=self.strict
        )
        loader.logger = self.logger
        loader(engine)
        self.loaded_path = Path(path)
        best = [
            f"{role} best {e.state.best_metric} at epoch {e.state.best_metric_epoch}"
            for role, e in (("trainer", engine), ("validation", self.evaluator))
            if e is not None and getattr(e.state, "best_metric_epoch", -1) != -1
        ]
        self.logger.info(
            f"Resumed from {path}: epoch {engine.state.epoch}, iteration {engine.state.iteration}"
            + "".join(f"; {b}" for b in best)
        )
        return listed

    def _iteration_completed(self, engine: Engine) -> None:
        # at an epoch's last iteration the epoch's handlers (validation) run first: _epoch_completed stops
        if self._stop_requested() and not self._at_epoch_end(engine):
            self.save(engine)
            self._terminate(engine)

    def _epoch_completed(self, engine: Engine) -> None:
        stop = self._stop_requested()
        if stop or engine.state.epoch % self.save_interval == 0:
            self.save(engine)
        if stop:
            self._terminate(engine)

    def _completed(self, engine: Engine) -> None:
        # also after engine.terminate() (early stopping, another handler): the final state is saved
        self.save(engine)
        self._restore_signal_handlers()

    # -- saving ----------------------------------------------------------------------------------------
    def save(self, engine: Engine) -> None:
        """Save a resumable checkpoint of ``engine`` now (once per iteration; only rank 0 writes)."""
        if self._checkpoint is None:
            raise RuntimeError("ResumableCheckpoint.save needs attach(engine) first.")
        if engine.state.iteration == self._last_saved_iteration:
            return
        self._checkpoint(engine)
        self._last_saved_iteration = engine.state.iteration
        if not self._saves:
            return
        newest = self.last_checkpoint
        self.logger.info(f"Saved checkpoint {newest} (epoch {engine.state.epoch}, iteration {engine.state.iteration})")
        for path in self._stale:
            if path.name != newest.name:
                path.unlink(missing_ok=True)
        self._stale = []

    @property
    def last_checkpoint(self) -> Path | None:
        """The newest file this handler wrote (or, after resume, found in ``save_dir``); None before."""
        if self._checkpoint is None or self._checkpoint.last_checkpoint is None:
            return None
        return self.save_dir / str(self._checkpoint.last_checkpoint)

    # -- signals ---------------------------------------------------------------------------------------
    def _stop_requested(self) -> bool:
        stop = self._stop_signal is not None
        if self._world_size > 1:  # every rank stops at the same iteration, or collectives would hang
            stop = bool(idist.all_reduce(int(stop), op="MAX"))
        return stop

    def _terminate(self, engine: Engine) -> None:
        reason = signal.Signals(self._stop_signal).name if self._stop_signal is not None else "a signal on another rank"
        self.logger.warning(
            f"Stopping after {reason} at epoch {engine.state.epoch}, iteration {engine.state.iteration}."
        )
        engine.terminate()

    def _install_signal_handlers(self) -> None:
        if not self.stop_signals or self._previous_handlers:
            return
        if threading.current_thread() is not threading.main_thread():
            warnings.warn("ResumableCheckpoint: not in the main thread, so stop signals are not handled.", stacklevel=2)
            return
        for number in self.stop_signals:
            self._previous_handlers[number] = signal.signal(number, self._on_signal)

    def _restore_signal_handlers(self, engine: Engine | None = None) -> None:
        """Put back the signal handlers that were installed before the run started."""
        self._running = False
        for number, previous in self._previous_handlers.items():
            signal.signal(number, previous if previous is not None else signal.SIG_DFL)
        self._previous_handlers = {}

    def _on_signal(self, number: int, frame: Any) -> None:
        if self._stop_signal is not None or not self._running:  # a second signal: what it did before the run
            self._call_previous(number, frame)
            return
        self._stop_signal = signal.Signals(number)
        self.logger.warning(
            f"{self._stop_signal.name} received: saving a resumable checkpoint after this iteration, then stopping "
            "(send it again to stop at once)."
        )

    def _call_previous(self, number: int, frame: Any) -> None:
        previous = self._previous_handlers.get(signal.Signals(number), signal.SIG_DFL)
        if callable(previous):
            previous(number, frame)
        elif previous != signal.SIG_IGN:
            self._restore_signal_handlers()
            signal.signal(number, signal.SIG_DFL)
            os.kill(os.getpid(), number)
