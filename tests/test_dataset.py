"""Splits (stratified, seeded, leak-free), the balanced course-project split, and the tf.data input."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from conftest import write_corrupt_png  # noqa: E402
from PIL import Image  # noqa: E402

from galaxy_utils.data.catalogue import CatalogueError  # noqa: E402
from galaxy_utils.images.augmentation import balance_by_dihedral, dihedral  # noqa: E402
from galaxy_utils.images.decode import ImageSpec, load_image  # noqa: E402
from galaxy_utils.images.store import ImageStore  # noqa: E402
from galaxy_utils.learn.dataset import (  # noqa: E402
    balanced_train_test,
    catalogue_images,
    label_indices,
    make_dataset,
    split_catalogue,
)

CLASSES = ["round", "edge-on", "spiral"]


def label_catalogue(counts: dict[str, int]) -> pd.DataFrame:
    rows = [(f"{label}-{i:04d}", f"/nowhere/{label}-{i}.png", label) for label, n in counts.items() for i in range(n)]
    return pd.DataFrame(rows, columns=["iauname", "file_loc", "label"])


def ids(frame: pd.DataFrame) -> set[str]:
    return set(frame["iauname"])


@pytest.fixture(scope="module")
def image_catalogue(tmp_path_factory) -> pd.DataFrame:
    """12 small PNGs; each image's brightness encodes its row (10 * row + 5) and its top-left
    quadrant is bright, so labels, order and dihedral variants can be read off the pixels."""
    root = tmp_path_factory.mktemp("images")
    rows = []
    for i in range(12):
        pixels = np.full((16, 16), 10 * i + 5, dtype=np.uint8)
        pixels[:8, :8] = 250
        path = root / f"g{i:02d}.png"
        Image.fromarray(pixels).save(path)
        rows.append((f"g{i:02d}", str(path), CLASSES[i % 3]))
    return pd.DataFrame(rows, columns=["iauname", "file_loc", "label"])


# --------------------------------------------------------------------------------------
# Splits
# --------------------------------------------------------------------------------------


def test_split_is_stratified_disjoint_and_complete():
    catalogue = label_catalogue({"round": 200, "edge-on": 100, "spiral": 100})
    train, val, test = split_catalogue(catalogue, val_fraction=0.1, test_fraction=0.2, seed=0)
    assert (len(train), len(val), len(test)) == (280, 40, 80)
    assert val["label"].value_counts().to_dict() == {"round": 20, "edge-on": 10, "spiral": 10}
    assert test["label"].value_counts().to_dict() == {"round": 40, "edge-on": 20, "spiral": 20}
    assert not ids(train) & ids(val) and not ids(train) & ids(test) and not ids(val) & ids(test)
    assert ids(train) | ids(val) | ids(test) == ids(catalogue)
    assert train.index.is_monotonic_increasing  # catalogue order kept


def test_split_is_deterministic_under_a_seed():
    catalogue = label_catalogue({"round": 50, "edge-on": 30, "spiral": 20})
    first = split_catalogue(catalogue, 0.1, 0.1, seed=4)
    again = split_catalogue(catalogue, 0.1, 0.1, seed=4)
    other = split_catalogue(catalogue, 0.1, 0.1, seed=5)
    for a, b in zip(first, again, strict=True):
        pd.testing.assert_frame_equal(a, b)
    assert ids(first.val) != ids(other.val)


def test_three_class_recipe_ten_percent_validation_and_no_test():
    catalogue = label_catalogue({"round": 60, "edge-on": 20, "spiral": 20})
    train, val, test = split_catalogue(catalogue, 0.1, 0.0, seed=0)
    assert (len(train), len(val), len(test)) == (90, 10, 0)


def test_split_refuses_augmented_catalogues_and_explains_tiny_classes():
    balanced, _ = balance_by_dihedral(label_catalogue({"round": 10, "spiral": 4}), seed=0)
    with pytest.raises(CatalogueError, match="split the original galaxies first"):
        split_catalogue(balanced, 0.1, 0.1, seed=0)
    with pytest.raises(ValueError, match=r"spiral \(1\)"):
        split_catalogue(label_catalogue({"round": 30, "spiral": 1}), 0.2, 0.0, seed=0)


def test_no_galaxy_of_the_augmented_training_set_reaches_validation_or_test():
    catalogue = label_catalogue({"round": 120, "edge-on": 30, "spiral": 15})
    train, val, test = split_catalogue(catalogue, 0.1, 0.1, seed=2)
    balanced, report = balance_by_dihedral(train, seed=2)
    assert len(balanced) > len(train) and report["augmented"].sum() > 0
    assert ids(balanced) == ids(train)  # copies are of training galaxies only
    assert not ids(balanced) & ids(val) and not ids(balanced) & ids(test)
    assert "variant" not in val.columns and "variant" not in test.columns


def test_balanced_train_test_equal_per_class_with_an_original_only_test_set():
    catalogue = label_catalogue({"round": 300, "edge-on": 90, "spiral": 40})
    split = balanced_train_test(catalogue, n_train=360, n_test=60, seed=0, class_names=CLASSES)
    assert split.train["label"].value_counts().to_dict() == {"round": 120, "edge-on": 120, "spiral": 120}
    assert split.test["label"].value_counts().to_dict() == {"round": 20, "edge-on": 20, "spiral": 20}
    assert not split.test["iauname"].duplicated().any() and "variant" not in split.test.columns
    assert not ids(split.train) & ids(split.test)  # augmented copies included: leak-free by id
    assert split.report.index.tolist() == CLASSES
    assert split.report.loc["spiral", ["available", "originals", "augmented", "total", "test"]].tolist() == [
        20, 20, 100, 120, 20
    ]
    assert "subsampled" in split.report.loc["round", "note"]
    again = balanced_train_test(catalogue, n_train=360, n_test=60, seed=0, class_names=CLASSES)
    pd.testing.assert_frame_equal(split.train, again.train)


def test_balanced_train_test_refuses_impossible_requests():
    catalogue = label_catalogue({"round": 50, "spiral": 5})
    with pytest.raises(ValueError, match="spiral"):
        balanced_train_test(catalogue, n_train=20, n_test=10, seed=0)
    with pytest.raises(ValueError, match="divide evenly"):
        balanced_train_test(catalogue, n_train=21, n_test=2, seed=0)


# --------------------------------------------------------------------------------------
# make_dataset and catalogue_images
# --------------------------------------------------------------------------------------


def row_of(images: np.ndarray) -> np.ndarray:
    """Recover each image's catalogue row from its (un-rotated) background brightness."""
    return np.rint((images[:, 15, 15, 0] * 255 - 5) / 10).astype(int)


def test_make_dataset_yields_scaled_float_images_and_matching_labels(image_catalogue, tmp_path):
    spec = ImageSpec(16, greyscale=True)
    dataset = make_dataset(image_catalogue, CLASSES, spec, batch_size=5, shuffle=True, seed=0, cache_dir=tmp_path)
    batches = list(dataset)
    assert [len(labels) for _, labels in batches] == [5, 5, 2]
    images = np.concatenate([b[0].numpy() for b in batches])
    labels = np.concatenate([b[1].numpy() for b in batches])
    assert images.dtype == np.float32 and labels.dtype == np.int32 and images.shape == (12, 16, 16, 1)
    assert 0 <= images.min() and images.max() <= 1
    rows = row_of(images)
    assert sorted(rows) == list(range(12))
    assert rows.tolist() != list(range(12))  # shuffled
    np.testing.assert_array_equal(labels, label_indices(image_catalogue, CLASSES)[rows])
    assert len(ImageStore(tmp_path, spec)) == 12  # cached on first use


def test_make_dataset_is_seeded_and_reshuffles_every_epoch(image_catalogue):
    spec = ImageSpec(16, greyscale=True)

    def epochs(seed):
        dataset = make_dataset(image_catalogue, CLASSES, spec, batch_size=12, shuffle=True, seed=seed)
        return [row_of(next(iter(dataset))[0].numpy()).tolist() for _ in range(2)]

    first = epochs(1)
    assert first == epochs(1)
    assert first[0] != first[1]
    unshuffled = make_dataset(image_catalogue, CLASSES, spec, batch_size=12, shuffle=False, seed=0)
    assert row_of(next(iter(unshuffled))[0].numpy()).tolist() == list(range(12))


def test_variant_column_applies_the_dihedral_transform(image_catalogue, tmp_path):
    spec = ImageSpec(16, greyscale=True)
    frame = image_catalogue.iloc[:8].assign(variant=np.arange(8, dtype="int8"))
    images, _ = next(iter(make_dataset(frame, CLASSES, spec, batch_size=8, shuffle=False, seed=0,
                                       cache_dir=tmp_path)))
    for i, path in enumerate(frame["file_loc"]):
        expected = dihedral(load_image(path, spec), i).astype(np.float32) / 255
        np.testing.assert_allclose(images[i].numpy(), expected, atol=1e-6)
    stacked = catalogue_images(frame, spec, cache_dir=tmp_path)
    assert stacked.dtype == np.uint8 and stacked.shape == (8, 16, 16, 1)
    np.testing.assert_allclose(stacked / 255, images.numpy(), atol=1e-6)


@pytest.mark.parametrize("spec", [ImageSpec(16, greyscale=True), ImageSpec(12, 0.5)], ids=["grey", "rgb"])
def test_the_model_sees_exactly_the_decoded_pixels(image_catalogue, tmp_path, spec):
    # Bit for bit what a direct decode gives, through a cold cache, a warm one and no cache:
    # the same float32 values the per-image pipeline fed every committed run.
    frame = pd.concat([image_catalogue.assign(variant=np.int8(0)),
                       image_catalogue.iloc[:8].assign(variant=np.arange(8, dtype="int8"))], ignore_index=True)
    pairs = zip(frame["file_loc"], frame["variant"], strict=True)
    expected = np.stack([dihedral(load_image(path, spec), int(v)) for path, v in pairs])
    expected = expected.astype(np.float32) / np.float32(255.0)
    sizes = []
    for cache_dir in (tmp_path, tmp_path, None):
        batches = list(make_dataset(frame, CLASSES, spec, batch_size=7, shuffle=False, seed=0, cache_dir=cache_dir))
        images = np.concatenate([b[0].numpy() for b in batches])
        assert images.dtype == np.float32 and images.tobytes() == expected.tobytes()
        np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in batches]),
                                      label_indices(frame, CLASSES))
        sizes.append(len(ImageStore(tmp_path, spec)))
    assert len(image_catalogue) <= sizes[0] == sizes[1] == sizes[2]  # stored on first use, then only read


def test_unreadable_images_are_skipped_and_reported(image_catalogue, tmp_path):
    broken = write_corrupt_png(tmp_path / "broken.png")
    frame = pd.concat(
        [image_catalogue.iloc[:4],
         pd.DataFrame({"iauname": ["bad", "gone"], "file_loc": [str(broken), str(tmp_path / "gone.png")],
                       "label": ["round", "spiral"]})],
        ignore_index=True,
    )
    skipped = []
    dataset = make_dataset(frame, CLASSES, ImageSpec(8), batch_size=4, shuffle=False, seed=0,
                           cache_dir=tmp_path / "cache", skipped=skipped)
    for _ in range(2):  # reported once, however many epochs
        assert sum(len(labels) for _, labels in dataset) == 4
    assert sorted(s["id"] for s in skipped) == ["bad", "gone"]
    assert {s["file_loc"] for s in skipped} == {str(broken), str(tmp_path / "gone.png")}
    assert all(s["error"] for s in skipped)


def test_augmented_dataset_changes_every_epoch_and_unlabelled_catalogues_work(image_catalogue):
    spec = ImageSpec(16, greyscale=True)
    dataset = make_dataset(image_catalogue, CLASSES, spec, batch_size=12, shuffle=False, seed=0, augment=True)
    first, second = (next(iter(dataset))[0].numpy() for _ in range(2))
    assert first.shape == (12, 16, 16, 1) and not np.allclose(first, second)
    unlabelled = make_dataset(image_catalogue.drop(columns="label"), None, spec, batch_size=12, shuffle=False,
                              seed=0)
    assert (next(iter(unlabelled))[1].numpy() == -1).all()
    with pytest.raises(CatalogueError, match="spiral"):
        make_dataset(image_catalogue, ["round", "edge-on"], spec, batch_size=4, shuffle=False, seed=0)


def test_repeat_streams_past_the_end_of_the_catalogue(image_catalogue):
    dataset = make_dataset(image_catalogue, CLASSES, ImageSpec(8), batch_size=5, shuffle=True, seed=0, repeat=True)
    assert sum(len(labels) for _, labels in dataset.take(7)) == 35
