"""One entry point for every catalogue: a path in, a validated frame out.

:func:`read_catalogue` tells the layouts apart (:func:`galaxy_utils.data.catalogue.detect_format`
for tables, :func:`galaxy_utils.data.formats.detect_path_format` for folders and Galaxy10
files) and hands each to its reader; it sits above both modules, so neither imports the other
back.
"""

from __future__ import annotations

import os

import pandas as pd

from galaxy_utils.data import formats, tree
from galaxy_utils.data.catalogue import (
    FILE_COLUMN,
    FORMATS,
    GENERIC,
    GZ2_ID_COLUMN,
    GZ2_IMAGE_FOLDER,
    GZ2_KAGGLE,
    GZD5_AUTO,
    VOLUNTEER_TREES,
    ZOOBOT,
    CatalogueError,
    canonical_frame,
    detect_format,
    png_loc_for,
    read_table,
    validate_auto_posteriors,
    validate_gz2_kaggle,
    validate_gzd5,
)


def read_catalogue(
    path: str | os.PathLike,
    *,
    validate: bool = True,
    require_metadata: bool = True,
    format: str | None = None,
) -> pd.DataFrame:
    """Read a catalogue in any of :data:`FORMATS` and validate it for its format.

    ``format`` overrides the detection (a folder of class sub-folders, a Galaxy10 ``.h5``
    file, else the table's columns). The format is recorded in ``catalogue.attrs['format']``;
    the source path in ``attrs['source']``; lines worth telling the user about the reading
    (a campaign found, classes seen) in ``attrs['notes']``. The GZD-5 release's three
    tables are told apart: volunteer votes on the DR5 tree (:data:`GZD5`) or the GZD-1/2
    tree (:data:`GZD12`, given a ``png_loc`` derived from iauname), and the automated
    posteriors (:data:`GZD5_AUTO`, model outputs). The frame is the canonical one
    (:func:`galaxy_utils.data.catalogue.canonical_frame`): its id column is recorded in
    ``attrs['id_column']``, so no later stage detects it again.
    """
    if format is not None and format not in FORMATS:
        raise CatalogueError(f"unknown catalogue format {format!r}; choose one of {', '.join(FORMATS)}")
    fmt = format or formats.detect_path_format(path)
    if fmt in formats.PATH_READERS:
        return canonical_frame(formats.PATH_READERS[fmt](path))
    table = read_table(path)
    fmt = fmt or detect_format(table.columns)
    if fmt == ZOOBOT:
        return canonical_frame(formats.read_zoobot(table, source=str(path)))
    if fmt in VOLUNTEER_TREES:
        if validate:
            table = validate_gzd5(
                table, source=str(path), require_metadata=require_metadata, decision_tree=VOLUNTEER_TREES[fmt]
            )
        if tree.IMAGE_COLUMN not in table.columns:  # GZD-1/2: images found from iauname, as png_loc would say
            table[tree.IMAGE_COLUMN] = pd.Series([png_loc_for(i) for i in table[tree.ID_COLUMN]], dtype="string",
                                                 index=table.index)
    elif fmt == GZD5_AUTO:
        if validate:
            table = validate_auto_posteriors(table, source=str(path))
    elif fmt == GZ2_KAGGLE:
        if validate:
            table = validate_gz2_kaggle(table, source=str(path))
        if FILE_COLUMN not in table.columns:
            table[FILE_COLUMN] = GZ2_IMAGE_FOLDER + "/" + table[GZ2_ID_COLUMN].astype("string") + ".jpg"
    elif fmt == GENERIC and FILE_COLUMN not in table.columns:
        table = table.rename(columns={tree.IMAGE_COLUMN: FILE_COLUMN})
    table.attrs.update(format=fmt, source=str(path))
    return canonical_frame(table)
