"""Notes on metric values that follow from the data: NaN AUROC, hugely negative R², NaN Dice."""

import logging
import math

import pytest
import torch
from ignite.engine import Engine, Events

from monai_afpe.handlers import R2_NOTE_BELOW, MetricNotes, metric_notes


def test_metric_notes_names_the_cause():
    notes = metric_notes(
        {
            "val_auroc": float("nan"),
            "test_r2": torch.tensor(-2e6),
            "test_dice_spleen": math.nan,
            "test_rmse": math.inf,
            "test_accuracy": 0.5,
            "test_confusion_matrix": torch.eye(3),  # not a number: skipped
        }
    )
    assert set(notes) == {"val_auroc", "test_r2", "test_dice_spleen", "test_rmse"}
    assert "at least one class has no case" in notes["val_auroc"]
    assert notes["test_r2"].startswith("test_r2 = -2e+06") and "(nearly) constant" in notes["test_r2"]
    assert "absent from every reference label" in notes["test_dice_spleen"]
    assert (
        notes["test_rmse"] == "test_rmse is inf: the metric is undefined for the labels and predictions of this split."
    )


@pytest.mark.parametrize(
    "metrics",
    [
        {"test_auroc": 0.5, "auc": 0.0},  # a poor AUROC is a result, not a data artefact
        {"val_r2": R2_NOTE_BELOW, "test_r2": -0.4, "r2": 0.9},  # negative R² down to -1 is a (bad) model
        {"test_mean_dice": 0.0, "train_loss": 2.3},
    ],
)
def test_metric_notes_leave_ordinary_values_alone(metrics):
    assert metric_notes(metrics) == {}


def test_metric_notes_handler_warns_once_per_metric(caplog):
    engine = Engine(lambda engine, batch: None)
    values = iter([{"val_auroc": math.nan, "val_accuracy": 0.5}, {"val_auroc": math.nan}, {"val_auroc": 0.9}])

    @engine.on(Events.EPOCH_COMPLETED)
    def compute(engine):  # stands for the metrics, attached before the handlers as in MONAI's workflows
        engine.state.metrics = next(values)

    MetricNotes(name="notes").attach(engine)
    with caplog.at_level(logging.WARNING, logger="notes"):
        engine.run([0], max_epochs=3)
    assert [r.getMessage()[:22] for r in caplog.records] == ["val_auroc is NaN: AURO"]
