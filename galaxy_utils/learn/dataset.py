"""Datasets: leak-free stratified splits, the course project's balanced split, and a streaming tf.data input.

Splits are drawn on ORIGINAL galaxies (one row each) before any augmentation; dihedral
copies are made of the training split only, so no rotated or mirrored copy of a
validation or test galaxy is ever trained on. :func:`make_dataset` streams a catalogue
from its image files (or the on-disk cache of preprocessed images), so memory holds a few
batches, never the whole catalogue as float32.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from galaxy_utils.data.catalogue import FILE_COLUMN, LABEL_COLUMN, CatalogueError, ids_of
from galaxy_utils.images.augmentation import (
    VARIANT_COLUMN,
    balance_by_dihedral,
    dihedral_batch,
    random_augmentation,
)
from galaxy_utils.images.decode import ImageReadError, ImageSpec, load_image
from galaxy_utils.images.store import MISSING, RECORD, ImageStore, load_images, source_digest

logger = logging.getLogger(__name__)


class Splits(NamedTuple):
    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame


class BalancedSplit(NamedTuple):
    train: pd.DataFrame
    test: pd.DataFrame
    report: pd.DataFrame


def _require_originals(catalogue: pd.DataFrame) -> None:
    """Refuse catalogues that already hold augmented copies: splitting them would leak."""
    if VARIANT_COLUMN in catalogue.columns and (catalogue[VARIANT_COLUMN] != 0).any():
        raise CatalogueError(
            "the catalogue holds augmented copies (variant != 0): split the original galaxies first, "
            "then balance the training split"
        )
    ids = catalogue[ids_of(catalogue)]
    if ids.duplicated().any():
        raise CatalogueError(
            f"{int(ids.duplicated().sum())} duplicated ids: a galaxy in two rows could land in two splits"
        )


def _split_off(
    catalogue: pd.DataFrame, fraction: float, seed: int, stratify: str | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rest, split-off part) with ``fraction`` of the rows in the part, both in catalogue order."""
    if fraction == 0:
        return catalogue, catalogue.iloc[:0]
    labels = catalogue[stratify] if stratify else None
    try:
        rest, part = train_test_split(
            np.arange(len(catalogue)), test_size=fraction, random_state=seed, stratify=labels
        )
    except ValueError as err:
        counts = labels.value_counts() if labels is not None else pd.Series(dtype=int)
        rare = ", ".join(f"{name} ({n})" for name, n in counts[counts < 2].items())
        hint = f"; classes with too few galaxies to stratify: {rare}" if rare else ""
        raise ValueError(f"cannot split {len(catalogue)} galaxies: {err}{hint}") from err
    return catalogue.iloc[np.sort(rest)], catalogue.iloc[np.sort(part)]


def split_catalogue(
    catalogue: pd.DataFrame,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
    stratify: str | None = LABEL_COLUMN,
) -> Splits:
    """Stratified, seeded train / validation / test split of original galaxies.

    Fractions are of the whole catalogue (the 3-class project: ``val_fraction=0.1``); each
    split keeps every class's share (``stratify=None`` for a plain random split). Rows
    keep their catalogue index and order. The same seed always gives the same split.
    """
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(f"fractions must leave a training set: val {val_fraction}, test {test_fraction}")
    if stratify is not None and stratify not in catalogue.columns:
        raise CatalogueError(f"cannot stratify: no column {stratify!r}")
    _require_originals(catalogue)
    rest, test = _split_off(catalogue, test_fraction, seed, stratify)
    train, val = _split_off(rest, val_fraction / (1 - test_fraction), seed, stratify)
    return Splits(train, val, test)


def balanced_train_test(
    catalogue: pd.DataFrame,
    n_train: int = 9000,
    n_test: int = 3000,
    seed: int = 0,
    class_names: Sequence[str] | None = None,
) -> BalancedSplit:
    """The course project's balanced split: ``n_train`` / ``n_test`` galaxies in all, equal per class.

    The test set is drawn first, ``n_test / n_classes`` ORIGINAL galaxies of each class
    (never augmented: a score on rotated training galaxies would be inflated). Each class's
    remaining originals then make ``n_train / n_classes`` training rows, subsampled if there
    are more, topped up with dihedral copies (:func:`balance_by_dihedral`) if fewer.
    Returns the training and test catalogues and a per-class report (originals, augmented,
    total training rows, test rows).
    """
    _require_originals(catalogue)
    names = list(class_names) if class_names is not None else sorted(catalogue[LABEL_COLUMN].dropna().unique())
    label_indices(catalogue, names)  # every row must belong to one of the classes
    counts = catalogue[LABEL_COLUMN].value_counts().reindex(names, fill_value=0)
    if n_train % len(names) or n_test % len(names):
        raise ValueError(
            f"n_train={n_train} and n_test={n_test} must divide evenly among {len(names)} classes"
        )
    train_per_class, test_per_class = n_train // len(names), n_test // len(names)
    short = counts[counts <= test_per_class]
    if len(short):
        listing = ", ".join(f"{name} ({n})" for name, n in short.items())
        raise ValueError(
            f"{test_per_class} test galaxies per class leave no training originals for: {listing}; "
            "lower n_test"
        )
    rest_parts, test_parts = [], []
    for class_index, name in enumerate(names):
        rows = catalogue[catalogue[LABEL_COLUMN] == name]
        class_seed = int(np.random.SeedSequence([seed, class_index]).generate_state(1)[0])
        rest, test = train_test_split(np.arange(len(rows)), test_size=test_per_class, random_state=class_seed)
        rest_parts.append(rows.iloc[np.sort(rest)])
        test_parts.append(rows.iloc[np.sort(test)])
    train_originals = pd.concat(rest_parts)
    train_originals.attrs = dict(catalogue.attrs)
    train, report = balance_by_dihedral(train_originals, seed, target=train_per_class)
    test = pd.concat(test_parts).reset_index(drop=True)
    test.attrs = dict(catalogue.attrs)
    report = report.reindex(names).assign(test=test_per_class)
    return BalancedSplit(train, test, report)


# --------------------------------------------------------------------------------------
# Streaming input
# --------------------------------------------------------------------------------------


def label_indices(catalogue: pd.DataFrame, class_names: Sequence[str]) -> np.ndarray:
    """Each row's class as an int32 index into ``class_names``."""
    if LABEL_COLUMN not in catalogue.columns:
        raise CatalogueError(f"no {LABEL_COLUMN!r} column")
    lookup = {name: i for i, name in enumerate(class_names)}
    labels = catalogue[LABEL_COLUMN].astype("string")
    unknown = sorted(set(labels.dropna().unique()) - set(lookup)) + (["<empty>"] if labels.isna().any() else [])
    if unknown:
        raise CatalogueError(f"labels not among the classes {list(class_names)}: {', '.join(map(str, unknown))}")
    return labels.map(lookup).to_numpy(dtype=np.int32)


def _variants(catalogue: pd.DataFrame) -> np.ndarray:
    if VARIANT_COLUMN not in catalogue.columns:
        return np.zeros(len(catalogue), dtype=np.int32)
    variants = catalogue[VARIANT_COLUMN].to_numpy(dtype=np.int32)
    if len(variants) and (variants.min() < 0 or variants.max() > 7):
        raise CatalogueError(f"column {VARIANT_COLUMN!r} must hold dihedral variants 0-7")
    return variants


def _check_targets(targets, n_rows: int) -> np.ndarray:
    """Per-row target vectors: one finite row per catalogue row."""
    targets = np.asarray(targets)
    if targets.ndim != 2 or len(targets) != n_rows:
        raise ValueError(f"targets must be an (N, K) array with N = {n_rows} catalogue rows; got shape {targets.shape}")
    if not np.issubdtype(targets.dtype, np.number) or not np.isfinite(targets).all():
        raise ValueError("targets must be finite numbers (no NaN): use 0 for a question nobody was asked")
    return targets


def _readable_rows(images, labels, readable):
    import tensorflow as tf

    return tf.boolean_mask(images, readable), tf.boolean_mask(labels, readable)


def _not_empty(images, labels):
    import tensorflow as tf

    return tf.shape(labels)[0] > 0


def _to_unit_float(images, labels):
    import tensorflow as tf

    return tf.cast(images, tf.float32) / 255.0, labels


class _BatchReader:
    """Reads a batch of catalogue rows' images at once: one gather from the memory-mapped
    store (:class:`galaxy_utils.images.store.ImageStore`) for the stored ones, a decode (and
    store) of the others, then each row's dihedral variant; unreadable rows are flagged and
    reported once. Called once per batch, never per image."""

    def __init__(self, paths: list[str], ids: list[str], spec: ImageSpec, cache_dir, skipped: list[dict] | None):
        self.paths, self.ids, self.spec, self.skipped = paths, ids, spec, skipped
        self.store = ImageStore(cache_dir, spec) if cache_dir is not None else None
        self.errors: dict[int, str] = {}
        if self.store is not None:
            # Each distinct file once (augmented copies share one): its digest, or why it has none.
            codes, files = pd.factorize(pd.Series(paths, dtype=object))
            digests = np.zeros(len(files), dtype=RECORD["digest"])
            unreadable: dict[int, str] = {}
            for j, path in enumerate(files):
                try:
                    digests[j] = source_digest(path)
                except ImageReadError as err:
                    unreadable[j] = err.reason
            self.digests = digests[codes]
            self.errors = {int(i): unreadable[codes[i]] for i in np.flatnonzero(np.isin(codes, list(unreadable)))}
            self.rows = self.store.rows_of(self.digests)
            self.rows[list(self.errors)] = MISSING
        self.stored: dict[bytes, int] = {}  # rows this reader added, by file digest
        self.reported: set[int] = set()
        self.lock = threading.Lock()
        self.pool: ThreadPoolExecutor | None = None

    def _report(self, position: int, reason: str) -> None:
        with self.lock:
            if position not in self.reported:
                self.reported.add(position)
                logger.warning("skipping unreadable image %s: %s", self.ids[position],
                               ImageReadError(self.paths[position], reason))
                if self.skipped is not None:
                    self.skipped.append({"id": self.ids[position], FILE_COLUMN: self.paths[position], "error": reason})

    def _pool(self) -> ThreadPoolExecutor:
        with self.lock:
            if self.pool is None:
                self.pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1)
            return self.pool

    def _load(self, position: int) -> np.ndarray | str:
        """The decoded image of ``position``, or why it cannot be read."""
        try:
            return load_image(self.paths[position], self.spec)
        except ImageReadError as err:
            return err.reason

    def _decode(self, positions: np.ndarray, images: np.ndarray, readable: np.ndarray) -> None:
        """Fill batch slots ``images`` for rows not yet stored: from rows stored meanwhile
        (another row of the same file), else decoded once per file and stored."""
        decoded: dict[bytes | int, np.ndarray] = {}
        wanted: dict[bytes | int, list[tuple[int, int]]] = {}
        for slot, position in enumerate(positions):
            position = int(position)
            if position in self.errors:
                continue
            key = self.digests[position] if self.store is not None else position
            if self.store is not None and key in self.stored:
                self.rows[position] = self.stored[key]
                images[slot] = self.store.take([self.rows[position]])[0]
                continue
            wanted.setdefault(key, []).append((slot, position))
        # Decoded in parallel (Pillow releases the GIL), each distinct file once.
        for key, outcome in zip(wanted, self._pool().map(self._load, [w[0][1] for w in wanted.values()]),
                                strict=True):
            for slot, position in wanted[key]:
                if isinstance(outcome, str):
                    self.errors[position] = outcome
                else:
                    decoded[key] = images[slot] = outcome
        if self.store is not None and decoded:
            keys = list(decoded)
            try:
                rows = self.store.append(keys, np.stack([decoded[k] for k in keys]))
            except OSError as err:  # a full or read-only disk costs speed, not the run
                logger.warning("cannot write to the image cache %s: %s", self.store.root, err)
            else:
                self.stored.update(zip(keys, rows.tolist(), strict=True))
        for slot, position in enumerate(positions):
            position = int(position)
            if position in self.errors:
                readable[slot] = False
                self._report(position, self.errors[position])
            elif self.store is not None and self.digests[position] in self.stored:
                self.rows[position] = self.stored[self.digests[position]]

    def __call__(self, positions: np.ndarray, variants: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        readable = np.ones(len(positions), dtype=bool)
        if self.store is None:
            images = np.zeros((len(positions), *self.spec.shape), dtype=np.uint8)
            self._decode(positions, images, readable)
        else:
            rows = self.rows[positions]
            stored = rows != MISSING
            if stored.all():
                images = self.store.take(rows)
            else:
                images = np.zeros((len(positions), *self.spec.shape), dtype=np.uint8)
                images[stored] = self.store.take(rows[stored])
                missing = np.flatnonzero(~stored)
                part, ok = images[missing], readable[missing]
                self._decode(positions[missing], part, ok)
                images[missing], readable[missing] = part, ok
        for variant in np.unique(variants[variants != 0]):
            chosen = variants == variant
            images[chosen] = dihedral_batch(images[chosen], int(variant))
        return images, readable


def make_dataset(
    catalogue: pd.DataFrame,
    class_names: Sequence[str] | None,
    spec: ImageSpec,
    *,
    batch_size: int,
    shuffle: bool,
    seed: int,
    augment: bool = False,
    cache_dir: str | os.PathLike | None = None,
    repeat: bool = False,
    skipped: list[dict] | None = None,
    targets: np.ndarray | None = None,
):
    """A ``tf.data.Dataset`` of (float32 images in [0, 1], int32 label indices) batches.

    Streams: only row numbers, labels and variants are held as tensors; each batch's images
    are gathered at once from the memory-mapped cache in ``cache_dir``
    (:class:`galaxy_utils.images.store.ImageStore`; images not yet there are decoded and
    added on first use), so memory does not grow with the catalogue and no Python runs per
    image. ``shuffle`` reshuffles all rows every epoch (seeded); a ``variant`` column
    applies that dihedral variant; ``augment`` adds random rotation and flips, fresh every
    epoch (:func:`galaxy_utils.images.augmentation.random_augmentation`). An unreadable
    image is skipped with a warning naming its id and file (its batch is one image
    shorter), and appended to ``skipped`` if given. ``class_names=None`` reads an
    unlabelled catalogue (for prediction): every label is -1. ``targets``, an (N, K) array
    with one row per catalogue row (e.g. vote counts, see :mod:`galaxy_utils.learn.votes`),
    is yielded in place of the class labels, in its own dtype; ``class_names`` is then
    ignored.
    """
    import tensorflow as tf

    if FILE_COLUMN not in catalogue.columns:
        raise CatalogueError(f"no {FILE_COLUMN!r} column: run galaxy_utils.data.catalogue.resolve_images first")
    paths = catalogue[FILE_COLUMN].astype("string").fillna("").tolist()
    try:
        ids = catalogue[ids_of(catalogue)].astype("string").tolist()
    except CatalogueError:
        ids = paths
    if targets is not None:
        labels = _check_targets(targets, len(paths))
    elif class_names is None:
        labels = np.full(len(paths), -1, np.int32)
    else:
        labels = label_indices(catalogue, class_names)
    variants = _variants(catalogue)
    reader = _BatchReader(paths, ids, spec, cache_dir, skipped)

    def load_batch(positions, labels, variants):
        # Stateless as far as TensorFlow can tell: the output depends only on the rows (the
        # cache is transparent), so tf.data may run and optimise it freely in parallel.
        images, readable = tf.numpy_function(reader, [positions, variants], [tf.uint8, tf.bool], stateful=False)
        images.set_shape((None, *spec.shape))
        readable.set_shape((None,))
        return images, labels, readable

    dataset = tf.data.Dataset.from_tensor_slices(
        (np.arange(len(paths), dtype=np.int64), labels, variants)
    )
    if shuffle:
        # Shuffling row numbers, not images: a full-catalogue buffer costs 8 bytes a row.
        dataset = dataset.shuffle(max(len(paths), 1), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.batch(batch_size)
    dataset = dataset.map(load_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    dataset = dataset.map(_readable_rows).filter(_not_empty)
    dataset = dataset.map(_to_unit_float, num_parallel_calls=tf.data.AUTOTUNE)
    if augment:
        augmenter = random_augmentation(seed)

        def augment_batch(images, labels):
            return augmenter(images, training=True), labels

        # One call at a time: the layers' seed state advances in a fixed order, so a seed
        # gives the same augmentations on every run.
        dataset = dataset.map(augment_batch)
    return dataset.prefetch(tf.data.AUTOTUNE)


def catalogue_images(
    catalogue: pd.DataFrame,
    spec: ImageSpec,
    *,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> np.ndarray:
    """All of a catalogue's images as one uint8 array (N, size, size, channels), variants applied.

    For small in-memory uses (plots, baselines): each distinct file is read once; raises
    :class:`galaxy_utils.images.decode.ImageReadError` if any is unreadable.
    """
    if FILE_COLUMN not in catalogue.columns:
        raise CatalogueError(f"no {FILE_COLUMN!r} column: run galaxy_utils.data.catalogue.resolve_images first")
    paths = catalogue[FILE_COLUMN].astype("string")
    codes, unique = pd.factorize(paths)
    images = load_images(unique, spec, cache_dir=cache_dir, progress=progress)[codes]
    variants = _variants(catalogue)
    for variant in np.unique(variants[variants != 0]):
        rows = variants == variant
        images[rows] = dihedral_batch(images[rows], int(variant))
    return images
