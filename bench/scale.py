"""Scale benchmark: peak memory while preparing and streaming a 250,000-galaxy catalogue.

GZD-5 has 253,286 galaxies. A few hundred images are hard-linked (symlinked where hard
links fail) to reach 250,000 distinct files under ``artifacts/bench/scale/links-*/``
(made once, reused). Then the whole image stage runs over all rows: images located
(``resolve_images``), stratified train / validation / test split, the training split
balanced with dihedral copies, and streaming datasets built for training and validation
over every row. Part of one training epoch is then read (decoded from the PNGs into a
fresh cache, as a first epoch is), because a full cold epoch of 300,000 rows takes most
of an hour on two cores; the resident memory sampled while streaming stays flat.

    python bench/scale.py [--rows 250000] [--iterate 10000]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

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

from galaxy_utils.data.catalogue import resolve_images  # noqa: E402
from galaxy_utils.images.augmentation import balance_by_dihedral  # noqa: E402
from galaxy_utils.learn.dataset import make_dataset, split_catalogue  # noqa: E402

SCALE_DIR = BENCH_DIR / "scale"
# Imbalanced like GZD-5's classes, so balancing has copies to make.
CLASS_SHARES = {"round": 0.5, "edge-on": 0.2, "spiral": 0.3}


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def rss_mb() -> float:
    """Current resident memory (Linux); the peak where /proc is absent."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        return peak_rss_mb()
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def survey_catalogue(rows: int, base: pd.DataFrame, seed: int) -> pd.DataFrame:
    """``rows`` galaxies with imbalanced labels, each a link to a base image of its class,
    named like GZD-5's ``png_loc`` (``J###/<name>.png``, relative to the link folder)."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(list(CLASS_SHARES), size=rows, p=list(CLASS_SHARES.values()))
    sources = np.empty(rows, dtype=object)
    for label in CLASS_SHARES:
        pool = base.loc[base["label"] == label, "file_loc"].to_numpy()
        where = labels == label
        sources[where] = pool[rng.integers(0, len(pool), where.sum())]
    names = [f"B{i:07d}" for i in range(rows)]
    locations = [f"J{i // 1000:03d}/{name}.png" for i, name in enumerate(names)]
    return pd.DataFrame({"iauname": names, "png_loc": locations, "label": labels, "source": sources})


def make_links(catalogue: pd.DataFrame, folder: Path) -> None:
    """Link every row's image into place once; a marker file records a finished set."""
    marker = folder / ".complete"
    if marker.exists():
        return
    start = time.perf_counter()
    for location, source in zip(catalogue["png_loc"], catalogue["source"], strict=True):
        link = folder / location
        if link.is_symlink() or link.exists():
            link.unlink()
        link.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, link)
        except OSError:
            link.symlink_to(source)
    marker.touch()
    print(f"linked {len(catalogue)} images in {time.perf_counter() - start:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=250_000)
    parser.add_argument("--iterate", type=int, default=10_000, help="training images read (default 10000)")
    parser.add_argument("--base-images", type=int, default=300)
    add_source_arguments(parser)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import tensorflow as tf

    started = time.perf_counter()
    links = SCALE_DIR / f"links-{source_tag(args)}-{args.base_images}-seed{args.seed}-{args.rows}"
    raw = survey_catalogue(args.rows, bench_catalogue(args.base_images, args), args.seed)
    make_links(raw, links)
    rss_start = rss_mb()

    # Preparing: every step over every row.
    prepare_start = time.perf_counter()
    located = resolve_images(raw.drop(columns="source"), links, verify="exists").catalogue
    assert len(located) == args.rows, "some links are missing"
    train, val, test = split_catalogue(located, val_fraction=0.1, test_fraction=0.1, seed=args.seed)
    balanced, report = balance_by_dihedral(train, seed=args.seed)
    cache_dir = SCALE_DIR / "cache"
    shutil.rmtree(cache_dir, ignore_errors=True)
    spec = THREE_CLASS_SPEC
    train_data = make_dataset(balanced, CLASSES, spec, batch_size=args.batch_size, shuffle=True, seed=args.seed,
                              cache_dir=cache_dir)
    val_data = make_dataset(val, CLASSES, spec, batch_size=args.batch_size, shuffle=False, seed=args.seed,
                            cache_dir=cache_dir)
    prepare_s = time.perf_counter() - prepare_start
    rss_prepared = rss_mb()

    # Streaming part of a (cold-cache) training epoch, then a little validation.
    n_batches = args.iterate // args.batch_size
    iterate_start = time.perf_counter()
    seen = 0
    rss_samples = []
    for step, (_images, labels) in enumerate(train_data.take(n_batches)):
        seen += int(labels.shape[0])
        if step % 20 == 0:
            rss_samples.append(rss_mb())
    iterate_s = time.perf_counter() - iterate_start
    for images, _labels in val_data.take(4):
        tf.debugging.assert_less_equal(tf.reduce_max(images), 1.0)
    rss_end = rss_mb()
    peak = peak_rss_mb()
    shutil.rmtree(cache_dir, ignore_errors=True)

    print(report.to_string())
    print(
        f"{args.rows} rows -> train {len(train)} (balanced {len(balanced)}), val {len(val)}, test {len(test)}; "
        f"{spec.key}; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}"
    )
    print(f"  prepared (locate, split, balance, build datasets) in {prepare_s:.1f} s")
    print(f"  streamed {seen} training images in {iterate_s:.1f} s, cold cache ({seen / iterate_s:.0f} img/s)")
    print(f"  RSS: {rss_start:.0f} MB before preparing, {rss_prepared:.0f} MB prepared, "
          f"{min(rss_samples):.0f}-{max(rss_samples):.0f} MB while streaming, {rss_end:.0f} MB at the end; "
          f"peak {peak:.0f} MB; total {time.perf_counter() - started:.0f} s")
    print(
        f"rows={args.rows} peak_rss_mb={peak:.0f} img_s={seen / iterate_s:.0f} balanced_rows={len(balanced)} "
        f"prepare_s={prepare_s:.1f} iterated={seen}"
    )


if __name__ == "__main__":
    main()
