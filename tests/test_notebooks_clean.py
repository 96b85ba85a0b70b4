"""The committed notebooks read like the report: outputs present, no stderr noise, no
machine paths, no function definitions, and every notebook says which data and profile."""

import json
import re

import pytest
from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_notebooks_are_numbered():
    assert [p.name[:3] for p in NOTEBOOKS] == [f"{i:02d}_" for i in range(1, len(NOTEBOOKS) + 1)]
    assert len(NOTEBOOKS) >= 5


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_clean(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c.get("outputs") is not None for c in code)
    assert any(c["outputs"] for c in code), "committed without outputs"
    for cell in code:
        source = "".join(cell["source"])
        assert not re.search(r"^\s*(def|class)\s", source, re.M), f"define functions in galaxy_utils:\n{source}"
        for output in cell["outputs"]:
            assert output.get("name") != "stderr", f"stderr output in {path.name}: {output.get('text')}"
            assert output.get("output_type") != "error"
    text = json.dumps(nb)
    assert not re.search(r"/(work|tmp|root|home)/[A-Za-z0-9_.-]+/", text), "absolute machine path in outputs"
    first = "".join(code[0]["source"])
    assert "config.settings(" in first and "describe()" in first


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_opens_quickly_on_github(path):
    """Figures at a sensible resolution, galaxy grids as JPEG: every notebook under 1.5 MB."""
    assert path.stat().st_size < 1_500_000, f"{path.name} is {path.stat().st_size / 1e6:.2f} MB"
