"""Training and prediction on the embedded mock survey, fast profile (as the notebooks)."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import pandas as pd
import pytest

from galaxy_utils import config
from galaxy_utils.cli import main
from galaxy_utils.learn.runs import RunFolder
from galaxy_utils.learn.training import train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def mock_survey():
    s = config.settings("mock", "fast")
    config.ensure_data(s)
    return s


def test_train_command_writes_metrics_history_and_model(mock_survey, tmp_path, capsys):
    out = tmp_path / "three"
    code = main([
        "train", "--task", "three-class", "--catalog", str(mock_survey.catalogue_path),
        "--image-root", str(mock_survey.image_root), "--profile", "fast", "--out", str(out),
        "--cache-dir", str(mock_survey.cache_dir), "--quiet",
    ])
    assert code == 0
    assert "held-out accuracy" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0 <= metrics["accuracy"] <= 1
    assert set(metrics["per_class"]) == {"spiral", "round", "edge-on"}
    assert sum(v["support"] for v in metrics["per_class"].values()) == metrics["n"] > 0
    assert metrics["split"] == "test" and "validation" in metrics
    history = RunFolder(out).history()
    assert history["epoch"].tolist() == [0, 1]
    assert {"accuracy", "val_accuracy", "loss", "val_loss"} <= set(history.columns)
    model = keras.models.load_model(out / "model.keras")
    assert model.input_shape == (None, 32, 32, 1)
    run = RunFolder(out).run()
    assert run["finished"] and run["split_sizes"]["test"] == metrics["n"]
    # the splits are disjoint
    splits = {
        name: set(pd.read_csv(out / "splits" / f"{name}.csv")["iauname"]) for name in ("train", "validation", "test")
    }
    assert not (splits["train"] & splits["test"]) and not (splits["train"] & splits["validation"])

    # a finished run is not retrained
    before = (out / "history.csv").read_text()
    assert train("three-class", mock_survey.catalogue_path, mock_survey.image_root, "fast", out, verbose=0) == metrics
    assert (out / "history.csv").read_text() == before
    # and a different run is refused, not overwritten
    with pytest.raises(ValueError, match="holds another run"):
        train("three-class", mock_survey.catalogue_path, mock_survey.image_root, "fast", out, seed=5, verbose=0)

    # predict: one row per galaxy; a galaxy without an image is listed, not fatal
    catalogue = pd.read_csv(mock_survey.catalogue_path).head(40)
    catalogue.loc[3, "png_loc"] = "dr5/J000/J000000.00+000000.0.png"
    small = tmp_path / "small.csv"
    catalogue.to_csv(small, index=False)
    predictions = tmp_path / "predictions.csv"
    assert main(["predict", "--model", str(RunFolder(out).model_file), "--catalog", str(small),
                 "--image-root", str(mock_survey.image_root), "--out", str(predictions)]) == 0
    table = pd.read_csv(predictions)
    assert len(table) == 39
    assert table.columns.tolist() == ["iauname", "file_loc", "p_spiral", "p_round", "p_edge-on", "predicted_class",
                                      "max_probability", "below_threshold"]
    assert (table[["p_spiral", "p_round", "p_edge-on"]].sum(axis=1) - 1).abs().max() < 1e-4
    unreadable = pd.read_csv(predictions.with_suffix(".unreadable.csv"))
    assert unreadable["iauname"].tolist() == [catalogue.loc[3, "iauname"]]


def test_the_same_seed_trains_to_the_same_numbers(mock_survey, tmp_path):
    """Seeded Keras plus TensorFlow op determinism: a rerun on the same machine reproduces
    every epoch's numbers and every prediction, so `make run` leaves the figures unchanged."""
    runs = [tmp_path / "first", tmp_path / "second"]
    metrics = [train("three-class", mock_survey.catalogue_path, mock_survey.image_root, "fast", out, seed=3,
                     cache_dir=mock_survey.cache_dir, verbose=0) for out in runs]
    assert metrics[0] == metrics[1]
    for name in ("history.csv", "predictions.csv"):
        first, second = ((out / name).read_text() for out in runs)
        assert first == second, name
    history = RunFolder(runs[0]).history()
    assert history["loss"].notna().all() and len(history) == 2


def test_four_class_fast_profile_balances_the_training_split(mock_survey, tmp_path):
    out = tmp_path / "four"
    metrics = train("four-class", mock_survey.catalogue_path, mock_survey.image_root, "fast", out,
                    cache_dir=mock_survey.cache_dir, verbose=0)
    run = RunFolder(out).run()
    train_counts = run["class_counts"]["train"]
    assert len(set(train_counts.values())) == 1, train_counts  # balanced
    assert len(set(run["class_counts"]["test"].values())) == 1
    balancing = pd.DataFrame(run["balancing"])
    assert (balancing["originals"] + balancing["augmented"] == balancing["total"]).all()
    assert set(metrics["per_class"]) == {"elliptical", "lenticular", "spiral", "irregular"}

    # Without its model (too big to commit, for the faithful run) the architecture is rebuilt.
    from galaxy_utils.report import notebook as report

    def drawn(figure):
        ax = figure.axes[0]
        return [ax.get_title()] + [text.get_text() for text in ax.texts]

    saved = drawn(report.architecture(out))
    (out / "model.keras").unlink()
    assert drawn(report.architecture(out)) == saved


def test_best_recipe_run_predicts_with_its_own_measured_crop(mock_survey, tmp_path):
    """A 'best'-recipe run carries its preprocessing (the measured crop, the photometric
    normalisation) and its custom layers:
    `galaxy-utils predict` in a fresh process reproduces the run's own test predictions."""
    import dataclasses

    from galaxy_utils.learn import profiles

    tiny = dataclasses.replace(profiles.profile("three-class", "best"), name="best-tiny", image_size=24, epochs=2,
                               batch_size=16)
    out = tmp_path / "best"
    train("three-class", mock_survey.catalogue_path, mock_survey.image_root, tiny, out,
          cache_dir=tmp_path / "cache", verbose=0)
    run = RunFolder(out).run()
    assert run["image_spec"]["crop"] == "measured" and run["image_spec"]["normalise"]
    assert run["profile"]["name"] == "best-tiny"
    assert set(run["class_weight"]) == {"spiral", "round", "edge-on"}
    own = pd.read_csv(RunFolder(out).predictions_file).set_index("iauname")
    catalogue = pd.read_csv(mock_survey.catalogue_path)
    catalogue = catalogue[catalogue["iauname"].isin(own.index)]
    catalogue.to_csv(tmp_path / "test.csv", index=False)
    predictions = tmp_path / "predictions.csv"
    subprocess.run([sys.executable, "-m", "galaxy_utils.cli", "predict", "--model", str(RunFolder(out).model_file),
                    "--catalog", str(tmp_path / "test.csv"), "--image-root", str(mock_survey.image_root),
                    "--out", str(predictions)], check=True, capture_output=True)
    table = pd.read_csv(predictions).set_index("iauname").loc[own.index]
    columns = ["p_spiral", "p_round", "p_edge-on"]
    assert (table[columns] - own[columns]).abs().max().max() < 1e-4


def _train_command(survey, out, *extra):
    return [sys.executable, "-m", "galaxy_utils.cli", "train", "--task", "three-class", "--catalog",
            str(survey.catalogue_path), "--image-root", str(survey.image_root), "--profile", "fast",
            "--out", str(out), "--cache-dir", str(survey.cache_dir), *extra]


def test_killed_training_resumes_from_the_last_epoch(mock_survey, tmp_path):
    out = tmp_path / "resume"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    process = subprocess.Popen(_train_command(mock_survey, out), env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        if len(RunFolder(out).history()) >= 1:
            break
        time.sleep(0.2)
    if process.poll() is not None:
        pytest.fail("training finished before it could be interrupted")
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (out / "metrics.json").exists()
    assert RunFolder(out).history()["epoch"].tolist() == [0]
    first_sitting = RunFolder(out).run()
    assert first_sitting["fit_sittings"] == 1 and first_sitting["fit_seconds"] > 0
    subprocess.run(_train_command(mock_survey, out, "--quiet"), env=env, check=True, capture_output=True)
    history = pd.read_csv(out / "history.csv")
    assert history["epoch"].tolist() == [0, 1], "the second run must start at epoch 1, not retrain epoch 0"
    assert json.loads((out / "metrics.json").read_text())["n"] > 0
    run = RunFolder(out).run()
    assert run["fit_sittings"] == 2 and run["fit_seconds"] > first_sitting["fit_seconds"]


def test_mirrored_strategy_on_two_logical_cpus(mock_survey, tmp_path):
    out = tmp_path / "mirrored"
    script = (
        "from galaxy_utils.learn.runs import environment_for_cpu_devices\n"
        "from galaxy_utils.learn.training import train\n"
        "environment_for_cpu_devices(2)\n"
        f"train('three-class', {str(mock_survey.catalogue_path)!r}, {str(mock_survey.image_root)!r}, 'fast', "
        f"{str(out)!r}, strategy='mirrored', cache_dir={str(mock_survey.cache_dir)!r}, verbose=0)\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    run = RunFolder(out).run()
    assert run["strategy"] == {"name": "MirroredStrategy", "replicas": 2}
    assert run["finished"]


def test_progress_bars_show_rates_and_time_left_and_stay_quiet_when_asked(capsys):
    import numpy as np

    from galaxy_utils.learn.models import build_model
    from galaxy_utils.learn.runs import prediction_progress, progress_callbacks

    assert progress_callbacks(0) == [] and prediction_progress(3, enabled=False) == []
    model = build_model("three-class", (8, 8, 1), 3, learning_rate=1e-3)
    images, labels = np.zeros((6, 8, 8, 1), "float32"), np.array([0, 1, 2, 0, 1, 2])
    model.fit(images, labels, batch_size=2, epochs=2, verbose=0,
              callbacks=progress_callbacks(1, epochs=2, data_size=6, batch_size=2))
    model.predict(images, batch_size=2, verbose=0, callbacks=prediction_progress(3))
    err = capsys.readouterr().err
    assert "2/2" in err and ("epoch/s" in err or "s/epoch" in err)
    assert "predicting" in err and "3/3" in err and "batch/s" in err
    model.predict(images, batch_size=2, verbose=0, callbacks=prediction_progress(3, enabled=False))
    assert capsys.readouterr().err == ""


def test_one_train_call_detects_the_id_column_once(mock_survey, tmp_path, monkeypatch):
    """The catalogue is made canonical when it is read (its id column recorded); splitting,
    datasets, training, scoring and predictions read the record and never detect it again."""
    from galaxy_utils.data import catalogue

    calls = []
    detect = catalogue.id_column
    monkeypatch.setattr(catalogue, "id_column", lambda frame: calls.append(1) or detect(frame))
    train("three-class", mock_survey.catalogue_path, mock_survey.image_root, "fast", tmp_path / "run",
          cache_dir=mock_survey.cache_dir, verbose=0)
    assert len(calls) == 1
