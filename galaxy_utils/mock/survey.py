"""Write a whole mock GZD-5 survey to disk: catalogue, ground truth and images.

Layout under ``out``::

    gz_decals_volunteers_5.csv   the volunteer catalogue, exact 127-column GZD-5 header
    truth.csv                    iauname + true morphology and parameters
    images/dr5/J###/<iauname>.png

Everything follows from ``seed``: truths, votes and each galaxy's image seed come from
separate children of ``numpy.random.SeedSequence(seed)``, and each image depends only on
its truth and its own seed, so the output is byte-identical whatever the number of
workers. Generation resumes: images already on disk that decode as 424x424 RGB PNGs are
kept, missing or broken ones are (re)drawn.

A survey is also a prefix of every larger survey of the same seed: the first ``n`` rows of
a ``2n``-galaxy survey are the ``n``-galaxy survey, images included (truths, votes and
image seeds are drawn in galaxy order). So a larger survey can link the images a smaller
one already drew (``reuse_from``) instead of drawing them again, and a finished survey
records its size and seed in a ``.complete`` marker that says which surveys it can serve.

Every file is written under a temporary name unique to its process (``.<name>.<pid>.<random>.partial``)
and renamed into place, and a run holds an exclusive lock on its folder: a second run into
the same folder is refused at once rather than racing the first; ``.partial`` files left by
a killed run are removed by the next one.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from tqdm.auto import tqdm

from galaxy_utils.data.catalogue import png_loc_for
from galaxy_utils.data.files import CATALOGUE_NAME, TRUTH_NAME, written_atomically
from galaxy_utils.mock.morphology import GalaxyTruth, sample_truths, truth_table
from galaxy_utils.mock.render import IMAGE_SIZE, render_galaxy
from galaxy_utils.mock.volunteers import volunteer_catalogue

IMAGE_FOLDER = "images"
COMPLETE_MARKER = ".complete"
# Written with the catalogue and truth: the survey's tables are there, its images maybe not
# all (a figure that shows a few galaxies of a large survey draws only those).
CATALOGUE_MARKER = ".catalogue"
SMALL_DRAW = 32  # draw_mock_images renders fewer images than this in the calling process
# Fixed CSV formatting, so the same seed gives the same bytes.
FLOAT_FORMAT = "%.10g"
# Sky noise hardly compresses: zlib's fastest level with run-length matching only writes files
# as small as its default matching (348 KB a cutout) in 30% less time, and they decode 20% faster.
PNG_COMPRESS_LEVEL = 1
PNG_COMPRESS_TYPE = zlib.Z_RLE


@dataclass(frozen=True)
class MockSurveyPaths:
    """Where a generated survey lives, and what this run had to draw."""

    root: Path
    catalogue: Path
    truth: Path
    images: Path
    images_written: int
    images_kept: int
    images_linked: int = 0


def is_valid_image(path: Path) -> bool:
    """True for a fully decodable 424x424 RGB PNG (what a finished render leaves)."""
    try:
        with Image.open(path) as image:
            if image.format != "PNG" or image.mode != "RGB" or image.size != (IMAGE_SIZE, IMAGE_SIZE):
                return False
            image.load()
    except (OSError, ValueError, SyntaxError):
        return False
    return True


def write_png(array: np.ndarray, path: Path) -> None:
    """Write atomically with fixed options (Pillow adds no timestamp), so reruns match."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with written_atomically(path) as partial:
        Image.fromarray(array).save(partial, format="PNG", compress_level=PNG_COMPRESS_LEVEL,
                                    compress_type=PNG_COMPRESS_TYPE, optimize=False)


def _ensure_image(task: tuple[GalaxyTruth, int, str]) -> bool:
    """Render one galaxy unless a valid image is already there; True if it was written."""
    truth, seed, path_text = task
    path = Path(path_text)
    if is_valid_image(path):
        return False
    write_png(render_galaxy(truth, seed), path)
    return True


def complete_marker_text(n: int, seed: int) -> str:
    return f"n={n} seed={seed}\n"


def read_complete_marker(folder: Path, marker: str = COMPLETE_MARKER) -> tuple[int, int] | None:
    """``(n, seed)`` of the finished survey in ``folder``, or None (absent, unfinished or unreadable).
    ``marker=CATALOGUE_MARKER``: of the survey whose catalogue and truth are there."""
    try:
        fields = dict(item.split("=", 1) for item in (Path(folder) / marker).read_text().split())
        return int(fields["n"]), int(fields["seed"])
    except (OSError, ValueError, KeyError):
        return None


def _link_existing_images(locations, image_root: Path, seed: int, reuse_from) -> int:
    """Hard-link (or copy) into ``image_root`` the images that finished surveys of the same
    seed already drew at the same ``png_loc``; returns how many. Valid by the prefix
    property above; the caller still checks every image decodes."""
    sources = [Path(folder) for folder in reuse_from
               if (marker := read_complete_marker(folder)) is not None and marker[1] == seed]
    linked = 0
    for location in locations:
        target = image_root / location
        if target.exists():
            continue
        for folder in sources:
            source = folder / IMAGE_FOLDER / location
            if source.is_file() and source.resolve() != target.resolve():
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(source, target)
                except OSError:
                    shutil.copy2(source, target)
                linked += 1
                break
    return linked


def _write_csv(table: pd.DataFrame, path: Path) -> None:
    with written_atomically(path) as partial:
        table.to_csv(partial, index=False, float_format=FLOAT_FORMAT, na_rep="", lineterminator="\n")


@contextlib.contextmanager
def exclusive_folder(folder: Path):
    """Hold an exclusive lock on ``folder`` (flock on the folder itself, so no lock file is
    left behind); a second holder gets a ValueError naming the folder. Where the system
    has no ``fcntl`` (Windows), nothing is locked and the unique temporary names still
    keep two runs from writing into each other's files."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on Linux or macOS
        yield
        return
    handle = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(
                f"another mock run is writing to {folder}; wait for it to finish, or choose another --out"
            ) from None
        yield
    finally:
        os.close(handle)  # releases the lock


def survey_seeds(seed: int, n: int) -> tuple[np.random.Generator, np.random.Generator, np.ndarray]:
    """Independent streams for truths and votes, and one image seed per galaxy."""
    truth_sequence, vote_sequence, image_sequence = np.random.SeedSequence(seed).spawn(3)
    image_seeds = image_sequence.generate_state(n, dtype=np.uint64)
    return np.random.default_rng(truth_sequence), np.random.default_rng(vote_sequence), image_seeds


def write_mock_catalogue(n: int, seed: int, out: Path) -> tuple[list[GalaxyTruth], np.ndarray, pd.DataFrame]:
    """Write the ``n``-galaxy survey's catalogue and truth under ``out`` (no images: seconds
    even for 20,000 galaxies) and its ``.catalogue`` marker; returns the truths, each
    galaxy's image seed and the catalogue, for drawing the images."""
    if n < 1:
        raise ValueError(f"a mock survey needs at least one galaxy, not n={n}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / CATALOGUE_MARKER).unlink(missing_ok=True)
    truth_rng, vote_rng, image_seeds = survey_seeds(seed, n)
    truths = sample_truths(n, truth_rng)
    catalogue = volunteer_catalogue(truths, vote_rng)
    _write_csv(catalogue, out / CATALOGUE_NAME)
    _write_csv(truth_table(truths), out / TRUTH_NAME)
    (out / CATALOGUE_MARKER).write_text(complete_marker_text(n, seed))
    return truths, image_seeds, catalogue


def _draw(tasks: list, workers: int, progress: bool) -> int:
    """Render ``tasks`` (truth, image seed, path) that are not on disk yet; how many were drawn."""
    workers = max(1, min(workers, len(tasks)))
    bar = tqdm(total=len(tasks), desc="mock survey images", unit="img", disable=not progress)
    written = 0
    try:
        if workers == 1:
            for task in tasks:
                written += _ensure_image(task)
                bar.update()
        else:
            chunksize = max(1, min(8, len(tasks) // (workers * 4)))
            # Spawned, not forked, workers: safe even when the caller (a notebook) has
            # already started threads, e.g. by importing TensorFlow.
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                for was_written in pool.map(_ensure_image, tasks, chunksize=chunksize):
                    written += was_written
                    bar.update()
    finally:
        bar.close()
    return written


def draw_mock_images(n: int, seed: int, out: Path, locations, *, workers: int | None = None,
                     progress: bool = False, reuse_from=()) -> int:
    """Draw only the images at ``locations`` (``png_loc`` values) of the ``n``-galaxy survey
    in ``out``, byte-identical to the whole survey's (each image depends only on its own
    truth and seed); images already there are kept, and those finished surveys of the same
    seed in ``reuse_from`` have are linked. For figures that show a few galaxies of a survey
    too large to render on the spot. Returns how many were drawn."""
    wanted = set(locations)
    _link_existing_images(sorted(wanted), Path(out) / IMAGE_FOLDER, seed, reuse_from)
    truth_rng, _, image_seeds = survey_seeds(seed, n)
    image_root = Path(out) / IMAGE_FOLDER
    tasks = [(truth, int(image_seed), str(image_root / png_loc_for(truth.iauname)))
             for truth, image_seed in zip(sample_truths(n, truth_rng), image_seeds, strict=True)
             if png_loc_for(truth.iauname) in wanted]
    unknown = wanted - {png_loc_for(task[0].iauname) for task in tasks}
    if unknown:
        raise ValueError(f"{len(unknown)} image(s) not in the {n}-galaxy mock survey, e.g. {sorted(unknown)[0]}")
    # A few images draw faster here than in worker processes that first import GalSim.
    workers = 1 if len(tasks) < SMALL_DRAW else workers or os.cpu_count() or 1
    return _draw(tasks, workers, progress)


def generate_mock_survey(
    n: int, seed: int, out: Path, workers: int | None = None, progress: bool = True, reuse_from=()
) -> MockSurveyPaths:
    """Generate (or finish generating) an ``n``-galaxy mock survey under ``out``.

    ``workers`` processes render the images (default: every core; 1 renders in this
    process). A progress bar shows the images as they are checked or drawn.
    ``reuse_from``: folders of other finished surveys; those of the same seed lend their
    images (linked, not redrawn). A ``.complete`` marker is written once every image is there.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with exclusive_folder(out):
        for stale in out.rglob("*.partial"):  # left by a killed run; nobody else writes here now
            stale.unlink(missing_ok=True)
        return _generate(n, seed, out, workers, progress, reuse_from)


def _generate(n: int, seed: int, out: Path, workers: int | None, progress: bool, reuse_from) -> MockSurveyPaths:
    """:func:`generate_mock_survey` once it holds the folder."""
    (out / COMPLETE_MARKER).unlink(missing_ok=True)  # until every file below is there
    truths, image_seeds, catalogue = write_mock_catalogue(n, seed, out)
    catalogue_path, truth_path = out / CATALOGUE_NAME, out / TRUTH_NAME

    image_root = out / IMAGE_FOLDER
    linked = _link_existing_images(catalogue["png_loc"], image_root, seed, reuse_from)
    tasks = [
        (truth, int(image_seed), str(image_root / loc))
        for truth, image_seed, loc in zip(truths, image_seeds, catalogue["png_loc"], strict=True)
    ]
    written = _draw(tasks, workers or os.cpu_count() or 1, progress)
    (out / COMPLETE_MARKER).write_text(complete_marker_text(n, seed))
    (out / CATALOGUE_MARKER).unlink()  # the finished survey's marker says it all
    return MockSurveyPaths(
        root=out,
        catalogue=catalogue_path,
        truth=truth_path,
        images=image_root,
        images_written=written,
        images_kept=n - written,
        images_linked=linked,
    )
