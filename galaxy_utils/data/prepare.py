"""The preprocessing recipe: one call from a raw catalogue to a cleaned, labelled one.

Order: (a) vote-count filter, (b) label columns, (c) missing labels, then the class
mapping, then (d) images. The course project matched images before mapping classes; we
check images last because decoding is the expensive step and there is no point decoding
galaxies the class mapping is about to drop. The removal report is the same either way.

A Zoobot table (its votes renamed onto the DR5 tree by :mod:`galaxy_utils.data.formats`) takes
the GZD-5 steps; a Galaxy10 file or a folder of class sub-folders has its class names
mapped onto the task's instead, and Galaxy10's images are written to PNGs before (d).
"""

from __future__ import annotations

import os

import pandas as pd

from galaxy_utils.data import formats, labels, tree
from galaxy_utils.data.catalogue import (
    DEFAULT_MIN_VOTES,
    GALAXY10,
    GENERIC,
    GZ2_KAGGLE,
    GZ2_KAGGLE_COLUMNS,
    GZD5_AUTO,
    LABEL_COLUMN,
    NAMED_CLASS_FORMATS,
    VOLUNTEER_TREES,
    ZOOBOT,
    CatalogueError,
    PreprocessingLog,
    catalogue_format,
    drop_missing_labels,
    filter_by_total_votes,
    find_quirks,
    keep_label_columns,
    resolve_images,
)


def prepare_catalogue(
    catalogue: pd.DataFrame,
    image_root: str | os.PathLike,
    task_name: str,
    *,
    min_votes: int = DEFAULT_MIN_VOTES,
    thresholds: labels.FourClassThresholds | labels.ThreeClassThresholds | None = None,
    keep_uncertain: bool = False,
    unasked: str = "keep",
    verify: str = "decode",
    progress: bool = False,
    model_predictions: bool = False,
) -> tuple[pd.DataFrame, PreprocessingLog]:
    """Clean and label a catalogue read by :func:`galaxy_utils.data.read.read_catalogue`.

    Returns the catalogue (``file_loc``, ``label``, ``p_<class>`` columns added) and the
    log of what each step removed and why, with the accepted quirks of the real release
    counted (``log.quirks``; nothing is removed for them).

    Volunteer tables of either GZ DECaLS tree (``gz_decals_volunteers_5``,
    ``gz_decals_volunteers_1_and_2``) go through the same steps, each on its own tree. The
    automated posteriors are a model's predictions: refused unless ``model_predictions=True``,
    and then the log's note and the rows' ``label_source`` say so.
    """
    the_task = labels.task(task_name)
    fmt = catalogue_format(catalogue)
    log = PreprocessingLog()
    if fmt in VOLUNTEER_TREES or fmt == ZOOBOT:
        decision_tree = VOLUNTEER_TREES.get(fmt, tree.DR5)
        if fmt == ZOOBOT:  # only the mapped questions, and no debiased fractions
            formats.require_questions(catalogue, task_name)
            label_columns = the_task.label_columns(catalogue.columns)
        else:
            log.quirks.extend(find_quirks(catalogue, decision_tree))
            label_columns = the_task.label_columns(decision_tree=decision_tree)
        catalogue = log.apply(filter_by_total_votes, catalogue, min_votes)
        catalogue = log.apply(keep_label_columns, catalogue, label_columns)
        catalogue = log.apply(
            drop_missing_labels, catalogue, the_task.fraction_columns(decision_tree), unasked=unasked
        )
    elif fmt == GZD5_AUTO:
        if not model_predictions:
            raise CatalogueError(
                f"{catalogue.attrs.get('source', 'catalogue')}: holds model predictions (the GZ DECaLS automated "
                "posteriors), not volunteer votes; to label galaxies from the model's predicted fractions on "
                "purpose, run galaxy-utils prepare with --use-model-predictions (in Python: model_predictions=True)"
            )
        log.notes.append(f"labels come from {labels.MODEL_LABEL_SOURCE}")
        catalogue = log.apply(keep_label_columns, catalogue, the_task.fraction_columns())
        catalogue = log.apply(drop_missing_labels, catalogue, the_task.fraction_columns())
    elif fmt in NAMED_CLASS_FORMATS:
        catalogue = log.apply(formats.label_named_classes, catalogue, task_name)
    elif fmt == GZ2_KAGGLE:
        catalogue = log.apply(keep_label_columns, catalogue, GZ2_KAGGLE_COLUMNS)
    elif fmt == GENERIC and LABEL_COLUMN in catalogue.columns:
        catalogue = log.apply(drop_missing_labels, catalogue, [LABEL_COLUMN])
    elif fmt == GENERIC:
        columns = the_task.fraction_columns()
        missing = [c for c in columns if c not in catalogue.columns]
        if missing:
            raise CatalogueError(
                "a generic catalogue needs a 'label' column or the vote-fraction columns "
                f"of the {task_name} task; missing: {', '.join(missing)}"
            )
        catalogue = log.apply(keep_label_columns, catalogue, columns)
    catalogue = log.apply(
        labels.assign_labels, catalogue, task_name, thresholds=thresholds, keep_uncertain=keep_uncertain,
        model_predictions=model_predictions,
    )
    if fmt == GALAXY10:  # its pixels are inside the .h5: written to PNGs under the image root
        catalogue = log.apply(formats.extract_galaxy10_images, catalogue, image_root, progress=progress)
    catalogue = log.apply(resolve_images, catalogue, image_root, verify=verify, progress=progress)
    return catalogue.reset_index(drop=True), log


def class_counts(catalogue: pd.DataFrame, task_name: str, keep_uncertain: bool = False) -> pd.Series:
    """Galaxies per class, in the task's class order (zeros shown)."""
    names = labels.class_names(task_name, keep_uncertain)
    counts = catalogue[LABEL_COLUMN].value_counts().reindex(names, fill_value=0).astype("int64")
    counts.index.name = "class"
    return counts.rename("galaxies")
