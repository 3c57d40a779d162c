"""Every notebook runs top to bottom (extra [notebooks]: nbclient, nbformat, ipykernel) and writes
the figures it promises. Each runs in a fresh kernel inside a temporary directory."""

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
FIGURES = {
    "01_quickstart": ["01_accuracy.png", "01_raster.png"],
    "02_pong_lifetime": ["02_learning_curve.png", "02_pong_strip.png", "02_pong_frame.png"],
    "03_compare_rules": ["03_curves.png"],
    "04_weight_symmetry": ["04_sal_fixed_w.png", "04_alignment.png"],
    "05_spike_analysis": ["05_statistics.png", "05_raster.png"],
    "06_rule_table": ["06_iqm.png", "06_curves.png"],
    "07_patterns_during_learning": ["07_evidence.png", "07_catch.png"],
}


def test_every_notebook_is_listed_and_stored_without_outputs():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(FIGURES)
    for path in NOTEBOOKS.glob("*.ipynb"):
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, path.name


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_notebook_runs_and_writes_its_figures(name, tmp_path):
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    for figure in FIGURES[name]:
        path = tmp_path / "figures" / figure
        assert path.exists() and path.stat().st_size > 300, figure
