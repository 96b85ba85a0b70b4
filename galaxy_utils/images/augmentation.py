"""Augmentation: the eight dihedral variants, offline class balancing, on-the-fly and test-time.

A galaxy has no preferred orientation on the sky and no handedness a classifier should
learn, so its rotations by 90 degrees and their mirror images (the dihedral group D4: eight
variants) are equally valid examples of its class. They are exact: no interpolation, no
invented corner pixels. The course project used them offline to balance classes
(:func:`balance_by_dihedral`); the 3-class project rotated by any angle and flipped at
random every epoch (:func:`random_augmentation`); :func:`predict_dihedral_tta` averages a
model's predictions over the eight.

Variant ``v`` (0-7) is a rotation by ``v % 4`` quarter turns anticlockwise followed, for
``v >= 4``, by a left-right flip; variant 0 is the original image. NumPy
(:func:`dihedral`) and TensorFlow (:func:`dihedral_tf`) give identical pixels.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from galaxy_utils.data.catalogue import LABEL_COLUMN, CatalogueError, ids_of

N_VARIANTS = 8
VARIANT_COLUMN = "variant"


def dihedral(image: np.ndarray, variant: int) -> np.ndarray:
    """Variant ``variant`` (0-7) of an (H, W) or (H, W, C) image."""
    return _dihedral_np(image, variant, axes=(0, 1))


def _dihedral_np(array: np.ndarray, variant: int, axes: tuple[int, int]) -> np.ndarray:
    if not 0 <= variant < N_VARIANTS:
        raise ValueError(f"variant must be 0-{N_VARIANTS - 1}, not {variant}")
    rotated = np.rot90(array, k=variant % 4, axes=axes)
    return np.flip(rotated, axis=axes[1]) if variant >= 4 else rotated


def dihedral_batch(images: np.ndarray, variant: int) -> np.ndarray:
    """Variant ``variant`` of every image in an (N, H, W, C) batch."""
    return _dihedral_np(images, variant, axes=(1, 2))


def dihedral_tf(image, variant):
    """TensorFlow version of :func:`dihedral` for an (H, W, C) or (N, H, W, C) tensor; ``variant`` may be a tensor."""
    import tensorflow as tf

    variant = tf.cast(variant, tf.int32)
    rotated = tf.image.rot90(image, k=variant % 4)
    return tf.cond(variant >= 4, lambda: tf.image.flip_left_right(rotated), lambda: rotated)


# --------------------------------------------------------------------------------------
# Offline balancing (the course project)
# --------------------------------------------------------------------------------------


def _variant_schedule(n_galaxies: int, uses: int, rng: np.random.Generator) -> np.ndarray:
    """(n_galaxies, uses) variants: use 0 is the original, then each galaxy's own random
    order of the other seven; only after all eight does a galaxy start a new random cycle."""
    first_cycle = np.hstack(
        [np.zeros((n_galaxies, 1), dtype=np.int8),
         rng.permuted(np.tile(np.arange(1, N_VARIANTS, dtype=np.int8), (n_galaxies, 1)), axis=1)]
    )
    cycles = [first_cycle]
    for _ in range(math.ceil(uses / N_VARIANTS) - 1):
        cycles.append(rng.permuted(np.tile(np.arange(N_VARIANTS, dtype=np.int8), (n_galaxies, 1)), axis=1))
    return np.hstack(cycles)[:, :uses]


def balance_by_dihedral(
    catalogue: pd.DataFrame, seed: int, target: int | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Give every class of a TRAINING catalogue the same number of rows with dihedral copies.

    Each class reaches ``target`` rows (default: the largest class). A smaller class keeps
    all its originals (``variant`` 0) and adds augmented copies (``variant`` 1-7, same id
    and ``file_loc``), spread evenly: galaxy by galaxy in a random order, so no galaxy gets
    two copies more than another; each galaxy's variants come in its own random order, and
    no variant of a galaxy repeats before all eight (the original counting as one) have
    been used. A class larger than ``target`` is subsampled at random.

    Call it on the training split only: augmented copies of a galaxy in validation or test
    would let the model be graded on images it was trained on (see
    :func:`galaxy_utils.learn.dataset.split_catalogue`).

    Returns the balanced catalogue (index reset, with a ``variant`` column) and a report per
    class: ``available`` originals, ``originals`` kept, ``augmented`` copies, ``total``,
    and a ``note`` for subsampled classes and for classes whose variants had to repeat.
    """
    if VARIANT_COLUMN in catalogue.columns:
        raise CatalogueError(f"the catalogue already has a {VARIANT_COLUMN!r} column: balance originals only")
    if LABEL_COLUMN not in catalogue.columns:
        raise CatalogueError(f"no {LABEL_COLUMN!r} column to balance")
    if catalogue[LABEL_COLUMN].isna().any():
        raise CatalogueError("some rows have no label: drop them before balancing")
    ids = catalogue[ids_of(catalogue)]
    if ids.duplicated().any():
        raise CatalogueError("duplicated ids: balance a catalogue of original galaxies, one row each")
    counts = catalogue[LABEL_COLUMN].value_counts().sort_index()
    if counts.empty:
        raise CatalogueError("nothing to balance: the catalogue is empty")
    target = int(counts.max() if target is None else target)
    if target < 1:
        raise ValueError(f"target must be at least 1, not {target}")

    parts, report = [], []
    for class_index, (name, available) in enumerate(counts.items()):
        rng = np.random.default_rng([seed, class_index])
        positions = np.flatnonzero((catalogue[LABEL_COLUMN] == name).to_numpy())
        if available >= target:
            kept = np.sort(rng.choice(positions, size=target, replace=False))
            parts.append(catalogue.iloc[kept].assign(**{VARIANT_COLUMN: np.int8(0)}))
            note = f"subsampled {target} of {available} originals" if available > target else ""
            report.append((name, available, target, 0, target, note))
            continue
        n_copies = target - available
        uses = 1 + math.ceil(n_copies / available)
        schedule = _variant_schedule(available, uses, rng)
        order = rng.permutation(available)
        copy_index = np.arange(n_copies)
        galaxy = order[copy_index % available]
        use = 1 + copy_index // available
        copies = catalogue.iloc[positions[galaxy]].assign(**{VARIANT_COLUMN: schedule[galaxy, use]})
        parts.append(catalogue.iloc[positions].assign(**{VARIANT_COLUMN: np.int8(0)}))
        parts.append(copies)
        note = ""
        if uses > N_VARIANTS:
            note = f"variants repeat: up to {uses} uses of a galaxy's 8 variants"
        report.append((name, available, available, n_copies, target, note))

    balanced = pd.concat(parts, ignore_index=True)
    balanced[VARIANT_COLUMN] = balanced[VARIANT_COLUMN].astype("int8")
    balanced.attrs = dict(catalogue.attrs)
    table = pd.DataFrame(report, columns=["class", "available", "originals", "augmented", "total", "note"])
    return balanced, table.set_index("class")


# --------------------------------------------------------------------------------------
# On-the-fly augmentation (the 3-class project) and test-time augmentation
# --------------------------------------------------------------------------------------

FILL_MODE = "reflect"
"""Rotating by an angle that is not a multiple of 90 degrees uncovers the corners. 'reflect'
fills them with mirrored sky: noise and faint sources with the statistics of the real
background. 'constant' 0 would paint black triangles that no real (background-subtracted
but noisy, asinh-stretched) DECaLS cutout has, and that the model would then see in
training only, so they are a train/test difference, not an invariance."""


def random_augmentation(seed: int, fill_mode: str = FILL_MODE):
    """Random rotation by any angle (0-360 degrees) and random horizontal and vertical flips.

    A Keras preprocessing block for float images, active only when called with
    ``training=True`` (inside a model, only during ``fit``). Seeded, and drawing fresh
    angles and flips on every call, so every epoch sees new variants.
    """
    import keras

    return keras.Sequential(
        [
            # factor 1.0 = a uniform angle in [-360, 360] degrees: every orientation alike.
            keras.layers.RandomRotation(1.0, fill_mode=fill_mode, interpolation="bilinear", seed=seed),
            keras.layers.RandomFlip("horizontal_and_vertical", seed=seed + 1),
        ],
        name="random_rotation_and_flips",
    )


def predict_dihedral_tta(model, images_or_dataset, *, batch_size: int = 64, from_logits: bool = False) -> np.ndarray:
    """Class probabilities averaged over the eight dihedral variants of every image.

    ``images_or_dataset`` is an (N, H, W, C) array (float, already scaled as the model
    expects) or a ``tf.data.Dataset`` of such batches, or of (images, labels) batches as
    :func:`galaxy_utils.learn.dataset.make_dataset` gives (labels ignored; do not shuffle it if
    the order matters). Probabilities, not logits, are averaged: with
    ``from_logits=True`` a softmax is applied to each variant's output first.
    Returns an (N, n_classes) float32 array.
    """
    import tensorflow as tf

    def predict_batch(batch) -> np.ndarray:
        variants = tf.concat([dihedral_tf(batch, v) for v in range(N_VARIANTS)], axis=0)
        outputs = model(variants, training=False)
        if from_logits:
            outputs = tf.nn.softmax(outputs, axis=-1)
        n = tf.shape(batch)[0]
        return tf.reduce_mean(tf.reshape(outputs, (N_VARIANTS, n, -1)), axis=0).numpy()

    if isinstance(images_or_dataset, tf.data.Dataset):
        batches = (b[0] if isinstance(b, tuple | list) else b for b in images_or_dataset)
    else:
        images = np.asarray(images_or_dataset)
        if images.ndim != 4:
            raise ValueError(f"expected an (N, H, W, C) array of images, got shape {images.shape}")
        batches = (tf.convert_to_tensor(images[i : i + batch_size]) for i in range(0, len(images), batch_size))
    results = [predict_batch(batch) for batch in batches]
    if not results:
        return np.zeros((0, model.output_shape[-1]), dtype=np.float32)
    return np.concatenate(results).astype(np.float32)
