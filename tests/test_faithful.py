"""`galaxy-utils faithful`: every faithful run, in order, on its own mock survey, resumable,
then what the figures read from them. Here with tiny surveys and tiny recipes."""

from __future__ import annotations

import dataclasses
import json

import pytest

from galaxy_utils import config, mock
from galaxy_utils.cli import main
from galaxy_utils.data import files
from galaxy_utils.learn import profiles
from galaxy_utils.learn.runs import RunFolder
from galaxy_utils.report import notebook as report

pytestmark = pytest.mark.slow


@pytest.fixture
def tiny_world(tmp_path, monkeypatch):
    """A project root in tmp_path, small mock surveys, and few-second faithful recipes."""
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "galaxy_utils").mkdir()
    monkeypatch.setattr(files, "project_root", lambda: tmp_path)  # every layer asks files.project_root()
    # 300 galaxies give about 24 with the three-class project's 90% agreement.
    for name, n in {"mock": 40, "mock-large": 300, "mock-xl": 330}.items():
        monkeypatch.setitem(mock.MOCK_SURVEYS, name, n)
    for task in report.FAITHFUL_SURVEYS:
        faithful = profiles.profile(task, "faithful")
        tiny = dataclasses.replace(faithful, image_size=16, epochs=1, batch_size=16, early_stopping_patience=None)
        if faithful.split == "balanced":
            tiny = dataclasses.replace(tiny, n_train=16, n_test=8)
        else:  # enough of each class in every split
            tiny = dataclasses.replace(tiny, val_fraction=0.25, test_fraction=0.25)
        monkeypatch.setitem(profiles.PROFILES, (task, "faithful"), tiny)
    return tmp_path


def test_faithful_makes_every_run_then_reuses_them(tiny_world, capsys):
    assert main(["faithful"]) == 0
    results = tiny_world / "results" / "mock-faithful"
    for task, survey in report.FAITHFUL_SURVEYS.items():
        run = json.loads((results / task / "run.json").read_text())
        assert run["finished"] and run["catalog"] == f"data/{survey}/gz_decals_volunteers_5.csv"
        assert run["fit_sittings"] == 1
    assert (results / "three-class" / RunFolder.SURVEY_PREDICTIONS).is_file()
    # the vote-count model on the larger survey's galaxies it never saw (the report's triangle)
    surveyed = (results / "vote-counts" / RunFolder.SURVEY_PREDICTIONS).read_text().splitlines()
    trained = json.loads((results / "vote-counts" / "run.json").read_text())["split_sizes"]
    assert len(surveyed) - 1 == 330 - trained["train"] - trained["validation"]
    assert json.loads((results / "vote-counts" / RunFolder.SURVEY_SOURCE).read_text()) == {
        "catalog": "data/mock-xl/gz_decals_volunteers_5.csv"}
    assert (results / "four-class" / RunFolder.BASELINE).is_file()
    # the vote-count run holds out the three-class run's test galaxies
    votes_run = json.loads((results / "vote-counts" / "run.json").read_text())
    held = votes_run["held_out_ids"]
    assert held["given"] == held["in_test_split"] > 0
    assert "three-class in" in capsys.readouterr().out

    # Run again: nothing is retrained.
    stamps = {p: p.stat().st_mtime_ns for p in results.rglob("model.keras")}
    assert main(["faithful"]) == 0
    assert {p: p.stat().st_mtime_ns for p in results.rglob("model.keras")} == stamps

    # The hard-against-soft comparisons are saved beside the vote-count run and reused;
    # an older comparison (another version) is computed again.
    settings = config.settings("mock", "faithful", 0)
    comparisons = report.vote_comparisons(settings)
    assert set(comparisons) == {"four-class", "three-class"}
    sources = results / "vote-counts" / RunFolder.COMPARISON / "four-class" / report.SOURCES_FILE
    saved = json.loads(sources.read_text())
    assert saved["comparison_version"] == report.COMPARISON_VERSION
    assert set(saved) == {"comparison_version", "vote-counts", "four-class"}
    table = sources.with_name("table.csv")
    stamp = table.stat().st_mtime_ns
    report.vote_comparisons(settings)
    assert table.stat().st_mtime_ns == stamp
    sources.write_text(json.dumps({**saved, "comparison_version": 1}))
    again = report.vote_comparisons(settings)
    assert json.loads(sources.read_text()) == saved and table.stat().st_mtime_ns != stamp
    hard_rows = again["four-class"].table.query("model == 'hard labels' and metric == 'thresholded_coverage'")
    assert len(hard_rows) >= 1
