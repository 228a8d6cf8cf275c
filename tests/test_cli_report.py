"""``monai-afpe report`` reads what MONAI's MetricsSaver writes."""

import pytest
from monai.handlers.utils import write_metrics_reports

from monai_afpe.cli import main
from monai_afpe.commands.report import metrics_table, read_metrics


def write_run(folder, metrics):
    write_metrics_reports(str(folder), images=None, metrics=metrics, metric_details=None, summary_ops=None)


def test_report_reads_metrics_saver_output_and_prints_a_table(tmp_path, capsys):
    write_run(tmp_path / "a", {"accuracy": 0.9, "auroc": 0.975})
    write_run(tmp_path / "b", {"accuracy": 0.5})
    assert read_metrics(tmp_path / "a") == {"accuracy": 0.9, "auroc": 0.975}
    assert main(["report", str(tmp_path / "a"), str(tmp_path / "b" / "metrics.csv")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "| run | accuracy | auroc |"
    assert lines[2] == f"| {tmp_path / 'a'} | 0.9000 | 0.9750 |"
    assert lines[3] == f"| {tmp_path / 'b' / 'metrics.csv'} | 0.5000 |  |"


def test_report_errors_name_the_file(tmp_path):
    with pytest.raises(SystemExit, match=r"no metrics.csv"):
        main(["report", str(tmp_path)])
    (tmp_path / "metrics.csv").write_text("accuracy\tgood\n")
    with pytest.raises(SystemExit, match=r"metrics.csv, line 1: expected"):
        main(["report", str(tmp_path)])


def test_metrics_table_of_no_metrics():
    assert metrics_table({"run": {}}).splitlines()[2] == "| run |  |"


def test_report_reads_a_metrics_csv_with_a_byte_order_mark(tmp_path):
    """A metrics.csv re-saved by Excel as "CSV UTF-8" starts with a BOM; the first metric keeps its name."""
    (tmp_path / "metrics.csv").write_bytes(b"\xef\xbb\xbftest_accuracy,0.9\ntest_auroc,0.95\n")
    assert read_metrics(tmp_path) == {"test_accuracy": 0.9, "test_auroc": 0.95}


def test_report_explains_a_nan_auroc_and_a_hugely_negative_r2(tmp_path, capsys):
    write_run(tmp_path / "ct", {"test_accuracy": 0.75, "test_auroc": float("nan")})
    write_run(tmp_path / "echo", {"test_r2": -2_000_000.0, "test_mae": 0.4})
    write_run(tmp_path / "fine", {"test_auroc": 0.97, "test_r2": 0.8})
    assert main(["report", str(tmp_path / "ct"), str(tmp_path / "echo"), str(tmp_path / "fine")]) == 0
    out = capsys.readouterr().out
    table, notes = out.split("\n\n")
    assert f"| {tmp_path / 'ct'} | 0.7500 | nan |" in table
    notes = notes.strip().splitlines()
    assert len(notes) == 2  # nothing to say about the third run
    assert notes[0].startswith(f"Note ({tmp_path / 'ct'}): test_auroc is NaN: AUROC needs positive and negative cases")
    assert "class" in notes[0] and "split" in notes[0]
    assert notes[1].startswith(f"Note ({tmp_path / 'echo'}): test_r2 = -2e+06: R²")
    assert "(nearly) constant" in notes[1] and "MAE" in notes[1]
