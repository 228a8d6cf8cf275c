"""Train one network on in-memory data and evaluate it: AdamW, warm-up + cosine, bf16 autocast, honest timing.

Metrics use MONAI: :func:`monai.metrics.compute_roc_auc` (macro average over classes, one-vs-rest) for
classification; for multi-label tasks (one sigmoid per label, loss ``BCEWithLogits``, as the chest X-ray
task of arXiv 2509.02488) :func:`~monai.metrics.compute_roc_auc` and
:func:`~monai.metrics.compute_average_precision` per label (``auroc_<label>``, ``auprc_<label>``) and their
macro means ``auroc`` and ``auprc``; ignite's ``R2Score`` and MONAI's :class:`~monai.metrics.MAEMetric` and
:class:`~monai.metrics.MSEMetric` (RMSE as the root of the mean) for regression, MONAI's
:class:`~monai.metrics.DiceMetric` on the one-hot argmax for segmentation (loss: MONAI's ``DiceCELoss``).
Video splits with several clips per sample are predicted with
:class:`~monai_afpe.inferers.ClipAveragingInferer` (mean over clips); segmentation volumes are predicted
whole (they have the fixed network input size, so no sliding window is needed).

Costs recorded per run: seconds per training epoch (wall clock, training steps only), tokens per
sample, parameters, an estimate of training FLOPs per sample (of the transformer encoder), and memory: on CUDA the peak allocated
memory of training; on CPU, where PyTorch has no allocator statistics, the bytes of activations saved
for the backward pass of one training step (the part of the memory that grows with tokens and batch).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from monai.utils import ensure_tuple

from monai_afpe.experiments.arms import tokens_per_sample
from monai_afpe.experiments.config import TrainingConfig
from monai_afpe.experiments.data import ExperimentData, Split
from monai_afpe.inferers import ClipAveragingInferer, CompiledInferer

__all__ = [
    "PRIMARY_METRICS",
    "METRIC_DIRECTIONS",
    "RunResult",
    "train_and_evaluate",
    "predict",
    "split_metrics",
    "case_predictions",
    "saved_activation_bytes",
    "case_targets",
    "dice_per_case",
    "multilabel_metrics",
    "evaluate",
    "train_flops_per_sample",
]

#: the metric that selects tuned candidates and drives the scale search, per task
PRIMARY_METRICS = {"classification": "auroc", "multilabel": "auroc", "regression": "r2", "segmentation": "dice"}
#: True where a higher value is better
METRIC_DIRECTIONS = {
    "accuracy": True,
    "auroc": True,
    "auprc": True,
    "loss": False,
    "r2": True,
    "mae": False,
    "rmse": False,
    "dice": True,
}


@dataclass
class RunResult:
    """What one training run produced.

    Attributes:
        validation: metrics on the validation split.
        tests: metrics per test set.
        test_predictions: per test set, the prediction of every case: class probabilities ``(N, K)``,
            label probabilities ``(N, K)`` (multi-label), regression values ``(N,)`` or each case's mean foreground Dice ``(N,)`` (for statistics that
            resample test cases).
        history: per epoch: ``train_loss`` and, when a callback asked for it, validation metrics.
        seconds_per_epoch: mean wall-clock seconds of a training epoch.
        memory_mb: peak CUDA memory of training, or on CPU the activations saved for backward in one step.
        memory_kind: ``"cuda_peak"``, ``"saved_activations"`` or ``"none"`` (a compiled network on a CPU:
            ``memory_mb`` is NaN).
        tokens: tokens per sample; params: trainable parameters; train_gflop: estimated GFLOP per training sample.
        final_scales: per-axis scales of a Fourier embedding after training (learned or fixed), else ``None``.
        stopped_early: the epoch callback stopped training (a pruned search trial).
    """

    validation: dict
    tests: dict
    test_predictions: dict = field(default_factory=dict)
    history: list = field(default_factory=list)
    seconds_per_epoch: float = 0.0
    memory_mb: float = 0.0
    memory_kind: str = ""
    tokens: int = 0
    params: int = 0
    train_gflop: float = 0.0
    final_scales: tuple | None = None
    stopped_early: bool = False


def train_flops_per_sample(model: torch.nn.Module, tokens: int) -> float:
    """Training FLOPs per sample, estimated as ``6 P N + 12 L N² D`` (matmuls forward and backward, attention).

    ``P`` parameters, ``N`` tokens, ``L`` layers, ``D`` hidden size; an estimate (the usual transformer
    accounting), not a measurement. A UNETR (a model whose blocks sit in its encoder ``model.vit``) is counted
    for its transformer encoder only: its convolutional decoder, which runs at full resolution and
    dominates its cost, is left out.
    """
    if not hasattr(model, "blocks") and hasattr(model, "vit"):  # a UNETR: count its transformer encoder
        model = model.vit
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    layers = len(getattr(model, "blocks", []))
    hidden = model.norm.normalized_shape[0] if hasattr(model, "norm") else 0
    return 6.0 * params * tokens + 12.0 * layers * tokens**2 * hidden


def _lr_lambda(total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))

    return factor


def _loss(task: str, outputs: torch.Tensor, targets: torch.Tensor, target_std: float) -> torch.Tensor:
    if task == "classification":
        return F.cross_entropy(outputs.float(), targets)
    if task == "multilabel":
        return F.binary_cross_entropy_with_logits(outputs.float(), targets.float())
    if task == "segmentation":
        from monai.losses import DiceCELoss

        return DiceCELoss(to_onehot_y=True, softmax=True)(outputs.float(), targets)
    return F.mse_loss(outputs.float()[:, 0] / target_std, targets / target_std)


def _autocast(device: torch.device, enabled: bool):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)


_COMPILER = CompiledInferer()


def _runnable(model: torch.nn.Module, training: TrainingConfig) -> Callable[..., torch.Tensor]:
    """``model``, or with ``training.compile`` its compiled view (the same one in training and evaluation)."""
    return _COMPILER.compiled(model) if training.compile else model


@torch.no_grad()
def predict(model: torch.nn.Module, split: Split, training: TrainingConfig, device: torch.device) -> torch.Tensor:
    """Raw outputs of ``model`` for every case of ``split`` (logits or values), float32 on the CPU."""
    model.eval()
    network = _runnable(model, training)
    inferer = ClipAveragingInferer(clip_batch_size=training.eval_batch_size) if split.clips else None
    outputs = []
    for images, _, spacing in split.batches(training.eval_batch_size):
        images, spacing = images.to(device), spacing.to(device)
        with _autocast(device, training.bf16):
            out = inferer(images, network, spacing=spacing) if inferer is not None else network(images, spacing=spacing)
        outputs.append(out.float().cpu())
    return torch.cat(outputs)


def dice_per_case(outputs: torch.Tensor, targets: torch.Tensor, num_labels: int) -> torch.Tensor:
    """Dice of every case and foreground label, ``(N, num_labels - 1)``, of the argmax of ``outputs``.

    MONAI's :class:`~monai.metrics.DiceMetric` on one-hot maps, background left out. A label absent from
    both the prediction and the case counts as 1 and a label predicted where the case has none as 0
    (``ignore_empty=False``), so every case has a defined Dice.

    Args:
        outputs: logits ``(N, num_labels, *spatial)``.
        targets: label maps ``(N, 1, *spatial)``.
        num_labels: labels including the background.
    """
    from monai.metrics import DiceMetric
    from monai.networks.utils import one_hot

    predicted = one_hot(outputs.argmax(dim=1, keepdim=True), num_labels)
    metric = DiceMetric(include_background=False, reduction="none", ignore_empty=False)
    return metric(predicted, one_hot(targets, num_labels))


def case_predictions(outputs: torch.Tensor, targets: torch.Tensor, data: ExperimentData) -> torch.Tensor:
    """What is kept per case: class probabilities ``(N, K)``, label probabilities ``(N, K)`` (multi-label: the
    sigmoid of each logit), regression values ``(N,)`` or, for segmentation, each case's mean foreground Dice
    ``(N,)`` (a mean over cases, so test cases can be resampled)."""
    if data.task == "segmentation":
        return dice_per_case(outputs, targets, data.num_outputs).mean(dim=1)
    if data.task == "multilabel":
        return outputs.sigmoid()
    return outputs.softmax(dim=1) if data.task == "classification" else outputs[:, 0]


def case_targets(split: Split, task: str) -> torch.Tensor:
    """The target ``cases.csv`` records per case: the class index, 0/1 label vector (multi-label) or value, or for
    segmentation 1.0 (the Dice of a perfect prediction; the case's Dice itself is its prediction)."""
    return torch.ones(len(split)) if task == "segmentation" else split.targets


def evaluate(
    model: torch.nn.Module, split: Split, data: ExperimentData, training: TrainingConfig, device: torch.device
) -> dict:
    """Metrics of ``model`` on ``split`` (see :func:`split_metrics`)."""
    return split_metrics(predict(model, split, training, device), split.targets, data)


def multilabel_metrics(probabilities: torch.Tensor, targets: torch.Tensor, label_names: Sequence[str]) -> dict:
    """AUROC and AUPRC of a multi-label prediction: macro means ``auroc``, ``auprc`` and per label
    ``auroc_<label>``, ``auprc_<label>``.

    Per label, MONAI's :func:`~monai.metrics.compute_roc_auc` and :func:`~monai.metrics.compute_average_precision`
    (average precision, ``sum_n (R_n - R_{n-1}) P_n``, as the chest X-ray bundle's ``per_label_metrics``). A label
    without positives or without negatives among the cases scores NaN and is left out of the macro means
    (MONAI's ``average="macro"`` would make the mean NaN); a mean over no defined label is NaN.

    Args:
        probabilities: ``(N, K)`` scores per label (probabilities or logits: both metrics depend on the order only).
        targets: ``(N, K)`` 0/1 labels.
        label_names: the ``K`` label names, in column order.

    Raises:
        ValueError: shapes that differ or a number of names other than ``K``.
    """
    from monai.metrics import compute_average_precision, compute_roc_auc

    if probabilities.shape != targets.shape or probabilities.ndim != 2 or len(label_names) != targets.shape[1]:
        raise ValueError(
            f"multilabel_metrics: probabilities and targets must both be (N, K) with K = {len(label_names)} label "
            f"names, got {tuple(probabilities.shape)} and {tuple(targets.shape)}."
        )
    macro, per_label = {}, {}
    for score, compute in (("auroc", compute_roc_auc), ("auprc", compute_average_precision)):
        # one label gives MONAI a single value, several a list
        values = [float(v) for v in ensure_tuple(compute(probabilities.float(), targets.float(), average="none"))]
        defined = [v for v in values if math.isfinite(v)]
        macro[score] = sum(defined) / len(defined) if defined else math.nan
        per_label.update({f"{score}_{name}": v for name, v in zip(label_names, values)})
    return {**macro, **per_label}


def split_metrics(predictions: torch.Tensor, targets: torch.Tensor, data: ExperimentData) -> dict:
    """Metrics of raw outputs ``predictions`` against ``targets``: accuracy, AUROC and loss; for multi-label
    tasks AUROC, AUPRC (macro and per label, see :func:`multilabel_metrics`) and loss; R², MAE, RMSE and
    loss; or for segmentation ``dice`` (mean over cases and foreground labels, see :func:`dice_per_case`),
    ``dice_<label>`` per foreground label and the loss."""
    from ignite.metrics.regression import R2Score
    from monai.metrics import MAEMetric, MSEMetric, compute_roc_auc

    loss = float(_loss(data.task, predictions, targets, data.target_std))
    if data.task == "segmentation":
        dice = dice_per_case(predictions, targets, data.num_outputs)
        per_label = {f"dice_{name}": float(dice[:, k].mean()) for k, name in enumerate(data.class_names[1:])}
        return {"dice": float(dice.mean()), **per_label, "loss": loss}
    if data.task == "multilabel":
        return {**multilabel_metrics(predictions.sigmoid(), targets, data.class_names), "loss": loss}
    if data.task == "classification":
        probabilities = predictions.softmax(dim=1)
        one_hot = F.one_hot(targets, data.num_outputs).float()
        return {
            "accuracy": float((predictions.argmax(dim=1) == targets).float().mean()),
            "auroc": float(compute_roc_auc(probabilities, one_hot, average="macro")),
            "loss": loss,
        }
    y_pred, y = predictions[:, :1], targets[:, None]
    r2 = R2Score()
    r2.update((y_pred[:, 0], y[:, 0]))
    # MONAI's metrics reduce per sample first; RMSE is the root of the mean squared error over samples
    mae, mse = MAEMetric(), MSEMetric()
    mae(y_pred, y)
    mse(y_pred, y)
    return {
        "r2": float(r2.compute()),
        "mae": float(mae.aggregate().mean()),
        "rmse": float(mse.aggregate().mean().sqrt()),
        "loss": loss,
    }


def saved_activation_bytes(step: Callable[[], torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Run ``step`` (a forward pass returning a loss) and count the bytes of distinct tensors saved for backward."""
    seen: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        if tensor.device.type != "meta" and tensor.numel() > 0:
            storage = tensor.untyped_storage()
            seen[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = step()
    return loss, sum(seen.values())


def train_and_evaluate(
    model: torch.nn.Module,
    data: ExperimentData,
    training: TrainingConfig,
    seed: int,
    device: torch.device | str = "cpu",
    on_epoch: Callable[[int, dict], bool] | None = None,
    augment: Callable[[Split, int], Split] | None = None,
) -> RunResult:
    """Train ``model`` on ``data.train`` and evaluate it on the validation and every test split.

    Args:
        model: a freshly built network.
        data: the data.
        training: optimisation settings.
        seed: seeds the order of the training samples (and the clip draws of videos).
        device: where to train.
        on_epoch: called after every epoch with ``(epoch, validation metrics)``; return True to stop
            training (a pruned search trial). Validation is evaluated every epoch only when it is given.
        augment: ``(split, seed) -> split`` applied to the training split every epoch (e.g.
            :func:`~monai_afpe.experiments.augmentation.spacing_augmentation`); its time is counted in
            the epoch time.
    """
    device = torch.device(device)
    if training.threads:
        torch.set_num_threads(training.threads)
    model = model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=training.learning_rate, weight_decay=training.weight_decay)
    steps_per_epoch = math.ceil(len(data.train) / training.batch_size)
    total = steps_per_epoch * training.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, _lr_lambda(total, max(1, int(round(training.warmup_epochs * steps_per_epoch))))
    )
    generator = torch.Generator().manual_seed(int(seed))
    # a UNETR has no pooling attribute: it keeps every patch token and has no class token
    tokens = tokens_per_sample(data.input_size, model.patch_size, getattr(model, "pooling", "mean"))
    result = RunResult(
        validation={},
        tests={},
        tokens=tokens,
        params=sum(p.numel() for p in model.parameters() if p.requires_grad),
        train_gflop=train_flops_per_sample(model, tokens) / 1e9,
        memory_kind="cuda_peak" if device.type == "cuda" else "none" if training.compile else "saved_activations",
        memory_mb=math.nan if device.type != "cuda" and training.compile else 0.0,
    )
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    network = _runnable(model, training)
    epoch_seconds = []
    for epoch in range(training.epochs):
        model.train()
        start, losses = time.perf_counter(), []
        split = data.training_split(seed * 100003 + epoch)
        if augment is not None:
            split = augment(split, seed * 100003 + epoch)
        order = torch.randperm(len(split), generator=generator)
        for images, targets, spacing in split.batches(training.batch_size, order):
            images, targets, spacing = images.to(device), targets.to(device), spacing.to(device)

            def forward(images=images, targets=targets, spacing=spacing) -> torch.Tensor:
                with _autocast(device, training.bf16):
                    outputs = network(images, spacing=spacing)
                return _loss(data.task, outputs, targets, data.target_std)

            if epoch == 0 and not losses and device.type != "cuda" and not training.compile:
                loss, saved = saved_activation_bytes(forward)
                result.memory_mb = saved / 2**20
            else:
                loss = forward()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if training.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), training.grad_clip)
            optimizer.step()
            scheduler.step()
            losses.append(float(loss.detach()))
        epoch_seconds.append(time.perf_counter() - start)
        record = {"epoch": epoch + 1, "train_loss": sum(losses) / len(losses)}
        if on_epoch is not None:
            validation = evaluate(model, data.validation, data, training, device)
            record.update({f"val_{k}": v for k, v in validation.items()})
            result.history.append(record)
            if on_epoch(epoch, validation):
                result.stopped_early = True
                break
        else:
            result.history.append(record)
    result.seconds_per_epoch = sum(epoch_seconds) / len(epoch_seconds)
    if device.type == "cuda":
        result.memory_mb = torch.cuda.max_memory_allocated(device) / 2**20
    result.validation = evaluate(model, data.validation, data, training, device)
    if not result.stopped_early:
        for name, split in data.tests.items():
            outputs = predict(model, split, training, device)
            result.tests[name] = split_metrics(outputs, split.targets, data)
            result.test_predictions[name] = case_predictions(outputs, split.targets, data)
    embedding = getattr(model, "position_embedding", None)
    if embedding is not None and hasattr(embedding, "scales"):
        result.final_scales = tuple(round(float(s), 5) for s in embedding.scales.detach().cpu())
    return result
