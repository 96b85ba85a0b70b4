"""Scores for a classifier's softmax output: accuracy, per-class figures, confusion
matrices, the accuracy-coverage trade-off of a max-probability threshold, calibration.

All functions take integer true labels and an (n, n_classes) probability array, so the
same code scores the CNNs, the pixel baseline and the vote-count model's derived classes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support


def _check(y_true, probabilities, class_names) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true, dtype=int)
    probabilities = np.asarray(probabilities, dtype=float)
    if probabilities.ndim != 2 or probabilities.shape != (len(y_true), len(class_names)):
        raise ValueError(
            f"probabilities have shape {probabilities.shape}; expected ({len(y_true)}, {len(class_names)})"
        )
    if len(y_true) and (y_true.min() < 0 or y_true.max() >= len(class_names)):
        raise ValueError("true labels must be class indices 0..n_classes-1")
    return y_true, probabilities


def classification_metrics(y_true, probabilities, class_names) -> dict:
    """Accuracy, per-class precision / recall / F1 / support, and both confusion matrices.

    The normalised matrix divides each row (a true class) by its size, so its diagonal is
    each class's recall; an empty true class gives a row of zeros rather than NaN.
    """
    y_true, probabilities = _check(y_true, probabilities, class_names)
    y_pred = probabilities.argmax(axis=1)
    labels = np.arange(len(class_names))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    counts = confusion_matrix(y_true, y_pred, labels=labels)
    rows = counts.sum(axis=1, keepdims=True)
    normalised = np.divide(counts, rows, out=np.zeros(counts.shape, dtype=float), where=rows > 0)
    return {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)) if len(y_true) else float("nan"),
        "macro_f1": float(np.mean(f1)),
        "classes": list(class_names),
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(class_names)
        },
        "confusion_matrix": counts.tolist(),
        "confusion_matrix_normalised": normalised.round(6).tolist(),
    }


def per_class_table(metrics: dict) -> pd.DataFrame:
    """The per-class part of :func:`classification_metrics` as a table."""
    return pd.DataFrame(metrics["per_class"]).T.rename_axis("class")


def coverage_curve(y_true, probabilities, thresholds=None) -> pd.DataFrame:
    """Accuracy against coverage as the max-probability threshold rises.

    A galaxy is *covered* (the model commits to a class) when its largest softmax
    probability reaches the threshold; the rest are left to humans. The course project
    used such a threshold; this table shows what each choice costs.
    """
    y_true = np.asarray(y_true, dtype=int)
    probabilities = np.asarray(probabilities, dtype=float)
    if thresholds is None:
        thresholds = np.round(np.arange(0.0, 1.0, 0.05), 2)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == y_true
    rows = []
    for t in thresholds:
        kept = confidence >= t
        rows.append(
            {
                "threshold": float(t),
                "coverage": float(kept.mean()) if len(kept) else float("nan"),
                "accuracy": float(correct[kept].mean()) if kept.any() else float("nan"),
                "n_kept": int(kept.sum()),
            }
        )
    return pd.DataFrame(rows)


def reliability_table(y_true, probabilities, n_bins: int = 10) -> pd.DataFrame:
    """Confidence bins with their mean confidence, accuracy and size (reliability diagram)."""
    y_true = np.asarray(y_true, dtype=int)
    probabilities = np.asarray(probabilities, dtype=float)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == y_true
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    rows = []
    for b in range(n_bins):
        members = which == b
        rows.append(
            {
                "bin_low": edges[b],
                "bin_high": edges[b + 1],
                "n": int(members.sum()),
                "confidence": float(confidence[members].mean()) if members.any() else float("nan"),
                "accuracy": float(correct[members].mean()) if members.any() else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def expected_calibration_error(y_true, probabilities, n_bins: int = 10) -> float:
    """ECE: the size-weighted mean gap between confidence and accuracy over the bins."""
    table = reliability_table(y_true, probabilities, n_bins).dropna()
    if table.empty:
        return float("nan")
    weights = table["n"] / table["n"].sum()
    return float((weights * (table["confidence"] - table["accuracy"]).abs()).sum())


def prediction_table(
    ids, file_locs, probabilities, class_names, threshold: float = 0.0, id_name: str = "id"
) -> pd.DataFrame:
    """One row per galaxy: id, ``file_loc``, ``p_<class>``, ``predicted_class`` and whether
    the maximum probability is below ``threshold`` (the model abstains)."""
    probabilities = np.asarray(probabilities, dtype=float)
    table = pd.DataFrame({id_name: list(ids), "file_loc": list(file_locs)})
    for i, name in enumerate(class_names):
        table[f"p_{name}"] = probabilities[:, i]
    table["predicted_class"] = np.asarray(class_names, dtype=object)[probabilities.argmax(axis=1)]
    table["max_probability"] = probabilities.max(axis=1)
    table["below_threshold"] = table["max_probability"] < threshold
    return table
