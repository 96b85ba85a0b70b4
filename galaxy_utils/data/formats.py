"""The catalogues people download today, read into the project's catalogue DataFrame.

:func:`galaxy_utils.data.read.read_catalogue` reads the published GZD-5 table, the GZ2
Kaggle table and a generic ``file_loc`` + ``label`` table itself; this module adds:

* **zoobot**: the galaxy-datasets / Zoobot layout (``id_str``, ``file_loc`` or
  ``subfolder`` + ``filename``, vote columns with a campaign suffix such as
  ``smooth-or-featured-dr5_smooth`` and ``smooth-or-featured-dr5_total-votes``). Each
  question whose answers are the DR5 tree's (:mod:`galaxy_utils.data.tree`) is renamed onto
  it, so the four-class, three-class and vote-count labels work unchanged; questions
  that cannot be mapped are reported, never guessed.
* **galaxy10**: Galaxy10 DECaLS (``Galaxy10_DECals.h5``: ``images`` uint8 N x 256 x 256
  x 3 and ``ans`` 0-9). Its ten classes are mapped onto each task's classes where they
  correspond; the images are written once to PNGs under the image root, so ``file_loc``
  stays the currency between stages.
* **folders**: a folder of images in class sub-folders (``root/<class>/*.jpg``); the
  folder names are matched to the task's classes (case-insensitive, with the common
  synonyms listed in :data:`CLASS_SYNONYMS`).

Every reader records what it found in ``attrs['notes']`` (printed by ``galaxy-utils``)
and stops on bad input with one :class:`~galaxy_utils.data.catalogue.CatalogueError` naming
the file, column or rows.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from galaxy_utils.data import labels, tree
from galaxy_utils.data.catalogue import (
    FILE_COLUMN,
    FOLDERS,
    GALAXY10,
    LABEL_COLUMN,
    ROOT_QUESTION,
    ZOOBOT,
    CatalogueError,
    StepReport,
    StepResult,
    _step_result,
    campaigns,
    describe_rows,
)
from galaxy_utils.data.files import written_atomically

GIVEN_CLASS_COLUMN = "given_class"
"""The class name a Galaxy10 file or a class folder gives a galaxy, before it is mapped
onto a task's classes."""

# --------------------------------------------------------------------------------------
# Detection
# --------------------------------------------------------------------------------------

H5_SUFFIXES = (".h5", ".hdf5")


def detect_path_format(path: str | os.PathLike) -> str | None:
    """``folders`` for a folder, ``galaxy10`` for an HDF5 file, else None (a table)."""
    path = Path(path)
    if path.is_dir():
        return FOLDERS
    if path.suffix.lower() in H5_SUFFIXES:
        return GALAXY10
    return None


# --------------------------------------------------------------------------------------
# Zoobot / galaxy-datasets
# --------------------------------------------------------------------------------------

# Answers a campaign only renamed (Zoobot's label_metadata: "completely was renamed to
# round"); every other answer must match the DR5 tree's exactly for a question to map.
CAMPAIGN_ANSWER_ALIASES: dict[str, dict[str, dict[str, str]]] = {
    "dr12": {"how-rounded": {"completely": "round"}},
    "gz2": {"how-rounded": {"cigar": "cigar-shaped"}},
}

ZOOBOT_ID_COLUMN = "id_str"


def _campaign_prefix(question: str, campaign: str) -> str:
    return f"{question}-{campaign}_" if campaign else f"{question}_"


def campaign_name(campaigns_used: str) -> str:
    """'-dr5', '-dr5+-dr8', or 'none (DR5 question names)' for ``attrs['campaign']``."""
    if not campaigns_used:
        return "none (DR5 question names)"
    return "+".join(f"-{c}" for c in campaigns_used.split("+"))


def campaign_columns(columns: Iterable[str], question: str, campaign: str) -> dict[str, dict[str, str]]:
    """``{'count': {answer: column}, 'fraction': {...}, 'total': {'': column}}`` for one
    question of one campaign, answers renamed onto the DR5 tree where only renamed."""
    prefix = _campaign_prefix(question, campaign)
    aliases = CAMPAIGN_ANSWER_ALIASES.get(campaign, {}).get(question, {})
    found: dict[str, dict[str, str]] = {"count": {}, "fraction": {}, "total": {}}
    for column in columns:
        if not column.startswith(prefix):
            continue
        answer, _, kind = column[len(prefix):].partition("_")
        if answer == "total-votes" and not kind:
            found["total"][""] = column
        elif kind in ("", "fraction"):
            found["count" if not kind else "fraction"][aliases.get(answer, answer)] = column
    return found


def _counts(table: pd.DataFrame, column: str, problems: list[str]) -> pd.Series:
    """A vote-count column as floats (empty: 0); non-numeric or negative cells go to ``problems``."""
    raw = table[column]
    values = pd.to_numeric(raw, errors="coerce")
    bad = raw.notna() & values.isna()
    if bad.any():
        problems.append(f"column {column!r} is not numeric: {describe_rows(table, bad)} (e.g. {raw[bad].iloc[0]!r})")
    negative = values < 0
    if negative.any():
        problems.append(f"column {column!r} has negative counts: {describe_rows(table, negative)}")
    return values.fillna(0).astype("float64")


def read_zoobot(table: pd.DataFrame, *, source: str = "catalogue") -> pd.DataFrame:
    """A Zoobot / galaxy-datasets table with its votes renamed onto the DR5 tree.

    Campaigns whose every question is the DR5 tree's (``dr5``, ``dr8``, or no suffix) are
    used and, when several are present, their votes added (the same questions, asked
    again). Without one, the campaign mapping the most questions is used (``dr12``: all
    but bar, bulge-size, spiral-arm-count and merging; ``gz2``: no merging question, so
    no four-class labels). For each mapped question the result has the project's
    ``{question}_total-votes``, ``{question}_{answer}`` and ``{question}_{answer}_fraction``
    columns (fractions are count / total-votes, empty where nobody was asked); the
    campaign columns are dropped. ``attrs['campaign']`` names the campaign(s) used and
    ``attrs['notes']`` what was and was not mapped.
    """
    columns = list(table.columns)
    found = campaigns(columns) or [""]
    mapped: dict[str, list[str]] = {}  # campaign -> mapped questions
    unmapped: dict[str, list[str]] = {}
    for campaign in found:
        mapped[campaign], unmapped[campaign] = [], []
        for q in tree.QUESTIONS:
            counts = campaign_columns(columns, q.name, campaign)["count"]
            if set(counts) == set(q.answers):
                mapped[campaign].append(q.name)
            elif counts:
                unmapped[campaign].append(
                    f"{q.name} (answers {', '.join(sorted(counts))}; the DR5 tree has {', '.join(q.answers)})"
                )
            else:
                unmapped[campaign].append(f"{q.name} (not in the table)")
    full = [c for c in found if len(mapped[c]) == len(tree.QUESTIONS)]
    used = full or [max(found, key=lambda c: len(mapped[c]))]
    if not mapped[used[0]]:
        raise CatalogueError(
            f"{source}: no question of the Zoobot layout maps onto the DR5 tree: expected count columns such as "
            f"'{_campaign_prefix(ROOT_QUESTION, found[0])}smooth' for every answer of a question"
        )
    questions = [q for q in tree.QUESTIONS if q.name in mapped[used[0]]]

    problems: list[str] = []
    block: dict[str, pd.Series] = {}
    larger_totals = pd.Series(False, index=table.index)
    for q in questions:
        per_campaign = [campaign_columns(columns, q.name, c) for c in used]
        counts = {
            a: sum(_counts(table, cols["count"][a], problems) for cols in per_campaign)
            for a in q.answers
        }
        answer_sum = sum(counts.values())
        if all(cols["total"] for cols in per_campaign):
            total = sum(_counts(table, cols["total"][""], problems) for cols in per_campaign)
            smaller = total < answer_sum - 0.5
            if smaller.any():
                problems.append(
                    f"{', '.join(cols['total'][''] for cols in per_campaign)} smaller than the sum of its answer "
                    f"counts: {describe_rows(table, smaller)}"
                )
            larger_totals |= total > answer_sum + 0.5
        else:
            total = answer_sum
        block[q.total_column] = total
        for answer in q.answers:
            block[tree.count_column(q.name, answer)] = counts[answer]
            block[tree.fraction_column(q.name, answer)] = counts[answer] / total.where(total > 0)
    if problems:
        listing = "\n  - ".join(dict.fromkeys(problems))
        raise CatalogueError(f"{source}: {len(problems)} problem(s) with the Zoobot catalogue:\n  - {listing}")

    # Dropped: every campaign's question columns, DR5 tree's or not (something-odd-gz2, ...),
    # and DR5-named vote columns already there, which the mapped campaign's votes replace.
    unsuffixed = {c for q in tree.QUESTIONS for c in columns if c.startswith(_campaign_prefix(q.name, ""))}
    vote_cols = set(unsuffixed)
    if found != [""]:
        vote_cols |= {c for c in columns if re.match(rf"^[a-z0-9-]+-({'|'.join(found)})_", c)}
    rest = table[[c for c in columns if c not in vote_cols]]
    if FILE_COLUMN not in rest.columns:
        if {"subfolder", "filename"} <= set(rest.columns):  # galaxy-datasets adds file_loc when it loads
            rest = rest.assign(**{FILE_COLUMN: rest["subfolder"].astype("string") + "/" + rest["filename"]})
        elif tree.IMAGE_COLUMN in rest.columns:
            rest = rest.rename(columns={tree.IMAGE_COLUMN: FILE_COLUMN})
        else:
            raise CatalogueError(f"{source}: no image column: expected {FILE_COLUMN!r} or 'subfolder' + 'filename'")
    ids = next((c for c in (tree.ID_COLUMN, ZOOBOT_ID_COLUMN, "id") if c in rest.columns), None)
    if ids is not None:
        duplicated = rest[ids].duplicated() & rest[ids].notna()
        if duplicated.any():
            raise CatalogueError(f"{source}: column {ids!r} has duplicated ids: {describe_rows(rest, duplicated)}")
    result = pd.concat([rest, pd.DataFrame(block, index=table.index)], axis=1)

    name = campaign_name("+".join(used))
    notes = [f"campaign suffix {name}: {len(questions)} of {len(tree.QUESTIONS)} questions mapped onto the DR5 tree"]
    if len(used) > 1:
        notes.append(f"campaigns {', '.join(used)} ask the same questions: their votes are added")
    for campaign in used if len(questions) < len(tree.QUESTIONS) else []:
        notes.append(f"not mapped from -{campaign}: " + "; ".join(unmapped[campaign]))
    if unsuffixed and found != [""]:
        notes.append(f"{len(unsuffixed)} vote columns without a campaign suffix replaced by the {name} votes")
    for campaign in (c for c in found if c not in used):
        notes.append(f"campaign -{campaign} present but not used ({len(mapped[campaign])} questions map)")
    if larger_totals.any():
        notes.append(
            f"{int(larger_totals.sum())} galaxies have a total-votes larger than the sum of its answers "
            "(votes for answers the campaign's tree no longer has); fractions are count / total-votes"
        )
    result.attrs.update(format=ZOOBOT, source=source, campaign="+".join(used), notes=notes)
    return result


def require_questions(catalogue: pd.DataFrame, task_name: str) -> None:
    """Stop with the questions a task needs that the catalogue's campaign did not map."""
    missing = [q for q in labels.task(task_name).questions if tree.total_column(q) not in catalogue.columns]
    if missing:
        campaign = campaign_name(catalogue.attrs.get("campaign", ""))
        raise CatalogueError(
            f"the {task_name} task needs the question(s) {', '.join(missing)}, which campaign "
            f"{campaign} of this catalogue does not ask in the DR5 tree's form"
        )


# --------------------------------------------------------------------------------------
# Class names: Galaxy10 DECaLS and class folders
# --------------------------------------------------------------------------------------

GALAXY10_CLASSES: tuple[str, ...] = (
    "Disturbed",
    "Merging",
    "Round Smooth",
    "In-between Round Smooth",
    "Cigar Shaped Smooth",
    "Barred Spiral",
    "Unbarred Tight Spiral",
    "Unbarred Loose Spiral",
    "Edge-on without Bulge",
    "Edge-on with Bulge",
)
"""Galaxy10 DECaLS's classes, in the order of its ``ans`` values 0-9 (Leung & Bovy)."""

# Each Galaxy10 class's class in each task; a class not listed has none and is dropped
# (and reported). The mapping follows the project's own labels (labels.py):
# - three-class 'round' is a smooth galaxy volunteers called round, so in-between and
#   cigar-shaped smooth galaxies are not round; disturbed and merging galaxies are none of
#   spiral / round / edge-on.
# - four-class 'elliptical' is any confidently smooth galaxy, whatever its roundness;
#   'irregular' is a major disturbance or a merger; edge-on disks belong to no four-class
#   class (seen from the side a spiral and a lenticular look alike), and no Galaxy10 class
#   is a lenticular, so that class gets no galaxies.
GALAXY10_TASK_CLASSES: dict[str, dict[str, str]] = {
    labels.THREE_CLASS: {
        "Round Smooth": "round",
        "Barred Spiral": "spiral",
        "Unbarred Tight Spiral": "spiral",
        "Unbarred Loose Spiral": "spiral",
        "Edge-on without Bulge": labels.EDGE_ON,
        "Edge-on with Bulge": labels.EDGE_ON,
    },
    labels.FOUR_CLASS: {
        "Disturbed": "irregular",
        "Merging": "irregular",
        "Round Smooth": "elliptical",
        "In-between Round Smooth": "elliptical",
        "Cigar Shaped Smooth": "elliptical",
        "Barred Spiral": "spiral",
        "Unbarred Tight Spiral": "spiral",
        "Unbarred Loose Spiral": "spiral",
    },
}

# Folder names (normalised: lower case, hyphens) each class answers to. A synonym is used
# only by a task that has that class, and no synonym names two classes of one task.
# 'early-type' and 'late-type' are deliberately absent: early types include lenticulars,
# and late types irregulars, so neither names one class of either task.
CLASS_SYNONYMS: dict[str, tuple[str, ...]] = {
    "elliptical": ("elliptical", "round", "smooth", "round-smooth", "smooth-round"),
    "round": ("round", "elliptical", "smooth", "round-smooth", "smooth-round", "completely-round"),
    "spiral": ("spiral", "spiral-galaxy"),
    labels.EDGE_ON: ("edge-on", "edgeon", "edge", "edge-on-disk", "edge-on-disc"),
    "lenticular": ("lenticular", "s0"),
    "irregular": ("irregular", "irr", "merger", "merging", "disturbed"),
    labels.UNCERTAIN: ("uncertain", "unsure"),
    labels.ARTIFACT: ("artifact", "artefact", "star"),
}


def folder_class_map(task_name: str) -> dict[str, str]:
    """Normalised folder name -> class, for a task (with 'uncertain' and 'artifact')."""
    classes = [*labels.task(task_name).classes, labels.UNCERTAIN, labels.ARTIFACT]
    mapping: dict[str, str] = {}
    for name in classes:
        for synonym in CLASS_SYNONYMS.get(name, (name,)):
            mapping.setdefault(synonym, name)
    return mapping


def match_folder(name: str, mapping: dict[str, str]) -> str | None:
    """A folder name's class: 'Spirals', '0_spiral', 'Edge_on' all match 'spiral'/'edge-on'."""
    key = labels.normalise_label(name)
    key = re.sub(r"^(class-)?\d+-", "", key)  # numbered folders: 0_elliptical, class_1_spiral
    for candidate in (key, key.removesuffix("s"), key.removesuffix("es")):
        if candidate in mapping:
            return mapping[candidate]
    return None


def label_named_classes(catalogue: pd.DataFrame, task_name: str) -> StepResult:
    """Map each galaxy's given class (Galaxy10 class or folder name) onto the task's classes.

    Galaxies whose class has no counterpart in the task are removed, and the removal
    report names the class: ``Galaxy10 class 'Disturbed' is not a three-class class``.
    """
    fmt = catalogue.attrs.get("format")
    given = catalogue[GIVEN_CLASS_COLUMN].astype("string")
    if fmt == GALAXY10:
        mapping = GALAXY10_TASK_CLASSES[labels.task(task_name).name]
        label = given.map(mapping.get, na_action="ignore").astype("string")
        what = "Galaxy10 class"
    else:
        folder_map = folder_class_map(task_name)
        names = {name: match_folder(name, folder_map) for name in given.dropna().unique()}
        label = given.map(names.get, na_action="ignore").astype("string")
        what = "folder"
        if label.isna().all():
            raise CatalogueError(
                f"{catalogue.attrs.get('source', 'catalogue')}: no class folder matches a {task_name} class: "
                f"found {', '.join(sorted(names))}; the classes are {', '.join(labels.task(task_name).classes)}"
            )
    reasons = f"{what} '" + given.fillna("?") + f"' is not a {task_name} class"
    labelled = catalogue.assign(**{LABEL_COLUMN: label})
    labelled.attrs = dict(catalogue.attrs)
    return _step_result(f"map {what} names", labelled, label.notna(), reasons)


# --------------------------------------------------------------------------------------
# Galaxy10 DECaLS
# --------------------------------------------------------------------------------------

GALAXY10_SDSS_SIZE = 69
MANIFEST_NAME = "galaxy10_source.json"


def read_galaxy10(path: str | os.PathLike) -> pd.DataFrame:
    """A Galaxy10 DECaLS ``.h5`` file as a catalogue: one row per image.

    Columns: ``id`` (the row in the file), ``ans``, ``given_class`` (its name),
    ``file_loc`` (``<file stem>/<id>.png``, relative to the image root, where
    :func:`extract_galaxy10_images` writes it) and ``ra``, ``dec``, ``redshift`` when the
    file has them. The pixels stay in the file until then.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"catalogue not found: {path}")
    try:
        with h5py.File(path, "r") as h5:
            missing = [name for name in ("images", "ans") if name not in h5]
            if missing:
                raise CatalogueError(
                    f"{path}: not a Galaxy10 file: no dataset(s) {', '.join(missing)} "
                    f"(it has {', '.join(sorted(h5)) or 'none'})"
                )
            images, ans = h5["images"], np.asarray(h5["ans"])
            shape, dtype = images.shape, images.dtype
            extra = {
                name: np.asarray(h5[name]) for name in ("ra", "dec", "redshift")
                if name in h5 and h5[name].shape == (len(ans),)
            }
    except OSError as err:
        raise CatalogueError(f"{path}: cannot be read as an HDF5 file: {err}") from err
    if len(shape) != 4 or shape[-1] != 3 or dtype != np.uint8:
        raise CatalogueError(f"{path}: dataset 'images' is {dtype} {shape}; Galaxy10 has uint8 N x H x W x 3")
    if ans.ndim != 1 or len(ans) != shape[0]:
        raise CatalogueError(f"{path}: dataset 'ans' has shape {ans.shape} but 'images' holds {shape[0]} images")
    if shape[1:3] == (GALAXY10_SDSS_SIZE, GALAXY10_SDSS_SIZE):
        raise CatalogueError(
            f"{path}: {GALAXY10_SDSS_SIZE}x{GALAXY10_SDSS_SIZE} images: this is Galaxy10 SDSS, whose ten classes "
            "differ from Galaxy10 DECaLS'; only Galaxy10 DECaLS (Galaxy10_DECals.h5) is supported"
        )
    outside = (ans < 0) | (ans >= len(GALAXY10_CLASSES)) | (ans != np.round(ans))
    if outside.any():
        raise CatalogueError(
            f"{path}: dataset 'ans' has values outside 0-9: rows {', '.join(map(str, np.flatnonzero(outside)[:5]))}"
        )
    ans = ans.astype("int64")
    width = max(5, len(str(len(ans) - 1)))
    ids = [str(i) for i in range(len(ans))]
    table = pd.DataFrame({
        "id": pd.Series(ids, dtype="string"),
        "ans": ans,
        GIVEN_CLASS_COLUMN: pd.Series(np.array(GALAXY10_CLASSES, dtype=object)[ans], dtype="string"),
        FILE_COLUMN: pd.Series([f"{path.stem}/{i:0{width}d}.png" for i in range(len(ans))], dtype="string"),
        **extra,
    })
    counts = Counter(table[GIVEN_CLASS_COLUMN])
    notes = [
        f"Galaxy10 DECaLS: {len(table)} images of {shape[1]}x{shape[2]} pixels inside the file; written to PNGs "
        f"under the image root ({path.stem}/) the first time they are needed",
        "classes: " + ", ".join(f"{name} {counts[name]}" for name in GALAXY10_CLASSES if counts[name]),
    ]
    table.attrs.update(
        format=GALAXY10, source=str(path), notes=notes, h5=str(path.resolve()),
        galaxy10_sha1=hashlib.sha1(ans.tobytes() + repr(shape).encode()).hexdigest(),
    )
    return table


def extract_galaxy10_images(
    catalogue: pd.DataFrame, image_root: str | os.PathLike, *, progress: bool = False, chunk: int = 256
) -> StepResult:
    """Write the catalogue's Galaxy10 images to PNGs under ``image_root``, once.

    Resumable: a PNG already there is kept (each is written to a temporary name and
    renamed, so one is never half-written), and a folder is only written into when it is
    new or was written from the same Galaxy10 file (``galaxy10_source.json`` says which),
    so nothing of the user's is overwritten. Pillow encodes on a thread pool. Removes no
    rows; the report's note says how many images were written.
    """
    import h5py
    from PIL import Image

    h5_path = Path(catalogue.attrs["h5"])
    root = Path(image_root)
    folders = {Path(loc).parent for loc in catalogue[FILE_COLUMN]}
    manifest = {"source": h5_path.name, "sha1": catalogue.attrs["galaxy10_sha1"]}
    for folder in folders:
        target = root / folder
        if target.exists() and not target.is_dir():
            raise CatalogueError(f"cannot write the Galaxy10 images: {target} exists and is not a folder")
        written_by = target / MANIFEST_NAME
        if written_by.is_file():
            if json.loads(written_by.read_text()) != manifest:
                raise CatalogueError(
                    f"{target} holds images written from another Galaxy10 file ({written_by}); "
                    "use another --image-root"
                )
        elif target.is_dir() and any(target.iterdir()):
            raise CatalogueError(
                f"{target} already exists and was not written by galaxy-utils: not writing Galaxy10 images "
                "into it; use another --image-root"
            )
        try:
            target.mkdir(parents=True, exist_ok=True)
            written_by.write_text(json.dumps(manifest))
        except OSError as err:
            raise CatalogueError(f"cannot write the Galaxy10 images under {root}: {err}") from err

    rows = catalogue["id"].astype("int64").to_numpy()
    targets = [root / loc for loc in catalogue[FILE_COLUMN]]
    todo = sorted((row, target) for row, target in zip(rows, targets, strict=True) if not target.is_file())
    bar = None
    if progress and todo:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc="writing Galaxy10 PNGs", unit="img")
    # Read the file a window of ``chunk`` rows at a time (a resumed run's missing rows may be
    # scattered over the whole file, which is gigabytes).
    windows: dict[int, list[tuple[int, Path]]] = {}
    for row, target in todo:
        windows.setdefault(int(row) // chunk, []).append((int(row), target))

    def write(pixels: np.ndarray, target: Path) -> None:
        with written_atomically(target) as partial:
            # Lossless either way; level 1 encodes about 3x faster than the default for ~20% more bytes.
            Image.fromarray(pixels).save(partial, format="PNG", compress_level=1)

    try:
        with h5py.File(h5_path, "r") as h5, ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            images = h5["images"]
            for batch in windows.values():
                first, last = batch[0][0], batch[-1][0]
                block = images[first:last + 1]
                list(pool.map(lambda item, block=block, first=first: write(block[item[0] - first], item[1]), batch))
                if bar is not None:
                    bar.update(len(batch))
    except OSError as err:
        raise CatalogueError(f"cannot write the Galaxy10 images from {h5_path} under {root}: {err}") from err
    finally:
        if bar is not None:
            bar.close()
    folder_names = ", ".join(sorted(str(root / f) for f in folders))
    report = StepReport(
        "extract images", len(catalogue), len(catalogue),
        pd.DataFrame({"id": pd.Series(dtype="string"), "reason": pd.Series(dtype="string")}),
        note=f"wrote {len(todo)} PNGs, {len(catalogue) - len(todo)} already there ({folder_names})",
    )
    return StepResult(catalogue, report)


# --------------------------------------------------------------------------------------
# A folder of class sub-folders
# --------------------------------------------------------------------------------------

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def read_class_folders(path: str | os.PathLike) -> pd.DataFrame:
    """``root/<class>/*.jpg|jpeg|png`` as a catalogue: one row per image.

    Columns: ``id`` (the path under the root), ``given_class`` (the sub-folder's name) and
    ``file_loc`` (the absolute path). Images deeper inside a class folder belong to it;
    hidden files and folders are skipped; loose images in the root and other files are
    counted in ``attrs['notes']``.
    """
    root = Path(path)
    if not root.is_dir():
        raise CatalogueError(f"{root}: not a folder: a 'folders' catalogue is a folder of class sub-folders")
    rows, other = [], Counter()
    loose = 0
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file():
            loose += entry.suffix.lower() in IMAGE_SUFFIXES
            continue
        for file in sorted(entry.rglob("*")):
            relative = file.relative_to(root)
            if not file.is_file() or any(part.startswith(".") for part in relative.parts):
                continue
            if file.suffix.lower() in IMAGE_SUFFIXES:
                rows.append((relative.as_posix(), entry.name, str(file.resolve())))
            else:
                other[file.suffix.lower() or "(no suffix)"] += 1
    if not rows:
        raise CatalogueError(
            f"{root}: no images in class sub-folders (expected {root}/<class>/*{'|'.join(IMAGE_SUFFIXES)})"
        )
    table = pd.DataFrame(rows, columns=["id", GIVEN_CLASS_COLUMN, FILE_COLUMN]).astype("string")
    counts = table[GIVEN_CLASS_COLUMN].value_counts(sort=False)
    notes = ["class folders: " + ", ".join(f"{name} {n}" for name, n in counts.items())]
    if loose:
        notes.append(f"{loose} image(s) directly in {root}, in no class folder: not used")
    if other:
        notes.append("other files not used: " + ", ".join(f"{n} {suffix}" for suffix, n in sorted(other.items())))
    table.attrs.update(format=FOLDERS, source=str(root), notes=notes)
    return table


# How read_catalogue reads a format that is not a single table.
PATH_READERS: dict[str, Callable[[str | os.PathLike], pd.DataFrame]] = {
    GALAXY10: read_galaxy10,
    FOLDERS: read_class_folders,
}
