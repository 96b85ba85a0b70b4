"""Train on the votes themselves: every GZD-5 question at once, with a Dirichlet-multinomial
likelihood per question (Walmsley et al. 2022, the Zoobot recipe).

The hard-label models learn a class chosen by a threshold; a galaxy with 55% of
volunteers saying "spiral" and one with 30% are both 'uncertain' and never trained on.
Here the model predicts, for every question ``q`` and answer ``a``, a Dirichlet
concentration ``alpha_qa > 0``; the volunteers' counts ``k_q`` (``N_q`` votes in all) are
a draw from the Dirichlet-multinomial

    p(k_q | alpha_q) = N_q! / prod_a k_qa!  *  Gamma(A_q) / Gamma(N_q + A_q)
                       * prod_a Gamma(k_qa + alpha_qa) / Gamma(alpha_qa),   A_q = sum_a alpha_qa,

and the loss of a galaxy is ``-sum_q log p(k_q | alpha_q)``. A question nobody was asked
(``N_q = 0``) has likelihood 1 and contributes exactly 0, so the tree's branches need no
masking elsewhere; counts are counts (0 where not asked, never NaN: see
:class:`galaxy_utils.data.labels.SoftTargets`). The predicted vote fraction of an answer is the
Dirichlet mean ``alpha_qa / A_q``; ``A_q`` says how sure the model is.

Concentrations are ``1 + 99 * sigmoid(x)``, in [1, 100] as in Zoobot: bounded, so a
confident but wrong head costs a finite loss, and at least 1, so the predicted Dirichlet
never piles its mass on the corners of the simplex.

Derived hard classes come from the predicted fractions through the *same* mapping as the
volunteers' labels (:func:`galaxy_utils.data.labels.class_confidences` and the thresholds), so
hard and soft models are compared on equal terms (:mod:`galaxy_utils.analysis.comparison`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from galaxy_utils.data import labels as labels_module
from galaxy_utils.data import tree
from galaxy_utils.data.catalogue import (
    DEFAULT_MIN_VOTES,
    FILE_COLUMN,
    GENERIC,
    VOTE_FORMATS,
    CatalogueError,
    PreprocessingLog,
    catalogue_format,
    drop_missing_labels,
    filter_by_total_votes,
    ids_of,
    resolve_images,
)
from galaxy_utils.data.files import TRUTH_NAME
from galaxy_utils.data.labels import (
    answer_slices,
    class_probabilities,
    in_classes,
    labels_from_fractions,
    read_truth,
    truth_labels,
)
from galaxy_utils.learn.dataset import split_catalogue
from galaxy_utils.learn.evaluation import classification_metrics
from galaxy_utils.learn.models import ARCHITECTURES
from galaxy_utils.learn.profiles import Profile
from galaxy_utils.learn.runs import RunFolder

MIN_CONCENTRATION = 1.0
MAX_CONCENTRATION = 100.0

CONFIDENT_FRACTION = 0.8
"""A question's volunteers are *confident* when one answer has at least this fraction..."""
CONFIDENT_VOTES = 5
"""...of at least this many votes (4 of 5 at the GZD-5 minimum of five classifications)."""
WELL_SAMPLED = 0.5
"""A question is *well sampled* on a galaxy when at least this share of the galaxy's
volunteers reached it (Walmsley et al. 2022 use the same 50% cut for their per-question
figures): the fractions of a question two of forty people reached are mostly noise."""

DERIVED_TASKS = (labels_module.FOUR_CLASS, labels_module.THREE_CLASS)


# --------------------------------------------------------------------------------------
# The answer layout
# --------------------------------------------------------------------------------------


def _questions(questions=None) -> tuple[tree.Question, ...]:
    if questions is None:
        return tree.QUESTIONS
    return tuple(tree.question(q) if isinstance(q, str) else q for q in questions)


def fraction_columns(questions=None) -> list[str]:
    """The GZD-5 fraction columns, one per model output, in output order."""
    return [c for q in _questions(questions) for c in q.fraction_columns]


# --------------------------------------------------------------------------------------
# The loss
# --------------------------------------------------------------------------------------


def dirichlet_multinomial_log_likelihood(counts, concentrations):
    """``log p(counts | concentrations)`` of one question, over the last axis.

    ``counts`` (..., K) are vote counts, ``concentrations`` (..., K) positive. Returns
    (...,): exactly 0 where the question got no votes. The multinomial coefficient
    ``N! / prod k!`` is included (it does not depend on the model, so it changes the loss
    value, not its gradients) so the value is a true log-probability. A question with any
    non-finite count is treated as not asked (the input pipeline refuses such targets;
    this only keeps a NaN from reaching the gradients).
    """
    import tensorflow as tf

    alpha = tf.convert_to_tensor(concentrations)
    counts = tf.cast(counts, alpha.dtype)
    finite = tf.reduce_all(tf.math.is_finite(counts), axis=-1)
    counts = tf.where(tf.math.is_finite(counts), counts, tf.zeros_like(counts))
    total = tf.reduce_sum(counts, axis=-1)
    alpha_total = tf.reduce_sum(alpha, axis=-1)
    log_coefficient = tf.math.lgamma(total + 1.0) - tf.reduce_sum(tf.math.lgamma(counts + 1.0), axis=-1)
    log_ratio = (
        tf.math.lgamma(alpha_total)
        - tf.math.lgamma(total + alpha_total)
        + tf.reduce_sum(tf.math.lgamma(counts + alpha) - tf.math.lgamma(alpha), axis=-1)
    )
    log_likelihood = log_coefficient + log_ratio
    asked = finite & (total > 0)
    return tf.where(asked, log_likelihood, tf.zeros_like(log_likelihood))


def question_log_likelihoods(counts, concentrations, questions=None):
    """(N, n_questions) log-likelihoods of every question, from the concatenated vectors."""
    import tensorflow as tf

    alpha = tf.convert_to_tensor(concentrations)
    counts = tf.convert_to_tensor(counts)
    columns = [
        dirichlet_multinomial_log_likelihood(counts[..., s], alpha[..., s]) for s in answer_slices(questions).values()
    ]
    return tf.stack(columns, axis=-1)


def vote_count_loss(counts, concentrations, questions=None):
    """Per-galaxy loss: the negative log-likelihood summed over questions, shape (N,)."""
    import tensorflow as tf

    return -tf.reduce_sum(question_log_likelihoods(counts, concentrations, questions), axis=-1)


@keras.saving.register_keras_serializable(package="galaxy_utils")
class DirichletMultinomialLoss(keras.losses.Loss):
    """Keras loss: ``y_true`` the (N, 34) vote counts, ``y_pred`` the (N, 34) concentrations;
    the mean over the batch of :func:`vote_count_loss`."""

    def __init__(self, questions: Sequence[str] | None = None, name: str = "dirichlet_multinomial", **kwargs):
        super().__init__(name=name, **kwargs)
        self.questions = [q.name for q in _questions(questions)]

    def call(self, y_true, y_pred):
        return vote_count_loss(y_true, y_pred, self.questions)

    def get_config(self) -> dict:
        return {**super().get_config(), "questions": list(self.questions)}


# --------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------


def build_vote_model(
    architecture: str,
    input_shape: tuple[int, int, int],
    *,
    learning_rate: float,
    questions=None,
) -> keras.Model:
    """A compiled model: the body of a published CNN, one Dirichlet head per question.

    The body is the chosen architecture of :mod:`galaxy_utils.learn.models` without its softmax
    layer (fresh copies of its layers); each question gets a ``Dense`` layer named after it
    (sigmoid, rescaled to [1, 100] by a layer named ``<question>_concentration``), and the
    heads are concatenated, in :func:`galaxy_utils.data.labels.answer_slices` order, into the single output
    ``concentrations`` of shape (N, 34) for the ten GZD-5 questions.
    """
    try:
        body = ARCHITECTURES[architecture](input_shape, 1)
    except KeyError:
        raise KeyError(f"unknown architecture {architecture!r}; choose one of {', '.join(ARCHITECTURES)}") from None
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for layer in body.layers[:-1]:
        # A fresh layer from the config: the body's own layers are already wired to its
        # input, and a layer with two graphs has no single ``output`` (Grad-CAM needs one).
        x = type(layer).from_config(layer.get_config())(x)
    heads = []
    for q in _questions(questions):
        head = keras.layers.Dense(len(q.answers), activation="sigmoid", name=q.name)(x)
        heads.append(
            keras.layers.Rescaling(
                MAX_CONCENTRATION - MIN_CONCENTRATION, offset=MIN_CONCENTRATION, name=f"{q.name}_concentration"
            )(head)
        )
    outputs = keras.layers.Concatenate(name="concentrations")(heads) if len(heads) > 1 else heads[0]
    model = keras.Model(inputs, outputs, name=f"vote_counts_{architecture.replace('-', '_')}")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=DirichletMultinomialLoss([q.name for q in _questions(questions)]),
    )
    return model


def predicted_fractions(concentrations, questions=None) -> np.ndarray:
    """Expected vote fractions ``alpha / sum(alpha)`` per question, same shape as the input."""
    alpha = np.asarray(concentrations, dtype=float)
    fractions = np.empty_like(alpha)
    for s in answer_slices(questions).values():
        fractions[..., s] = alpha[..., s] / alpha[..., s].sum(axis=-1, keepdims=True)
    return fractions


def fraction_table(concentrations, index=None, questions=None) -> pd.DataFrame:
    """Predicted fractions as a catalogue-like table: one GZD-5 ``<question>_<answer>_fraction``
    column per answer, so :func:`galaxy_utils.data.labels.class_confidences` reads it as it reads
    volunteers' fractions (marked as a generic catalogue: every question has a fraction)."""
    table = pd.DataFrame(predicted_fractions(concentrations, questions), columns=fraction_columns(questions),
                         index=index)
    table.attrs["format"] = GENERIC
    return table


# --------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------


def question_metrics(
    volunteers: pd.DataFrame,
    predicted: pd.DataFrame,
    *,
    confident_fraction: float = CONFIDENT_FRACTION,
    confident_votes: int = CONFIDENT_VOTES,
    well_sampled: float = WELL_SAMPLED,
) -> pd.DataFrame:
    """Per question: how close the predicted vote fractions are to the volunteers'.

    ``volunteers`` is a GZD-5 catalogue, ``predicted`` a :func:`fraction_table` with the
    same index. Columns:

    * ``mae``: mean absolute error of the fractions, averaged over the question's answers,
      then over the galaxies where the question was asked (at least one vote), each galaxy
      weighing the same (``n_asked`` of them);
    * ``mae_well_sampled`` over the galaxies where at least ``well_sampled`` of the
      galaxy's volunteers reached the question (``n_well_sampled``);
    * ``confident_accuracy``: how often the most-predicted answer is the volunteers' answer
      on galaxies where that answer got at least ``confident_fraction`` of at least
      ``confident_votes`` votes (``n_confident``); NaN where there are none.
    """
    soft = labels_module.soft_targets(volunteers)
    if not predicted.index.equals(volunteers.index):
        raise ValueError("predicted and volunteers must share one index (the same galaxies in the same order)")
    everyone = soft.totals[tree.QUESTIONS[0].name].to_numpy(dtype=float)
    rows = []
    for q in tree.QUESTIONS:
        if not set(q.fraction_columns) <= set(predicted.columns):
            continue
        total = soft.totals[q.name].to_numpy(dtype=float)
        truth = soft.fractions[q.count_columns].to_numpy(dtype=float)
        guess = predicted[q.fraction_columns].to_numpy(dtype=float)
        asked = total > 0
        well = asked & (total >= well_sampled * everyone)
        error = np.abs(guess - np.nan_to_num(truth)).mean(axis=1)
        top = np.nan_to_num(truth).max(axis=1)
        confident = asked & (total >= confident_votes) & (top >= confident_fraction - 1e-9)
        correct = guess.argmax(axis=1) == np.nan_to_num(truth).argmax(axis=1)
        rows.append(
            {
                "question": q.name,
                "n_asked": int(asked.sum()),
                "mae": float(error[asked].mean()) if asked.any() else float("nan"),
                "n_well_sampled": int(well.sum()),
                "mae_well_sampled": float(error[well].mean()) if well.any() else float("nan"),
                "n_confident": int(confident.sum()),
                "confident_accuracy": float(correct[confident].mean()) if confident.any() else float("nan"),
            }
        )
    return pd.DataFrame(rows).set_index("question")


def derived_class_metrics(
    volunteers: pd.DataFrame, predicted: pd.DataFrame, task_name: str, truth: pd.DataFrame | None = None
) -> dict:
    """The four- or three-class labels the predicted fractions give, against the volunteers'
    labels (and the truth when given), both made by the same mapping.

    * ``agreement``: derived label == volunteers' label over all galaxies, 'uncertain' and
      'artifact' included (the mapping as a whole);
    * ``volunteers``: on galaxies the volunteers gave a class of the task,
      :func:`galaxy_utils.learn.evaluation.classification_metrics` of the class probabilities of
      :func:`galaxy_utils.data.labels.class_probabilities` (argmax: always decides), plus
      ``coverage`` (share the thresholded mapping decides rather than calling uncertain)
      and ``accuracy_when_decided``;
    * ``truth``: the same against the mock survey's true morphology, on galaxies whose
      morphology is a class of the task (:func:`galaxy_utils.data.labels.truth_labels`).
    """
    classes = labels_module.class_names(task_name)
    _, volunteer_label = labels_from_fractions(volunteers, task_name)
    confidences, label = labels_from_fractions(predicted, task_name)
    probabilities = class_probabilities(confidences, task_name)
    volunteer_label = volunteer_label.to_numpy(dtype=object)
    label = label.to_numpy(dtype=object)
    result = {
        "classes": classes,
        "n": int(len(label)),
        "agreement": float(np.mean(label == volunteer_label)) if len(label) else float("nan"),
        "volunteer_label_counts": pd.Series(volunteer_label).value_counts().astype(int).to_dict(),
        "derived_label_counts": pd.Series(label).value_counts().astype(int).to_dict(),
    }
    references = {"volunteers": volunteer_label}
    if truth is not None:
        references["truth"] = truth_labels(truth, task_name, ids=volunteers[ids_of(volunteers)]).to_numpy(
            dtype=object
        )
    for name, reference in references.items():
        known = in_classes(reference, classes)
        y_true = np.array([classes.index(c) for c in reference[known]], dtype=int)
        # classification_metrics needs at least one galaxy (scikit-learn refuses none)
        scores = (classification_metrics(y_true, probabilities[known], classes) if known.any()
                  else {"n": 0, "accuracy": float("nan"), "classes": classes})
        decided = known & in_classes(label, classes)
        scores["coverage"] = float(decided.sum() / known.sum()) if known.any() else float("nan")
        scores["accuracy_when_decided"] = (
            float(np.mean(label[decided] == reference[decided])) if decided.any() else float("nan")
        )
        result[name] = scores
    return result


def vote_metrics(
    volunteers: pd.DataFrame, concentrations, truth: pd.DataFrame | None = None, **question_options
) -> dict:
    """Everything a vote-count run writes for one split: the loss, per-question
    fraction errors and confident accuracies, and the derived four- and three-class scores."""
    soft = labels_module.soft_targets(volunteers)
    predicted = fraction_table(concentrations, index=volunteers.index)
    per_question = question_metrics(volunteers, predicted, **question_options)
    loss = np.asarray(vote_count_loss(soft.counts.to_numpy(dtype=np.float32), np.asarray(concentrations, np.float32)))
    return {
        "n": int(len(volunteers)),
        "loss": float(np.mean(loss)) if len(volunteers) else float("nan"),
        "mean_mae": float(per_question["mae"].mean()),
        "questions": json.loads(per_question.to_json(orient="index")),
        "derived": {task: derived_class_metrics(volunteers, predicted, task, truth) for task in DERIVED_TASKS},
    }


def _number(value, digits: int = 3) -> str:
    """A figure for printing; '-' for a missing one (NaN, or null in metrics.json)."""
    return "-" if value is None or value != value else f"{value:.{digits}f}"


def format_metrics(metrics: dict) -> str:
    """A few lines for the command line: per-question MAE and accuracy, derived classes."""
    lines = [f"vote counts ({metrics.get('profile')}): {metrics['n']} test galaxies, "
             f"loss {_number(metrics['loss'], 2)}, mean fraction MAE {_number(metrics['mean_mae'])}"]
    for name, q in metrics["questions"].items():
        lines.append(f"  {name:<20} MAE {_number(q['mae']):>5} (n {q['n_asked']:>5})  "
                     f"confident accuracy {_number(q['confident_accuracy']):>5} (n {q['n_confident']})")
    for task, derived in metrics["derived"].items():
        for reference in ("volunteers", "truth"):
            if reference in derived:
                scores = derived[reference]
                lines.append(f"  derived {task} vs {reference}: accuracy {_number(scores['accuracy'])} on "
                             f"{scores['n']}, thresholded coverage {_number(scores['coverage'])}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Preparing, splitting and predicting a vote-count run
# --------------------------------------------------------------------------------------


def prediction_table(frame: pd.DataFrame, concentrations) -> pd.DataFrame:
    """One row per galaxy: id, ``file_loc``, predicted fraction columns, derived labels."""
    ids = ids_of(frame)
    predicted = fraction_table(concentrations, index=frame.index)
    table = pd.concat([frame[[ids, FILE_COLUMN]], predicted], axis=1)
    for task in DERIVED_TASKS:
        table[f"{task}_label"] = labels_from_fractions(predicted, task)[1]
    return table.reset_index(drop=True)


def prepare_vote_catalogue(
    catalogue: pd.DataFrame, image_root, *, min_votes: int = DEFAULT_MIN_VOTES, verify: str = "verify"
) -> tuple[pd.DataFrame, PreprocessingLog]:
    """The cleaning steps that make sense without classes: the vote-count filter, galaxies
    with an empty fraction where a question was asked, and missing or broken images."""
    if catalogue_format(catalogue) not in VOTE_FORMATS:
        raise CatalogueError("vote-count training needs a GZD-5 or Zoobot catalogue: only they have every "
                             f"question's counts, and this one is {catalogue_format(catalogue)}")
    missing = [q.name for q in tree.QUESTIONS if q.total_column not in catalogue.columns]
    if missing:
        raise CatalogueError(
            f"vote-count training needs every question's counts; the catalogue lacks {', '.join(missing)}"
        )
    log = PreprocessingLog()
    catalogue = log.apply(filter_by_total_votes, catalogue, min_votes)
    catalogue = log.apply(drop_missing_labels, catalogue, fraction_columns(), unasked="keep")
    catalogue = log.apply(resolve_images, catalogue, image_root, verify=verify)
    return catalogue.reset_index(drop=True), log


def split_votes(
    catalogue: pd.DataFrame, prof: Profile, *, seed: int, held_out_ids: Iterable[str] | None = None
) -> dict[str, pd.DataFrame]:
    """Train / validation / test of original galaxies, by :func:`galaxy_utils.learn.dataset.split_catalogue`
    (plain random: there are no classes to stratify by).

    Galaxies named in ``held_out_ids`` (say, a hard-label run's test split) all go to the
    test split, so both models can be scored on them; the others are capped at the
    profile's ``max_galaxies`` (seeded) and split by its fractions.
    """
    ids = catalogue[ids_of(catalogue)].astype("string")
    forced = ids.isin(set(map(str, held_out_ids or ()))).to_numpy()
    rest = catalogue[~forced]
    if prof.max_galaxies is not None and len(rest) > prof.max_galaxies:
        rng = np.random.default_rng(seed)
        rest = rest.iloc[np.sort(rng.choice(len(rest), prof.max_galaxies, replace=False))]
    train, validation, test = split_catalogue(rest, prof.val_fraction, prof.test_fraction, seed, stratify=None)
    test = pd.concat([test, catalogue[forced]]).sort_index()
    return {"train": train, "validation": validation, "test": test}


class VoteCounts:
    """Vote-count runs, the kind :func:`galaxy_utils.learn.training.train` runs for the
    ``vote-counts`` task: every question's counts as targets, the Dirichlet-multinomial loss,
    the best epoch by validation loss, scored by :func:`vote_metrics`."""

    monitor = "val_loss"

    def __init__(self, catalog, *, truth: str | Path | None = "auto", min_votes: int = DEFAULT_MIN_VOTES):
        if truth == "auto":
            candidate = Path(catalog).parent / TRUTH_NAME
            truth = candidate if candidate.is_file() else None
        self.truth, self.min_votes = truth, min_votes
        self.truth_table = read_truth(truth) if truth is not None else None

    def fingerprint(self, test_ids) -> dict:
        held_out = None if test_ids is None else sorted(map(str, test_ids))
        return {"min_votes": self.min_votes,
                "held_out_sha1": None if held_out is None else hashlib.sha1("\n".join(held_out).encode()).hexdigest()}

    def prepare(self, catalogue: pd.DataFrame, image_root, prof: Profile, *, seed: int, source) -> tuple:
        return prepare_vote_catalogue(catalogue, image_root, min_votes=self.min_votes)

    def split(self, prepared: pd.DataFrame, prof: Profile, *, seed: int, test_ids) -> tuple[dict, dict]:
        """The splits (:func:`split_votes`) and what ``run.json`` records about them."""
        held_out = None if test_ids is None else sorted(map(str, test_ids))
        splits = split_votes(prepared, prof, seed=seed, held_out_ids=held_out)
        held_ids = set(held_out or ())
        return splits, {
            "questions": {q.name: list(q.answers) for q in tree.QUESTIONS},
            "outputs": fraction_columns(),
            "truth": None if self.truth is None else str(self.truth),
            "held_out_ids": None if held_out is None else {
                "given": len(held_ids),
                "in_test_split": int(splits["test"][ids_of(prepared)].astype("string").isin(held_ids).sum()),
            },
        }

    def dataset_options(self, frame: pd.DataFrame) -> dict:
        return {"class_names": None,
                "targets": labels_module.soft_targets(frame).counts.to_numpy(dtype=np.int32)}

    def class_weight(self, train: pd.DataFrame, prof: Profile) -> None:
        """None: vote counts have no classes to weight."""
        return None

    def build(self, prof: Profile, spec, *, decay_steps: int | None = None):
        return build_vote_model(prof.model, spec.shape, learning_rate=prof.learning_rate)

    def score(self, concentrations: np.ndarray, readable: pd.DataFrame) -> dict:
        return vote_metrics(readable, concentrations, self.truth_table)

    def predictions(self, concentrations: np.ndarray, readable: pd.DataFrame) -> pd.DataFrame:
        return prediction_table(readable, concentrations)

    def metric_notes(self) -> dict:
        return {"definitions": {"confident_fraction": CONFIDENT_FRACTION, "confident_votes": CONFIDENT_VOTES,
                                "well_sampled": WELL_SAMPLED, "truth": None if self.truth is None else str(self.truth)}}


# --------------------------------------------------------------------------------------
# Reading a run back (notebooks and report figures)
# --------------------------------------------------------------------------------------


def run_fractions(run_dir: str | Path, catalogue: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A vote-count run's test galaxies: ``(volunteers, predicted)`` on one shared index.

    ``volunteers``: the rows of ``catalogue`` (a GZD-5 catalogue, ``file_loc`` resolved
    when images are wanted) for the galaxies of the run's ``predictions.csv``, in its
    order; ``predicted``: the run's predicted fractions as a :func:`fraction_table`. Ready
    for :func:`question_metrics` and :func:`galaxy_utils.report.plots_votes.fraction_scatter`.
    """
    saved = RunFolder(run_dir).predictions()
    ids = ids_of(catalogue)
    keyed = catalogue.set_index(catalogue[ids].astype("string").to_numpy())
    known = saved[ids].astype("string").isin(keyed.index).to_numpy()
    order = saved[ids].astype("string").to_numpy()[known]
    volunteers = keyed.loc[order].reset_index(drop=True)
    volunteers.attrs = dict(catalogue.attrs)
    predicted = saved.loc[known, fraction_columns()].reset_index(drop=True).astype(float)
    predicted.attrs["format"] = GENERIC
    return volunteers, predicted


def example_losses(
    galaxies: dict[str, Sequence[int]], predicted: Sequence[float], *, concentration: float = 10.0
) -> pd.DataFrame:
    """The loss (``-log p``) of a two-answer question's vote counts under several predictions.

    ``galaxies``: name -> (yes, no) counts; ``predicted``: predicted 'yes' fractions, each
    made a Dirichlet with total concentration ``concentration``. A row per galaxy, a column
    per prediction: the lowest loss sits where the prediction matches the votes.
    """
    columns = {}
    for p in predicted:
        alpha = np.array([p, 1 - p], dtype=np.float64) * concentration
        counts = np.array(list(galaxies.values()), dtype=np.float64)
        loss = -np.asarray(dirichlet_multinomial_log_likelihood(counts, np.broadcast_to(alpha, counts.shape)))
        columns[f"model says {p:.0%}"] = loss
    return pd.DataFrame(columns, index=pd.Index(list(galaxies), name="volunteers' votes"))


def top_predicted(
    volunteers: pd.DataFrame, predicted: pd.DataFrame, answers: Sequence[tuple[str, str]], *, per_answer: int = 4
) -> pd.DataFrame:
    """For each (question, answer), the galaxies the model gives the largest share of *all*
    volunteers reaching that answer (the product along the tree, so a smooth galaxy's
    meaningless bar fraction does not count), with the volunteers' share beside it.

    Rows: question, answer, id, ``file_loc`` (when ``volunteers`` has it), predicted and
    volunteers' cumulative fractions, and a short title for a figure.
    """
    rows = []
    ids = ids_of(volunteers)
    for question, answer in answers:
        model = labels_module.cumulative_fraction(predicted, question, answer).to_numpy(dtype=float)
        people = labels_module.cumulative_fraction(volunteers, question, answer).fillna(0).to_numpy(dtype=float)
        for i in np.argsort(-model, kind="stable")[:per_answer]:
            rows.append({
                "question": question, "answer": answer, ids: volunteers[ids].iloc[i],
                FILE_COLUMN: volunteers[FILE_COLUMN].iloc[i] if FILE_COLUMN in volunteers else None,
                "predicted": model[i], "volunteers": people[i],
                "title": f"{question}: {answer}\nmodel {model[i]:.0%}, people {people[i]:.0%}",
            })
    return pd.DataFrame(rows)
