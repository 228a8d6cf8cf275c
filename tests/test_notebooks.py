"""The tutorial notebooks: stored without outputs, and executed end to end on the tiny preset."""

from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
MINE = ["01_encodings_and_similarity.ipynb", "03_echo_ef_scale_ablation.ipynb"]


@pytest.mark.parametrize("name", MINE)
def test_notebook_is_stored_without_outputs(name):
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{name}: outputs are not stripped"


@pytest.mark.slow
@pytest.mark.parametrize("name", MINE)
def test_notebook_runs_end_to_end_on_the_tiny_preset(name, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("MONAI_AFPE_NOTEBOOK_PRESET", "tiny")
    monkeypatch.setenv("MONAI_AFPE_OUTPUT", str(tmp_path / "output"))
    monkeypatch.setenv("MONAI_AFPE_CACHE", str(tmp_path / "cache"))
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    client.execute()  # raises CellExecutionError naming the failing cell
    text = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    assert "preset tiny" in text
    if name.startswith("01"):
        assert (tmp_path / "output" / "similarity_maps.png").is_file() and (
            tmp_path / "output" / "kernel.png"
        ).is_file()
        assert "largest Gram difference" in text
        # the figures show inline (library code leaves the notebook's backend alone)
        figures = [
            o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})
        ]
        assert len(figures) >= 2
    else:
        assert (tmp_path / "output" / "echo" / "results.csv").is_file()
        assert "R²" in text
