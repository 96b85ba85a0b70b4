"""figures/ holds exactly the report's figures, and its manifest says which."""

import json

from conftest import ROOT

from galaxy_utils.report.notebook import report_figures


def test_figure_list_and_files_agree():
    names = [f.name for f in report_figures()]
    assert len(names) == len(set(names))
    on_disk = sorted(p.stem for p in (ROOT / "figures").glob("*.png"))
    assert on_disk == sorted(names), "run `make figures` (galaxy-utils figures) to redraw figures/"
    manifest = json.loads((ROOT / "figures" / "index.json").read_text())
    assert [entry["name"] for entry in manifest] == names
    for entry in manifest:
        data_named = any(name in entry["caption"] for name in ("mock", "GZD-5", "real SDSS / Galaxy Zoo 1"))
        assert "profile" in entry["caption"] and data_named
