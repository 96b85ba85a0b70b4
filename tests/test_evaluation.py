import numpy as np
import pytest

from galaxy_utils.learn.evaluation import (
    classification_metrics,
    coverage_curve,
    expected_calibration_error,
    per_class_table,
    prediction_table,
    reliability_table,
)

CLASSES = ["elliptical", "lenticular", "spiral", "irregular"]


def one_hot(indices, n=4, p=0.7):
    probs = np.full((len(indices), n), (1 - p) / (n - 1))
    probs[np.arange(len(indices)), indices] = p
    return probs


def test_metrics_by_hand():
    y_true = [0, 0, 1, 2, 2, 2]
    y_pred = [0, 1, 1, 2, 2, 0]
    m = classification_metrics(y_true, one_hot(y_pred), CLASSES)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["per_class"]["elliptical"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert m["per_class"]["spiral"]["recall"] == pytest.approx(2 / 3)
    assert m["per_class"]["irregular"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert m["confusion_matrix"] == [[1, 1, 0, 0], [0, 1, 0, 0], [1, 0, 2, 0], [0, 0, 0, 0]]
    assert m["confusion_matrix_normalised"][2] == pytest.approx([1 / 3, 0, 2 / 3, 0], abs=1e-6)
    assert m["confusion_matrix_normalised"][3] == [0, 0, 0, 0]  # empty class: zeros, not NaN
    assert list(per_class_table(m).index) == CLASSES


def test_metrics_reject_mismatched_shapes():
    with pytest.raises(ValueError, match="expected \\(3, 4\\)"):
        classification_metrics([0, 1, 2], np.ones((3, 3)) / 3, CLASSES)
    with pytest.raises(ValueError, match="class indices"):
        classification_metrics([0, 7], one_hot([0, 1]), CLASSES)


def test_coverage_falls_and_accuracy_rises_with_threshold():
    y_true = np.array([0, 1, 2, 0])
    probs = np.array([[0.9, 0.05, 0.05], [0.2, 0.5, 0.3], [0.6, 0.1, 0.3], [0.34, 0.33, 0.33]])
    curve = coverage_curve(y_true, probs, thresholds=[0.0, 0.5, 0.8])
    assert curve["coverage"].tolist() == [1.0, 0.75, 0.25]
    assert curve["accuracy"].tolist() == pytest.approx([0.75, 2 / 3, 1.0])
    assert curve["n_kept"].tolist() == [4, 3, 1]


def test_calibration_of_a_perfectly_calibrated_and_an_overconfident_model():
    rng = np.random.default_rng(0)
    n = 20000
    confidence = rng.uniform(0.5, 1.0, n)
    correct = rng.uniform(size=n) < confidence
    probs = np.column_stack([confidence, 1 - confidence])
    y_true = np.where(correct, 0, 1)
    assert expected_calibration_error(y_true, probs) < 0.02
    overconfident = np.column_stack([np.full(n, 0.99), np.full(n, 0.01)])
    assert expected_calibration_error(y_true, overconfident) == pytest.approx(0.99 - correct.mean(), abs=1e-6)
    table = reliability_table(y_true, probs, n_bins=10)
    assert table["n"].sum() == n and table.loc[:4, "n"].sum() == 0


def test_prediction_table():
    table = prediction_table(["a", "b"], ["a.png", "b.png"], [[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]],
                             ["spiral", "round", "edge-on"], threshold=0.6, id_name="iauname")
    assert table.columns.tolist() == [
        "iauname", "file_loc", "p_spiral", "p_round", "p_edge-on", "predicted_class", "max_probability",
        "below_threshold",
    ]
    assert table.predicted_class.tolist() == ["spiral", "edge-on"]
    assert table.below_threshold.tolist() == [True, False]
