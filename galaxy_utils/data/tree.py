"""The Galaxy Zoo DECaLS decision trees and the catalogues' column layouts.

Every other module asks this one for question names, answers, which answer a question
follows, and column names. Nothing else in the project spells out a GZD-5 column.

The GZ DECaLS release (Walmsley et al. 2022, MNRAS 509, 3966) has two volunteer tables,
one per decision tree, and one table of automated predictions:

* :data:`DR5` (``gz_decals_volunteers_5``, the GZD-5 campaign), the default of every
  module-level name below (``QUESTIONS``, :func:`question`, :func:`gzd5_columns`, ...);
* :data:`GZD_1_2` (``gz_decals_volunteers_1_and_2``, the earlier GZD-1 and GZD-2
  campaigns on DR1/DR2 images): the same ten questions in another order, with other
  answers for ``how-rounded`` (completely), ``bar`` (yes / no), ``bulge-size``
  (none / obvious / dominant), ``spiral-arm-count`` (no cant-tell) and ``merging``
  (merger / tidal-debris / both / neither), ``in_gzd_c`` and ``data_release`` columns
  and no ``png_loc``;
* ``gz_decals_auto_posteriors``: a model's predictions for the DR5 questions
  (:func:`auto_posterior_columns`), not volunteer votes.

In both volunteer trees volunteers always answer ``smooth-or-featured`` and ``merging``
(unless they called the galaxy an artifact); every other question is asked only after a
particular answer to an earlier one. A question nobody reached has ``total-votes`` 0 and
counts 0; its fraction and debiased cells are empty (NaN) in the DR5 table and 0 in the
GZD-1/2 table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Question:
    """One question of the tree.

    ``asked_after`` is the ``(question, answer)`` a volunteer must have given for this
    question to be asked, or ``None`` when it is always asked.
    """

    name: str
    answers: tuple[str, ...]
    asked_after: tuple[str, str] | None = None

    def _answer(self, answer: str) -> str:
        if answer not in self.answers:
            raise KeyError(
                f"{answer!r} is not an answer of {self.name!r}; its answers are: " + ", ".join(self.answers)
            )
        return answer

    def count_column(self, answer: str) -> str:
        """``{question}_{answer}``: number of volunteers who gave this answer."""
        return f"{self.name}_{self._answer(answer)}"

    def fraction_column(self, answer: str) -> str:
        """``{question}_{answer}_fraction``: count / total-votes of the question."""
        return f"{self.name}_{self._answer(answer)}_fraction"

    def debiased_column(self, answer: str) -> str:
        """``{question}_{answer}_debiased``: the redshift-debiased fraction."""
        return f"{self.name}_{self._answer(answer)}_debiased"

    @property
    def total_column(self) -> str:
        return f"{self.name}_total-votes"

    @property
    def count_columns(self) -> list[str]:
        return [self.count_column(a) for a in self.answers]

    @property
    def fraction_columns(self) -> list[str]:
        return [self.fraction_column(a) for a in self.answers]

    @property
    def debiased_columns(self) -> list[str]:
        return [self.debiased_column(a) for a in self.answers]


@dataclass(frozen=True)
class DecisionTree:
    """One volunteer table of the release: its questions and its columns, in published order.

    ``name`` is the table's file stem (``gz_decals_volunteers_5``); ``label`` a short name
    for messages.
    """

    name: str
    label: str
    questions: tuple[Question, ...]
    metadata_columns: tuple[str, ...]
    trailing_columns: tuple[str, ...] = ("wrong_size_statistic", "wrong_size_warning")

    def question(self, name: str) -> Question:
        """The question called ``name``; a clear error for a misspelt one."""
        for q in self.questions:
            if q.name == name:
                return q
        known = ", ".join(q.name for q in self.questions)
        raise KeyError(f"unknown {self.label} question {name!r}; the questions are: {known}")

    def vote_columns(self) -> list[str]:
        """The vote block: per question its total, then count, fraction, debiased per answer."""
        columns: list[str] = []
        for q in self.questions:
            columns.append(q.total_column)
            for answer in q.answers:
                columns += [q.count_column(answer), q.fraction_column(answer), q.debiased_column(answer)]
        return columns

    def columns(self) -> list[str]:
        """The table's exact header."""
        return [*self.metadata_columns, *self.vote_columns(), *self.trailing_columns]

    def path_to(self, question_name: str) -> list[tuple[str, str]]:
        """The ``(question, answer)`` steps a volunteer takes to reach a question, root first."""
        steps: list[tuple[str, str]] = []
        parent = self.question(question_name).asked_after
        while parent is not None:
            steps.append(parent)
            parent = self.question(parent[0]).asked_after
        return steps[::-1]

    def children(self, question_name: str, answer: str) -> list[Question]:
        """The questions asked after ``answer`` to ``question_name``."""
        self.question(question_name)._answer(answer)
        return [q for q in self.questions if q.asked_after == (question_name, answer)]


# The ten GZD-5 questions, in catalogue column order.
QUESTIONS: tuple[Question, ...] = (
    Question("smooth-or-featured", ("smooth", "featured-or-disk", "artifact")),
    Question("disk-edge-on", ("yes", "no"), ("smooth-or-featured", "featured-or-disk")),
    Question("has-spiral-arms", ("yes", "no"), ("disk-edge-on", "no")),
    Question("bar", ("strong", "weak", "no"), ("disk-edge-on", "no")),
    Question(
        "bulge-size", ("dominant", "large", "moderate", "small", "none"), ("disk-edge-on", "no")
    ),
    Question("how-rounded", ("round", "in-between", "cigar-shaped"), ("smooth-or-featured", "smooth")),
    Question("edge-on-bulge", ("boxy", "none", "rounded"), ("disk-edge-on", "yes")),
    Question("spiral-winding", ("tight", "medium", "loose"), ("has-spiral-arms", "yes")),
    Question(
        "spiral-arm-count", ("1", "2", "3", "4", "more-than-4", "cant-tell"), ("has-spiral-arms", "yes")
    ),
    Question("merging", ("none", "minor-disturbance", "major-disturbance", "merger")),
)

QUESTION_BY_NAME: dict[str, Question] = {q.name: q for q in QUESTIONS}

# Columns before and after the vote block, as in the published table.
METADATA_COLUMNS: tuple[str, ...] = (
    "iauname",
    "ra",
    "dec",
    "redshift",
    "elpetro_absmag_r",
    "sersic_nmgy_r",
    "petro_th50",
    "petro_th90",
    "petro_theta",
    "upload_group",
    "active_learning_on",
    "in_gzd_ab",
    "png_loc",
)
TRAILING_COLUMNS: tuple[str, ...] = ("wrong_size_statistic", "wrong_size_warning")

DR5 = DecisionTree("gz_decals_volunteers_5", "GZD-5", QUESTIONS, METADATA_COLUMNS, TRAILING_COLUMNS)
"""The GZD-5 tree and table (the default everywhere)."""

# The GZD-1/2 questions, in catalogue column order (``gz_decals_volunteers_1_and_2``).
GZD_1_2_QUESTIONS: tuple[Question, ...] = (
    Question("smooth-or-featured", ("smooth", "featured-or-disk", "artifact")),
    Question("how-rounded", ("completely", "in-between", "cigar-shaped"), ("smooth-or-featured", "smooth")),
    Question("disk-edge-on", ("yes", "no"), ("smooth-or-featured", "featured-or-disk")),
    Question("edge-on-bulge", ("rounded", "boxy", "none"), ("disk-edge-on", "yes")),
    Question("bar", ("yes", "no"), ("disk-edge-on", "no")),
    Question("has-spiral-arms", ("yes", "no"), ("disk-edge-on", "no")),
    Question("spiral-winding", ("tight", "medium", "loose"), ("has-spiral-arms", "yes")),
    Question("spiral-arm-count", ("1", "2", "3", "4", "more-than-4"), ("has-spiral-arms", "yes")),
    Question("bulge-size", ("none", "obvious", "dominant"), ("disk-edge-on", "no")),
    Question("merging", ("merger", "tidal-debris", "both", "neither")),
)
GZD_1_2 = DecisionTree(
    "gz_decals_volunteers_1_and_2",
    "GZD-1/2",
    GZD_1_2_QUESTIONS,
    (*METADATA_COLUMNS[:11], "in_gzd_c", "data_release"),
)
"""The earlier GZD-1 and GZD-2 tree and table: no ``png_loc`` (images are found from iauname)."""

TREES: dict[str, DecisionTree] = {DR5.name: DR5, GZD_1_2.name: GZD_1_2}

# The automated posteriors table (``gz_decals_auto_posteriors``): per DR5 answer a list of
# Dirichlet concentrations (one per model, written as text) and the expected vote fraction,
# and per question the expected proportion of volunteers who would be asked it.
AUTO_METADATA_COLUMNS: tuple[str, ...] = (
    "ra", "dec", "iauname", "petro_theta", "petro_th50", "petro_th90", "elpetro_absmag_r", "sersic_nmgy_r",
    "redshift", "mag_r",
)
AUTO_IMAGE_COLUMN = "file_loc"

ID_COLUMN = "iauname"
IMAGE_COLUMN = "png_loc"
# The first question is asked of every galaxy, so its total is the number of volunteers
# who classified the galaxy: the "vote count" the course project filtered on.
CLASSIFICATIONS_COLUMN = "smooth-or-featured_total-votes"


def question(name: str) -> Question:
    """The DR5 question called ``name``; a clear error for a misspelt one."""
    return DR5.question(name)


def count_column(question_name: str, answer: str) -> str:
    """``{question}_{answer}``: number of volunteers who gave this answer (DR5)."""
    return question(question_name).count_column(answer)


def fraction_column(question_name: str, answer: str) -> str:
    """``{question}_{answer}_fraction``: count / total-votes of the question (DR5)."""
    return question(question_name).fraction_column(answer)


def debiased_column(question_name: str, answer: str) -> str:
    """``{question}_{answer}_debiased``: the redshift-debiased fraction (DR5)."""
    return question(question_name).debiased_column(answer)


def total_column(question_name: str) -> str:
    """``{question}_total-votes``: volunteers who answered the question (DR5)."""
    return question(question_name).total_column


def vote_columns() -> list[str]:
    """The vote block of the DR5 catalogue, in published order."""
    return DR5.vote_columns()


def gzd5_columns() -> list[str]:
    """The exact 127-column header of ``gz_decals_volunteers_5.csv``."""
    return DR5.columns()


def path_to(question_name: str) -> list[tuple[str, str]]:
    """The ``(question, answer)`` steps a volunteer takes to reach a DR5 question, root first.

    The fraction of *all* volunteers who would give an answer is the product of the
    fractions along this path times the answer's own fraction; this is how the labels
    module turns conditional fractions into class confidences.
    """
    return DR5.path_to(question_name)


def children(question_name: str, answer: str) -> list[Question]:
    """The DR5 questions asked after ``answer`` to ``question_name``."""
    return DR5.children(question_name, answer)


def auto_posterior_columns() -> list[str]:
    """The exact header of ``gz_decals_auto_posteriors.csv`` (DR5 questions; model outputs)."""
    concentrations = [f"{q.name}_{a}_concentration" for q in QUESTIONS for a in q.answers]
    fractions = [c for q in QUESTIONS for c in q.fraction_columns]
    asked = [f"{q.name}_proportion_volunteers_asked" for q in QUESTIONS]
    return [*AUTO_METADATA_COLUMNS, *concentrations, *fractions, *asked, AUTO_IMAGE_COLUMN, *TRAILING_COLUMNS]
