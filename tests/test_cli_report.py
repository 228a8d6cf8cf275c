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
