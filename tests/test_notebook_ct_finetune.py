"""Notebook 02 (fine-tuning the CT bundle on another spacing) runs end to end on its tiny preset."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "02_ct_finetune_new_spacing.ipynb"


@pytest.mark.slow
def test_notebook_02_runs_on_the_tiny_preset_and_reports_before_and_after(tmp_path, monkeypatch):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), (
        "outputs must be stripped"
    )
    monkeypatch.setenv("MONAI_AFPE_NOTEBOOK_PRESET", "tiny")
    monkeypatch.setenv("MONAI_AFPE_OUTPUT", str(tmp_path))
    nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()
    text = "\n".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )
    for row in ("default data (mixed spacing)", "new spacing, before fine-tuning", "new spacing, after fine-tuning"):
        assert f"| {row} |" in text
    assert "test_accuracy" in text and "test_auroc" in text
    figures = [o for c in notebook.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(figures) == 3  # confusion matrices, similarity maps at both spacings
    for folder in ("eval", "eval/before_finetune", "eval/finetune"):
        assert (tmp_path / folder / "metrics.csv").is_file()
        assert (tmp_path / folder / "confusion_matrix.csv").is_file()
    assert (tmp_path / "models" / "finetune" / "model.pt").is_file()
