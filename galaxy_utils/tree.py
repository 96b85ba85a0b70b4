"""The Galaxy Zoo DECaLS DR5 (GZD-5) decision tree and the catalogue's column layout.

Every other module asks this one for question names, answers, which answer a question
follows, and column names. Nothing else in the project spells out a GZD-5 column.

The tree (Walmsley et al. 2022, MNRAS 509, 3966): volunteers always answer
``smooth-or-featured`` and ``merging``; every other question is asked only after a
particular answer to an earlier one. A question nobody reached has ``total-votes`` 0,
counts 0 and empty (NaN) fraction and debiased cells.
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

    def count_column(self, answer: str) -> str:
        return count_column(self.name, answer)

    @property
    def total_column(self) -> str:
        return total_column(self.name)

    @property
    def count_columns(self) -> list[str]:
        return [count_column(self.name, a) for a in self.answers]

    @property
    def fraction_columns(self) -> list[str]:
        return [fraction_column(self.name, a) for a in self.answers]

    @property
    def debiased_columns(self) -> list[str]:
        return [debiased_column(self.name, a) for a in self.answers]


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

ID_COLUMN = "iauname"
IMAGE_COLUMN = "png_loc"
# The first question is asked of every galaxy, so its total is the number of volunteers
# who classified the galaxy: the "vote count" the course project filtered on.
CLASSIFICATIONS_COLUMN = "smooth-or-featured_total-votes"


def question(name: str) -> Question:
    """The question called ``name``; a clear error for a misspelt one."""
    try:
        return QUESTION_BY_NAME[name]
    except KeyError:
        known = ", ".join(QUESTION_BY_NAME)
        raise KeyError(f"unknown GZD-5 question {name!r}; the questions are: {known}") from None


def _check_answer(question_name: str, answer: str) -> None:
    q = question(question_name)
    if answer not in q.answers:
        raise KeyError(
            f"{answer!r} is not an answer of {question_name!r}; its answers are: "
            + ", ".join(q.answers)
        )


def count_column(question_name: str, answer: str) -> str:
    """``{question}_{answer}``: number of volunteers who gave this answer."""
    _check_answer(question_name, answer)
    return f"{question_name}_{answer}"


def fraction_column(question_name: str, answer: str) -> str:
    """``{question}_{answer}_fraction``: count / total-votes of the question."""
    _check_answer(question_name, answer)
    return f"{question_name}_{answer}_fraction"


def debiased_column(question_name: str, answer: str) -> str:
    """``{question}_{answer}_debiased``: the redshift-debiased fraction."""
    _check_answer(question_name, answer)
    return f"{question_name}_{answer}_debiased"


def total_column(question_name: str) -> str:
    """``{question}_total-votes``: volunteers who answered the question."""
    question(question_name)
    return f"{question_name}_total-votes"


def vote_columns() -> list[str]:
    """The vote block of the catalogue, in published order."""
    columns: list[str] = []
    for q in QUESTIONS:
        columns.append(q.total_column)
        for answer in q.answers:
            columns += [
                count_column(q.name, answer),
                fraction_column(q.name, answer),
                debiased_column(q.name, answer),
            ]
    return columns


def gzd5_columns() -> list[str]:
    """The exact 127-column header of ``gz_decals_volunteers_5.csv``."""
    return [*METADATA_COLUMNS, *vote_columns(), *TRAILING_COLUMNS]


def path_to(question_name: str) -> list[tuple[str, str]]:
    """The ``(question, answer)`` steps a volunteer takes to reach a question, root first.

    The fraction of *all* volunteers who would give an answer is the product of the
    fractions along this path times the answer's own fraction; this is how the labels
    module turns conditional fractions into class confidences.
    """
    steps: list[tuple[str, str]] = []
    parent = question(question_name).asked_after
    while parent is not None:
        steps.append(parent)
        parent = question(parent[0]).asked_after
    return steps[::-1]


def children(question_name: str, answer: str) -> list[Question]:
    """The questions asked after ``answer`` to ``question_name``."""
    _check_answer(question_name, answer)
    return [q for q in QUESTIONS if q.asked_after == (question_name, answer)]
