"""Turn volunteer votes into the classes a CNN learns: hard four- and three-class labels,
and soft targets (the votes themselves).

Galaxy Zoo asks *conditional* questions: "has spiral arms?" is asked only of galaxies a
volunteer called featured and not edge-on. The fraction of *all* volunteers who would say
"spiral" is therefore the product of the fractions along the tree's path
(featured x not-edge-on x arms-yes). These products are the class *confidences* below;
a class is assigned when its confidence reaches its threshold. The GZ2 Kaggle table
already publishes such products ("cumulative" fractions), so both catalogues meet the
same thresholds.

The tasks, class names and thresholds are defined here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd

from galaxy_utils.data import tree
from galaxy_utils.data.catalogue import (
    GENERIC,
    GZ2_KAGGLE,
    GZD5_AUTO,
    GZD12,
    LABEL_COLUMN,
    NAMED_CLASS_FORMATS,
    VOLUNTEER_TREES,
    VOTE_FORMATS,
    CatalogueError,
    StepResult,
    _step_result,
    catalogue_format,
    describe_rows,
)

UNCERTAIN = "uncertain"
ARTIFACT = "artifact"
EDGE_ON = "edge-on"

FOUR_CLASS = "four-class"
THREE_CLASS = "three-class"

# Tolerance on threshold comparisons: a product of fractions such as 0.6 x 1.0 must meet a
# threshold of 0.6 even when floating point gives 0.59999999999.
THRESHOLD_TOLERANCE = 1e-9


@dataclass(frozen=True)
class FourClassThresholds:
    """Confidence thresholds of the course project's four classes.

    Attributes:
        elliptical: smooth fraction. 0.6 = a clear majority of volunteers saw no disk or
            features; the same number the course project used to call a galaxy uncertain.
        lenticular: featured x not-edge-on x no-arms. A face-on disk without arms (S0).
        spiral: featured x not-edge-on x arms. Face-on disks with arms.
        irregular: merger + major-disturbance fraction of the always-asked merging question.
            Takes precedence over the other classes: a tidally wrecked spiral is classified
            by its disturbance, as the course project did.
        artifact: artifact fraction at which a galaxy is flagged (stars, trails, bad
            pixels) and removed; a simple majority, since an artifact is not a galaxy at all.

    A galaxy reaching no threshold is 'uncertain' (its largest class confidence is below
    0.6 with these defaults). Edge-on disks reach none of the four classes (from the side a
    spiral and a lenticular look alike) and are reported as uncertain for that reason.
    """

    elliptical: float = 0.6
    lenticular: float = 0.6
    spiral: float = 0.6
    irregular: float = 0.6
    artifact: float = 0.5

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if not 0 < value <= 1:
                raise ValueError(f"threshold {f.name}={value} must be in (0, 1]")


@dataclass(frozen=True)
class ThreeClassThresholds:
    """The 3-class project's cut: keep galaxies whose volunteers agree at least this much.

    Attributes:
        agreement: confidence one of spiral / round / edge-on must reach. 0.9, as published:
            only the clearest galaxies, so the labels are nearly noise-free.
    """

    agreement: float = 0.9

    def __post_init__(self):
        if not 0.5 < self.agreement <= 1:
            raise ValueError(f"agreement={self.agreement} must be in (0.5, 1] so one class wins")


@dataclass(frozen=True)
class LabelTask:
    """A classification task: its classes and the GZD-5 questions its labels need."""

    name: str
    classes: tuple[str, ...]
    questions: tuple[str, ...]
    thresholds: FourClassThresholds | ThreeClassThresholds = field(compare=False)

    def label_columns(self, catalogue_columns=None, decision_tree: tree.DecisionTree = tree.DR5) -> list[str]:
        """The vote columns (totals, counts, fractions, debiased) the task uses, in ``decision_tree``."""
        columns = []
        for name in self.questions:
            q = decision_tree.question(name)
            columns.append(q.total_column)
            for answer in q.answers:
                columns += [q.count_column(answer), q.fraction_column(answer), q.debiased_column(answer)]
        if catalogue_columns is not None:
            columns = [c for c in columns if c in set(catalogue_columns)]
        return columns

    def fraction_columns(self, decision_tree: tree.DecisionTree = tree.DR5) -> list[str]:
        return [c for q in self.questions for c in decision_tree.question(q).fraction_columns]


TASKS: dict[str, LabelTask] = {
    FOUR_CLASS: LabelTask(
        FOUR_CLASS,
        ("elliptical", "lenticular", "spiral", "irregular"),
        ("smooth-or-featured", "disk-edge-on", "has-spiral-arms", "merging"),
        FourClassThresholds(),
    ),
    THREE_CLASS: LabelTask(
        THREE_CLASS,
        ("spiral", "round", "edge-on"),
        ("smooth-or-featured", "disk-edge-on", "has-spiral-arms", "how-rounded"),
        ThreeClassThresholds(),
    ),
}


def task(name: str) -> LabelTask:
    try:
        return TASKS[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}") from None


# --------------------------------------------------------------------------------------
# Vote fractions -> class confidences
# --------------------------------------------------------------------------------------


def conditional_fraction(
    catalogue: pd.DataFrame,
    question_name: str,
    answer: str,
    *,
    debiased: bool = False,
    decision_tree: tree.DecisionTree = tree.DR5,
) -> pd.Series:
    """The fraction of a question's voters giving ``answer``, 0 where nobody was asked.

    NaN stays NaN only where the question *was* asked but the cell is empty: that is
    missing data, not a branch of the tree, and :func:`class_confidences` refuses it.
    The fraction is the published one, count / total-votes: where the total is larger than
    the sum of its answers (votes for retired answers, a quirk of the real release), those
    votes count as "not this answer".
    """
    q = decision_tree.question(question_name)
    column = q.debiased_column(answer) if debiased else q.fraction_column(answer)
    if column not in catalogue.columns:
        raise CatalogueError(f"no column {column!r}")
    values = pd.to_numeric(catalogue[column], errors="coerce")
    total = q.total_column
    if total in catalogue.columns:
        unasked = pd.to_numeric(catalogue[total], errors="coerce").fillna(0) == 0
    else:  # a fractions-only table: an empty cell can only mean "not asked"
        unasked = values.isna()
    return values.mask(unasked, 0.0)


def cumulative_fraction(
    catalogue: pd.DataFrame,
    question_name: str,
    answer: str,
    *,
    debiased: bool = False,
    decision_tree: tree.DecisionTree = tree.DR5,
) -> pd.Series:
    """Fraction of *all* volunteers who would reach ``question_name`` and answer ``answer``."""
    product = conditional_fraction(catalogue, question_name, answer, debiased=debiased, decision_tree=decision_tree)
    for parent_question, parent_answer in decision_tree.path_to(question_name):
        product = product * conditional_fraction(
            catalogue, parent_question, parent_answer, debiased=debiased, decision_tree=decision_tree
        )
    return product


def _gz2(catalogue: pd.DataFrame, *columns: str) -> pd.Series:
    return sum(pd.to_numeric(catalogue[c], errors="coerce") for c in columns)


# Which GZD-5 answer(s) each class's confidence is the cumulative fraction of: the class
# mapping, drawn on the decision tree in the report.
GZD5_CLASS_ANSWERS: dict[str, list[tuple[str, str]]] = {
    "elliptical": [("smooth-or-featured", "smooth")],
    "lenticular": [("has-spiral-arms", "no")],
    "spiral": [("has-spiral-arms", "yes")],
    "irregular": [("merging", "major-disturbance"), ("merging", "merger")],
    "round": [("how-rounded", "round")],
    EDGE_ON: [("disk-edge-on", "yes")],
    ARTIFACT: [("smooth-or-featured", "artifact")],
}
# The same mapping on the earlier GZD-1/2 tree (gz_decals_volunteers_1_and_2). Its merging
# question asked only "merging or tidal debris?", so every answer but 'neither' counts
# towards irregular (the DR5 tree's major-disturbance and merger; its minor disturbance has
# no counterpart); its round galaxies answered how-rounded 'completely'.
GZD12_CLASS_ANSWERS: dict[str, list[tuple[str, str]]] = {
    **GZD5_CLASS_ANSWERS,
    "irregular": [("merging", "merger"), ("merging", "tidal-debris"), ("merging", "both")],
    "round": [("how-rounded", "completely")],
}
CLASS_ANSWERS: dict[str, dict[str, list[tuple[str, str]]]] = {
    tree.DR5.name: GZD5_CLASS_ANSWERS,
    tree.GZD_1_2.name: GZD12_CLASS_ANSWERS,
}
MODEL_LABEL_SOURCE = "model predictions (gz_decals_auto_posteriors), not volunteer votes"


def class_confidences(
    catalogue: pd.DataFrame, task_name: str, *, debiased: bool = False
) -> pd.DataFrame:
    """Per-galaxy confidences ``p_<class>`` of a task, plus ``p_artifact`` and ``p_edge-on``.

    GZD-5 (or any table with GZD-5 fraction columns): products along the tree, the DR5
    tree or, for the GZD-1/2 table, its own (:data:`GZD12_CLASS_ANSWERS`). The automated
    posteriors' predicted fractions go through the DR5 products too (the caller decides to
    use a model's predictions: see :func:`assign_labels`).
    GZ2 Kaggle: the published cumulative fractions (Class1.1 smooth, Class4.1 spiral, ...).
    """
    fmt = catalogue_format(catalogue)
    the_task = task(task_name)
    index = catalogue.index
    wanted = list(dict.fromkeys([*the_task.classes, EDGE_ON, ARTIFACT]))
    if fmt == GZ2_KAGGLE:
        gz2_columns = {
            "elliptical": ("Class1.1",),
            "lenticular": ("Class4.2",),
            "spiral": ("Class4.1",),
            # disturbed + irregular + merger odd features (Class8 is cumulative through Class6.1)
            "irregular": ("Class8.3", "Class8.4", "Class8.6"),
            "round": ("Class7.1",),
            EDGE_ON: ("Class2.1",),
            ARTIFACT: ("Class1.3",),
        }
        p = {name: _gz2(catalogue, *gz2_columns[name]) for name in wanted}
    else:
        decision_tree = VOLUNTEER_TREES.get(fmt, tree.DR5)
        answers = CLASS_ANSWERS[decision_tree.name]
        p = {
            name: sum(
                cumulative_fraction(catalogue, q, a, debiased=debiased, decision_tree=decision_tree)
                for q, a in answers[name]
            )
            for name in wanted
        }
    confidences = pd.DataFrame({f"p_{name}": p[name].to_numpy(dtype=float) for name in wanted}, index=index)
    empty = confidences.isna().any(axis=1)
    if empty.any():
        raise CatalogueError(
            f"vote fractions are missing where the question was asked: {describe_rows(catalogue, empty)}; "
            "run drop_missing_labels first"
        )
    return confidences


def four_class_labels(
    confidences: pd.DataFrame, thresholds: FourClassThresholds | None = None
) -> tuple[pd.Series, pd.Series]:
    """Label and reason per galaxy from :func:`class_confidences` of the four-class task.

    Order of decisions: artifact flag, then irregular (precedence), then the best of
    elliptical / lenticular / spiral if it reaches its threshold, else uncertain (reason
    'edge-on disk' when the galaxy is a confident edge-on, 'below threshold' otherwise).
    """
    t = thresholds or FourClassThresholds()
    morph = ["elliptical", "lenticular", "spiral"]
    scores = confidences[[f"p_{c}" for c in morph]].to_numpy()
    passing = np.where(scores >= np.array([getattr(t, c) for c in morph]) - THRESHOLD_TOLERANCE, scores, -1.0)
    best = passing.argmax(axis=1)
    top = passing.max(axis=1)
    # Two classes passing with equal confidence (possible only with thresholds <= 0.5)
    # is a tie the votes cannot break: uncertain.
    unique_winner = (top >= 0) & ((np.abs(passing - top[:, None]) <= THRESHOLD_TOLERANCE).sum(axis=1) == 1)
    label = np.where(unique_winner, np.array(morph, dtype=object)[best], UNCERTAIN)
    reason = np.where(label == UNCERTAIN, "below threshold", "reached threshold").astype(object)
    edge_on = confidences[f"p_{EDGE_ON}"].to_numpy() >= 0.6 - THRESHOLD_TOLERANCE
    reason[(label == UNCERTAIN) & edge_on] = "edge-on disk"
    irregular = confidences["p_irregular"].to_numpy() >= t.irregular - THRESHOLD_TOLERANCE
    label[irregular] = "irregular"
    reason[irregular] = "reached threshold"
    artifact = confidences[f"p_{ARTIFACT}"].to_numpy() >= t.artifact - THRESHOLD_TOLERANCE
    label[artifact] = ARTIFACT
    reason[artifact] = "artifact flagged"
    return (
        pd.Series(label, index=confidences.index, name=LABEL_COLUMN, dtype="string"),
        pd.Series(reason, index=confidences.index, name="label_reason", dtype="string"),
    )


def three_class_labels(
    confidences: pd.DataFrame, thresholds: ThreeClassThresholds | None = None
) -> tuple[pd.Series, pd.Series]:
    """Label and reason per galaxy for spiral / round / edge-on at the agreement threshold."""
    t = thresholds or ThreeClassThresholds()
    classes = list(TASKS[THREE_CLASS].classes)
    scores = confidences[[f"p_{c}" for c in classes]].to_numpy()
    best = scores.argmax(axis=1)
    agreed = scores.max(axis=1) >= t.agreement - THRESHOLD_TOLERANCE
    label = np.where(agreed, np.array(classes, dtype=object)[best], UNCERTAIN)
    reason = np.where(agreed, "reached agreement", f"agreement below {t.agreement:g}").astype(object)
    artifact = confidences[f"p_{ARTIFACT}"].to_numpy() >= 0.5
    label[artifact & ~agreed] = ARTIFACT
    reason[artifact & ~agreed] = "artifact flagged"
    return (
        pd.Series(label, index=confidences.index, name=LABEL_COLUMN, dtype="string"),
        pd.Series(reason, index=confidences.index, name="label_reason", dtype="string"),
    )


def normalise_label(value: str) -> str:
    """'Edge_on ' -> 'edge-on': user labels compared without case, spaces or underscores."""
    return str(value).strip().lower().replace("_", "-").replace(" ", "-")


def _given_labels(catalogue: pd.DataFrame, the_task: LabelTask) -> pd.Series:
    labels = catalogue[LABEL_COLUMN].astype("string").map(normalise_label, na_action="ignore")
    allowed = {*the_task.classes, UNCERTAIN, ARTIFACT}
    unknown = labels.notna() & ~labels.isin(allowed)
    if unknown.any():
        examples = ", ".join(sorted(set(labels[unknown].astype(str)))[:5])
        raise CatalogueError(
            f"column 'label' has values that are not {the_task.name} classes ({examples}): "
            f"{describe_rows(catalogue, unknown)}; classes are {', '.join(the_task.classes)}"
        )
    return labels


def assign_labels(
    catalogue: pd.DataFrame,
    task_name: str,
    *,
    thresholds: FourClassThresholds | ThreeClassThresholds | None = None,
    keep_uncertain: bool = False,
    debiased: bool = False,
    model_predictions: bool = False,
) -> StepResult:
    """Add ``label``, ``label_reason`` and ``p_<class>`` columns; drop what cannot be learnt.

    Artifacts are always removed. 'uncertain' galaxies are removed, or kept as a fifth
    class with ``keep_uncertain=True`` (the course project's second experiment). A generic
    catalogue with its own ``label`` column keeps its labels (checked against the classes).

    The automated posteriors (:data:`GZD5_AUTO`) hold a model's predicted fractions, not
    volunteer votes: they are labelled only with ``model_predictions=True``, and then the
    rows say so in a ``label_source`` column.
    """
    the_task = task(task_name)
    thresholds = thresholds or the_task.thresholds
    fmt = catalogue_format(catalogue)
    if fmt == GZD5_AUTO and not model_predictions:
        raise CatalogueError(
            f"{catalogue.attrs.get('source', 'catalogue')}: holds a model's predictions (the GZ DECaLS "
            "automated posteriors), not volunteer votes; label from them only on purpose "
            "(model_predictions=True, or --use-model-predictions on the command line)"
        )
    if fmt in (GENERIC, *NAMED_CLASS_FORMATS) and LABEL_COLUMN in catalogue.columns:
        label = _given_labels(catalogue, the_task)
        reason = pd.Series("given", index=catalogue.index, dtype="string").mask(label.isna(), "empty label")
        labelled = catalogue.assign(**{LABEL_COLUMN: label, "label_reason": reason})
    elif fmt in (*VOTE_FORMATS, GZD12, GZD5_AUTO, GZ2_KAGGLE, GENERIC):
        confidences = class_confidences(catalogue, task_name, debiased=debiased)
        if task_name == FOUR_CLASS:
            label, reason = four_class_labels(confidences, thresholds)
        else:
            label, reason = three_class_labels(confidences, thresholds)
        labelled = pd.concat([catalogue, confidences], axis=1).assign(
            **{LABEL_COLUMN: label, "label_reason": reason}
        )
    else:  # a Galaxy10 or folder catalogue whose class names were not mapped onto the task
        raise CatalogueError(f"a {fmt} catalogue needs its class names mapped first (formats.label_named_classes)")
    if fmt == GZD5_AUTO:
        labelled["label_source"] = MODEL_LABEL_SOURCE
    labelled.attrs = dict(catalogue.attrs)
    label = labelled[LABEL_COLUMN]
    drop = label.isna() | (label == ARTIFACT)
    if not keep_uncertain:
        drop |= label == UNCERTAIN
    reasons = labelled["label_reason"].where(~(label == UNCERTAIN), "uncertain: " + labelled["label_reason"])
    reasons = reasons.where(~(label == ARTIFACT), "artifact")
    step = f"model label ({task_name})" if fmt == GZD5_AUTO else f"label ({task_name})"
    return _step_result(step, labelled, ~drop, reasons.fillna("no label"))


def class_names(task_name: str, keep_uncertain: bool = False) -> list[str]:
    """The model's output classes, in order: the task's classes (+ 'uncertain')."""
    names = list(task(task_name).classes)
    return [*names, UNCERTAIN] if keep_uncertain else names


def class_thresholds(task_name: str) -> dict[str, float]:
    """The confidence each class must reach, per class, for the task's default thresholds.

    The same numbers decide a volunteers' label and whether a model's top probability is
    trusted (the course project's max-probability threshold): a model is held to the
    standard its training labels were.
    """
    thresholds = task(task_name).thresholds
    if isinstance(thresholds, ThreeClassThresholds):
        return dict.fromkeys(task(task_name).classes, thresholds.agreement)
    return {name: getattr(thresholds, name) for name in task(task_name).classes}


def decision_threshold(task_name: str) -> float:
    """One max-probability cut for a task's model (the figures draw it): the lowest of its
    :func:`class_thresholds`, so a model's call is trusted where a volunteers' would be."""
    return min(class_thresholds(task_name).values())


# --------------------------------------------------------------------------------------
# Soft targets: the votes themselves
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SoftTargets:
    """Vote counts and fractions of every question, ready to train on.

    ``counts`` are integers with 0 where the question was not asked (never NaN, so a
    likelihood over them is always defined); ``fractions`` are NaN where it was not
    asked; ``asked`` says which. ``answer_slices`` gives each question's columns in
    ``counts`` (one output head per question).
    """

    counts: pd.DataFrame
    totals: pd.DataFrame
    fractions: pd.DataFrame
    answer_slices: dict[str, slice]

    @property
    def asked(self) -> pd.DataFrame:
        return self.totals > 0


def answer_slices(questions=None) -> dict[str, slice]:
    """Each question's columns in the concatenated (N, 34) count / fraction vector (a vote
    model's outputs too), in the decision tree's order; ``questions`` are names or
    :class:`~galaxy_utils.data.tree.Question` objects (default: every DR5 question)."""
    slices, start = {}, 0
    for q in tree.QUESTIONS if questions is None else questions:
        q = tree.question(q) if isinstance(q, str) else q
        slices[q.name] = slice(start, start + len(q.answers))
        start += len(q.answers)
    return slices


def soft_targets(catalogue: pd.DataFrame, questions=tree.QUESTIONS) -> SoftTargets:
    """Per-question vote counts, totals and fractions of a GZD-5 (or Zoobot-layout) catalogue."""
    if catalogue_format(catalogue) not in VOTE_FORMATS:
        raise CatalogueError("soft targets need vote counts: only a GZD-5 or Zoobot catalogue has them")
    missing = [q.name for q in questions if q.total_column not in catalogue.columns]
    if missing:
        raise CatalogueError(f"soft targets need the votes of every question; the catalogue lacks {', '.join(missing)}")
    counts, totals, fractions = {}, {}, {}
    for q in questions:
        total = pd.to_numeric(catalogue[q.total_column], errors="coerce").fillna(0).astype("int64")
        totals[q.name] = total
        for column in q.count_columns:
            counts[column] = pd.to_numeric(catalogue[column], errors="coerce").fillna(0).astype("int64")
            fractions[column] = (counts[column] / total.where(total > 0)).astype("float64")
    return SoftTargets(
        counts=pd.DataFrame(counts, index=catalogue.index),
        totals=pd.DataFrame(totals, index=catalogue.index),
        fractions=pd.DataFrame(fractions, index=catalogue.index),
        answer_slices=answer_slices(questions),
    )


# --------------------------------------------------------------------------------------
# Ground truth (mock survey only)
# --------------------------------------------------------------------------------------

# The class each true mock morphology belongs to, per task; None: not a class of the task.
TRUE_MORPHOLOGY_CLASSES: dict[str, dict[str, str | None]] = {
    FOUR_CLASS: {
        "elliptical": "elliptical", "lenticular": "lenticular", "spiral": "spiral", "irregular": "irregular",
        "merger": "irregular", "edge-on": None, "artifact": None,
    },
    THREE_CLASS: {
        "elliptical": "round", "lenticular": None, "spiral": "spiral", "irregular": None, "merger": None,
        "edge-on": "edge-on", "artifact": None,
    },
}


def read_truth(path) -> pd.DataFrame:
    """The mock survey's ``truth.csv`` (``iauname``, ``morphology``, ...)."""
    return pd.read_csv(path, dtype={tree.ID_COLUMN: "string"})


def true_classes(truth: pd.DataFrame, task_name: str) -> pd.Series:
    """Each mock galaxy's true class for a task (NA where it has none), indexed by iauname.

    For three-class, only ellipticals that are truly round count as 'round' (in-between and
    cigar-shaped ones have no three-class label, as with the volunteers).
    """
    mapping = TRUE_MORPHOLOGY_CLASSES[task(task_name).name]
    classes = truth["morphology"].map(mapping).astype("string")
    if task_name == THREE_CLASS and "roundness" in truth.columns:
        classes = classes.mask((classes == "round") & (truth["roundness"] != "round"))
    return pd.Series(classes.to_numpy(), index=truth[tree.ID_COLUMN].to_numpy(), name="true_class", dtype="string")


# --------------------------------------------------------------------------------------
# Labels from fractions, truth, probabilities
# --------------------------------------------------------------------------------------


def labels_from_fractions(fractions: pd.DataFrame, task_name: str) -> tuple[pd.DataFrame, pd.Series]:
    """Class confidences (``p_<class>``) and labels of a task from GZD-5 vote fractions, by
    :func:`galaxy_utils.data.labels.class_confidences` and the task's thresholds: the one mapping
    used for volunteers' catalogues and for a model's predicted fractions alike."""
    confidences = class_confidences(fractions, task_name)
    if task_name == FOUR_CLASS:
        label, _ = four_class_labels(confidences)
    elif task_name == THREE_CLASS:
        label, _ = three_class_labels(confidences)
    else:
        raise KeyError(f"no labels for task {task_name!r}")
    return confidences, label


def truth_labels(truth: pd.DataFrame, task_name: str, ids=None) -> pd.Series:
    """:func:`galaxy_utils.data.labels.true_classes` (the mock survey's ``truth.csv`` mapped to a
    task's classes; missing where a morphology is no class of the task), in the order of
    ``ids`` when given (missing for ids not in ``truth``)."""
    label = true_classes(truth, task_name)
    label.index = label.index.astype("string")
    if ids is not None:
        label = label.reindex(pd.Index(pd.Series(ids).astype("string").to_numpy()))
    return label.rename("truth")


def in_classes(values, classes) -> np.ndarray:
    """Boolean mask: which values are one of ``classes`` (missing values are not)."""
    wanted = set(classes)
    return np.array([isinstance(v, str) and v in wanted for v in values], dtype=bool)


def normalise(scores) -> np.ndarray:
    """Rows scaled to sum to 1 (negative values clipped; uniform where a row is all 0)."""
    scores = np.clip(np.asarray(scores, dtype=float), 0, None)
    sums = scores.sum(axis=1, keepdims=True)
    return np.divide(scores, sums, out=np.full_like(scores, 1 / max(scores.shape[1], 1)), where=sums > 0)


def class_probabilities(confidences: pd.DataFrame, task_name: str) -> np.ndarray:
    """(N, n_classes) probabilities over a task's classes from its class confidences
    (``p_<class>`` columns of :func:`galaxy_utils.data.labels.class_confidences`).

    Three classes: spiral, round and edge-on are disjoint branches of the tree, so their
    confidences are normalised to sum to 1. Four classes: irregular comes from the merging
    question and takes precedence in the labels (a disturbed spiral is irregular), so it
    keeps its confidence and elliptical, lenticular and spiral share the rest in proportion
    to theirs (edge-on and artifact shares left out). The argmax then agrees with the
    thresholded label wherever that label is a class.
    """
    classes = class_names(task_name)
    if task_name != FOUR_CLASS:
        return normalise(confidences[[f"p_{c}" for c in classes]])
    others = [c for c in classes if c != "irregular"]
    irregular = np.clip(confidences["p_irregular"].to_numpy(dtype=float), 0, 1)[:, None]
    shares = normalise(confidences[[f"p_{c}" for c in others]]) * (1 - irregular)
    columns = {c: shares[:, i] for i, c in enumerate(others)} | {"irregular": irregular[:, 0]}
    return np.column_stack([columns[c] for c in classes])
