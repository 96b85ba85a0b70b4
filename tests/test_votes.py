"""The vote-count model: Dirichlet-multinomial loss, heads, derived labels, metrics, training
run, and the hard-versus-soft comparison."""

import json
import math
import os
import types

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
from conftest import ZOO, make_catalogue, write_png  # noqa: E402
from scipy.special import gammaln  # noqa: E402

from galaxy_utils.analysis import comparison
from galaxy_utils.cli import main  # noqa: E402
from galaxy_utils.data import labels, tree
from galaxy_utils.images.decode import ImageSpec  # noqa: E402
from galaxy_utils.learn import profiles, training, votes  # noqa: E402
from galaxy_utils.learn.dataset import make_dataset  # noqa: E402
from galaxy_utils.learn.evaluation import reliability_table  # noqa: E402
from galaxy_utils.report import plots_votes


def dm_log_likelihood(k, alpha) -> float:
    """log Dirichlet-multinomial, straight from the formula."""
    k, alpha = np.asarray(k, float), np.asarray(alpha, float)
    n, a = k.sum(), alpha.sum()
    coefficient = gammaln(n + 1) - gammaln(k + 1).sum()
    return float(coefficient + gammaln(a) - gammaln(n + a) + (gammaln(k + alpha) - gammaln(alpha)).sum())


def perfect_concentrations(catalogue: pd.DataFrame) -> np.ndarray:
    """Concentrations whose Dirichlet means are exactly the volunteers' fractions (uniform
    where a question was not asked)."""
    fractions = catalogue[votes.fraction_columns()].to_numpy(dtype=float, copy=True)
    for s in labels.answer_slices().values():
        block = fractions[:, s]
        block[np.isnan(block).any(axis=1)] = 1.0 / block.shape[1]
        fractions[:, s] = block
    return fractions


# --------------------------------------------------------------------------------------
# The loss
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        # With every concentration 1 the Dirichlet-multinomial is uniform over the ways to
        # split N votes among K answers: 1 / C(N + K - 1, K - 1).
        ([1, 0], 1 / 2),
        ([2, 0], 1 / 3),
        ([3, 1, 0], 1 / math.comb(6, 2)),
        ([0, 0, 5], 1 / math.comb(7, 2)),
    ],
)
def test_uniform_concentrations_give_the_counting_probability(counts, expected):
    value = votes.dirichlet_multinomial_log_likelihood(np.array([counts], float), np.ones((1, len(counts))))
    assert float(value[0]) == pytest.approx(math.log(expected), rel=1e-6)


def test_log_likelihood_matches_the_formula_with_scipy():
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 30, size=(20, 5)).astype(float)
    alpha = rng.uniform(1, 100, size=(20, 5))
    got = votes.dirichlet_multinomial_log_likelihood(counts, alpha).numpy()
    expected = [dm_log_likelihood(k, a) for k, a in zip(counts, alpha, strict=True)]
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    # two answers: the beta-binomial, by hand: P(k=3 of 4 | a=2, b=1) = C(4,3) B(5, 2) / B(2, 1) = 4 * (1/30) * 2
    beta_binomial = votes.dirichlet_multinomial_log_likelihood(np.array([[3.0, 1.0]]), np.array([[2.0, 1.0]]))
    assert float(beta_binomial[0]) == pytest.approx(math.log(4 / 15))


def test_loss_sums_questions_and_unasked_questions_contribute_exactly_zero():
    counts = np.zeros((2, 34), np.int32)
    slices = labels.answer_slices()
    counts[:, slices["smooth-or-featured"]] = [[4, 1, 0], [0, 5, 0]]
    counts[:, slices["merging"]] = [[5, 0, 0, 0], [3, 1, 1, 0]]
    counts[1, slices["disk-edge-on"]] = [0, 5]
    rng = np.random.default_rng(1)
    alpha = rng.uniform(1, 100, size=(2, 34)).astype(np.float32)
    per_question = votes.question_log_likelihoods(counts, alpha).numpy()
    assert per_question.shape == (2, 10)
    unasked = [i for i, q in enumerate(slices) if q not in ("smooth-or-featured", "merging", "disk-edge-on")]
    assert (per_question[:, unasked] == 0).all()  # exactly, not approximately
    assert per_question[0, list(slices).index("disk-edge-on")] == 0
    expected = [
        -sum(dm_log_likelihood(counts[g, s], alpha[g, s]) for s in slices.values() if counts[g, s].sum() > 0)
        for g in range(2)
    ]
    np.testing.assert_allclose(votes.vote_count_loss(counts, alpha).numpy(), expected, rtol=1e-5)
    loss = votes.DirichletMultinomialLoss()
    assert float(loss(counts, alpha)) == pytest.approx(np.mean(expected), rel=1e-5)


def test_no_nan_in_loss_or_gradients_for_unasked_or_broken_counts():
    counts = np.zeros((3, 34), np.float32)
    counts[0, :3] = [5, 0, 0]
    counts[2, :3] = [np.nan, 2, 1]  # never produced by soft_targets; the loss must still not go NaN
    alpha = tf.Variable(np.full((3, 34), 1.5, np.float32))
    with tf.GradientTape() as tape:
        loss = votes.vote_count_loss(counts, alpha)
    gradient = tape.gradient(loss, alpha)
    assert np.isfinite(loss.numpy()).all() and np.isfinite(gradient.numpy()).all()
    assert loss.numpy()[1] == 0 and loss.numpy()[2] == 0
    assert (gradient.numpy()[1] == 0).all()


def test_answer_layout_matches_soft_targets(zoo):
    soft = labels.soft_targets(zoo)
    assert labels.answer_slices() == soft.answer_slices
    assert [c.removesuffix("_fraction") for c in votes.fraction_columns()] == list(soft.counts.columns)
    assert soft.counts.to_numpy().dtype.kind == "i" and not soft.counts.isna().any().any()


# --------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------


def test_model_has_one_head_per_question_and_positive_concentrations():
    model = votes.build_vote_model("course", (16, 16, 3), learning_rate=1e-3)
    heads = [layer for layer in model.layers if layer.name in tree.QUESTION_BY_NAME]
    assert [h.name for h in heads] == [q.name for q in tree.QUESTIONS]
    assert [h.units for h in heads] == [len(q.answers) for q in tree.QUESTIONS]
    assert model.output_shape == (None, 34)
    assert sum(isinstance(layer, keras.layers.Conv2D) for layer in model.layers) == 3
    concentrations = model.predict(np.random.default_rng(0).uniform(size=(3, 16, 16, 3)), verbose=0)
    assert (concentrations >= votes.MIN_CONCENTRATION).all() and (concentrations <= votes.MAX_CONCENTRATION).all()
    fractions = votes.predicted_fractions(concentrations)
    for s in labels.answer_slices().values():
        np.testing.assert_allclose(fractions[:, s].sum(axis=1), 1, atol=1e-6)
    three = votes.build_vote_model("three-class", (16, 16, 1), learning_rate=1e-3)
    assert three.output_shape == (None, 34)
    with pytest.raises(KeyError, match="unknown architecture"):
        votes.build_vote_model("resnet", (16, 16, 1), learning_rate=1e-3)


def test_predicted_fractions_by_hand():
    alpha = np.zeros((1, 34))
    slices = labels.answer_slices()
    alpha[0] = 1.0
    alpha[0, slices["smooth-or-featured"]] = [6, 3, 1]
    fractions = votes.predicted_fractions(alpha)
    np.testing.assert_allclose(fractions[0, slices["smooth-or-featured"]], [0.6, 0.3, 0.1])
    np.testing.assert_allclose(fractions[0, slices["bulge-size"]], [0.2] * 5)


# --------------------------------------------------------------------------------------
# Derived labels and metrics
# --------------------------------------------------------------------------------------


def test_derived_labels_use_the_labels_mapping(zoo):
    predicted = votes.fraction_table(perfect_concentrations(zoo), index=zoo.index)
    mappings = {labels.FOUR_CLASS: labels.four_class_labels, labels.THREE_CLASS: labels.three_class_labels}
    for task, assign in mappings.items():
        confidences, label = labels.labels_from_fractions(predicted, task)
        expected, _ = assign(labels.class_confidences(zoo, task))
        assert label.tolist() == expected.tolist()
        pd.testing.assert_frame_equal(confidences, labels.class_confidences(zoo, task), atol=1e-12)
    four = labels.labels_from_fractions(predicted, labels.FOUR_CLASS)[1].tolist()
    assert four == ["elliptical", "lenticular", "spiral", "uncertain", "irregular", "artifact", "uncertain"]


def test_question_metrics_by_hand(zoo):
    concentrations = perfect_concentrations(zoo)
    s = labels.answer_slices()["smooth-or-featured"]
    concentrations[0, s] = [0.4, 0.6, 0.0]  # elliptical (5/5 smooth) predicted mostly featured
    metrics = votes.question_metrics(zoo, votes.fraction_table(concentrations, index=zoo.index))
    assert list(metrics.index) == [q.name for q in tree.QUESTIONS]
    root = metrics.loc["smooth-or-featured"]
    assert root["n_asked"] == 7
    # galaxy 0 errs by (0.6 + 0.6 + 0) / 3 answers; the other six are exact
    assert root["mae"] == pytest.approx(0.4 / 7)
    # confident (>= 80% of >= 5 votes): elliptical, lenticular, spiral, edge-on, irregular (5/5), artifact (4/5)
    assert root["n_confident"] == 6
    assert root["confident_accuracy"] == pytest.approx(5 / 6)
    assert metrics.loc["has-spiral-arms", "n_asked"] == 4 and metrics.loc["has-spiral-arms", "mae"] == 0
    assert metrics.loc["spiral-winding", "n_asked"] == 0 and np.isnan(metrics.loc["spiral-winding", "mae"])


def test_vote_metrics_and_derived_classes_against_truth(zoo):
    truth = pd.DataFrame({"iauname": zoo["iauname"], "morphology": list(ZOO), "roundness": "round"})
    truth.loc[truth["morphology"] == "uncertain", "morphology"] = "merger"
    metrics = votes.vote_metrics(zoo, perfect_concentrations(zoo), truth)
    assert metrics["n"] == 7 and metrics["mean_mae"] == pytest.approx(0)
    four = metrics["derived"]["four-class"]
    assert four["agreement"] == 1.0
    assert four["volunteers"]["accuracy"] == 1.0 and four["volunteers"]["n"] == 4
    assert four["volunteers"]["coverage"] == 1.0
    # truth: elliptical, lenticular, spiral, irregular, merger->irregular (the uncertain galaxy)
    assert four["truth"]["n"] == 5
    three = metrics["derived"]["three-class"]
    assert three["classes"] == ["spiral", "round", "edge-on"]
    json.dumps(metrics)  # everything serialisable


# --------------------------------------------------------------------------------------
# The input pipeline
# --------------------------------------------------------------------------------------


def test_make_dataset_yields_target_vectors_in_order(tmp_path):
    rows = []
    for i in range(5):
        rows.append((f"g{i}", str(write_png(tmp_path / f"g{i}.png", size=8, seed=i))))
    frame = pd.DataFrame(rows, columns=["iauname", "file_loc"])
    targets = np.arange(15, dtype=np.int32).reshape(5, 3)
    dataset = make_dataset(frame, None, ImageSpec(8), batch_size=2, shuffle=False, seed=0, targets=targets)
    batches = list(dataset.as_numpy_iterator())
    assert [b[0].shape for b in batches] == [(2, 8, 8, 3), (2, 8, 8, 3), (1, 8, 8, 3)]
    got = np.concatenate([b[1] for b in batches])
    assert got.dtype == np.int32 and (got == targets).all()
    with pytest.raises(ValueError, match="no NaN"):
        make_dataset(frame, None, ImageSpec(8), batch_size=2, shuffle=False, seed=0,
                     targets=np.full((5, 3), np.nan))
    with pytest.raises(ValueError, match="5 catalogue rows"):
        make_dataset(frame, None, ImageSpec(8), batch_size=2, shuffle=False, seed=0, targets=targets[:4])


# --------------------------------------------------------------------------------------
# A training run
# --------------------------------------------------------------------------------------


TINY = profiles.Profile(
    name="tiny", task=profiles.VOTE_COUNTS, image_size=16, crop_fraction=0.5, greyscale=True, split="fraction",
    val_fraction=0.1, test_fraction=0.2, balance="none", random_augment=False, model="three-class", epochs=1,
    batch_size=8, learning_rate=1e-3,
)


def test_vote_count_profiles_exist():
    fast = profiles.profile(profiles.VOTE_COUNTS, "fast")
    faithful = profiles.profile(profiles.VOTE_COUNTS, "faithful")
    assert fast.epochs <= 2 and 32 <= fast.image_size <= 64 and fast.max_galaxies <= 1000
    assert faithful.image_size == 64 and faithful.greyscale and faithful.early_stopping_patience
    assert {"faithful", "fast", "laptop"} <= set(profiles.profile_names())


@pytest.fixture(scope="module")
def vote_run(tmp_path_factory):
    """One tiny vote-count run, trained once from the command line for the tests below, with
    three galaxies held out as two hard-label runs' test splits would be."""
    tmp_path = tmp_path_factory.mktemp("vote-run")
    kinds = list(ZOO)
    galaxies = [ZOO[kinds[i % len(kinds)]] for i in range(42)]
    catalogue = make_catalogue(galaxies)
    data = tmp_path / "survey"
    for i, loc in enumerate(catalogue["png_loc"]):
        write_png(data / "images" / loc, size=24, seed=i)
    catalogue.to_csv(data / "gz_decals_volunteers_5.csv", index=False)
    morphology = [k if k != "uncertain" else "merger" for k in kinds]
    pd.DataFrame({"iauname": catalogue["iauname"], "morphology": [morphology[i % 7] for i in range(42)]}).to_csv(
        data / "truth.csv", index=False
    )
    held = list(catalogue["iauname"][:3])
    out = tmp_path / "runs" / "votes"
    for i, ids in enumerate((held[:2], held[1:])):
        pd.DataFrame({"iauname": ids}).to_csv(tmp_path / f"test{i}.csv", index=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(profiles.PROFILES, (profiles.VOTE_COUNTS, "tiny"), TINY)
        assert main(["train", "--task", "vote-counts", "--catalog", str(data / "gz_decals_volunteers_5.csv"),
                     "--image-root", str(data / "images"), "--profile", "tiny", "--out", str(out), "--quiet",
                     "--test-ids", str(tmp_path / "test0.csv"), "--test-ids", str(tmp_path / "test1.csv")]) == 0
        yield types.SimpleNamespace(data=data, out=out, held=held,
                                    metrics=json.loads((out / "metrics.json").read_text()))


def test_a_vote_count_run_folder_holds_every_file(vote_run):
    out = vote_run.out
    for name in ("run.json", "history.csv", "model.keras", "metrics.json", "predictions.csv"):
        assert (out / name).is_file(), name
    assert pd.read_csv(out / "history.csv")["epoch"].tolist() == [0]
    model = keras.models.load_model(out / "model.keras")
    assert model.output_shape == (None, 34)


def test_vote_count_metrics_cover_every_question_and_the_derived_tasks(vote_run):
    metrics = vote_run.metrics
    assert set(metrics["questions"]) == set(tree.QUESTION_BY_NAME)
    assert all(0 <= q["mae"] <= 1 for q in metrics["questions"].values() if q["n_asked"])
    assert np.isfinite(metrics["loss"]) and metrics["split"] == "test" and "validation" in metrics
    assert set(metrics["derived"]) == {"four-class", "three-class"}
    assert "truth" in metrics["derived"]["four-class"]
    json.loads((vote_run.out / "metrics.json").read_text(),
               parse_constant=lambda c: pytest.fail(f"{c} in metrics.json"))
    assert "derived four-class vs truth" in votes.format_metrics(metrics)


def test_a_vote_count_run_holds_out_the_given_galaxies(vote_run):
    out, metrics = vote_run.out, vote_run.metrics
    run = json.loads((out / "run.json").read_text())
    assert run["finished"] and run["held_out_ids"] == {"given": 3, "in_test_split": 3}
    assert run["split_sizes"]["test"] == metrics["n"]
    splits = {n: set(pd.read_csv(out / "splits" / f"{n}.csv")["iauname"]) for n in ("train", "validation", "test")}
    assert set(vote_run.held) <= splits["test"] and not (splits["train"] & (splits["test"] | splits["validation"]))
    predictions = pd.read_csv(out / "predictions.csv")
    assert len(predictions) == metrics["n"] and {"four-class_label", "three-class_label"} <= set(predictions.columns)


def test_a_finished_vote_count_run_is_returned_and_another_refused(vote_run):
    catalog, images = vote_run.data / "gz_decals_volunteers_5.csv", vote_run.data / "images"
    assert training.train("vote-counts", catalog, images, "tiny", vote_run.out, verbose=0,
                          test_ids=vote_run.held) == vote_run.metrics
    with pytest.raises(ValueError, match="holds another run"):
        training.train("vote-counts", catalog, images, "tiny", vote_run.out, seed=3, verbose=0)


# --------------------------------------------------------------------------------------
# Hard versus soft
# --------------------------------------------------------------------------------------


def test_ordered_pairs_by_hand():
    reference, predicted = [0.55, 0.30, 0.10], [0.6, 0.2, 0.3]
    assert comparison.ordered_pair_fraction(reference, predicted) == (pytest.approx(2 / 3), 3)
    assert comparison.ordered_pair_fraction(reference, predicted, min_gap=0.22) == (1.0, 2)
    assert comparison.ordered_pair_fraction([0.55, 0.30], [0.4, 0.4]) == (0.5, 1)
    assert comparison.ordered_pair_fraction([0.3, 0.3], [0.1, 0.2])[1] == 0
    scores = comparison.ranking_scores([0.1, 0.2, 0.3, 0.4], [1, 2, 3, 4])
    assert scores["spearman"] == pytest.approx(1) and scores["pairs_ordered"] == 1


def test_truth_labels_map_the_mock_morphologies():
    truth = pd.DataFrame({
        "iauname": list("abcdef"),
        "morphology": ["elliptical", "elliptical", "merger", "edge-on", "spiral", "artifact"],
        "roundness": ["round", "cigar-shaped", None, None, None, None],
    })
    four = labels.truth_labels(truth, labels.FOUR_CLASS)
    assert four.tolist()[:3] == ["elliptical", "elliptical", "irregular"] and four.isna().tolist()[3:] == [
        True, False, True]
    three = labels.truth_labels(truth, labels.THREE_CLASS, ids=["f", "a", "b", "d", "zz"])
    assert three.fillna("-").tolist() == ["-", "round", "-", "edge-on", "-"]


def test_thresholded_argmax_holds_the_softmax_to_the_label_thresholds():
    four = np.array([[0.6, 0.2, 0.1, 0.1], [0.59, 0.21, 0.1, 0.1], [0.1, 0.1, 0.1, 0.7]])
    assert comparison.thresholded_argmax(four, labels.FOUR_CLASS).tolist() == [
        "elliptical", labels.UNCERTAIN, "irregular"]
    three = np.array([[0.85, 0.1, 0.05], [0.02, 0.03, 0.95]])
    assert comparison.thresholded_argmax(three, labels.THREE_CLASS).tolist() == [labels.UNCERTAIN, "edge-on"]
    assert labels.class_thresholds(labels.THREE_CLASS) == dict.fromkeys(labels.class_names(labels.THREE_CLASS), 0.9)


def test_compare_hard_soft_gives_a_tidy_table(zoo, tmp_path):
    ids = zoo["iauname"]
    soft = pd.concat([ids, votes.fraction_table(perfect_concentrations(zoo), index=zoo.index)], axis=1)
    classes = labels.class_names(labels.FOUR_CLASS)
    # a hard model that calls everything a spiral with 0.7, except the uncertain galaxy
    hard = pd.DataFrame({"iauname": ids, **{f"p_{c}": 0.1 for c in classes}, "p_spiral": 0.7})
    truth = pd.DataFrame({"iauname": ids, "morphology": [k if k != "uncertain" else "spiral" for k in ZOO]})
    result = comparison.compare_hard_soft(zoo, soft.iloc[::-1], hard, labels.FOUR_CLASS, truth=truth)
    table = result.table
    assert list(table.columns) == ["task", "model", "reference", "galaxies", "metric", "value", "n"]
    value = table.set_index(["model", "reference", "metric"])["value"]
    assert value[(comparison.SOFT, comparison.VOLUNTEERS, "accuracy")] == 1.0
    assert value[(comparison.HARD, comparison.VOLUNTEERS, "accuracy")] == pytest.approx(1 / 4)
    assert value[(comparison.HARD, comparison.VOLUNTEERS, "ece")] == pytest.approx(0.7 - 0.25)
    assert value[(comparison.SOFT, comparison.VOLUNTEERS, "thresholded_coverage")] == 1.0
    # the hard model's 0.7 passes the four-class 0.6 cut everywhere: it decides every galaxy
    assert value[(comparison.HARD, comparison.VOLUNTEERS, "thresholded_coverage")] == 1.0
    assert value[(comparison.HARD, comparison.VOLUNTEERS, "thresholded_accuracy")] == pytest.approx(1 / 4)
    assert (comparison.HARD, comparison.TRUTH, "accuracy") in value.index
    assert set(result.reliability) == {(m, r) for m in (comparison.HARD, comparison.SOFT)
                                       for r in (comparison.VOLUNTEERS, comparison.TRUTH)}
    assert len(result.ranking) == 2  # the edge-on disk and the uncertain galaxy
    assert result.galaxies["volunteers_label"].tolist()[:3] == ["elliptical", "lenticular", "spiral"]

    # Saved and read back, it draws the same figures without the models or the images.
    comparison.save_comparison(result, tmp_path / "saved")
    again = comparison.load_comparison(tmp_path / "saved")
    pd.testing.assert_frame_equal(again.table, result.table)
    assert again.reliability.keys() == result.reliability.keys()
    for key, diagram in result.reliability.items():
        pd.testing.assert_frame_equal(again.reliability[key], diagram, check_dtype=False)
    pd.testing.assert_frame_equal(again.ranking, result.ranking, check_dtype=False)
    assert again.galaxies["soft_label"].tolist() == result.galaxies["soft_label"].tolist()
    pd.testing.assert_frame_equal(comparison.summary_table(again.table), comparison.summary_table([result]))
    with pytest.raises(FileNotFoundError, match="missing table.csv, reliability.csv"):
        comparison.load_comparison(tmp_path / "nothing")


def test_shared_test_ids(tmp_path):
    def run(name, **splits):
        (tmp_path / name / "splits").mkdir(parents=True)
        for split, ids in splits.items():
            pd.DataFrame({"iauname": ids}).to_csv(tmp_path / name / "splits" / f"{split}.csv", index=False)
        return tmp_path / name

    soft = run("soft", train=["a", "b"], validation=["c"], test=["d", "e", "f", "g"])
    hard = run("hard", train=["d", "a"], validation=["e"], test=["f"])
    assert comparison.shared_test_ids(soft, hard) == ["f", "g"]


def test_vote_figures_draw(zoo):
    predicted = votes.fraction_table(perfect_concentrations(zoo) + 0.05, index=zoo.index)
    metrics = votes.question_metrics(zoo, predicted)
    rng = np.random.default_rng(0)
    tables = {
        name: reliability_table(rng.integers(0, 3, 50), rng.dirichlet([1, 1, 1], 50))
        for name in ("hard labels", "vote counts")
    }
    figures = [
        plots_votes.fraction_scatter(zoo, predicted, ["bar", "disk-edge-on", "bulge-size"]),
        plots_votes.fraction_scatter(zoo, predicted),
        plots_votes.question_errors(metrics, title="t"),
        plots_votes.question_errors(json.loads(metrics.to_json(orient="index"))),
        plots_votes.reliability_diagram(tables, {"hard labels": 0.1, "vote counts": 0.05}),
        plots_votes.uncertain_ranking([0.55, 0.3, 0.1], {"hard": [0.5, 0.5, 0.2], "soft": [0.6, 0.2, 0.1]}),
    ]
    import matplotlib.pyplot as plt

    for fig in figures:
        assert fig.axes
        plt.close(fig)
