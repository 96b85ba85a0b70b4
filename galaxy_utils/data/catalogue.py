"""Read, validate and clean a galaxy catalogue: the course project's preprocessing steps.

The currency between every stage of the project is one pandas DataFrame: one row per
galaxy, an id column, a ``file_loc`` column (the image) and label columns. This module
reads the catalogue, checks it against the published GZD-5 layout, and runs the course
project's cleaning steps as small composable functions:

(a) :func:`filter_by_total_votes`, (b) :func:`keep_label_columns`,
(c) :func:`drop_missing_labels`, (d) :func:`resolve_images`.

Each step returns a :class:`StepResult`: the cleaned catalogue and a :class:`StepReport`
naming every removed galaxy and why. :class:`PreprocessingLog` strings the steps together
and renders the "what did each step cost" table, so nothing disappears silently.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from galaxy_utils.data import tree

GZD5 = "gzd5"
GZ2_KAGGLE = "gz2-kaggle"
GENERIC = "generic"
# The other two tables of the GZ DECaLS release (Walmsley et al. 2022).
GZD12 = "gzd-1-2"
"""``gz_decals_volunteers_1_and_2``: volunteer votes on the earlier GZD-1/2 tree (:data:`tree.GZD_1_2`)."""
GZD5_AUTO = "gzd5-auto-posteriors"
"""``gz_decals_auto_posteriors``: a model's predicted vote fractions, *not* volunteer votes."""
# The catalogues people download today, read by :mod:`galaxy_utils.data.formats`.
ZOOBOT = "zoobot"
GALAXY10 = "galaxy10"
FOLDERS = "folders"
FORMATS = (GZD5, GZD12, GZD5_AUTO, GZ2_KAGGLE, ZOOBOT, GALAXY10, FOLDERS, GENERIC)

# The decision tree behind each volunteer-vote format.
VOLUNTEER_TREES: dict[str, tree.DecisionTree] = {GZD5: tree.DR5, GZD12: tree.GZD_1_2}
# Formats whose columns are vote counts in the DR5 tree (the zoobot reader renames its
# campaign's columns onto it); formats that give each galaxy a class name to map.
VOTE_FORMATS = (GZD5, ZOOBOT)
NAMED_CLASS_FORMATS = (GALAXY10, FOLDERS)
# A column only the automated posteriors table has.
_AUTO_MARKER = "smooth-or-featured_smooth_concentration"

FILE_COLUMN = "file_loc"
LABEL_COLUMN = "label"
# Galaxy Zoo 2 (Kaggle "Galaxy Zoo - The Galaxy Challenge") identifiers.
GZ2_ID_COLUMN = "GalaxyID"
GZ2_IMAGE_FOLDER = "images_training_rev1"

# SDSS object ids, as the Galaxy Zoo 1 and 2 data releases name them (``objid``, ``dr7objid``).
SDSS_ID_COLUMNS = ("objid", "dr7objid")
# Columns an id may live in, most specific first.
ID_CANDIDATES = (tree.ID_COLUMN, GZ2_ID_COLUMN, "id_str", "id", *SDSS_ID_COLUMNS, FILE_COLUMN)

# Text columns of the published table (everything else in the vote block is numeric).
_TEXT_COLUMNS = {"iauname": "string", "png_loc": "string", "upload_group": "string"}


# GZ2 Kaggle columns (Willett et al. 2013 tree; values are already cumulative fractions).
GZ2_KAGGLE_ANSWERS: dict[str, tuple[str, ...]] = {
    "Class1": ("smooth", "features-or-disk", "star-or-artifact"),
    "Class2": ("edge-on-yes", "edge-on-no"),
    "Class3": ("bar-yes", "bar-no"),
    "Class4": ("spiral-yes", "spiral-no"),
    "Class5": ("bulge-none", "bulge-noticeable", "bulge-obvious", "bulge-dominant"),
    "Class6": ("odd-yes", "odd-no"),
    "Class7": ("completely-round", "in-between", "cigar-shaped"),
    "Class8": ("ring", "lens-or-arc", "disturbed", "irregular", "other", "merger", "dust-lane"),
    "Class9": ("bulge-rounded", "bulge-boxy", "no-bulge"),
    "Class10": ("arms-tight", "arms-medium", "arms-loose"),
    "Class11": ("arms-1", "arms-2", "arms-3", "arms-4", "arms-more-than-4", "arms-cant-tell"),
}
GZ2_KAGGLE_COLUMNS: tuple[str, ...] = tuple(
    f"{group}.{i}" for group, answers in GZ2_KAGGLE_ANSWERS.items() for i in range(1, len(answers) + 1)
)


class CatalogueError(ValueError):
    """A catalogue that does not have the shape or values the project needs.

    The message names the file, the column and the first offending rows.
    """


# --------------------------------------------------------------------------------------
# Reading and validation
# --------------------------------------------------------------------------------------


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV (optionally compressed) or parquet table, with ids kept as text.

    What is unambiguous is read as meant: comment lines (``#``) before the header are
    skipped and stray spaces around header names are stripped. What is not gets one
    :class:`CatalogueError` naming the file and the likely cause: a semicolon-separated
    file (a spreadsheet's export in many locales), a header that is not unique once
    stripped, a table that does not parse.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"catalogue not found: {path}")
    suffixes = "".join(path.suffixes).lower()
    try:
        if suffixes.endswith(".parquet") or suffixes.endswith(".pq"):
            return _strip_header(pd.read_parquet(path), path)
        if ".csv" in suffixes or ".txt" in suffixes:
            skip = _leading_comment_lines(path)
            header = pd.read_csv(path, nrows=0, skiprows=skip).columns
            if len(header) == 1 and ";" in header[0]:
                raise CatalogueError(
                    f"{path}: the header has no commas but {header[0].count(';')} semicolons: the file looks "
                    "semicolon-separated (a spreadsheet export?); save it as comma-separated CSV"
                )
            text = {**_TEXT_COLUMNS, GZ2_ID_COLUMN: "string"}
            dtype = {name: text[name.strip()] for name in header if name.strip() in text}
            table = _strip_header(pd.read_csv(path, dtype=dtype, low_memory=False, skiprows=skip), path)
            if len(table.columns):
                first = table.iloc[:, 0].astype("string").str.lstrip().str.startswith("#").fillna(False)
                if first.any():
                    line = skip + 2 + int(np.flatnonzero(first.to_numpy())[0])
                    raise CatalogueError(
                        f"{path}: line {line} starts with '#': a comment inside the table; remove it "
                        "(comment lines are skipped only above the header)"
                    )
            return table
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, UnicodeDecodeError) as err:
        hint = ""
        if isinstance(err, pd.errors.ParserError) and "Expected" in str(err):
            hint = " (rows with more fields than the header: a comment line inside the table, or unquoted commas?)"
        raise CatalogueError(f"{path}: cannot be read as a table: {str(err).strip()}{hint}") from err
    except CatalogueError:
        raise
    except ValueError as err:
        raise CatalogueError(f"{path}: cannot be read as a table: {err}") from err
    raise CatalogueError(f"{path}: unknown catalogue format {suffixes!r}; use .csv or .parquet")


def _leading_comment_lines(path: Path) -> int:
    """How many lines starting with ``#`` (or empty) come before a CSV's header."""
    import pandas.io.common as pd_io

    with pd_io.get_handle(path, "r", compression="infer", encoding="utf-8", errors="replace") as handles:
        for n, line in enumerate(handles.handle):
            if line.strip() and not line.lstrip().startswith("#"):
                return n
    return 0


def _strip_header(table: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The table with stray spaces stripped from its column names (refused if that makes two alike)."""
    names = [str(c).strip() for c in table.columns]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise CatalogueError(f"{path}: column name(s) {', '.join(map(repr, repeated))} appear more than once")
    if names != list(table.columns):
        table.columns = names
    return table


ROOT_QUESTION = tree.QUESTIONS[0].name  # smooth-or-featured: every campaign asks it
_CAMPAIGN = re.compile(rf"^{re.escape(ROOT_QUESTION)}-([a-z0-9]+)_")


def campaigns(columns: Iterable[str]) -> list[str]:
    """The campaign suffixes of a Zoobot-layout table (``['dr5', 'dr8']``), in column order."""
    found = (_CAMPAIGN.match(c) for c in columns)
    return list(dict.fromkeys(m.group(1) for m in found if m))


def is_zoobot(columns: Iterable[str]) -> bool:
    """Zoobot / galaxy-datasets layout: campaign-suffixed vote columns, or the DR5 vote
    columns without suffix (GZ DESI) beside ``file_loc`` and without GZD-5's ``png_loc``."""
    columns = set(columns)
    if campaigns(columns):
        return True
    return (
        tree.CLASSIFICATIONS_COLUMN in columns
        and tree.IMAGE_COLUMN not in columns
        and (FILE_COLUMN in columns or {"subfolder", "filename"} <= columns)
    )


def detect_format(columns: Iterable[str]) -> str:
    """Which catalogue layout these columns are: Zoobot, GZD-5 (DR5, GZD-1/2 or automated), GZ2 Kaggle, or generic.

    (A folder or a Galaxy10 ``.h5`` file is told by its path: see :func:`read_catalogue`.)
    """
    columns = set(columns)
    if FILE_COLUMN in columns and LABEL_COLUMN in columns and not set(tree.vote_columns()) <= columns:
        # Labelled, images resolved, part of the vote block: a prepared catalogue (``galaxy-utils
        # prepare``'s output keeps the task's vote columns) is read by its labels, not as GZD-5.
        return GENERIC
    if is_zoobot(columns):
        return ZOOBOT
    # Before GZD-5: the GZD-1/2 table shares its total-votes columns.
    if tree.GZD_1_2.question("merging").count_column("tidal-debris") in columns:
        return GZD12
    if tree.CLASSIFICATIONS_COLUMN in columns:
        return GZD5
    # Before generic: it has file_loc and GZD-5 fraction columns, but holds a model's predictions.
    if _AUTO_MARKER in columns:
        return GZD5_AUTO
    if GZ2_ID_COLUMN in columns and "Class1.1" in columns:
        return GZ2_KAGGLE
    if FILE_COLUMN in columns or tree.IMAGE_COLUMN in columns:
        return GENERIC
    raise CatalogueError(
        "cannot tell the catalogue's format: expected GZD-5 vote columns "
        f"({tree.CLASSIFICATIONS_COLUMN!r}), the GZ2 Kaggle columns ('GalaxyID', 'Class1.1', ...), "
        "Zoobot / galaxy-datasets columns ('smooth-or-featured-dr5_smooth', ...) "
        f"or a generic table with a {FILE_COLUMN!r} column; name it with --format"
    )


def id_column(catalogue: pd.DataFrame) -> str:
    """The column that identifies galaxies in this catalogue."""
    for name in ID_CANDIDATES:
        if name in catalogue.columns:
            return name
    raise CatalogueError(f"no id column: expected one of {', '.join(ID_CANDIDATES)}")


ID_ATTR = "id_column"
"""``catalogue.attrs`` key of the canonical frame's id column (:func:`canonical_frame`)."""


def canonical_frame(catalogue: pd.DataFrame) -> pd.DataFrame:
    """Make ``catalogue`` the canonical frame every later stage reads: its id column
    detected once (:func:`id_column`) and recorded in ``attrs['id_column']``, beside the
    ``format`` and ``source`` that :func:`galaxy_utils.data.read.read_catalogue` records; its
    images go in ``file_loc`` (:func:`resolve_images`) and its labels in ``label``
    (:func:`galaxy_utils.data.labels.assign_labels`) or, for vote counts, its targets in the
    decision tree's count columns. Frames derived from it (rows selected, columns added)
    keep the record, so splitting, datasets, training, prediction and scoring never look
    for the columns again. A table with no id column is returned unrecorded (the stage
    that needs ids says so). Returns ``catalogue`` itself."""
    if catalogue.attrs.get(ID_ATTR) not in catalogue.columns:
        try:
            catalogue.attrs[ID_ATTR] = id_column(catalogue)
        except CatalogueError:
            catalogue.attrs.pop(ID_ATTR, None)
    return catalogue


def ids_of(catalogue: pd.DataFrame) -> str:
    """The id column of a frame: the one its canonical frame recorded (:func:`canonical_frame`),
    else detected (a frame made by hand)."""
    recorded = catalogue.attrs.get(ID_ATTR)
    if recorded is not None and recorded in catalogue.columns:
        return recorded
    return id_column(catalogue)


def image_column(catalogue: pd.DataFrame) -> str:
    """The column holding image paths: ``file_loc`` once resolved, else ``png_loc``."""
    for name in (FILE_COLUMN, tree.IMAGE_COLUMN):
        if name in catalogue.columns:
            return name
    raise CatalogueError(f"no image column: expected {FILE_COLUMN!r} or {tree.IMAGE_COLUMN!r}")


def describe_rows(catalogue: pd.DataFrame, mask: np.ndarray | pd.Series, limit: int = 5) -> str:
    """'rows 3 (J0814...), 7 (J0815...) and 12 more': row positions are 0-based data rows."""
    positions = np.flatnonzero(np.asarray(mask, dtype=bool))
    try:
        ids = catalogue[ids_of(catalogue)].to_numpy()
    except CatalogueError:
        ids = None
    shown = [f"{p} ({ids[p]})" if ids is not None else str(p) for p in positions[:limit]]
    more = f" and {len(positions) - limit} more" if len(positions) > limit else ""
    word = "row" if len(positions) == 1 else "rows"
    return f"{word} {', '.join(shown)}{more}"


def validate_gzd5(
    catalogue: pd.DataFrame,
    *,
    source: str = "catalogue",
    require_metadata: bool = True,
    tolerance: float = 1e-3,
    decision_tree: tree.DecisionTree = tree.DR5,
) -> pd.DataFrame:
    """Check a volunteer table against its published layout and return it with numeric votes.

    ``decision_tree`` is :data:`tree.DR5` (``gz_decals_volunteers_5``, the default) or
    :data:`tree.GZD_1_2` (``gz_decals_volunteers_1_and_2``).

    Errors: raises :class:`CatalogueError` listing every problem found, each naming the
    file, its column and the first bad rows: missing columns; non-numeric, negative,
    non-integer or empty vote counts; a total *smaller* than the sum of its answers (a total
    counts every volunteer who answered); fractions that disagree with count / total (a
    question with no votes must have an empty or zero fraction); debiased fractions outside
    [0, 1]; duplicated or empty ids.

    Accepted quirks of the real release (never an error; :func:`find_quirks` counts them for
    the preprocessing report): a total *larger* than the sum of its answers (votes for
    answers retired between campaigns; the published fractions are count / total all the
    same, and are used as published); empty debiased fractions where the question was
    asked (labels use the raw fractions); fractions of 0 rather than empty where nobody was
    asked (read as "not asked").

    ``require_metadata=False`` accepts a table with only the id, ``png_loc`` (where the
    tree's table has one) and the vote block (for example a user's cut-down copy).
    """
    problems: list[str] = []
    image = [tree.IMAGE_COLUMN] if tree.IMAGE_COLUMN in decision_tree.metadata_columns else []
    expected = decision_tree.columns() if require_metadata else [
        tree.ID_COLUMN, *image, *decision_tree.vote_columns()
    ]
    missing = [c for c in expected if c not in catalogue.columns]
    if missing:
        shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
        raise CatalogueError(
            f"{source}: not in the {decision_tree.label} layout ({decision_tree.name}): "
            f"{len(missing)} missing column(s): {shown}"
        )

    numeric: dict[str, pd.Series] = {}
    for column in decision_tree.vote_columns():
        raw = catalogue[column]
        values = pd.to_numeric(raw, errors="coerce")
        bad = raw.notna() & values.isna()
        if bad.any():
            problems.append(
                f"column {column!r} is not numeric: {describe_rows(catalogue, bad)} "
                f"(e.g. {raw[bad].iloc[0]!r})"
            )
        numeric[column] = values.astype("float64")

    for q in decision_tree.questions:
        total = numeric[q.total_column]
        answer_sum = sum(numeric[c].fillna(0) for c in q.count_columns)
        for column in [q.total_column, *q.count_columns]:
            values = numeric[column]
            empty = values.isna() & catalogue[column].isna()
            if empty.any():
                problems.append(
                    f"column {column!r} has empty vote counts (use 0 when nobody answered): "
                    f"{describe_rows(catalogue, empty)}"
                )
            negative = values < 0
            if negative.any():
                problems.append(f"column {column!r} has negative counts: {describe_rows(catalogue, negative)}")
            fractional = values.notna() & (values != np.round(values))
            if fractional.any():
                problems.append(
                    f"column {column!r} has non-integer counts: {describe_rows(catalogue, fractional)}"
                )
        # Larger than its answers is a quirk of the real release (find_quirks); smaller is an error.
        smaller = total.notna() & (total < answer_sum - 0.5)
        if smaller.any():
            first = np.flatnonzero(smaller.to_numpy())[0]
            problems.append(
                f"column {q.total_column!r} is smaller than the sum of its answer counts "
                f"(e.g. {total.iloc[first]:g} < {answer_sum.iloc[first]:g}): {describe_rows(catalogue, smaller)}"
            )
        asked = total > 0
        for answer in q.answers:
            count_name, frac_name = q.count_column(answer), q.fraction_column(answer)
            fraction = numeric[frac_name]
            expected_fraction = numeric[count_name] / total.where(asked)
            # An empty fraction where votes exist is *missing*, not contradictory: it is left
            # for drop_missing_labels to remove and report.
            wrong = asked & fraction.notna() & ((fraction - expected_fraction).abs() > tolerance)
            if wrong.any():
                problems.append(
                    f"column {frac_name!r} disagrees with {count_name!r} / {q.total_column!r}: "
                    f"{describe_rows(catalogue, wrong)}"
                )
            unasked_value = ~asked & fraction.notna() & (fraction != 0)
            if unasked_value.any():
                problems.append(
                    f"column {frac_name!r} has a fraction where {q.total_column!r} is 0: "
                    f"{describe_rows(catalogue, unasked_value)}"
                )
            debiased = numeric[q.debiased_column(answer)]
            outside = (debiased < -tolerance) | (debiased > 1 + tolerance)
            if outside.any():
                problems.append(
                    f"column {q.debiased_column(answer)!r} is outside [0, 1]: "
                    f"{describe_rows(catalogue, outside)}"
                )

    ids = catalogue[tree.ID_COLUMN]
    duplicated = ids.duplicated(keep="first") & ids.notna()
    if duplicated.any():
        problems.append(f"column 'iauname' has duplicated ids: {describe_rows(catalogue, duplicated)}")
    no_id = ids.isna()
    if no_id.any():
        problems.append(f"column 'iauname' is empty: {describe_rows(catalogue, no_id)}")

    if problems:
        listing = "\n  - ".join(problems)
        raise CatalogueError(
            f"{source}: {len(problems)} problem(s) with the {decision_tree.label} catalogue:\n  - {listing}"
        )
    # One block replacement rather than 120 column assignments (which fragment the frame).
    numeric_block = pd.DataFrame(numeric, index=catalogue.index)
    return pd.concat([catalogue.drop(columns=list(numeric)), numeric_block], axis=1)[list(catalogue.columns)]


def _fractions_in_unit_interval(catalogue: pd.DataFrame, columns, problems: list[str]) -> dict[str, pd.Series]:
    """Each of ``columns`` as float64; every empty, non-numeric or out-of-[0, 1] cell named in ``problems``."""
    numeric = {}
    for column in columns:
        values = pd.to_numeric(catalogue[column], errors="coerce").astype("float64")
        bad = values.isna()
        if bad.any():
            problems.append(f"column {column!r} is empty or not numeric: {describe_rows(catalogue, bad)}")
        outside = (values < 0) | (values > 1 + 1e-6)
        if outside.any():
            problems.append(f"column {column!r} is outside [0, 1]: {describe_rows(catalogue, outside)}")
        numeric[column] = values
    return numeric


def validate_gz2_kaggle(catalogue: pd.DataFrame, *, source: str = "catalogue") -> pd.DataFrame:
    """Check a Galaxy Zoo 2 Kaggle table (``training_solutions_rev1.csv``)."""
    missing = [c for c in (GZ2_ID_COLUMN, *GZ2_KAGGLE_COLUMNS) if c not in catalogue.columns]
    if missing:
        raise CatalogueError(f"{source}: not in the GZ2 Kaggle layout: missing column(s) {', '.join(missing)}")
    problems = []
    numeric = _fractions_in_unit_interval(catalogue, GZ2_KAGGLE_COLUMNS, problems)
    duplicated = catalogue[GZ2_ID_COLUMN].duplicated()
    if duplicated.any():
        problems.append(f"column 'GalaxyID' has duplicated ids: {describe_rows(catalogue, duplicated)}")
    if problems:
        listing = "\n  - ".join(problems)
        raise CatalogueError(f"{source}: {len(problems)} problem(s) with the GZ2 Kaggle catalogue:\n  - {listing}")
    return catalogue.assign(**numeric)


def validate_auto_posteriors(catalogue: pd.DataFrame, *, source: str = "catalogue") -> pd.DataFrame:
    """Check a ``gz_decals_auto_posteriors`` table: a model's predictions, not volunteer votes.

    Needs ``iauname``, ``file_loc`` and the predicted fraction of every DR5 answer; errors
    (naming file, column and first rows) for a missing column, a fraction that is empty, not
    numeric or outside [0, 1], and duplicated or empty ids. The ``_concentration`` lists (text)
    and the photometry (uncleaned in the release: negative fluxes, empty magnitudes) are
    kept as they are and not checked.
    """
    fractions = [c for q in tree.QUESTIONS for c in q.fraction_columns]
    expected = [tree.ID_COLUMN, tree.AUTO_IMAGE_COLUMN, *fractions]
    missing = [c for c in expected if c not in catalogue.columns]
    if missing:
        shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
        raise CatalogueError(
            f"{source}: not in the gz_decals_auto_posteriors layout: {len(missing)} missing column(s): {shown}"
        )
    problems = []
    numeric = _fractions_in_unit_interval(catalogue, fractions, problems)
    ids = catalogue[tree.ID_COLUMN]
    duplicated = ids.duplicated(keep="first") & ids.notna()
    if duplicated.any():
        problems.append(f"column 'iauname' has duplicated ids: {describe_rows(catalogue, duplicated)}")
    if ids.isna().any():
        problems.append(f"column 'iauname' is empty: {describe_rows(catalogue, ids.isna())}")
    if problems:
        listing = "\n  - ".join(problems)
        raise CatalogueError(f"{source}: {len(problems)} problem(s) with the automated posteriors:\n  - {listing}")
    return catalogue.assign(**numeric)


# --------------------------------------------------------------------------------------
# Quirks of the real release: accepted, counted, reported
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quirk:
    """A documented quirk of the real release found in a catalogue, and the rule that accepts it.

    ``rows`` is how many galaxies show it; ``examples`` the first few, as
    ``'J005650.84-010137.4 (35 > 32)'``. Nothing is removed for a quirk.
    """

    name: str
    column: str
    rule: str
    rows: int
    examples: tuple[str, ...]

    def format(self) -> str:
        more = f" and {self.rows - len(self.examples)} more" if self.rows > len(self.examples) else ""
        word = "row" if self.rows == 1 else "rows"
        return f"{self.column}: {self.name}: {self.rows} {word}, e.g. {', '.join(self.examples)}{more}"


TOTAL_LARGER_RULE = (
    "votes for answers retired between campaigns count in the total; fractions are count / total "
    "as published, so the retired votes count as 'not this answer'"
)
EMPTY_DEBIASED_RULE = "the release has no debiased value for these galaxies; labels use the raw fractions"
ZERO_UNASKED_RULE = "read as 'not asked', like an empty cell"


def _quirk(catalogue: pd.DataFrame, name: str, column: str, rule: str, mask: pd.Series,
           detail: Callable[[int], str] | None = None, limit: int = 3) -> Quirk | None:
    """The quirk on the rows of ``mask``, the first ``limit`` as examples (``detail(row)`` beside each id)."""
    positions = np.flatnonzero(np.asarray(mask, dtype=bool))
    if not len(positions):
        return None
    ids = catalogue[ids_of(catalogue)].to_numpy()
    examples = tuple(f"{ids[p]}" + (f" ({detail(p)})" if detail else "") for p in positions[:limit])
    return Quirk(name, column, rule, len(positions), examples)


def find_quirks(catalogue: pd.DataFrame, decision_tree: tree.DecisionTree | None = None) -> list[Quirk]:
    """The accepted quirks of the real release in a volunteer table, counted with example rows.

    :func:`validate_gzd5` accepts them; this function counts them so the preprocessing
    report can say how many galaxies each one touches (see ``tests/data/real/NOTICE.md``):

    * a question's total larger than the sum of its answers (GZD-5 ``merging``: votes for
      answers retired between campaigns), one entry per question;
    * debiased fractions empty although the question was asked;
    * fractions of 0 rather than empty where nobody was asked (the GZD-1/2 table).

    A catalogue of another format (no vote counts) has none.
    """
    if decision_tree is None:
        decision_tree = VOLUNTEER_TREES.get(catalogue_format(catalogue))
        if decision_tree is None:
            return []
    quirks: list[Quirk | None] = []
    empty_debiased = pd.Series(False, index=catalogue.index)
    zero_unasked = pd.Series(False, index=catalogue.index)
    for q in decision_tree.questions:
        if q.total_column not in catalogue.columns:
            continue
        total = pd.to_numeric(catalogue[q.total_column], errors="coerce")
        answers = sum(pd.to_numeric(catalogue[c], errors="coerce").fillna(0) for c in q.count_columns)
        larger = total > answers + 0.5
        quirks.append(_quirk(catalogue, "total larger than the sum of its answers", q.total_column,
                             TOTAL_LARGER_RULE, larger,
                             lambda p, total=total, answers=answers: f"{total.iloc[p]:g} > {answers.iloc[p]:g}"))
        for column in q.debiased_columns:
            if column in catalogue.columns:
                empty_debiased |= (total > 0) & catalogue[column].isna()
        for column in q.fraction_columns:
            if column in catalogue.columns:
                zero_unasked |= (total == 0) & (pd.to_numeric(catalogue[column], errors="coerce") == 0)
    quirks.append(_quirk(catalogue, "debiased fractions empty where the question was asked", "*_debiased",
                         EMPTY_DEBIASED_RULE, empty_debiased))
    quirks.append(_quirk(catalogue, "fractions 0, not empty, where nobody was asked", "*_fraction",
                         ZERO_UNASKED_RULE, zero_unasked))
    return [q for q in quirks if q is not None]


def png_loc_for(iauname: str) -> str:
    """``dr5/J081/J081412.47+220853.0.png``: the sub-folder is iauname's first 4 characters."""
    return f"dr5/{iauname[:4]}/{iauname}.png"


def build_gzd5_table(
    metadata: pd.DataFrame,
    counts: pd.DataFrame,
    debiased: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Assemble a catalogue in the exact published layout from answer counts.

    ``counts`` holds one column per answer (``{question}_{answer}``; missing ones are 0);
    totals and fractions are derived from them (fractions empty where a question got no
    votes), so they always agree. ``debiased`` defaults to the plain fractions.
    ``metadata`` must have ``iauname``; other metadata columns missing from it are left
    empty, and ``png_loc`` is derived from ``iauname`` when absent.
    """
    if tree.ID_COLUMN not in metadata.columns:
        raise CatalogueError("metadata needs an 'iauname' column")
    n = len(metadata)
    columns: dict[str, object] = {}
    for name in (*tree.METADATA_COLUMNS, *tree.TRAILING_COLUMNS):
        if name in metadata.columns:
            columns[name] = metadata[name].to_numpy()
        elif name == tree.IMAGE_COLUMN:
            columns[name] = [png_loc_for(i) for i in metadata[tree.ID_COLUMN]]
        else:
            columns[name] = np.full(n, np.nan)
    unknown = set(counts.columns) - {c for q in tree.QUESTIONS for c in q.count_columns}
    if unknown:
        raise CatalogueError(f"not GZD-5 answer columns: {', '.join(sorted(unknown))}")
    for q in tree.QUESTIONS:
        answer_counts = {
            c: (counts[c].to_numpy(dtype="int64") if c in counts.columns else np.zeros(n, dtype="int64"))
            for c in q.count_columns
        }
        total = sum(answer_counts.values())
        columns[q.total_column] = total
        with np.errstate(invalid="ignore", divide="ignore"):
            for answer, column in zip(q.answers, q.count_columns, strict=True):
                fraction = np.where(total > 0, answer_counts[column] / np.where(total > 0, total, 1), np.nan)
                debiased_name = tree.debiased_column(q.name, answer)
                columns[column] = answer_counts[column]
                columns[tree.fraction_column(q.name, answer)] = fraction
                columns[debiased_name] = (
                    debiased[debiased_name].to_numpy(dtype=float)
                    if debiased is not None and debiased_name in debiased.columns
                    else fraction
                )
    table = pd.DataFrame({name: columns[name] for name in tree.gzd5_columns()})
    table.attrs["format"] = GZD5
    return table


def catalogue_format(catalogue: pd.DataFrame) -> str:
    """The format recorded by :func:`read_catalogue`, or detected from the columns."""
    return catalogue.attrs.get("format") or detect_format(catalogue.columns)


# --------------------------------------------------------------------------------------
# Step reports
# --------------------------------------------------------------------------------------


@dataclass
class StepReport:
    """What one cleaning step did: rows in and out, and each removed galaxy with its reason."""

    step: str
    rows_in: int
    rows_out: int
    removed: pd.DataFrame  # columns: id, reason
    note: str = ""

    @property
    def n_removed(self) -> int:
        return self.rows_in - self.rows_out

    def reasons(self) -> pd.Series:
        """Rows removed per reason."""
        return self.removed["reason"].value_counts(sort=False)


@dataclass
class StepResult:
    catalogue: pd.DataFrame
    report: StepReport


def _step_result(
    step: str, before: pd.DataFrame, keep: pd.Series, reasons: pd.Series | str, note: str = ""
) -> StepResult:
    """Split ``before`` by the boolean ``keep`` and record the dropped ids with reasons."""
    keep = pd.Series(np.asarray(keep, dtype=bool), index=before.index)
    ids = before[ids_of(before)] if len(before.columns) else pd.Series(dtype="string")
    if isinstance(reasons, str):
        reasons = pd.Series(reasons, index=before.index)
    removed = pd.DataFrame({"id": ids[~keep].astype("string"), "reason": reasons[~keep].astype("string")})
    after = before[keep.to_numpy()].copy()
    after.attrs = dict(before.attrs)
    report = StepReport(step, len(before), len(after), removed.reset_index(drop=True), note)
    return StepResult(after, report)


@dataclass
class PreprocessingLog:
    """Runs cleaning steps in order and keeps their reports.

    >>> log = PreprocessingLog()
    >>> catalogue = log.apply(filter_by_total_votes, catalogue, min_votes=5)  # doctest: +SKIP
    >>> log.table()  # doctest: +SKIP
    """

    reports: list[StepReport] = field(default_factory=list)
    quirks: list[Quirk] = field(default_factory=list)
    """Accepted quirks of the real release found in the input (:func:`find_quirks`): counted, nothing removed."""
    notes: list[str] = field(default_factory=list)
    """What the reader must know about the input, e.g. that its labels are a model's predictions."""

    def apply(self, step: Callable[..., StepResult], catalogue: pd.DataFrame, *args, **kwargs) -> pd.DataFrame:
        result = step(catalogue, *args, **kwargs)
        self.reports.append(result.report)
        return result.catalogue

    @property
    def rows_in(self) -> int:
        return self.reports[0].rows_in if self.reports else 0

    @property
    def rows_out(self) -> int:
        return self.reports[-1].rows_out if self.reports else 0

    def table(self) -> pd.DataFrame:
        """One row per (step, reason): rows removed, and rows left after the step."""
        rows = []
        for report in self.reports:
            counts = report.reasons()
            if counts.empty:
                rows.append((report.step, report.note or "-", 0, report.rows_out))
            for reason, n in counts.items():
                rows.append((report.step, reason, int(n), report.rows_out))
        return pd.DataFrame(rows, columns=["step", "reason", "removed", "rows_left"])

    def removed(self) -> pd.DataFrame:
        """Every removed galaxy with the step and reason that removed it."""
        frames = [r.removed.assign(step=r.step) for r in self.reports if len(r.removed)]
        if not frames:
            return pd.DataFrame(columns=["id", "reason", "step"])
        return pd.concat(frames, ignore_index=True)

    def quirks_table(self) -> pd.DataFrame:
        """One row per accepted quirk: column, what it is, galaxies, examples and the rule applied."""
        rows = [(q.column, q.name, q.rows, ", ".join(q.examples), q.rule) for q in self.quirks]
        return pd.DataFrame(rows, columns=["column", "quirk", "rows", "examples", "rule"])

    def format(self) -> str:
        table = self.table()
        lines = [f"note: {note}" for note in self.notes]
        if self.quirks:
            lines.append("accepted quirks of the real release (counted, nothing removed):")
            for quirk in self.quirks:
                lines += [f"  {quirk.format()}", f"    rule: {quirk.rule}"]
        lines.append(f"rows in: {self.rows_in}")
        for row in table.itertuples(index=False):
            lines.append(f"  {row.step:<24} -{row.removed:<7} {row.reason}  (left: {row.rows_left})")
        lines.append(f"rows out: {self.rows_out}")
        return "\n".join(lines)

    __str__ = format


# --------------------------------------------------------------------------------------
# The course project's cleaning steps
# --------------------------------------------------------------------------------------

DEFAULT_MIN_VOTES = 5
"""Below five classifications one volunteer moves a vote fraction by 0.25 or more, so a
confidence threshold of 0.6 would decide on one or two people. GZD-5's totals cluster at 5
and 40; raise this to 30 to keep only the well-sampled group."""


def filter_by_total_votes(
    catalogue: pd.DataFrame,
    min_votes: int = DEFAULT_MIN_VOTES,
    column: str = tree.CLASSIFICATIONS_COLUMN,
) -> StepResult:
    """(a) Keep galaxies classified by at least ``min_votes`` volunteers."""
    if column not in catalogue.columns:
        raise CatalogueError(f"cannot filter by votes: no column {column!r}")
    votes = pd.to_numeric(catalogue[column], errors="coerce").fillna(0)
    keep = votes >= min_votes
    return _step_result("filter by total votes", catalogue, keep, f"fewer than {min_votes} votes")


def keep_label_columns(catalogue: pd.DataFrame, columns: Sequence[str]) -> StepResult:
    """(b) Keep the id, image and metadata columns plus the label columns a task needs.

    The total-votes column of every question in ``columns`` is kept too. Removes no rows;
    the report's note says how many columns were dropped.
    """
    missing = [c for c in columns if c not in catalogue.columns]
    if missing:
        raise CatalogueError(f"the catalogue lacks label column(s) the task needs: {', '.join(missing)}")
    metadata = (*tree.METADATA_COLUMNS, *tree.GZD_1_2.metadata_columns, *ID_CANDIDATES)
    keep_first = [c for c in dict.fromkeys(metadata) if c in catalogue.columns]
    # A fraction travels with its question's total: only the total tells an unasked
    # question (empty by design) from a missing value.
    totals = [t for t in map(_total_for, columns) if t is not None and t in catalogue.columns]
    kept = list(dict.fromkeys([*keep_first, *totals, *columns]))
    after = catalogue[kept].copy()
    after.attrs = dict(catalogue.attrs)
    dropped = len(catalogue.columns) - len(kept)
    report = StepReport(
        "keep label columns", len(catalogue), len(after),
        pd.DataFrame({"id": pd.Series(dtype="string"), "reason": pd.Series(dtype="string")}),
        note=f"kept {len(kept)} columns, dropped {dropped}",
    )
    return StepResult(after, report)


def _total_for(column: str) -> str | None:
    """The total-votes column governing a GZD-5 (DR5 or GZD-1/2) fraction column, if it is one."""
    for decision_tree in tree.TREES.values():
        for q in decision_tree.questions:
            if column in q.fraction_columns or column in q.debiased_columns:
                return q.total_column
    return None


def drop_missing_labels(
    catalogue: pd.DataFrame, columns: Sequence[str], *, unasked: str = "keep"
) -> StepResult:
    """(c) Drop galaxies with an empty (NaN) value in any of ``columns``.

    An empty fraction is *expected* when nobody was asked the question (its total-votes is
    0: the volunteers went down another branch of the tree). With ``unasked='keep'`` (the
    default) those cells do not count as missing, and the labels treat them as a fraction
    of 0. ``unasked='drop'`` reproduces a naive ``dropna()``; that removes every galaxy no
    volunteer called featured, i.e. most confident ellipticals, and biases the classes.
    """
    if unasked not in ("keep", "drop"):
        raise ValueError("unasked must be 'keep' or 'drop'")
    absent = [c for c in columns if c not in catalogue.columns]
    if absent:
        raise CatalogueError(f"cannot check labels: no column(s) {', '.join(absent)}")
    reasons = pd.Series(pd.NA, index=catalogue.index, dtype="string")
    for column in columns:
        empty = catalogue[column].isna()
        total = _total_for(column)
        if unasked == "keep" and total is not None and total in catalogue.columns:
            unasked_rows = pd.to_numeric(catalogue[total], errors="coerce").fillna(0) == 0
            root = total == tree.CLASSIFICATIONS_COLUMN
            # The first question is asked of everyone: no votes there means no labels at all.
            if not root:
                empty &= ~unasked_rows
        new = empty & reasons.isna()
        reasons[new] = f"empty {column}"
    keep = reasons.isna()
    return _step_result("drop missing labels", catalogue, keep, reasons.fillna(""))


# --------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------

VERIFY_MODES = ("exists", "verify", "decode")


def image_candidates(location: str, image_root: Path, part_dirs: Sequence[Path] | None = None) -> list[Path]:
    """Where an image named by ``png_loc``/``file_loc`` may sit under ``image_root``.

    ``png_loc`` says ``dr5/J081/<iauname>.png``; the published archives unpack to
    ``gz_decals_dr5_png_partN/J081/<iauname>.png``. Both are tried, and the bare
    ``J081/<iauname>.png`` tail and file name; an absolute path is taken as it is. Stray
    spaces around the location are ignored and Windows backslashes read as separators.
    """
    path = Path(clean_location(location))
    if path.is_absolute():
        return [path]
    if part_dirs is None:
        part_dirs = sorted(image_root.glob("gz_decals_dr5_png_part*"))
    tail = Path(*path.parts[-2:]) if len(path.parts) >= 2 else path
    candidates = [image_root / path, image_root / tail, *(part / tail for part in part_dirs)]
    candidates.append(image_root / path.name)
    return list(dict.fromkeys(candidates))


def clean_location(location: str) -> str:
    """An image location as written by hand or on Windows, made a POSIX path:
    ``' dr5\\J081\\x.png '`` -> ``'dr5/J081/x.png'``."""
    return location.strip().replace("\\", "/")


def check_image(path: Path, verify: str = "decode") -> str | None:
    """None if the image at ``path`` is usable, else why not (for the removal report)."""
    if verify == "exists":
        return None if path.is_file() else "image file missing"
    try:
        with Image.open(path) as image:
            if verify == "decode":
                image.load()
            else:
                image.verify()
    except FileNotFoundError:
        return "image file missing"
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        return f"image cannot be decoded ({type(err).__name__})"
    return None


def resolve_images(
    catalogue: pd.DataFrame,
    image_root: str | os.PathLike,
    *,
    verify: str = "decode",
    workers: int | None = None,
    progress: bool = False,
) -> StepResult:
    """(d) Find each galaxy's image under ``image_root`` and drop those missing or broken.

    Sets ``file_loc`` to the absolute path found. ``verify`` is ``'exists'`` (only look),
    ``'verify'`` (Pillow's structural check: fast, catches truncated PNGs) or
    ``'decode'`` (decode every pixel, the strict default). Decoding runs on a thread pool:
    Pillow releases the GIL while it decodes.
    """
    if verify not in VERIFY_MODES:
        raise ValueError(f"verify must be one of {VERIFY_MODES}")
    root = Path(image_root)
    if not root.is_dir():
        raise FileNotFoundError(f"image root is not a folder: {root}")
    column = image_column(catalogue)
    part_dirs = sorted(root.glob("gz_decals_dr5_png_part*"))

    def locate(location) -> Path | None:
        if not isinstance(location, str) or not location.strip():
            return None
        return next((c for c in image_candidates(location, root, part_dirs) if c.is_file()), None)

    locations = catalogue[column].tolist()
    found = [locate(loc) for loc in locations]
    if len(found) and all(p is None for p in found):
        raise CatalogueError(_no_image_found(catalogue, column, root, part_dirs))
    reasons = ["image file missing" if p is None else None for p in found]
    to_check = [i for i, p in enumerate(found) if p is not None]
    if verify != "exists" and to_check:
        with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
            results = pool.map(lambda i: check_image(found[i], verify), to_check)
            if progress:
                from tqdm.auto import tqdm

                results = tqdm(results, total=len(to_check), desc="checking images", unit="img")
            for i, reason in zip(to_check, results, strict=True):
                reasons[i] = reason
    reasons_series = pd.Series(reasons, index=catalogue.index, dtype="string")
    keep = reasons_series.isna()
    with_paths = catalogue.assign(**{FILE_COLUMN: [str(p.resolve()) if p else pd.NA for p in found]})
    with_paths.attrs = dict(catalogue.attrs)
    return _step_result("resolve images", with_paths, keep, reasons_series.fillna(""))


def _no_image_found(catalogue: pd.DataFrame, column: str, root: Path, part_dirs: Sequence[Path]) -> str:
    """The message for a catalogue none of whose images is under ``root``: where it looked
    and one path it tried (almost always a wrong ``--image-root``)."""
    given = [loc for loc in catalogue[column] if isinstance(loc, str) and loc.strip()]
    if not given:
        return f"no image was found: column {column!r} is empty in all {len(catalogue)} rows"
    tried = image_candidates(given[0], root, part_dirs)[0]
    return (
        f"no image was found for any of the {len(catalogue)} galaxies under the image root {root}: "
        f"e.g. {column} {given[0]!r} was looked for as {tried} (is --image-root the folder {column} is relative to?)"
    )
