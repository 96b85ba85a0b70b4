"""bench/real_images.py: skips cleanly without the real data; its catalogue follows the GZ1 mapping."""

import importlib.util
import subprocess
import sys

import pandas as pd
import pytest
from conftest import ROOT

BENCH = ROOT / "bench" / "real_images.py"


def write_gz1_labels(data):
    """A GZ1-like labels.csv of 100 galaxies (40 elliptical, 30 spiral, 30 edge-on) in ``data``."""
    classes = ["elliptical"] * 40 + ["spiral-clockwise"] * 30 + ["edge-on"] * 30
    pd.DataFrame({"objid": [str(10**17 + i) for i in range(100)], "file_loc": [f"images/{i}.jpeg" for i in range(100)],
                  "gz1_class": classes}).to_csv(data / "labels.csv", index=False)


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("real_images", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_skips_cleanly_without_the_real_data(tmp_path):
    result = subprocess.run([sys.executable, str(BENCH), "--data", str(tmp_path / "absent")], capture_output=True,
                            text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert "skipped" in lines[0] and lines[-1] == "skipped=1"


def test_real_catalogue_maps_gz1_classes_and_caps_round_galaxies(bench, tmp_path):
    classes = ["elliptical"] * 30 + ["spiral-clockwise"] * 4 + ["spiral-anticlockwise"] * 3 + ["edge-on"] * 5 + [
        "merger", "star-or-unknown"]
    pd.DataFrame({"objid": [str(10**17 + i) for i in range(len(classes))],
                  "file_loc": [f"images/{i}.jpeg" for i in range(len(classes))],
                  "gz1_class": classes}).to_csv(tmp_path / "labels.csv", index=False)
    catalogue = bench.real_catalogue(tmp_path, max_round=10, seed=3)
    assert catalogue.columns.tolist() == ["id", "file_loc", "label"]
    assert catalogue["label"].value_counts().to_dict() == {"round": 10, "spiral": 7, "edge-on": 5}
    assert catalogue.equals(bench.real_catalogue(tmp_path, max_round=10, seed=3))  # seeded
    assert not catalogue["id"].equals(bench.real_catalogue(tmp_path, max_round=10, seed=4)["id"])
    assert catalogue["id"].str.len().eq(18).all()  # 64-bit SDSS objIDs kept exactly, as text


def test_balanced_accuracy_is_the_mean_recall_of_present_classes(bench):
    metrics = {"per_class": {"a": {"recall": 1.0, "support": 5}, "b": {"recall": 0.5, "support": 3},
                             "c": {"recall": 0.0, "support": 0}}}
    assert bench.balanced_accuracy(metrics) == pytest.approx(0.75)


def test_weights_only_drops_the_optimizer_state_and_keeps_the_predictions(bench, tmp_path):
    import numpy as np

    from galaxy_utils.learn import models
    from galaxy_utils.learn.runs import load_model

    model = models.build_model("invariant-three-class", (16, 16, 3), 3, learning_rate=1e-3,
                               optimizer="adamw-cosine", weight_decay=1e-2, decay_steps=10)
    images = np.random.default_rng(0).random((4, 16, 16, 3)).astype("float32")
    model.fit(images, np.array([0, 1, 2, 0]), epochs=1, verbose=0)  # the optimizer now has state
    path = tmp_path / "model.keras"
    model.save(path)
    before, size = model.predict(images, verbose=0), path.stat().st_size
    bench.weights_only(path)
    assert path.stat().st_size < size / 2  # the optimizer's two moments per weight are gone
    np.testing.assert_allclose(load_model(path).predict(images, verbose=0), before, atol=1e-6)
    stamp = path.stat().st_mtime_ns
    bench.weights_only(path)  # already weights only: left as it is
    assert path.stat().st_mtime_ns == stamp


def test_decals_reference_answers_settle_spiral_or_round_and_nothing_else(bench, tmp_path):
    rows = [("a.jpg", "how-rounded", "cigar-shaped"), ("b.jpg", "bar", "yes"), ("c.jpg", "disk-edge-on", "no"),
            ("d.jpg", "smooth-or-featured", "featured-or-disk"), ("e.jpg", "odd-feature", "dust-lane")]
    pd.DataFrame(rows, columns=["filename", "question", "answer"]).to_csv(tmp_path / "labels.csv", index=False)
    catalogue = bench.decals_catalogue(tmp_path)
    # a featured galaxy may be an edge-on disk, a dust lane any shape: neither has a class
    assert catalogue.to_dict("list") == {"id": ["a", "b", "c"], "file_loc": ["a.jpg", "b.jpg", "c.jpg"],
                                         "label": ["round", "spiral", "spiral"]}


def test_variant_changes_the_named_fields_of_best_and_nothing_else(bench):
    from galaxy_utils.learn import profiles

    best = profiles.profile("three-class", "best")
    changed = bench.variant(best, "s96:image_size=96,batch_size=64")
    assert (changed.name, changed.image_size, changed.batch_size) == ("best-s96", 96, 64)
    assert changed == best.__class__(**{**vars(best), "name": "best-s96", "image_size": 96, "batch_size": 64})


@pytest.mark.parametrize(("spec", "says"), [
    ("e80", "expected NAME:FIELD=VALUE"),
    (":epochs=80", "expected NAME:FIELD=VALUE"),
    ("e80:epoch=80", "no profile field 'epoch'"),
    ("e80:name=x", "no profile field 'name'"),
    ("e80:epochs=eighty", "is not a Python literal"),
])
def test_variant_refuses_a_malformed_spec_naming_it(bench, spec, says):
    from galaxy_utils.learn import profiles

    with pytest.raises(ValueError, match=says) as error:
        bench.variant(profiles.profile("three-class", "best"), spec)
    assert repr(spec) in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(("args", "says"), [
    (["--try", "e80:epochs=80"], "add --tune"),
    (["--tune", "--try", "e80:epoch=80"], "no profile field 'epoch'"),
    (["--tune", "--only", "bset"], "unknown recipe(s) bset"),
    (["--train-fractions", "0.5"], "add --tune"),
    (["--tune", "--train-fractions", "0.5,1.5"], "each fraction must be in (0, 1]"),
    (["--tune", "--train-fractions", "half"], "expected numbers"),
])
def test_bad_arguments_stop_with_one_line_before_any_work(tmp_path, args, says):
    result = subprocess.run([sys.executable, str(BENCH), "--data", str(tmp_path / "absent"), "--out",
                             str(tmp_path / "out"), *args], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 2
    assert says in result.stderr.strip().splitlines()[-1] and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_tune_never_trains_or_scores_on_the_test_galaxies(bench, tmp_path, monkeypatch):
    from galaxy_utils.learn import profiles

    catalogue = pd.DataFrame({"id": [f"g{i}" for i in range(100)], "file_loc": [f"{i}.png" for i in range(100)],
                              "label": ["round"] * 60 + ["spiral"] * 20 + ["edge-on"] * 20})
    test = catalogue.iloc[::5]
    calls = []

    def fake_train(prof, catalog, data, out, seed, held_out_ids, *, held_out):
        seen = pd.read_csv(catalog)["id"]
        calls.append((prof.name, seed, set(seen), set(held_out_ids), held_out))
        recall = 0.5 + 0.1 * seed + (0.05 if prof.name == "best-e2" else 0)
        scores = {"per_class": {c: {"recall": recall, "support": 1} for c in ("round", "spiral", "edge-on")}}
        return {**scores, "validation": scores}

    monkeypatch.setattr(bench, "TUNE_OUT", tmp_path)
    monkeypatch.setattr(bench, "train_recipe", fake_train)
    monkeypatch.setattr(bench, "run_seconds", lambda run_dir: 1.0)
    best = profiles.profile("three-class", "best")
    chosen = {"best": best, "best-e2": bench.variant(best, "e2:epochs=2")}
    table = bench.tune(chosen, catalogue, test, tmp_path, seeds=[0, 1], dev_fraction=0.2)

    assert [(name, seed) for name, seed, *_ in calls] == [("best", 0), ("best-e2", 0), ("best", 1), ("best-e2", 1)]
    for _, _, seen, dev, held_out in calls:
        assert held_out == "dev" and not seen & set(test["id"]) and len(seen) == 80
        assert dev < seen and len(dev) == 16  # the dev set is a stratified 20% of the other galaxies
    assert calls[0][3] == calls[1][3] != calls[2][3]  # one dev set per seed, the same for every recipe
    means = table[table["seed"] == "mean"].set_index("recipe")["dev_balanced_accuracy"]
    assert means.to_dict() == pytest.approx({"best": 0.55, "best-e2": 0.60})


def test_a_learning_curve_trains_on_nested_stratified_fractions_and_scores_on_one_dev_set(bench, tmp_path,
                                                                                         monkeypatch):
    from galaxy_utils.learn import profiles

    catalogue = pd.DataFrame({"id": [f"g{i}" for i in range(200)], "file_loc": [f"{i}.png" for i in range(200)],
                              "label": ["round"] * 120 + ["spiral"] * 40 + ["edge-on"] * 40})
    test = catalogue.iloc[::5]
    calls = []

    def fake_train(prof, catalog, data, out, seed, held_out_ids, *, held_out):
        seen = pd.read_csv(catalog).set_index("id")["label"]
        calls.append((out.name, seen, set(held_out_ids)))
        recall = len(seen) / 1000
        scores = {"per_class": {c: {"recall": recall, "support": 1} for c in ("round", "spiral", "edge-on")}}
        return {**scores, "validation": scores}

    monkeypatch.setattr(bench, "TUNE_OUT", tmp_path)
    monkeypatch.setattr(bench, "train_recipe", fake_train)
    monkeypatch.setattr(bench, "run_seconds", lambda run_dir: 1.0)
    table = bench.tune({"best": profiles.profile("three-class", "best")}, catalogue, test, tmp_path, seeds=[0],
                       dev_fraction=0.2, train_fractions=[0.25, 1.0])

    (quarter, seen_q, dev_q), (whole, seen_w, dev_w) = calls
    assert (quarter, whole) == ("best@0.25", "best") and dev_q == dev_w  # one dev set for every fraction
    assert set(seen_w.index) == set(catalogue["id"]) - set(test["id"]) and dev_q <= set(seen_q.index)
    trained, pool = seen_q.drop(list(dev_q)), seen_w.drop(list(dev_w))
    assert set(trained.index) < set(pool.index) and len(trained) == len(pool) // 4
    share = trained.value_counts() / pool.value_counts()
    assert ((share - 0.25).abs() < 0.05).all() and len(share) == 3  # stratified: a quarter of every class
    assert table.set_index("recipe").loc["best@0.25", "train_galaxies"].tolist() == [len(trained), len(trained)]


def test_tune_scores_the_mock_trained_model_on_every_galaxy_outside_the_test_set(bench, tmp_path, monkeypatch):
    data, mock = tmp_path / "gz1", tmp_path / "mock"
    data.mkdir(), mock.mkdir()
    write_gz1_labels(data)
    (mock / bench.CATALOGUE_NAME).write_text("iauname\n")
    scored = []

    def fake_mock_to_real(prof, mock_dir, data_dir, galaxies, out, seed, held_out):
        scored.append((prof.name, mock_dir, set(galaxies["id"]), seed))
        assert out.parent == tmp_path / "runs" and out.name.startswith("mock-")  # one folder per mock survey
        return {"per_class": {c: {"recall": r, "support": 1} for c, r in (("spiral", 0.9), ("round", 0.6),
                                                                          ("edge-on", 0.3))}}

    monkeypatch.setattr(bench, "TUNE_OUT", tmp_path / "runs")
    monkeypatch.setattr(bench, "mock_to_real", fake_mock_to_real)
    monkeypatch.setattr(bench, "run_seconds", lambda run_dir: 7.0)
    out = tmp_path / "out"
    assert bench.main(["--tune", "--only", "", "--data", str(data), "--mock", str(mock), "--out", str(out),
                       "--seed", "2"]) == 0

    catalogue = bench.real_catalogue(data, 1000, 2)
    _, _, test = bench.split_catalogue(catalogue, 0.0, 0.2, 2)
    assert [(name, path, seed) for name, path, _, seed in scored] == [("best", mock, 2)]
    assert scored[0][2] == set(catalogue["id"]) - set(test["id"]) and len(test) == 20  # all but the test set
    rows = pd.read_csv(out / "tune-mock.csv", dtype={"seed": "string"}).set_index("seed")
    assert rows["recipe"].eq("best-on-mock").all() and rows.index.tolist() == ["2", "mean"]
    assert rows.loc["mean", "dev_balanced_accuracy"] == pytest.approx(0.6)
    assert "best-on-mock" in (out / "tune-mock.md").read_text()
    assert not (out / "tune.csv").exists()  # the recipes' tuning table is not replaced by the mock's row


def test_mock_to_real_replaces_a_run_trained_on_another_rendering_of_the_mock(bench, tmp_path, monkeypatch):
    import galaxy_utils.learn.training as training

    mock, out = tmp_path / "mock", tmp_path / "out"
    (mock / "images").mkdir(parents=True)
    (mock / bench.CATALOGUE_NAME).write_text("iauname,png_loc\ng0,g0.png\n")
    (mock / "images" / "g0.png").write_bytes(b"first rendering")
    trained = []
    monkeypatch.setattr(bench, "mock_catalogue", lambda m: pd.DataFrame({"id": ["g0"], "file_loc": ["g0.png"],
                                                                         "label": ["round"]}))
    monkeypatch.setattr(training, "train", lambda *args, **kwargs: trained.append(sorted(
        p.name for p in (out / "mock-to-real").iterdir())))
    monkeypatch.setattr(bench, "score_run", lambda run_dir, scored, data: {"per_class": {}})

    def run_on_mock():
        bench.mock_to_real(bench.profiles.profile("three-class", "best"), mock, tmp_path, pd.DataFrame(), out, 0)
        (out / "mock-to-real" / "run.json").write_text("{}")  # what a finished training leaves
        (out / "mock-to-real" / "model.keras").write_bytes(b"model")

    run_on_mock()
    run_on_mock()  # the same mock: the run folder is kept (training reuses a finished run)
    assert trained == [["mock.json"], ["mock.json", "model.keras", "real_metrics.json", "run.json"]]
    (mock / "images" / "g0.png").write_bytes(b"a new rendering of the same galaxy")  # same catalogue, new images
    run_on_mock()
    assert trained[-1] == ["mock.json"]  # the old run is gone: the model trains anew


def test_mock_to_real_without_its_model_reuses_its_scores_on_the_same_galaxies_or_trains_anew(bench, tmp_path,
                                                                                             monkeypatch):
    # A clone holds the mock-trained run's scores but not its model (not committed): the bench's
    # headline command must neither crash nor score with a model it does not have.
    import galaxy_utils.learn.training as training

    mock, out = tmp_path / "mock", tmp_path / "out"
    (mock / "images").mkdir(parents=True)
    (mock / bench.CATALOGUE_NAME).write_text("iauname,png_loc\ng0,g0.png\n")
    (mock / "images" / "g0.png").write_bytes(b"pixels")
    trained, scored_with = [], []
    monkeypatch.setattr(bench, "mock_catalogue", lambda m: pd.DataFrame({"id": ["g0"], "file_loc": ["g0.png"],
                                                                         "label": ["round"]}))

    def fake_train(*args, **kwargs):
        trained.append(1)
        (out / "mock-to-real" / "run.json").write_text("{}")
        (out / "mock-to-real" / "model.keras").write_bytes(b"model")

    monkeypatch.setattr(training, "train", fake_train)
    monkeypatch.setattr(bench, "score_run", lambda run_dir, scored, data: scored_with.append(len(scored)) or
                        {"per_class": {"round": {"recall": len(scored) / 10, "support": 1}}})
    best = bench.profiles.profile("three-class", "best")
    test, other = pd.DataFrame({"id": ["r1", "r2"]}), pd.DataFrame({"id": ["r1", "r2", "r3"]})

    first = bench.mock_to_real(best, mock, tmp_path, test, out, 0)
    (out / "mock-to-real" / "model.keras").unlink()  # what a fresh clone has
    again = bench.mock_to_real(best, mock, tmp_path, test, out, 0)
    assert again == first and trained == [1] and scored_with == [2]  # its saved scores: no training, no scoring
    elsewhere = bench.mock_to_real(best, mock, tmp_path, other, out, 0)
    assert trained == [1, 1] and scored_with == [2, 3]  # other galaxies: a model is needed, so it trains anew
    assert elsewhere["per_class"]["round"]["recall"] == pytest.approx(0.3)


def test_rerunning_the_bench_in_a_clone_keeps_the_decals_scores_of_an_ablation_it_has_no_model_for(
        bench, tmp_path, monkeypatch):
    import json

    data, out, reference = tmp_path / "gz1", tmp_path / "out", tmp_path / "decals"
    data.mkdir(), reference.mkdir()
    write_gz1_labels(data)
    scores = {"per_class": {c: {"recall": 0.8, "support": 1} for c in ("spiral", "round", "edge-on")}, "accuracy": 0.8}

    def fake_train(prof, catalog, data_dir, run_dir, seed, test_ids, held_out="test"):
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "model.keras").write_bytes(b"model")
        return {**scores, "validation": scores}

    earlier = {"balanced_accuracy": 0.59, "recall": {"spiral": 0.85, "round": 0.33}}
    out.mkdir()
    (out / "summary.json").write_text(json.dumps({"sdss_to_decals": {"best-without-normalise": earlier}}))
    monkeypatch.setattr(bench, "DECALS_REFERENCE", reference)
    monkeypatch.setattr(bench, "ABLATION_OUT", tmp_path / "no-ablations")  # a clone: artifacts/ is empty
    monkeypatch.setattr(bench, "train_recipe", fake_train)
    monkeypatch.setattr(bench, "pixel_baseline", lambda run_dir: scores)
    monkeypatch.setattr(bench, "run_seconds", lambda run_dir: 1.0)
    monkeypatch.setattr(bench, "weights_only", lambda path: None)
    monkeypatch.setattr(bench, "sdss_to_decals", lambda run_dir, ref: {"balanced_accuracy": 0.75})
    assert bench.main(["--data", str(data), "--out", str(out), "--no-mock"]) == 0

    decals = json.loads((out / "summary.json").read_text())["sdss_to_decals"]
    assert decals["best"] == {"balanced_accuracy": 0.75} and decals["best-without-normalise"] == earlier


def test_tuning_one_recipe_keeps_the_earlier_rows_of_the_others(bench, tmp_path, monkeypatch):
    data, out = tmp_path / "gz1", tmp_path / "out"
    data.mkdir(), out.mkdir()
    write_gz1_labels(data)
    pd.DataFrame({"recipe": ["best-e80", "best-e80", "faithful", "faithful"], "seed": ["3", "mean", "3", "mean"],
                  "dev_balanced_accuracy": [0.83, 0.83, 0.5, 0.5]}).to_csv(out / "tune.csv", index=False)

    def fake_tune(chosen, catalogue, test, data_dir, seeds, dev_fraction, train_fractions=None):
        rows = [{"recipe": name, "seed": seed, "dev_balanced_accuracy": 0.7} for name in chosen
                for seed in [*seeds, "mean"]]
        return pd.DataFrame(rows)

    monkeypatch.setattr(bench, "tune", fake_tune)
    assert bench.main(["--tune", "--no-mock", "--only", "faithful", "--seeds", "0,1", "--data", str(data),
                       "--out", str(out)]) == 0

    table = pd.read_csv(out / "tune.csv", dtype={"seed": "string"})
    assert table[["recipe", "seed"]].values.tolist() == [["best-e80", "3"], ["best-e80", "mean"], ["faithful", "0"],
                                                          ["faithful", "1"], ["faithful", "mean"]]
    assert table.set_index(["recipe", "seed"]).loc[("faithful", "mean"), "dev_balanced_accuracy"] == 0.7
    assert "seeds 0, 1, 3," in (out / "tune.md").read_text()
