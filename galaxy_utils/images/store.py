"""The on-disk cache of preprocessed images: one memory-mapped array per :class:`ImageSpec`.

Decoding a 424 x 424 PNG costs far more than everything after it, so each image is decoded
once per spec and kept in ``cache_dir/<spec.key>/``:

* ``pixels.u8``: the images, uint8, one after another, ``spec.shape`` each: row ``r`` of
  ``np.memmap(..., shape=(n, *spec.shape))``;
* ``index.bin``: one 24-byte record per row: the SHA-1 of the source file's absolute path,
  byte size and modification time (ns), then a CRC-32 of that digest and the row number.

An edited or replaced image has another digest, so its old row is simply never looked up
again; a changed spec lands in another folder. Rows are appended under an exclusive lock
(``.lock``, ``fcntl.flock``; two processes may fill one store at once), pixels first and
flushed to disk, then their index records: a fill killed at any point leaves rows whose
records are missing, torn or fail their CRC, and those are never trusted (the next fill
overwrites them). Readers need no lock: they trust the index up to its first bad record and
map exactly that many rows. The same image filled twice (two processes racing) is two
identical rows; either serves.

Training reads whole batches of rows with one fancy index into the memory map
(:meth:`ImageStore.take`): no file opened, no Python per image.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from galaxy_utils.data.catalogue import FILE_COLUMN, CatalogueError, ids_of
from galaxy_utils.images.decode import ImageReadError, ImageSpec, load_image

try:  # POSIX; elsewhere one process at a time may fill a store
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

logger = logging.getLogger(__name__)

PIXELS = "pixels.u8"
INDEX = "index.bin"
LOCK = ".lock"
DIGEST_BYTES = 20
RECORD = np.dtype([("digest", f"S{DIGEST_BYTES}"), ("check", "<u4")])
MISSING = -1


def source_digest(source: str | os.PathLike) -> bytes:
    """The SHA-1 of a source file's absolute path, size and modification time: its key in a
    store. Raises :class:`ImageReadError` if the file is missing or cannot be read."""
    try:
        stat = os.stat(source)
    except FileNotFoundError:
        raise ImageReadError(source, "image file missing") from None
    except OSError as err:
        raise ImageReadError(source, f"image cannot be read ({type(err).__name__}: {err})") from err
    identity = f"{os.path.abspath(source)}\0{stat.st_size}\0{stat.st_mtime_ns}"
    return hashlib.sha1(identity.encode("utf-8", "surrogateescape")).digest()


def _check(digest: bytes, row: int) -> int:
    return zlib.crc32(digest + int(row).to_bytes(8, "little"))


def map_threaded(function: Callable, items: Iterable, total: int, workers: int | None, progress: bool, desc: str):
    """``map`` on a thread pool (Pillow and file reads release the GIL), with a tqdm bar."""
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        results = pool.map(function, items)
        if progress:
            from tqdm.auto import tqdm

            results = tqdm(results, total=total, desc=desc, unit="img")
        yield from results


class ImageStore:
    """Preprocessed images of one :class:`ImageSpec`, in one memory-mapped array (module docs)."""

    def __init__(self, cache_dir: str | os.PathLike, spec: ImageSpec):
        self.spec = spec
        self.root = Path(cache_dir) / spec.key
        self.image_bytes = math.prod(spec.shape)
        self._lock = threading.RLock()
        self._digests = np.empty(0, dtype=RECORD["digest"])  # the trusted rows' digests, in row order
        self._order: np.ndarray | None = None  # argsort of _digests, for lookups
        self._map: np.ndarray | None = None
        self._mapped = 0

    # -- reading ----------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._refresh())

    def _refresh(self) -> np.ndarray:
        """The trusted rows' digests, after reading records appended since the last look."""
        with self._lock:
            known = len(self._digests)
            try:
                with open(self.root / INDEX, "rb") as file:
                    file.seek(known * RECORD.itemsize)
                    tail = file.read()
            except FileNotFoundError:
                return self._digests
            records = np.frombuffer(tail[: len(tail) - len(tail) % RECORD.itemsize], dtype=RECORD)
            good = 0
            for offset, (digest, check) in enumerate(records.tolist()):
                if _check(digest.ljust(DIGEST_BYTES, b"\0"), known + offset) != check:
                    break
                good += 1
            if good:
                self._digests = np.concatenate([self._digests, records["digest"][:good]])
                self._order = None
            return self._digests

    def rows_of(self, digests: np.ndarray | Sequence[bytes]) -> np.ndarray:
        """Each digest's row in the store (int64), :data:`MISSING` (-1) where it has none."""
        digests = np.asarray(digests, dtype=RECORD["digest"])
        with self._lock:
            stored = self._refresh()
            if self._order is None:
                self._order = np.argsort(stored, kind="stable")
            order = self._order
        rows = np.full(len(digests), MISSING, dtype=np.int64)
        if len(stored) and len(digests):
            at = np.minimum(np.searchsorted(stored, digests, sorter=order), len(stored) - 1)
            found = stored[order[at]] == digests
            rows[found] = order[at[found]]
        return rows

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The images at ``rows`` (all stored), as a new (N, *spec.shape) uint8 array."""
        rows = np.asarray(rows, dtype=np.int64)
        if not len(rows):
            return np.empty((0, *self.spec.shape), dtype=np.uint8)
        with self._lock:
            if self._map is None or rows.max() >= self._mapped:
                n = len(self._refresh())
                if rows.max() >= n:
                    raise IndexError(f"row {rows.max()} is not in the store of {n} rows ({self.root})")
                self._map = np.memmap(self.root / PIXELS, dtype=np.uint8, mode="r", shape=(n, *self.spec.shape))
                self._mapped = n
            array = self._map
        return array[rows]

    # -- writing ----------------------------------------------------------------------

    @contextlib.contextmanager
    def _exclusive(self):
        """This store's lock, held against other threads and processes."""
        with self._lock:
            self.root.mkdir(parents=True, exist_ok=True)
            with open(self.root / LOCK, "a+b") as handle:
                if fcntl is not None:
                    fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    if fcntl is not None:
                        fcntl.flock(handle, fcntl.LOCK_UN)

    def append(self, digests: Sequence[bytes], images: np.ndarray) -> np.ndarray:
        """Store ``images`` (N, *spec.shape) under ``digests``; returns their rows.

        Pixels are written and flushed before their index records, so a fill killed
        part-way leaves no trusted row whose pixels are incomplete.
        """
        images = np.ascontiguousarray(images, dtype=np.uint8)
        digests = [bytes(d).ljust(DIGEST_BYTES, b"\0") for d in digests]  # NumPy strips trailing zero bytes
        if images.shape != (len(digests), *self.spec.shape):
            raise ValueError(f"expected {len(digests)} images of shape {self.spec.shape}, got {images.shape}")
        if not len(digests):
            return np.empty(0, dtype=np.int64)
        with self._exclusive():
            start = len(self._refresh())
            index_path = self.root / INDEX
            with open(index_path, "ab") as index:  # drop untrusted records a killed fill left
                index.truncate(start * RECORD.itemsize)
            fd = os.open(self.root / PIXELS, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                os.pwrite(fd, images.tobytes(), start * self.image_bytes)
                os.fsync(fd)
            finally:
                os.close(fd)
            records = np.array(
                [(digest, _check(digest, start + i)) for i, digest in enumerate(digests)], dtype=RECORD
            )
            with open(index_path, "ab") as index:
                index.write(records.tobytes())
                index.flush()
                os.fsync(index.fileno())
            self._refresh()
        return np.arange(start, start + len(digests), dtype=np.int64)

    def fill(
        self,
        sources: Sequence[str | os.PathLike],
        *,
        digests: Sequence[bytes | None] | None = None,
        workers: int | None = None,
        progress: bool = False,
        chunk: int = 1024,
        desc: str | None = None,
    ) -> tuple[np.ndarray, list[str | None]]:
        """Make sure every source is stored, decoding (in parallel) those that are not.

        Returns each source's row (:data:`MISSING` for an unreadable one) and its error
        (None when readable). New rows are appended every ``chunk`` images, so an
        interrupted fill keeps what it had finished. ``digests``: the sources' digests if
        known (None for a missing file).
        """
        sources = [str(s) for s in sources]
        errors: list[str | None] = [None] * len(sources)
        keys: list[bytes | None] = []
        for i, source in enumerate(sources):
            if digests is not None:
                keys.append(digests[i])
                if digests[i] is None:
                    errors[i] = "image file missing"
                continue
            try:
                keys.append(source_digest(source))
            except ImageReadError as err:
                keys.append(None)
                errors[i] = err.reason
        known = [i for i, key in enumerate(keys) if key is not None]
        rows = np.full(len(sources), MISSING, dtype=np.int64)
        rows[known] = self.rows_of([keys[i] for i in known])
        todo = [i for i in known if rows[i] == MISSING]
        # One decode per distinct file (augmented copies share one).
        first: dict[bytes, int] = {}
        for i in todo:
            first.setdefault(keys[i], i)
        decode = list(first.values())

        def decoded(i: int):
            try:
                return i, load_image(sources[i], self.spec), None
            except ImageReadError as err:
                return i, None, err.reason

        pending: list[tuple[int, np.ndarray]] = []
        last_write = time.monotonic()
        writable = True

        def flush():
            nonlocal writable
            if pending and writable:
                try:
                    stored = self.append([keys[i] for i, _ in pending], np.stack([a for _, a in pending]))
                except OSError as err:  # a full or read-only disk costs speed, not the run
                    logger.warning("cannot write to the image cache %s: %s", self.root, err)
                    writable = False
                else:
                    rows[[i for i, _ in pending]] = stored
            pending.clear()

        for i, array, error in map_threaded(decoded, decode, len(decode), workers, progress,
                                            desc or f"preprocessing {self.spec.key}"):
            if error is not None:
                errors[i] = error
                continue
            pending.append((i, array))
            if len(pending) >= chunk or time.monotonic() - last_write > 30:
                flush()
                last_write = time.monotonic()
        flush()
        for i in todo:  # copies of a decoded file
            j = first[keys[i]]
            rows[i], errors[i] = rows[j], errors[j]
        return rows, errors

    def load(self, source: str | os.PathLike) -> tuple[np.ndarray, bool]:
        """One preprocessed image and whether it came from the store (else decoded and stored)."""
        digest = source_digest(source)
        row = self.rows_of([digest])[0]
        if row != MISSING:
            return self.take([row])[0], True
        array = load_image(source, self.spec)
        try:
            self.append([digest], array[np.newaxis])
        except OSError as err:  # a full or read-only disk costs speed, not the run
            logger.warning("cannot write to the image cache %s: %s", self.root, err)
        return array, False

    def __call__(self, source: str | os.PathLike) -> np.ndarray:
        return self.load(source)[0]


# --------------------------------------------------------------------------------------
# Whole catalogues
# --------------------------------------------------------------------------------------


@dataclass
class PreprocessReport:
    """What :func:`preprocess_catalogue` did: files seen, served from the cache, decoded,
    and the unreadable ones (``id``, ``file_loc``, ``error``)."""

    n_files: int
    n_cached: int
    n_decoded: int
    unreadable: pd.DataFrame

    def format(self) -> str:
        lines = [
            f"{self.n_files} image files: {self.n_cached} from the cache, {self.n_decoded} decoded, "
            f"{len(self.unreadable)} unreadable"
        ]
        lines += [f"  {row.id}: {row.error}" for row in self.unreadable.itertuples(index=False)]
        return "\n".join(lines)

    __str__ = format


def _unique_files(catalogue: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Distinct image files (augmented copies share one) and the id of the first row naming each."""
    if FILE_COLUMN not in catalogue.columns:
        raise CatalogueError(f"no {FILE_COLUMN!r} column: run galaxy_utils.data.catalogue.resolve_images first")
    try:
        ids = catalogue[ids_of(catalogue)].astype("string")
    except CatalogueError:
        ids = catalogue[FILE_COLUMN].astype("string")
    first = catalogue[FILE_COLUMN].astype("string").drop_duplicates()
    return first.tolist(), ids.loc[first.index].tolist()


def preprocess_catalogue(
    catalogue: pd.DataFrame,
    spec: ImageSpec,
    cache_dir: str | os.PathLike,
    *,
    workers: int | None = None,
    progress: bool = True,
) -> PreprocessReport:
    """Fill the cache for every image of a catalogue, in parallel, reporting unreadable ones.

    Run it once before training so the first epoch runs as fast as the others and every
    broken file is known up front; an unreadable image is listed, never fatal. The fill is
    resumable: an interrupted one keeps every finished chunk of images.
    """
    files, ids = _unique_files(catalogue)
    store = ImageStore(cache_dir, spec)
    before = store.rows_of([_digest_or_none(f) or b"" for f in files])
    rows, errors = store.fill(files, workers=workers, progress=progress)
    unreadable = [(i, f, e) for i, f, e in zip(ids, files, errors, strict=True) if e is not None]
    n_cached = int((before != MISSING).sum())
    table = pd.DataFrame(unreadable, columns=["id", FILE_COLUMN, "error"])
    if len(table):
        logger.warning("%d of %d images are unreadable, e.g. %s: %s", len(table), len(files), *unreadable[0][1:])
    return PreprocessReport(len(files), n_cached, len(files) - n_cached - len(table), table)


def _digest_or_none(source) -> bytes | None:
    try:
        return source_digest(source)
    except ImageReadError:
        return None


def load_images(
    paths: Iterable[str | os.PathLike],
    spec: ImageSpec,
    *,
    cache_dir: str | os.PathLike | None = None,
    workers: int | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Stack the preprocessed images at ``paths`` into one uint8 array (N, size, size, channels).

    For small in-memory uses (plots, baselines); raises :class:`ImageReadError` for the
    first unreadable file, after trying them all, with the count in the message.
    """
    paths = [str(p) for p in paths]
    out = np.empty((len(paths), *spec.shape), dtype=np.uint8)
    if cache_dir is not None:
        store = ImageStore(cache_dir, spec)
        rows, errors = store.fill(paths, workers=workers, progress=progress, desc="loading images")
        stored = rows != MISSING
        out[stored] = store.take(rows[stored])
        todo = [i for i in np.flatnonzero(~stored) if errors[i] is None]  # decoded but not stored
    else:
        errors, todo = [None] * len(paths), list(range(len(paths)))

    def fill(i: int) -> str | None:
        try:
            out[i] = load_image(paths[i], spec)
        except ImageReadError as err:
            return err.reason
        return None

    for i, error in zip(todo, map_threaded(fill, todo, len(todo), workers, progress and cache_dir is None,
                                           "loading images"), strict=True):
        errors[i] = error
    bad = [(i, e) for i, e in enumerate(errors) if e is not None]
    if bad:
        first, reason = bad[0]
        more = f" (and {len(bad) - 1} more unreadable images)" if len(bad) > 1 else ""
        raise ImageReadError(paths[first], reason + more)
    return out
