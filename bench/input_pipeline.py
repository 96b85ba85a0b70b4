"""Input-pipeline benchmark: training speed of a 3-conv CNN fed from image files vs from memory.

The same model trains on the same 64 x 64 greyscale images (the 3-class project's
recipe), fed either by ``make_dataset`` from the image files through the on-disk cache
(filled once by ``preprocess_catalogue``, as before any real training) or from tensors
already in memory. ``ratio`` = file / memory: 1.0 means the input never starves the model.
The feeds alternate pass by pass; figures are medians over the rounds and ``ratio`` the
median of each round's file / memory ratio, so a burst of load from other processes on a
shared machine does not decide the result.

    python bench/input_pipeline.py [--rows 2048] [--epochs 1] [--rounds 6] [--augment]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from decode import (  # noqa: E402
    BENCH_DIR,
    CLASSES,
    THREE_CLASS_SPEC,
    add_source_arguments,
    bench_catalogue,
    source_tag,
)

from galaxy_utils.images.store import preprocess_catalogue  # noqa: E402
from galaxy_utils.learn.dataset import catalogue_images, label_indices, make_dataset  # noqa: E402


def linked_catalogue(base, rows: int, folder: Path):
    """``rows`` distinct file paths (hard links to the base images, cycled): every path is a
    separate file to open and a separate cache entry, as in a real survey."""
    folder.mkdir(parents=True, exist_ok=True)
    out = base.iloc[np.arange(rows) % len(base)].reset_index(drop=True)
    links = []
    for i, source in enumerate(out["file_loc"]):
        link = folder / f"{i // 1000:03d}" / f"L{i:07d}.png"
        if not link.exists():
            link.parent.mkdir(exist_ok=True)
            try:
                os.link(source, link)
            except OSError:
                link.symlink_to(source)
        links.append(str(link))
    return out.assign(iauname=[f"L{i:07d}" for i in range(rows)], file_loc=links)


def build_model(input_shape, n_classes: int):
    """Three conv blocks and a small dense head: the 3-class project's network size."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(32, 3, activation="relu", padding="same"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, activation="relu", padding="same"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, activation="relu", padding="same"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(n_classes, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2048, help="training rows (default 2048)")
    parser.add_argument("--base-images", type=int, default=300, help="distinct images, linked to reach --rows")
    add_source_arguments(parser)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=1, help="timed epochs per pass (default 1)")
    parser.add_argument("--rounds", type=int, default=6, help="alternating passes per feed (default 6)")
    parser.add_argument("--augment", action="store_true", help="random rotation and flips in both feeds")
    args = parser.parse_args()

    import tensorflow as tf

    # Keras warns at the end of the first epoch of a dataset of unknown length (skipping
    # unreadable images makes the length unknown); nothing is wrong.
    warnings.filterwarnings("ignore", message="Your input ran out of data")

    from galaxy_utils.images.augmentation import random_augmentation

    spec = THREE_CLASS_SPEC
    catalogue = linked_catalogue(bench_catalogue(args.base_images, args), args.rows,
                                 BENCH_DIR / f"input-pipeline-links-{source_tag(args)}-{args.base_images}")
    cache_dir = BENCH_DIR / "input-pipeline-cache"
    shutil.rmtree(cache_dir, ignore_errors=True)
    start = time.perf_counter()
    report = preprocess_catalogue(catalogue, spec, cache_dir, progress=False)
    fill_s = time.perf_counter() - start
    assert report.unreadable.empty, report.format()

    file_feed = make_dataset(catalogue, CLASSES, spec, batch_size=args.batch_size, shuffle=True, seed=0,
                             augment=args.augment, cache_dir=cache_dir)
    images = tf.constant(catalogue_images(catalogue, spec, cache_dir=cache_dir).astype(np.float32) / 255.0)
    labels = tf.constant(label_indices(catalogue, CLASSES))
    memory_feed = tf.data.Dataset.from_tensor_slices((images, labels)).shuffle(len(catalogue), seed=0)
    memory_feed = memory_feed.batch(args.batch_size)
    if args.augment:
        augmenter = random_augmentation(0)
        memory_feed = memory_feed.map(lambda x, y: (augmenter(x, training=True), y))
    memory_feed = memory_feed.prefetch(tf.data.AUTOTUNE)

    model = build_model(spec.shape, len(CLASSES))
    feeds = {"file": file_feed, "memory": memory_feed}
    for feed in feeds.values():  # trace the training step and warm both pipelines
        model.fit(feed, epochs=1, verbose=0, shuffle=False)
    rates: dict[str, list[float]] = {name: [] for name in feeds}
    for round_index in range(args.rounds):
        # Alternate which feed goes first, so a drift in the machine's load hits both alike.
        for name in list(feeds)[:: 1 if round_index % 2 == 0 else -1]:
            start = time.perf_counter()
            model.fit(feeds[name], epochs=args.epochs, verbose=0, shuffle=False)
            rates[name].append(args.epochs * len(catalogue) / (time.perf_counter() - start))
    # Each round's two passes ran back to back under about the same load: the median of
    # their ratios is steadier than a ratio of separately chosen best passes.
    ratio = float(np.median(np.array(rates["file"]) / np.array(rates["memory"])))
    median = {name: float(np.median(values)) for name, values in rates.items()}
    shutil.rmtree(cache_dir, ignore_errors=True)

    print(f"{len(catalogue)} rows ({args.base_images} distinct images), {spec.key}, batch {args.batch_size}, "
          f"augment={args.augment}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    print(f"  cache filled in {fill_s:.1f} s ({len(catalogue) / fill_s:.0f} img/s)")
    for name, label in (("file", "training from files (cache)"), ("memory", "training from memory")):
        passes = " ".join(f"{r:.0f}" for r in rates[name])
        print(f"  {label:<28} {median[name]:8.0f} img/s (median; passes: {passes})")
    print(
        f"file_img_s={median['file']:.0f} memory_img_s={median['memory']:.0f} ratio={ratio:.3f} "
        f"rows={len(catalogue)} load={os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
