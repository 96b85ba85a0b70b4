"""Hard labels versus vote counts, on the same test galaxies.

A hard-label model (:func:`galaxy_utils.learn.training.train`) outputs a softmax over its task's
classes; the vote-count model (:mod:`galaxy_utils.learn.votes`) outputs vote fractions for
every question, which the labels module's mapping turns into the same classes. This module
puts the two side by side:

* **accuracy on confident galaxies**: galaxies the volunteers gave a class (their label
  is not 'uncertain' or 'artifact'), and, on the mock survey, galaxies whose true
  morphology is a class of the task;
* **ranking of uncertain galaxies**: on galaxies the volunteers left 'uncertain', does the
  model order them as the volunteers' spiral confidence does (Spearman correlation; the
  share of pairs, at least ``min_gap`` apart, that it orders correctly: does it put the
  55% spiral above the 30% one?);
* **calibration**: :func:`galaxy_utils.learn.evaluation.reliability_table` and
  :func:`galaxy_utils.learn.evaluation.expected_calibration_error` of each model's class
  probabilities.

The result is one tidy table (a row per task, model, reference and metric), ready for a
notebook or a closing note.

What the soft model's "class probabilities" are: the task's class confidences of its
predicted fractions (products along the tree, :func:`galaxy_utils.data.labels.class_confidences`),
made to sum to 1 over the task's classes (:func:`class_probabilities`; for the four
classes, the edge-on and artifact shares are left out and irregular takes precedence, as
in the labels). This is a reading of the fractions, not a posterior; its calibration is
measured, not assumed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from galaxy_utils.data import labels as labels_module
from galaxy_utils.data.catalogue import FILE_COLUMN, GENERIC, ids_of
from galaxy_utils.data.labels import class_probabilities, in_classes, labels_from_fractions, normalise, truth_labels
from galaxy_utils.images.decode import ImageSpec
from galaxy_utils.learn.evaluation import expected_calibration_error, reliability_table
from galaxy_utils.learn.runs import RunFolder, predict_frame

HARD, SOFT = "hard labels", "vote counts"
VOLUNTEERS, TRUTH = "volunteers", "truth"

# --------------------------------------------------------------------------------------
# Ranking
# --------------------------------------------------------------------------------------


def ordered_pair_fraction(reference, predicted, *, min_gap: float = 0.0, chunk: int = 1024) -> tuple[float, int]:
    """Share of galaxy pairs the prediction orders as the reference does, and the pairs counted.

    Pairs count when their reference values differ by more than ``min_gap`` (by more than
    0 with the default); a pair is right when the galaxy with the larger reference value
    has the larger prediction, and half right on a tie. 0.5 is chance, 1 perfect.
    """
    reference = np.asarray(reference, dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    right, pairs = 0.0, 0
    for start in range(0, len(reference), chunk):
        r = reference[start : start + chunk, None] - reference[None, :]
        p = predicted[start : start + chunk, None] - predicted[None, :]
        counted = r > max(min_gap, 0.0)
        pairs += int(counted.sum())
        right += float((p[counted] > 0).sum() + 0.5 * (p[counted] == 0).sum())
    return (right / pairs if pairs else float("nan")), pairs


def ranking_scores(reference, predicted, *, min_gap: float = 0.0) -> dict:
    """Spearman correlation and :func:`ordered_pair_fraction` of a prediction against a reference."""
    from scipy.stats import spearmanr

    reference = np.asarray(reference, dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    constant = len(reference) < 3 or np.ptp(reference) == 0 or np.ptp(predicted) == 0
    rho = float("nan") if constant else float(spearmanr(reference, predicted).statistic)
    ordered, pairs = ordered_pair_fraction(reference, predicted, min_gap=min_gap)
    return {"n": int(len(reference)), "spearman": rho, "pairs_ordered": ordered, "pairs": pairs}


# --------------------------------------------------------------------------------------
# The comparison
# --------------------------------------------------------------------------------------


@dataclass
class Comparison:
    """What :func:`compare_hard_soft` found.

    ``table``: tidy (task, model, reference, galaxies, metric, value, n).
    ``reliability``: ``{(model, reference): reliability_table}`` for the diagrams.
    ``ranking``: one row per uncertain galaxy: id, the volunteers' confidence in the
    ranking class and each model's score for it.
    ``galaxies``: one row per compared galaxy: id, volunteers' label, derived label of the
    soft model, hard model's argmax class, true class (if known).
    """

    table: pd.DataFrame
    reliability: dict[tuple[str, str], pd.DataFrame] = field(default_factory=dict)
    ranking: pd.DataFrame | None = None
    galaxies: pd.DataFrame | None = None


def thresholded_argmax(probabilities: np.ndarray, task_name: str) -> np.ndarray:
    """The hard model's class where its top probability reaches that class's threshold
    (the course project's max-probability cut), else 'uncertain': the softmax held to the
    standard its volunteers' labels were (:func:`galaxy_utils.data.labels.class_thresholds`)."""
    classes = labels_module.class_names(task_name)
    thresholds = labels_module.class_thresholds(task_name)
    probabilities = np.asarray(probabilities, dtype=float)
    top = probabilities.argmax(axis=1)
    needed = np.array([thresholds[c] for c in classes])[top]
    reached = probabilities[np.arange(len(top)), top] >= needed - labels_module.THRESHOLD_TOLERANCE
    return np.where(reached, np.array(classes, dtype=object)[top], labels_module.UNCERTAIN).astype(object)


def _by_id(frame: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
    keyed = frame.set_index(frame[ids_of(frame)].astype("string").to_numpy())
    return keyed.loc[ids]


def compare_hard_soft(
    volunteers: pd.DataFrame,
    soft: pd.DataFrame,
    hard: pd.DataFrame,
    task_name: str,
    *,
    truth: pd.DataFrame | None = None,
    ranking_class: str = "spiral",
    min_gap: float = 0.2,
    n_bins: int = 10,
) -> Comparison:
    """Compare a hard-label model and the vote-count model on the galaxies all three tables share.

    ``volunteers``: GZD-5 catalogue rows (with ``iauname``); ``soft``: the vote-count
    model's predicted fractions (``predictions.csv`` of a vote-count run, or
    :func:`galaxy_utils.learn.votes.prediction_table`); ``hard``: the hard model's ``p_<class>``
    per galaxy (``predictions.csv`` of a hard run, ``galaxy-utils predict``, or
    :func:`hard_probabilities`; an extra 'uncertain' output is dropped and the rest
    renormalised). Only galaxies neither model trained on belong here: see
    :func:`shared_test_ids`. ``truth``: the mock survey's ``truth.csv``.

    Ranking: on galaxies the volunteers left 'uncertain', the volunteers' confidence in
    ``ranking_class`` against the soft model's confidence in it (same mapping, before
    normalising) and the hard model's probability of it; pairs at least ``min_gap`` apart
    (0.2: a 55% spiral against a 30% one counts). Calibration: ``n_bins`` equal bins.
    """
    classes = labels_module.class_names(task_name)
    hard_columns = [f"p_{c}" for c in classes]
    ids = pd.Index(volunteers[ids_of(volunteers)].astype("string").to_numpy())
    for frame in (soft, hard):
        ids = ids.intersection(pd.Index(frame[ids_of(frame)].astype("string").to_numpy()), sort=False)
    if ids.has_duplicates:
        raise ValueError("duplicated galaxy ids: compare one row per galaxy")
    missing = [c for c in hard_columns if c not in hard.columns]
    if missing:
        raise ValueError(f"the hard model's table lacks {', '.join(missing)}: is it a {task_name} model?")
    vol = _by_id(volunteers, ids)
    vol.attrs = dict(volunteers.attrs)
    soft_rows = _by_id(soft, ids)
    soft_rows.attrs["format"] = GENERIC
    volunteer_confidences, volunteer_label = labels_from_fractions(vol, task_name)
    soft_confidences, soft_label = labels_from_fractions(soft_rows, task_name)
    probabilities = {
        HARD: normalise(_by_id(hard, ids)[hard_columns]),
        SOFT: class_probabilities(soft_confidences, task_name),
    }
    references = {VOLUNTEERS: volunteer_label.to_numpy(dtype=object)}
    if truth is not None:
        references[TRUTH] = truth_labels(truth, task_name, ids).to_numpy(dtype=object)

    rows, reliability = [], {}

    def add(model, reference, galaxies, metric, value, n):
        rows.append((task_name, model, reference, galaxies, metric, float(value), int(n)))

    soft_label_values = soft_label.to_numpy(dtype=object)
    hard_label_values = thresholded_argmax(probabilities[HARD], task_name)
    for reference, labels in references.items():
        known = in_classes(labels, classes)
        y_true = np.array([classes.index(c) for c in labels[known]], dtype=int)
        galaxies = "confident" if reference == VOLUNTEERS else "with a true class"
        for model, probs in probabilities.items():
            p = probs[known]
            accuracy = float(np.mean(p.argmax(axis=1) == y_true)) if len(y_true) else float("nan")
            add(model, reference, galaxies, "accuracy", accuracy, len(y_true))
            add(model, reference, galaxies, "ece", expected_calibration_error(y_true, p, n_bins), len(y_true))
            reliability[(model, reference)] = reliability_table(y_true, p, n_bins)
        for model, model_labels in ((HARD, hard_label_values), (SOFT, soft_label_values)):
            decided = known & in_classes(model_labels, classes)
            add(model, reference, galaxies, "thresholded_coverage",
                decided.sum() / known.sum() if known.any() else np.nan, known.sum())
            add(model, reference, galaxies, "thresholded_accuracy",
                np.mean(model_labels[decided] == labels[decided]) if decided.any() else np.nan, decided.sum())

    uncertain = references[VOLUNTEERS] == labels_module.UNCERTAIN
    column = f"p_{ranking_class}"
    ranking = pd.DataFrame(
        {
            "iauname": ids[uncertain],
            f"volunteers_{column}": volunteer_confidences[column].to_numpy()[uncertain],
            f"{HARD}_{column}": probabilities[HARD][uncertain, classes.index(ranking_class)],
            f"{SOFT}_{column}": soft_confidences[column].to_numpy()[uncertain],
        }
    )
    for model in (HARD, SOFT):
        scores = ranking_scores(ranking[f"volunteers_{column}"], ranking[f"{model}_{column}"], min_gap=min_gap)
        add(model, VOLUNTEERS, "uncertain", f"spearman_{ranking_class}", scores["spearman"], scores["n"])
        add(model, VOLUNTEERS, "uncertain", f"pairs_ordered_{ranking_class}_gap{min_gap:g}", scores["pairs_ordered"],
            scores["pairs"])
    galaxies = pd.DataFrame(
        {
            "iauname": ids,
            "volunteers_label": references[VOLUNTEERS],
            "soft_label": soft_label_values,
            "soft_argmax": np.asarray(classes, dtype=object)[probabilities[SOFT].argmax(axis=1)],
            "hard_argmax": np.asarray(classes, dtype=object)[probabilities[HARD].argmax(axis=1)],
        }
    )
    if TRUTH in references:
        galaxies["true_class"] = references[TRUTH]
    table = pd.DataFrame(rows, columns=["task", "model", "reference", "galaxies", "metric", "value", "n"])
    return Comparison(table, reliability, ranking, galaxies)


# --------------------------------------------------------------------------------------
# Which galaxies, and the hard model's predictions on them
# --------------------------------------------------------------------------------------


def split_ids(run_dir: str | Path, split: str) -> set[str]:
    """Galaxy ids of one split (``train``, ``validation``, ``test``) of a run folder."""
    frame = RunFolder(run_dir).split(split)
    return set(frame[ids_of(frame)].astype(str))


def shared_test_ids(soft_run: str | Path, *hard_runs: str | Path) -> list[str]:
    """Test galaxies of the vote-count run that no run trained or validated on (sorted).

    Give the vote-count run the hard runs' test galaxies
    (``training.train('vote-counts', ..., test_ids=...)``) so they are all among these.
    """
    trained: set[str] = set()
    for run in (soft_run, *hard_runs):
        trained |= split_ids(run, "train") | split_ids(run, "validation")
    return sorted(split_ids(soft_run, "test") - trained)


def hard_probabilities(
    run_dir: str | Path, frame: pd.DataFrame, *, cache_dir=None, batch_size: int = 64
) -> pd.DataFrame:
    """A hard-label run's class probabilities on the galaxies of ``frame`` (``file_loc``
    resolved): id and ``p_<class>``, for the galaxies whose image could be read."""
    folder = RunFolder(run_dir)
    run = folder.run()
    probabilities, readable, _ = predict_frame(folder.model(), frame, ImageSpec(**run["image_spec"]),
                                               cache_dir=cache_dir, batch_size=batch_size)
    ids = ids_of(frame)
    table = pd.DataFrame({ids: readable[ids].astype("string").to_numpy()})
    for i, name in enumerate(run["classes"]):
        table[f"p_{name}"] = probabilities[:, i]
    return table


# --------------------------------------------------------------------------------------
# From run folders: what a notebook or the report calls
# --------------------------------------------------------------------------------------


def held_out_ids(*runs: str | Path) -> list[str]:
    """The test galaxies of one or more run folders, sorted: the ``test_ids`` to give
    :func:`galaxy_utils.learn.training.train` for the vote counts, so every hard model's test
    galaxies are among the vote-count model's test galaxies."""
    ids: set[str] = set()
    for run in runs:
        ids |= split_ids(run, "test")
    return sorted(ids)



def _with_ids(frame: pd.DataFrame, ids) -> pd.DataFrame:
    """Rows of ``frame`` whose galaxy id is among ``ids``, in ``frame``'s order (attrs kept)."""
    wanted = set(map(str, ids))
    rows = frame[frame[ids_of(frame)].astype("string").isin(wanted).to_numpy()]
    rows.attrs = dict(frame.attrs)
    return rows


def compare_runs(
    soft_run: str | Path,
    hard_run: str | Path,
    catalogue: pd.DataFrame,
    *,
    truth: pd.DataFrame | None = None,
    cache_dir=None,
    **options,
) -> Comparison:
    """:func:`compare_hard_soft` of two saved runs, on the galaxies neither trained on.

    ``soft_run``: a vote-count run folder (its ``predictions.csv``); ``hard_run``: a
    four- or three-class run folder, whose model is run here on those galaxies
    (:func:`hard_probabilities`; nothing is trained). ``catalogue``: the GZD-5 catalogue
    with ``file_loc`` resolved (:func:`galaxy_utils.data.catalogue.resolve_images`), which gives
    the volunteers' votes and the images. ``options`` go to :func:`compare_hard_soft`.
    """
    ids = shared_test_ids(soft_run, hard_run)
    volunteers = _with_ids(catalogue, ids)
    soft = RunFolder(soft_run).predictions()
    hard = hard_probabilities(hard_run, volunteers, cache_dir=cache_dir)
    return compare_hard_soft(volunteers, soft, hard, RunFolder(hard_run).run()["task"], truth=truth, **options)


# --------------------------------------------------------------------------------------
# Saved comparisons: the figures and notebooks read these, without the models or images
# --------------------------------------------------------------------------------------

_PARTS = ("table", "reliability", "ranking", "galaxies")


def save_comparison(comparison: Comparison, folder: str | Path) -> None:
    """Write one comparison as CSV files in ``folder`` (``table``, ``reliability`` with a
    model and reference column per diagram, ``ranking``, ``galaxies``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    diagrams = comparison.reliability.items()
    reliability = pd.concat([table.assign(model=model, reference=reference) for (model, reference), table in diagrams],
                            ignore_index=True)
    for name, frame in zip(_PARTS, (comparison.table, reliability, comparison.ranking, comparison.galaxies),
                           strict=True):
        if frame is not None:
            frame.to_csv(folder / f"{name}.csv", index=False)


def load_comparison(folder: str | Path) -> Comparison:
    """A comparison :func:`save_comparison` wrote; a clear error naming a missing file."""
    folder = Path(folder)
    missing = [f"{name}.csv" for name in ("table", "reliability") if not (folder / f"{name}.csv").is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} holds no saved comparison (missing {', '.join(missing)})")
    read = {name: pd.read_csv(folder / f"{name}.csv", dtype={"iauname": "string"})
            for name in _PARTS if (folder / f"{name}.csv").is_file()}
    reliability = {
        (model, reference): rows.drop(columns=["model", "reference"]).reset_index(drop=True)
        for (model, reference), rows in read["reliability"].groupby(["model", "reference"], sort=False)
    }
    return Comparison(read["table"], reliability, read.get("ranking"), read.get("galaxies"))


def summary_table(comparisons) -> pd.DataFrame:
    """The tidy tables of several comparisons side by side: a row per (task, reference,
    galaxies, metric), a column per model, and the galaxies counted (``n``). Takes the
    comparisons, or their tidy tables already concatenated (a saved ``comparison.csv``)."""
    if isinstance(comparisons, pd.DataFrame):
        table = comparisons
    else:
        comparisons = comparisons.values() if isinstance(comparisons, dict) else comparisons
        table = pd.concat([c.table for c in comparisons], ignore_index=True)
    keys = ["task", "reference", "galaxies", "metric"]
    order = table[keys].drop_duplicates()
    wide = table.pivot_table(index=keys, columns="model", values="value", sort=False, dropna=False)
    counts = table.groupby(keys, sort=False)["n"].max()
    wide = wide.reindex(pd.MultiIndex.from_frame(order)).reindex(columns=[HARD, SOFT])
    wide.columns.name = None
    wide["n"] = counts.reindex(wide.index).astype(int)
    return wide


def example_pair(
    ranking: pd.DataFrame, targets=(0.55, 0.30), ranking_class: str = "spiral", catalogue: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The course project's two 'uncertain' galaxies, found among the compared ones: for each
    target, the uncertain galaxy whose volunteers' ``ranking_class`` confidence is nearest
    to it, with each model's score (``Comparison.ranking`` rows), highest target first.
    With a resolved ``catalogue``, each galaxy's ``file_loc`` is added (to show it)."""
    column = f"volunteers_p_{ranking_class}"
    rows, used = [], set()
    for target in sorted(targets, reverse=True):
        distance = (ranking[column] - target).abs()
        distance = distance[~ranking.index.isin(used)]
        if distance.empty:
            break
        best = distance.idxmin()
        used.add(best)
        rows.append(ranking.loc[best])
    pair = pd.DataFrame(rows).reset_index(drop=True)
    if catalogue is not None:
        where = dict(zip(catalogue[ids_of(catalogue)].astype(str), catalogue[FILE_COLUMN], strict=True))
        pair[FILE_COLUMN] = pair[ids_of(pair)].astype(str).map(where)
    return pair
