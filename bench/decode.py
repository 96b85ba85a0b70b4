"""Decode benchmark: decode + centre-crop + resize per second against a plain Pillow decode.

Also measures the thread-parallel batch helper (``preprocess_catalogue``) and reads from
the warm cache. Images (424 x 424 RGB PNGs): by default the project's mock survey, made
once under ``artifacts/bench/mock-<n>/``; ``--source synthetic`` draws simple noisy
galaxies with NumPy instead (no GalSim needed); ``--image-root`` takes the PNGs of any
folder (e.g. ``data/mock/images`` or the real GZD-5 images). The other benchmarks import
:func:`bench_catalogue` and :func:`add_source_arguments` from here.

    python bench/decode.py [--n 300] [--source mock|synthetic] [--image-root DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from galaxy_utils.data import labels  # noqa: E402
from galaxy_utils.images.decode import ImageSpec, load_image  # noqa: E402
from galaxy_utils.images.store import preprocess_catalogue  # noqa: E402

BENCH_DIR = ROOT / "artifacts" / "bench"
SYNTHETIC_DIR = BENCH_DIR / "synthetic"
CLASSES = labels.class_names(labels.THREE_CLASS)
THREE_CLASS_SPEC = ImageSpec(64, crop_fraction=0.5, greyscale=True)
COURSE_SPEC = ImageSpec(224)


def synthetic_galaxy(rng: np.random.Generator, label: str, size: int = 424) -> np.ndarray:
    """A 424 x 424 RGB cutout: an exponential disk (round, edge-on or two-armed spiral)
    with a redder bulge, sky noise and an asinh stretch, like a DECaLS colour image."""
    y, x = np.mgrid[:size, :size].astype(np.float32) - (size - 1) / 2 + rng.normal(0, 3, 2)[:, None, None]
    angle = rng.uniform(0, np.pi)
    u, v = x * np.cos(angle) + y * np.sin(angle), -x * np.sin(angle) + y * np.cos(angle)
    axis_ratio = {"round": rng.uniform(0.8, 1.0), "edge-on": rng.uniform(0.1, 0.25)}.get(label, rng.uniform(0.5, 0.9))
    scale = rng.uniform(12, 30)
    radius = np.hypot(u, v / axis_ratio)
    disk = np.exp(-radius / scale)
    if label == "spiral":
        theta = np.arctan2(v, u)
        disk *= 1 + 0.8 * np.cos(2 * (theta - np.log1p(radius / scale) * 2.5)) * (radius > scale / 2)
    bulge = np.exp(-((radius / (scale / 3)) ** 0.5) * 3)
    colours = np.array([[0.7, 1.3], [1.0, 1.0], [1.3, 0.6]], dtype=np.float32)  # (r/g/b) x (disk, bulge)
    flux = rng.uniform(20, 80)
    channels = [flux * (c[0] * disk + c[1] * bulge) + rng.normal(0, 0.15, disk.shape) for c in colours]
    image = np.arcsinh(np.stack(channels, axis=-1)) / np.arcsinh(flux * 2)
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)


def synthetic_survey(n: int, seed: int = 0, out: Path = SYNTHETIC_DIR) -> pd.DataFrame:
    """Write (or reuse) ``n`` synthetic PNGs; return their catalogue (iauname, file_loc, label)."""
    rows = []
    for i in range(n):
        label = CLASSES[i % len(CLASSES)]
        name = f"S{seed:03d}{i:06d}"
        path = out / name[:4] / f"{name}.png"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(".tmp.png")
            Image.fromarray(synthetic_galaxy(np.random.default_rng([seed, i]), label)).save(temporary)
            temporary.replace(path)
        rows.append((name, str(path.resolve()), label))
    return pd.DataFrame(rows, columns=["iauname", "file_loc", "label"])


def folder_catalogue(image_root: Path, n: int) -> pd.DataFrame:
    """The first ``n`` PNGs under ``image_root`` (e.g. the mock survey), labels cycled."""
    paths = sorted(image_root.rglob("*.png"))[:n]
    if not paths:
        raise SystemExit(f"no PNG images under {image_root}")
    return pd.DataFrame(
        {
            "iauname": [p.stem for p in paths],
            "file_loc": [str(p.resolve()) for p in paths],
            "label": [CLASSES[i % len(CLASSES)] for i in range(len(paths))],
        }
    )


def mock_survey(n: int, seed: int = 1) -> pd.DataFrame:
    """The project's own mock survey of ``n`` galaxies (rendered once, then reused)."""
    from galaxy_utils.mock import generate_mock_survey

    out = BENCH_DIR / f"mock-{n}-seed{seed}"
    paths = generate_mock_survey(n, seed, out, progress=False)
    return folder_catalogue(Path(paths.images), n)


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", choices=("mock", "synthetic"), default="mock",
                        help="mock survey (default) or NumPy-drawn synthetic galaxies")
    parser.add_argument("--image-root", help="use the PNGs under this folder instead")


def source_tag(args: argparse.Namespace) -> str:
    """A folder-name-safe tag of the image source, so linked copies of one source are never
    mistaken for another's."""
    if args.image_root:
        return "root-" + hashlib.sha1(str(Path(args.image_root).resolve()).encode()).hexdigest()[:10]
    return args.source


def bench_catalogue(n: int, args: argparse.Namespace) -> pd.DataFrame:
    """``n`` images (iauname, file_loc, label) from the source the command line chose."""
    if args.image_root:
        return folder_catalogue(Path(args.image_root), n)
    return mock_survey(n) if args.source == "mock" else synthetic_survey(n)


def rate(function, items, repeats: int = 3) -> float:
    """Best of ``repeats`` passes, in items per second (the best pass is the least disturbed
    by other processes on a shared machine)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for item in items:
            function(item)
        best = min(best, time.perf_counter() - start)
    return len(items) / best


def pillow_decode(path: str) -> None:
    with Image.open(path) as image:
        image.load()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="images (default 300)")
    add_source_arguments(parser)
    args = parser.parse_args()

    catalogue = bench_catalogue(args.n, args)
    paths = catalogue["file_loc"].tolist()
    for path in paths:  # the OS file cache is warm for every contender alike
        Path(path).read_bytes()

    pillow = rate(pillow_decode, paths)
    pipeline = rate(lambda p: load_image(p, THREE_CLASS_SPEC), paths)
    course = rate(lambda p: load_image(p, COURSE_SPEC), paths)

    cache_dir = BENCH_DIR / "decode-cache"
    shutil.rmtree(cache_dir, ignore_errors=True)
    start = time.perf_counter()
    report = preprocess_catalogue(catalogue, THREE_CLASS_SPEC, cache_dir, progress=False)
    parallel = len(paths) / (time.perf_counter() - start)
    assert report.n_decoded == len(paths), report.format()
    start = time.perf_counter()
    report = preprocess_catalogue(catalogue, THREE_CLASS_SPEC, cache_dir, progress=False)
    cached = len(paths) / (time.perf_counter() - start)
    assert report.n_cached == len(paths), report.format()
    shutil.rmtree(cache_dir, ignore_errors=True)

    source = args.image_root or args.source
    print(f"{len(paths)} {source} images of {Image.open(paths[0]).size}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.2f}")
    print(f"  plain Pillow decode:                       {pillow:8.0f} img/s")
    print(f"  decode + crop 0.5 + resize 64 + grey:      {pipeline:8.0f} img/s  ({THREE_CLASS_SPEC.key})")
    print(f"  decode + resize 224 (course project):      {course:8.0f} img/s  ({COURSE_SPEC.key})")
    print(f"  preprocess_catalogue, {os.cpu_count()} threads, cold cache: {parallel:8.0f} img/s")
    print(f"  preprocess_catalogue, warm cache:          {cached:8.0f} img/s")
    print(
        f"pipeline_img_s={pipeline:.0f} pillow_img_s={pillow:.0f} pipeline_224_img_s={course:.0f} "
        f"parallel_img_s={parallel:.0f} cached_img_s={cached:.0f} n={len(paths)} load={os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
