"""Dihedral variants, class balancing by them, on-the-fly augmentation and test-time augmentation."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from galaxy_utils.data.catalogue import CatalogueError  # noqa: E402
from galaxy_utils.images.augmentation import (  # noqa: E402
    N_VARIANTS,
    balance_by_dihedral,
    dihedral,
    dihedral_batch,
    dihedral_tf,
    predict_dihedral_tta,
    random_augmentation,
)


def asymmetric_image(size: int = 5, channels: int = 2) -> np.ndarray:
    """Every pixel different, so no two symmetries give the same image."""
    return np.arange(size * size * channels, dtype=np.uint8).reshape(size, size, channels)


def training_catalogue(counts: dict[str, int]) -> pd.DataFrame:
    rows = [(f"{label}-{i}", f"/images/{label}-{i}.png", label) for label, n in counts.items() for i in range(n)]
    return pd.DataFrame(rows, columns=["iauname", "file_loc", "label"])


# --------------------------------------------------------------------------------------
# The eight variants
# --------------------------------------------------------------------------------------


def test_eight_distinct_dihedral_variants_with_the_original_first():
    image = asymmetric_image()
    variants = [dihedral(image, v) for v in range(N_VARIANTS)]
    np.testing.assert_array_equal(variants[0], image)
    assert len({v.tobytes() for v in variants}) == 8
    # They form the symmetry group of the square: every variant of a variant is a variant.
    known = {v.tobytes() for v in variants}
    assert all(dihedral(v, w).tobytes() in known for v in variants for w in range(N_VARIANTS))
    np.testing.assert_array_equal(dihedral(image, 1), np.rot90(image))
    np.testing.assert_array_equal(dihedral(image, 4), np.fliplr(image))
    with pytest.raises(ValueError):
        dihedral(image, 8)


def test_numpy_batch_and_tensorflow_variants_agree():
    batch = np.stack([asymmetric_image(), asymmetric_image()[::-1]])
    for v in range(N_VARIANTS):
        expected = np.stack([dihedral(image, v) for image in batch])
        np.testing.assert_array_equal(dihedral_batch(batch, v), expected)
        np.testing.assert_array_equal(dihedral_tf(batch, v).numpy(), expected)
        np.testing.assert_array_equal(dihedral_tf(batch[0], v).numpy(), expected[0])


# --------------------------------------------------------------------------------------
# Offline balancing
# --------------------------------------------------------------------------------------


def test_every_class_reaches_the_largest_with_originals_and_copies_reported():
    catalogue = training_catalogue({"elliptical": 40, "spiral": 25, "irregular": 6})
    balanced, report = balance_by_dihedral(catalogue, seed=0)
    assert balanced["label"].value_counts().to_dict() == {"elliptical": 40, "spiral": 40, "irregular": 40}
    assert report.loc["elliptical", ["available", "originals", "augmented", "total"]].tolist() == [40, 40, 0, 40]
    assert report.loc["spiral", ["originals", "augmented", "total"]].tolist() == [25, 15, 40]
    assert report.loc["irregular", ["originals", "augmented", "total"]].tolist() == [6, 34, 40]
    assert (report["originals"] + report["augmented"] == report["total"]).all()
    originals = balanced[balanced["variant"] == 0]
    assert len(originals) == 71 and not originals["iauname"].duplicated().any()
    # Copies keep the galaxy's id and file; only the variant says how to transform it.
    copies = balanced[balanced["variant"] != 0]
    assert set(copies["iauname"]) <= set(catalogue["iauname"])
    assert (copies["file_loc"] == copies["iauname"].map(catalogue.set_index("iauname")["file_loc"])).all()


def test_no_variant_repeats_before_all_eight_are_used():
    catalogue = training_catalogue({"big": 100, "small": 7})
    balanced, report = balance_by_dihedral(catalogue, seed=3)
    small = balanced[balanced["label"] == "small"]
    for _, uses in small.groupby("iauname", sort=False)["variant"]:
        sequence = uses.tolist()  # rows come in the order the uses were made
        assert sequence[0] == 0  # the original first; no copy repeats it within the first cycle
        for start in range(0, len(sequence), N_VARIANTS):
            cycle = sequence[start : start + N_VARIANTS]
            assert len(set(cycle)) == len(cycle), sequence
        assert 0 not in sequence[1:N_VARIANTS]
    # Copies are spread evenly: no galaxy used twice more than another (100 = 14 or 15 uses each).
    uses_per_galaxy = small["iauname"].value_counts()
    assert uses_per_galaxy.max() - uses_per_galaxy.min() <= 1
    assert "variants repeat" in report.loc["small", "note"]


def test_within_eight_uses_copies_never_duplicate_the_original():
    catalogue = training_catalogue({"big": 50, "small": 10})
    balanced, report = balance_by_dihedral(catalogue, seed=1)
    small = balanced[balanced["label"] == "small"]
    assert not small.duplicated(["iauname", "variant"]).any()
    assert (small["variant"] == 0).sum() == 10
    assert report.loc["small", "note"] == ""


def test_target_subsamples_larger_classes_and_says_so():
    catalogue = training_catalogue({"a": 30, "b": 12, "c": 5})
    balanced, report = balance_by_dihedral(catalogue, seed=0, target=12)
    assert balanced["label"].value_counts().to_dict() == {"a": 12, "b": 12, "c": 12}
    assert report.loc["a", ["originals", "augmented"]].tolist() == [12, 0]
    assert "subsampled 12 of 30" in report.loc["a", "note"]
    assert report.loc["b", "note"] == ""
    assert not balanced[balanced["label"] == "a"]["iauname"].duplicated().any()


def test_balancing_is_seeded():
    catalogue = training_catalogue({"a": 20, "b": 3})
    first, _ = balance_by_dihedral(catalogue, seed=5)
    again, _ = balance_by_dihedral(catalogue, seed=5)
    other, _ = balance_by_dihedral(catalogue, seed=6)
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)


def test_balancing_refuses_augmented_or_duplicated_input():
    catalogue = training_catalogue({"a": 4, "b": 2})
    balanced, _ = balance_by_dihedral(catalogue, seed=0)
    with pytest.raises(CatalogueError, match="variant"):
        balance_by_dihedral(balanced, seed=0)
    with pytest.raises(CatalogueError, match="duplicated ids"):
        balance_by_dihedral(pd.concat([catalogue, catalogue.iloc[:1]]), seed=0)


# --------------------------------------------------------------------------------------
# On-the-fly and test-time augmentation
# --------------------------------------------------------------------------------------


def test_random_augmentation_is_seeded_fresh_per_call_and_off_at_inference():
    images = np.random.default_rng(0).random((4, 12, 12, 1)).astype("float32")
    augment = random_augmentation(seed=7)
    first, second = augment(images, training=True).numpy(), augment(images, training=True).numpy()
    assert first.shape == images.shape
    assert not np.allclose(first, second)  # new angles and flips every call, i.e. every epoch
    np.testing.assert_allclose(random_augmentation(seed=7)(images, training=True).numpy(), first)
    np.testing.assert_array_equal(augment(images, training=False).numpy(), images)
    layers = {type(layer).__name__: layer for layer in augment.layers}
    assert layers["RandomRotation"].fill_mode == "reflect"
    assert layers["RandomFlip"].mode == "horizontal_and_vertical"


def tiny_model(n_classes: int = 3, activation: str = "softmax"):
    import keras

    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Flatten(), keras.layers.Dense(n_classes,
                                                                                                activation)])


def test_tta_averages_softmax_over_the_eight_variants():
    import tensorflow as tf

    model = tiny_model()
    images = np.random.default_rng(1).random((5, 6, 6, 1)).astype("float32")
    expected = np.mean([model(dihedral_batch(images, v)).numpy() for v in range(N_VARIANTS)], axis=0)
    averaged = predict_dihedral_tta(model, images, batch_size=2)
    np.testing.assert_allclose(averaged, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(averaged.sum(axis=1), 1, rtol=1e-5)
    assert not np.allclose(averaged, model(images).numpy())  # the Dense layer is not rotation-invariant
    dataset = tf.data.Dataset.from_tensor_slices((images, np.zeros(5, "int32"))).batch(3)
    np.testing.assert_allclose(predict_dihedral_tta(model, dataset), expected, rtol=1e-5, atol=1e-6)


def test_tta_applies_softmax_to_logits_before_averaging():
    import tensorflow as tf

    model = tiny_model(activation=None)
    images = np.random.default_rng(2).random((3, 6, 6, 1)).astype("float32")
    expected = np.mean([tf.nn.softmax(model(dihedral_batch(images, v))).numpy() for v in range(8)], axis=0)
    np.testing.assert_allclose(predict_dihedral_tta(model, images, from_logits=True), expected, rtol=1e-5)
