"""The committed faithful runs stay small enough for git, and complete enough to read."""

import json
import shutil
import subprocess

import pandas as pd
import pytest
from conftest import ROOT

MAX_COMMITTED_MB = 20


def _tracked(folder: str) -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    result = subprocess.run(["git", "ls-files", folder], cwd=ROOT, capture_output=True, text=True, check=True)
    return result.stdout.split()


def test_committed_results_are_small_files():
    sizes = {path: (ROOT / path).stat().st_size / 1e6 for path in _tracked("results") if (ROOT / path).exists()}
    big = {path: round(mb, 1) for path, mb in sizes.items() if mb > MAX_COMMITTED_MB}
    assert not big, f"too big to commit (over {MAX_COMMITTED_MB} MB): {big}"


def test_every_committed_run_is_finished_with_its_metrics():
    runs = {path.rsplit("/", 1)[0] for path in _tracked("results") if path.endswith("/run.json")}
    for run in runs:
        assert json.loads((ROOT / run / "run.json").read_text())["finished"], f"{run} is unfinished"
        for name in ("metrics.json", "history.csv", "predictions.csv"):
            assert (ROOT / run / name).is_file(), f"{run} lacks {name}"


def test_real_summary_table_agrees_with_the_bench_summary():
    import json

    from galaxy_utils.report import notebook as report

    summary = json.loads((ROOT / "results" / "real-gz1" / "summary.json").read_text())
    table = report.real_summary_table(ROOT)
    assert table.loc["faithful", "balanced accuracy"] == pytest.approx(summary["faithful_bacc"])
    assert table.loc["best", "balanced accuracy"] == pytest.approx(summary["best_bacc"])
    assert table.loc["pixel baseline", "balanced accuracy"] == pytest.approx(
        summary["pixel_baseline"]["balanced_accuracy"])
    assert table.loc["best", "training seconds"] == summary["recipes"]["best"]["fit_seconds"]


def test_the_committed_best_model_is_the_current_best_recipe():
    # README, notebook 5 and `galaxy-utils predict --model results/real-gz1/best/model.keras`
    # speak of the recipe in profiles.py: the committed run must have been trained with it.
    from galaxy_utils.learn import profiles

    run = json.loads((ROOT / "results" / "real-gz1" / "best" / "run.json").read_text())
    assert run["finished"] and run["profile"] == profiles.profile("three-class", "best").to_dict()


def test_the_learning_curve_rests_on_the_same_dev_sets_as_the_tuning_table():
    # results/real-gz1/README.md says the learning curve's full-size runs are tune.md's best-e80
    # runs made again: same seeds, same dev sets, same scores; and that the curve rises.
    folder = ROOT / "results" / "real-gz1"
    curve = pd.read_csv(folder / "learning-curve.csv", dtype={"seed": "string"})
    tuned = pd.read_csv(folder / "tune.csv", dtype={"seed": "string"})
    full = curve[curve["recipe"] == "best"].set_index("seed")["dev_balanced_accuracy"]
    e80 = tuned[tuned["recipe"] == "best-e80"].set_index("seed")["dev_balanced_accuracy"]
    assert full.to_dict() == pytest.approx(e80.to_dict(), abs=1e-4)
    means = curve[curve["seed"] == "mean"].sort_values("train_galaxies")
    assert means["dev_balanced_accuracy"].is_monotonic_increasing and len(means) == 3
