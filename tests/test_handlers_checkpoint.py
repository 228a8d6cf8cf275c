"""Checkpoints that survive kills: atomic writes, resume from the newest complete file, clean stops on signals.

In-process tests run a tiny seeded MONAI training (``checkpoint_training.build``); the slow ones run it
(or a real bundle) in a subprocess and kill it with SIGKILL or SIGTERM.
"""

from __future__ import annotations

import ast
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from bundle_helpers import BUNDLES, TINY_UNETR_RUN, config_paths
from checkpoint_training import EPOCH_LENGTH, build, weights
from ignite.engine import Engine, Events
from ignite.handlers import Checkpoint, EarlyStopping

from monai_afpe.handlers import (
    AtomicCheckpointSaver,
    AtomicDiskSaver,
    ResumableCheckpoint,
    atomic_torch_save,
    checkpoint_filename,
    latest_checkpoint,
    list_checkpoints,
)

REPO = Path(__file__).resolve().parents[1]
SCRIPT = Path(__file__).with_name("checkpoint_training.py")


@pytest.fixture(autouse=True)
def one_thread():
    """Bit-equal weights need the same thread count in every run (and in the subprocesses)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def train(save_dir: Path, max_epochs: int = 4, resume: bool = False, on_iteration=None, **options):
    """Build, attach, run; ``on_iteration(engine)`` runs at each ITERATION_COMPLETED before the checkpoint handler."""
    run = build(save_dir, max_epochs=max_epochs, resume=resume, **options)
    if on_iteration is not None:
        run.trainer.add_event_handler(Events.ITERATION_COMPLETED, on_iteration)
    run.checkpoint.attach(run.trainer)
    run.trainer.run()
    return run


def assert_same_weights(actual: dict, expected: dict) -> None:
    assert actual.keys() == expected.keys()
    for key, value in expected.items():
        assert torch.equal(actual[key], value), key


def names(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """Weights, files and best score of an uninterrupted 4-epoch run."""
    folder = tmp_path_factory.mktemp("uninterrupted")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    run = train(folder)
    torch.set_num_threads(threads)
    return weights(run.network), run.evaluator.state.best_metric, folder


# -- atomic writes ---------------------------------------------------------------------------------------
def test_atomic_save_leaves_the_previous_file_when_a_write_fails(tmp_path, monkeypatch):
    path = tmp_path / "state.pt"
    atomic_torch_save({"value": torch.tensor(1)}, path)
    save = torch.save

    def fails_halfway(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", fails_halfway)
    with pytest.raises(OSError, match="disk full"):
        atomic_torch_save({"value": torch.tensor(2)}, path)
    monkeypatch.setattr(torch, "save", save)
    assert names(tmp_path) == ["state.pt"]  # no temporary file left, the old file intact
    assert torch.load(path, weights_only=True)["value"] == 1
    atomic_torch_save({"value": torch.tensor(3)}, path)
    assert torch.load(path, weights_only=True)["value"] == 3
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # like a file torch.save creates
    with pytest.raises(FileNotFoundError, match="does not exist"):
        atomic_torch_save({}, tmp_path / "missing" / "state.pt")


def test_old_checkpoint_is_removed_only_after_the_new_one_is_complete(tmp_path, monkeypatch):
    """ignite removes the oldest file before writing the newest; AtomicDiskSaver waits until the write is done."""
    model = torch.nn.Linear(2, 2)
    engine = Engine(lambda engine, batch: None)
    checkpoint = Checkpoint(
        {"model": model}, AtomicDiskSaver(tmp_path), n_saved=1, global_step_transform=lambda e, _: e.state.epoch
    )
    engine.add_event_handler(Events.EPOCH_COMPLETED, checkpoint)
    during_writes = []
    save = torch.save

    def spy(obj, f, *args, **kwargs):
        during_writes.append(sorted(p.name for p in tmp_path.glob("*.pt")))
        return save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", spy)
    engine.run([0], max_epochs=3)
    assert during_writes == [[], ["model_1.pt"], ["model_2.pt"]]
    assert names(tmp_path) == ["model_3.pt"]


def test_atomic_checkpoint_saver_keeps_the_best_model_while_writing_a_better_one(tmp_path, monkeypatch):
    model = torch.nn.Linear(2, 2)
    evaluator = Engine(lambda engine, batch: None)
    scores = iter([0.1, 0.5, 0.3, 0.9])
    evaluator.add_event_handler(Events.EPOCH_COMPLETED, lambda e: e.state.metrics.update(acc=next(scores)))
    saver = AtomicCheckpointSaver(
        tmp_path, {"model": model}, save_key_metric=True, key_metric_name="acc", key_metric_filename="model.pt"
    )
    saver.attach(evaluator)
    during_writes = []
    save = torch.save

    def spy(obj, f, *args, **kwargs):
        during_writes.append((tmp_path / "model.pt").is_file())
        return save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", spy)
    evaluator.run([0], max_epochs=4)
    assert during_writes == [False, True, True]  # epochs 1, 2 and 4 are better; model.pt never disappears
    assert names(tmp_path) == ["model.pt"]


# -- resume ----------------------------------------------------------------------------------------------
def test_resume_gives_the_weights_of_an_uninterrupted_run(uninterrupted, tmp_path):
    reference, best, reference_folder = uninterrupted
    first = train(tmp_path, max_epochs=2)
    assert names(tmp_path) == ["checkpoint_epoch=1.pt", "checkpoint_epoch=2.pt", "model.pt"]
    content = torch.load(tmp_path / "checkpoint_epoch=2.pt", weights_only=True)
    assert set(content) == {
        "model", "optimizer", "lr_scheduler", "trainer", "rng_state", "best_metric", "key_metric_savers"
    }  # fmt: skip
    assert content["trainer"]["iteration"] == 2 * EPOCH_LENGTH
    assert content["best_metric"]["evaluator"]["best_metric_epoch"] == first.evaluator.state.best_metric_epoch
    resumed = train(tmp_path, max_epochs=4, resume=True)
    assert resumed.checkpoint.loaded_path == tmp_path / "checkpoint_epoch=2.pt"
    assert resumed.trainer.state.iteration == 4 * EPOCH_LENGTH
    assert_same_weights(weights(resumed.network), reference)
    assert resumed.evaluator.state.best_metric == best
    assert names(tmp_path) == names(reference_folder) == ["checkpoint_epoch=3.pt", "checkpoint_epoch=4.pt", "model.pt"]
    best = torch.load(tmp_path / "model.pt", weights_only=True)
    assert_same_weights(best, torch.load(reference_folder / "model.pt", weights_only=True))


def test_best_metric_survives_resume_and_model_pt_is_not_overwritten_by_a_worse_model(tmp_path):
    scores = {1: 0.5, 2: 0.9, 3: 0.3, 4: 0.7}  # the best model comes at epoch 2
    train(tmp_path / "run", max_epochs=2, metric_values=scores)
    best_model = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    resumed = train(tmp_path / "run", max_epochs=4, resume=True, metric_values=scores)
    assert (resumed.evaluator.state.best_metric, resumed.evaluator.state.best_metric_epoch) == (0.9, 2)
    assert_same_weights(torch.load(tmp_path / "run" / "model.pt", weights_only=True), best_model)
    # without the restore MONAI's saver takes epoch 3's worse model: the failure this handler prevents
    train(tmp_path / "forgetful", max_epochs=2, metric_values=scores)
    forgetful = build(tmp_path / "forgetful", max_epochs=3, resume=True, metric_values=scores)
    forgetful.checkpoint.key_metric_savers = []
    forgetful.checkpoint.evaluator = None
    forgetful.checkpoint.attach(forgetful.trainer)
    forgetful.trainer.run()
    overwritten = torch.load(tmp_path / "forgetful" / "model.pt", weights_only=True)
    assert not all(torch.equal(overwritten[k], v) for k, v in best_model.items())


def test_a_better_model_after_resume_still_replaces_model_pt(tmp_path):
    scores = {1: 0.5, 2: 0.6, 3: 0.95, 4: 0.7}
    train(tmp_path, max_epochs=2, metric_values=scores)
    before = torch.load(tmp_path / "model.pt", weights_only=True)
    resumed = train(tmp_path, max_epochs=4, resume=True, metric_values=scores)
    assert (resumed.evaluator.state.best_metric, resumed.evaluator.state.best_metric_epoch) == (0.95, 3)
    after = torch.load(tmp_path / "model.pt", weights_only=True)
    assert not all(torch.equal(after[k], v) for k, v in before.items())


def test_early_stopping_state_is_saved_and_restored(tmp_path):
    def with_early_stopping(max_epochs, resume):
        scores = {1: 0.9, 2: 0.5, 3: 0.4, 4: 0.3, 5: 0.2, 6: 0.1}
        run = build(tmp_path, max_epochs=max_epochs, resume=resume, metric_values=scores)
        stopper = EarlyStopping(patience=3, score_function=lambda e: e.state.metrics["val_metric"], trainer=run.trainer)
        run.evaluator.add_event_handler(Events.COMPLETED, stopper)
        run.checkpoint.early_stopping = stopper
        run.checkpoint.attach(run.trainer)
        run.trainer.run()
        return run, stopper

    _, stopper = with_early_stopping(2, False)
    assert (stopper.counter, stopper.best_score) == (1, 0.9)
    run, stopper = with_early_stopping(6, True)
    # patience 3 counts epochs 2, 3 and 4 across the restart: the run stops after epoch 4
    assert stopper.counter == 3 and run.trainer.state.epoch == 4
    saved = torch.load(tmp_path / "checkpoint_epoch=4.pt", weights_only=True)["early_stopping"]
    assert saved == {"counter": 3, "best_score": 0.9}


# -- unreadable and missing checkpoints --------------------------------------------------------------------
def test_a_truncated_checkpoint_is_an_error_naming_its_path(tmp_path):
    train(tmp_path, max_epochs=1)
    path = tmp_path / "checkpoint_epoch=1.pt"
    truncate(path)
    with pytest.raises(RuntimeError, match=re.escape(str(path))) as error:
        latest_checkpoint(tmp_path)
    assert "truncated or corrupt" in str(error.value)
    before = signal.getsignal(signal.SIGTERM)
    for load_path in (None, path):  # the newest in the folder, or the file named
        run = build(tmp_path, max_epochs=2, resume=True, load_path=load_path)
        run.checkpoint.attach(run.trainer)
        with pytest.raises(RuntimeError, match=re.escape(str(path))):
            run.trainer.run()
        assert signal.getsignal(signal.SIGTERM) is before  # a failed resume leaves no handler installed


def test_a_newer_corrupt_checkpoint_is_skipped_with_a_warning_and_replaced(uninterrupted, tmp_path):
    reference, _, _ = uninterrupted
    train(tmp_path, max_epochs=2)
    truncate(tmp_path / "checkpoint_epoch=2.pt")
    (tmp_path / "checkpoint_epoch=3_iteration=14.pt").write_bytes(b"")  # e.g. a copy that was cut short
    with pytest.warns(UserWarning, match=r"checkpoint_epoch=3_iteration=14\.pt[\s\S]*checkpoint_epoch=2\.pt"):
        resumed = train(tmp_path, max_epochs=4, resume=True)
    assert resumed.checkpoint.loaded_path == tmp_path / "checkpoint_epoch=1.pt"
    assert_same_weights(weights(resumed.network), reference)  # epochs 2-4 again, as if never interrupted
    assert [f.path.name for f in list_checkpoints(tmp_path)] == ["checkpoint_epoch=3.pt", "checkpoint_epoch=4.pt"]


def test_resume_without_a_checkpoint_names_the_pattern(tmp_path):
    run = build(tmp_path, max_epochs=1, resume=True)
    run.checkpoint.attach(run.trainer)
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "checkpoint_epoch=*.pt"))):
        run.trainer.run()


def test_a_fresh_run_replaces_an_earlier_runs_files_after_its_first_save(tmp_path):
    train(tmp_path, max_epochs=4)
    (tmp_path / ".checkpoint_epoch=5.pt.0a1b2c.tmp").write_bytes(b"half")  # left by a killed save
    seen = []
    train(tmp_path, max_epochs=2, on_iteration=lambda e: e.state.iteration == 1 and seen.append(names(tmp_path)))
    # the earlier run's files stay until the new run's first checkpoint is complete
    assert seen == [["checkpoint_epoch=3.pt", "checkpoint_epoch=4.pt", "model.pt"]]
    assert names(tmp_path) == ["checkpoint_epoch=1.pt", "checkpoint_epoch=2.pt", "model.pt"]
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoint_epoch=2.pt"


def test_files_are_named_and_ordered_by_training_time(tmp_path):
    files = ["checkpoint_epoch=10.pt", "checkpoint_epoch=2.pt", "checkpoint_epoch=3_iteration=14.pt"]
    for name in [*files, "model.pt", "other_epoch=9.pt"]:
        (tmp_path / name).write_bytes(b"")
    ordered = [f.path.name for f in list_checkpoints(tmp_path)]
    assert ordered == ["checkpoint_epoch=2.pt", "checkpoint_epoch=3_iteration=14.pt", "checkpoint_epoch=10.pt"]
    assert checkpoint_filename("checkpoint", 3, 14) == "checkpoint_epoch=3_iteration=14.pt"
    assert list_checkpoints(tmp_path / "missing") == []


# -- signals -----------------------------------------------------------------------------------------------
def send_at(iteration: int, number: int = signal.SIGINT, times: int = 1):
    def handler(engine):
        if engine.state.iteration == iteration:
            for _ in range(times):
                os.kill(os.getpid(), number)

    return handler


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_inside_an_epoch_saves_there_and_stops_cleanly(uninterrupted, tmp_path, number):
    reference, _, _ = uninterrupted
    before = signal.getsignal(number)
    stopped = train(tmp_path, on_iteration=send_at(9, number))
    assert stopped.trainer.state.iteration == 9
    assert signal.getsignal(number) is before
    assert names(tmp_path) == ["checkpoint_epoch=1.pt", "checkpoint_epoch=2_iteration=9.pt", "model.pt"]
    assert torch.load(tmp_path / "checkpoint_epoch=2_iteration=9.pt", weights_only=True)["trainer"]["iteration"] == 9
    resumed = train(tmp_path, resume=True)
    assert resumed.checkpoint.loaded_path == tmp_path / "checkpoint_epoch=2_iteration=9.pt"
    assert resumed.trainer.state.iteration == 4 * EPOCH_LENGTH
    # the rest of epoch 2 comes from a fresh data iterator, so the weights differ from an uninterrupted run
    assert weights(resumed.network).keys() == reference.keys()


def test_a_signal_at_an_epochs_last_iteration_waits_for_validation(tmp_path):
    stopped = train(tmp_path, on_iteration=send_at(2 * EPOCH_LENGTH))
    assert stopped.trainer.state.epoch == 2 and stopped.evaluator.state.epoch == 2  # epoch 2 was validated
    assert names(tmp_path) == ["checkpoint_epoch=1.pt", "checkpoint_epoch=2.pt", "model.pt"]
    content = torch.load(tmp_path / "checkpoint_epoch=2.pt", weights_only=True)
    assert content["best_metric"]["evaluator"]["best_metric_epoch"] == stopped.evaluator.state.best_metric_epoch


def test_a_second_signal_goes_to_the_previous_handler(tmp_path):
    calls = []
    previous = signal.signal(signal.SIGINT, lambda number, frame: calls.append(number))
    try:
        stopped = train(tmp_path, on_iteration=send_at(3, signal.SIGINT, times=2))
        assert calls == [signal.SIGINT]  # the second one; the first saved and stopped the run
        assert stopped.trainer.state.iteration == 3
        assert (tmp_path / "checkpoint_epoch=1_iteration=3.pt").is_file()
        os.kill(os.getpid(), signal.SIGINT)  # after the run the previous handler is back
        assert calls == [signal.SIGINT, signal.SIGINT]
    finally:
        signal.signal(signal.SIGINT, previous)


def test_no_stop_signals_leaves_the_handlers_alone(tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    run = build(tmp_path, max_epochs=1, stop_signals=None)
    run.trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: seen.append(signal.getsignal(signal.SIGTERM)))
    seen = []
    run.checkpoint.attach(run.trainer)
    run.trainer.run()
    assert set(seen) == {before}


# -- arguments ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "options, message",
    [
        ({"save_dict": {}}, "save_dict must be a non-empty mapping"),
        ({"save_dict": {"rng_state": torch.nn.Linear(1, 1)}}, "reserved"),
        ({"save_dict": {"model": object()}}, r"save_dict\['model'\] \(object\) has no state_dict"),
        ({"save_interval": 0}, "save_interval must be a positive"),
        ({"n_saved": 0}, "n_saved must be a positive"),
        ({"file_prefix": "a/b"}, "file_prefix must be"),
        ({"stop_signals": ["SIGNOPE"]}, "unknown signal 'SIGNOPE'.*SIGTERM"),
        ({"key_metric_savers": [object()]}, r"key_metric_savers\[0\] must be a monai.handlers.CheckpointSaver"),
        ({"early_stopping": object()}, "early_stopping must be"),
    ],
)
def test_arguments_are_checked(tmp_path, options, message):
    arguments = {"save_dir": tmp_path, "save_dict": {"model": torch.nn.Linear(1, 1)}, **options}
    with pytest.raises(ValueError, match=message):
        ResumableCheckpoint(**arguments)


def test_the_trainer_must_be_saved(tmp_path):
    engine = Engine(lambda engine, batch: None)
    with pytest.raises(ValueError, match="save_dict must include the engine"):
        ResumableCheckpoint(tmp_path, {"model": torch.nn.Linear(1, 1)}).attach(engine)


# -- weights_only everywhere -------------------------------------------------------------------------------
def _is_torch_load(node: ast.Call) -> bool:
    parts, func = [], node.func
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    return isinstance(func, ast.Name) and func.id == "torch" and parts and parts[0] == "load"


def _passes_weights_only(node: ast.Call) -> bool:
    return any(
        k.arg == "weights_only" and isinstance(k.value, ast.Constant) and k.value.value is True for k in node.keywords
    )


def _calls_in_text(text: str) -> list[str]:
    """Each ``torch.load(...)`` call in config or shell text, up to its closing parenthesis."""
    calls = []
    for match in re.finditer(r"torch\.load\(", text):
        depth, end = 1, match.end()
        while depth and end < len(text):
            depth += {"(": 1, ")": -1}.get(text[end], 0)
            end += 1
        calls.append(text[match.start() : end])
    return calls


def test_every_torch_load_passes_weights_only_true():
    python = [path for folder in ("monai_afpe", "bundles", "benchmarks") for path in (REPO / folder).rglob("*.py")]
    offenders, found = [], 0
    for path in python:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and _is_torch_load(node):
                found += 1
                if not _passes_weights_only(node):
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    texts = [*(REPO / "bundles").rglob("*.json"), *(REPO / "bundles").rglob("*.sh")]
    texts += [*(REPO / "notebooks").glob("*.ipynb")]
    for path in texts:
        for call in _calls_in_text(path.read_text()):
            found += 1
            if not re.search(r"weights_only\s*=\s*True", call):
                offenders.append(f"{path.relative_to(REPO)}: {call}")
    assert found >= 5, "the scan found almost no torch.load calls: is it looking in the right places?"
    assert not offenders, f"torch.load without weights_only=True: {offenders}"


# -- killed subprocesses -------------------------------------------------------------------------------------
def run_script(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, str(SCRIPT), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


def start_script(*args: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, str(SCRIPT), *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"the run ended before {path.name} appeared:\n{process.stderr.read()[-3000:]}")
        assert time.monotonic() < deadline, f"{path} did not appear in {timeout} s"
        time.sleep(0.02)


def final_weights(path: Path) -> dict:
    return torch.load(path, weights_only=True)


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_gives_the_uninterrupted_weights(uninterrupted, tmp_path):
    reference, _, _ = uninterrupted
    save_dir, pause = tmp_path / "models", tmp_path / "paused"
    process = start_script("--save-dir", str(save_dir), "--pause-at-iteration", "15", "--pause-file", str(pause))
    wait_for(pause, process)  # iteration 15: inside epoch 3, after epoch 2's checkpoint
    process.kill()
    assert process.wait(timeout=60) == -signal.SIGKILL
    assert names(save_dir) == ["checkpoint_epoch=1.pt", "checkpoint_epoch=2.pt", "model.pt"]
    result = run_script("--save-dir", str(save_dir), "--resume", "--out", str(tmp_path / "final.pt"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Resumed from" in result.stderr and "checkpoint_epoch=2.pt" in result.stderr
    final = final_weights(tmp_path / "final.pt")
    assert final["iteration"] == 4 * EPOCH_LENGTH
    assert_same_weights(final["weights"], reference)


@pytest.mark.slow
def test_sigkill_while_saving_keeps_the_previous_checkpoint(uninterrupted, tmp_path):
    reference, _, _ = uninterrupted
    save_dir = tmp_path / "models"
    result = run_script("--save-dir", str(save_dir), "--die-in-save-at-epoch", "3")
    assert result.returncode == -signal.SIGKILL
    temporaries = list(save_dir.glob(".checkpoint_epoch=3.pt.*.tmp"))
    assert len(temporaries) == 1 and temporaries[0].stat().st_size > 0  # half of epoch 3's checkpoint
    assert [f.path.name for f in list_checkpoints(save_dir)] == ["checkpoint_epoch=1.pt", "checkpoint_epoch=2.pt"]
    assert latest_checkpoint(save_dir) == save_dir / "checkpoint_epoch=2.pt"  # complete and readable
    result = run_script("--save-dir", str(save_dir), "--resume", "--out", str(tmp_path / "final.pt"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert_same_weights(final_weights(tmp_path / "final.pt")["weights"], reference)
    assert names(save_dir) == ["checkpoint_epoch=3.pt", "checkpoint_epoch=4.pt", "model.pt"]  # temporary file gone


@pytest.mark.slow
def test_sigterm_saves_a_resumable_checkpoint_and_exits_cleanly(tmp_path):
    save_dir, pause = tmp_path / "models", tmp_path / "paused"
    process = start_script(
        "--save-dir", str(save_dir), "--pause-at-iteration", "15", "--pause-file", str(pause),
        "--out", str(tmp_path / "stopped.pt"),
    )  # fmt: skip
    wait_for(pause, process)
    process.send_signal(signal.SIGTERM)
    pause.unlink()
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr[-3000:]  # run() returned; the handlers were restored (else exit code 3)
    assert "SIGTERM received" in stderr
    assert final_weights(tmp_path / "stopped.pt")["iteration"] == 15
    stopped = torch.load(save_dir / "checkpoint_epoch=3_iteration=15.pt", weights_only=True)
    assert stopped["trainer"]["iteration"] == 15
    result = run_script("--save-dir", str(save_dir), "--resume", "--out", str(tmp_path / "final.pt"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert final_weights(tmp_path / "final.pt")["iteration"] == 4 * EPOCH_LENGTH


UNETR = "afpe_unetr_ct_segmentation"
UNETR_TINY = {**TINY_UNETR_RUN, "max_epochs": 4}


def bundle_command(bundle_root: Path, *configs: str, torchrun: bool = False, **overrides) -> list[str]:
    """``python -m monai.bundle run`` (or under ``torchrun`` with 2 CPU processes) of the tiny UNETR bundle."""
    folder = BUNDLES / UNETR / "configs"
    arguments = [arg for key, value in {**UNETR_TINY, **overrides}.items() for arg in (f"--{key}", json.dumps(value))]
    launcher = ["-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29533"] if torchrun else []
    return [
        sys.executable, *launcher, "-m", "monai.bundle", "run",
        "--config_file", json.dumps(config_paths(UNETR, *configs)),
        "--meta_file", str(folder / "metadata.json"), "--logging_file", str(folder / "logging.conf"),
        "--bundle_root", str(bundle_root), *arguments,
    ]  # fmt: skip


def resume_bundle(bundle_root: Path, *configs: str, torchrun: bool = False) -> str:
    """Run the bundle again with ``--resume true`` to its last epoch; return its log."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = bundle_command(bundle_root, *configs, torchrun=torchrun, resume=True)
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    final = torch.load(bundle_root / "models" / "checkpoint_epoch=4.pt", weights_only=True)
    assert final["best_metric"]["evaluator"]["best_metric_epoch"] >= 1
    assert (bundle_root / "models" / "model.pt").is_file()
    return result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("number", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_bundle_run_stopped_then_resumed_with_resume_true(tmp_path, number):
    """``python -m monai.bundle run`` of the UNETR bundle, killed or stopped in epoch 3 of 4, then ``--resume true``."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = bundle_command(tmp_path, "train.json")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    wait_for(tmp_path / "models" / "checkpoint_epoch=2.pt", process, timeout=300)
    process.send_signal(number)
    output, _ = process.communicate(timeout=120)
    assert not (tmp_path / "models" / "checkpoint_epoch=4.pt").exists()
    if number == signal.SIGKILL:
        assert process.returncode == -signal.SIGKILL
    else:  # saved where it stopped, then ended normally
        assert process.returncode == 0, output[-3000:]
        assert "SIGTERM received" in output
    stopped = list_checkpoints(tmp_path / "models")[-1]
    log = resume_bundle(tmp_path, "train.json")
    assert f"Resumed from {stopped.path}" in log, log[-3000:]
    final = torch.load(tmp_path / "models" / "checkpoint_epoch=4.pt", weights_only=True)
    assert final["trainer"]["iteration"] == 4 * 3  # 6 training volumes, batch size 2


def _children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _rank(pid: int) -> int | None:
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return next((int(item[5:]) for item in environ if item.startswith(b"RANK=")), None)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds torchrun's workers through /proc (Linux)")
def test_sigterm_on_one_rank_stops_every_rank_at_the_same_iteration(tmp_path):
    """torchrun with 2 CPU ranks: SIGTERM to rank 1 only; both ranks stop together and rank 0 saves."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = bundle_command(tmp_path, "train.json", "multi_gpu_train.json", torchrun=True)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    wait_for(tmp_path / "models" / "checkpoint_epoch=2.pt", process, timeout=300)
    workers = {_rank(pid): pid for pid in _children(process.pid)}
    os.kill(workers[1], signal.SIGTERM)
    output, _ = process.communicate(timeout=120)  # a rank left waiting in a collective would hang here
    assert process.returncode == 0, output[-3000:]
    assert "SIGTERM received" in output and "a signal on another rank" in output
    assert not (tmp_path / "models" / "checkpoint_epoch=4.pt").exists()
    log = resume_bundle(tmp_path, "train.json", "multi_gpu_train.json", torchrun=True)
    assert "Resumed from" in log
    final = torch.load(tmp_path / "models" / "checkpoint_epoch=4.pt", weights_only=True)
    assert final["trainer"]["iteration"] == 4 * 2  # 6 training volumes over 2 ranks, batch size 2
