"""Images: decode a galaxy cutout, centre-crop, resize, optionally drop colour; cache the result.

Both published recipes are one :class:`ImageSpec`: the course project's
``ImageSpec(224)`` (424 -> 224, colour) and the 3-class project's
``ImageSpec(64, crop_fraction=0.5, greyscale=True)`` (centre 212 x 212 -> 64 x 64 grey).
A fixed crop keeps a small galaxy small and cuts a large one; ``crop='measured'`` instead
follows each galaxy's own extent, measured from the image (:func:`measure_extent`: the
radius holding 90% of the central source's light, like SDSS's ``petroR90``), so it needs
nothing but the image and a saved run carries it in its spec.

Decoding a 424 x 424 PNG costs far more than everything after it, so preprocessed images
are kept in an on-disk :class:`ImageCache`: one ``.npy`` per source file under
``cache_dir/<spec.key>/``, named by a hash of the source's path, size and modification
time. A changed parameter lands in another folder and a changed source file gets another
name, so a stale entry is never read; entries are written to a temporary file and renamed,
so a killed run leaves whole entries or none.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from galaxy_utils.data.catalogue import FILE_COLUMN, CatalogueError, id_column
from galaxy_utils.data.files import written_atomically

logger = logging.getLogger(__name__)

PREPROCESS_VERSION = 1
"""Part of every cache key: bump it whenever :func:`load_image` changes what it returns,
so caches written by older code are not read as if they were current."""

RESAMPLING = {
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
}

CROPS = ("centre", "measured")
MEASURE_VERSION = 1
"""Part of a measured crop's cache key: bump it whenever :func:`measure_extent` changes."""

# Oversampling kept when a JPEG is decoded at reduced scale (libjpeg's DCT scaling): the
# final resize still sees at least twice the target resolution, so LANCZOS does the work.
_JPEG_DRAFT_OVERSAMPLING = 2


class ImageReadError(OSError):
    """An image that is missing or cannot be decoded; the message names the file."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self):
        return type(self), (self.path, self.reason)


@dataclass(frozen=True)
class ImageSpec:
    """How a catalogue image becomes a model input.

    Attributes:
        size: side of the square output in pixels.
        crop_fraction: side of the centre square kept before resizing, as a fraction of the
            image's shorter side (0.5 keeps the central 212 x 212 of a 424 x 424 cutout,
            where the target galaxy is; 1.0 keeps everything).
        greyscale: one luminance channel (ITU-R 601 weights) instead of RGB.
        resample: the resize filter; LANCZOS by default, which anti-aliases when shrinking
            (a plain bilinear shrink by 3x or more aliases noise into fake structure).
        crop: ``'centre'`` (a fixed ``crop_fraction``) or ``'measured'``: a centre square
            of side ``2 * crop_extent * r90``, with ``r90`` the galaxy's own 90%-light
            radius (:func:`measure_extent`), at most ``crop_fraction`` of the shorter side
            and at least ``size`` pixels (never upsampled from fewer pixels than the output).
        crop_extent: the measured crop's half-side in units of ``r90``.
    """

    size: int
    crop_fraction: float = 1.0
    greyscale: bool = False
    resample: str = "lanczos"
    crop: str = "centre"
    crop_extent: float = 1.5

    def __post_init__(self):
        if int(self.size) != self.size or self.size < 1:
            raise ValueError(f"size must be a positive integer, not {self.size!r}")
        if not 0 < self.crop_fraction <= 1:
            raise ValueError(f"crop_fraction must be in (0, 1], not {self.crop_fraction!r}")
        if self.resample not in RESAMPLING:
            raise ValueError(f"resample must be one of {', '.join(RESAMPLING)}, not {self.resample!r}")
        if self.crop not in CROPS:
            raise ValueError(f"crop must be one of {', '.join(CROPS)}, not {self.crop!r}")
        if not self.crop_extent > 0:
            raise ValueError(f"crop_extent must be positive, not {self.crop_extent!r}")

    @property
    def channels(self) -> int:
        return 1 if self.greyscale else 3

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.size, self.size, self.channels)

    @property
    def key(self) -> str:
        """A folder name that differs whenever the preprocessed pixels would differ."""
        colour = "grey" if self.greyscale else "rgb"
        measured = f"-r90x{float(self.crop_extent)!r}-v{MEASURE_VERSION}" if self.crop == "measured" else ""
        return (
            f"size{int(self.size)}-crop{float(self.crop_fraction)!r}-{colour}-{self.resample}{measured}"
            f"-v{PREPROCESS_VERSION}"
        )


# --------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------


def _to_rgb_or_grey(image: Image.Image) -> Image.Image:
    """An 'RGB' or 'L' image from any PNG/JPEG mode.

    Transparent pixels become black (they carry no flux; the sky is dark), palette images
    are expanded through their palette, 16-bit greyscale is scaled (65535 -> 255) rather
    than clipped, as Pillow's plain ``convert('L')`` would do.
    """
    mode = image.mode
    if mode in ("RGB", "L"):
        return image
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        return _to_rgb_or_grey(image)
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (0, 0, 0))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background.convert("L") if mode in ("LA", "La") else background
    if mode == "1":
        return image.convert("L")
    if mode.startswith("I;16") or mode == "I":
        # 16-bit PNGs open as 'I;16' (or 'I' in older Pillow); their range is 0..65535.
        values = np.asarray(image).astype(np.uint32)
        return Image.fromarray(((values * 255 + 32767) // 65535).clip(0, 255).astype(np.uint8), mode="L")
    if mode in ("CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
        return image.convert("RGB")
    raise ValueError(f"unsupported image mode {mode!r}")


def _centre_box(width: int, height: int, fraction: float) -> tuple[float, float, float, float]:
    """The centre square, ``fraction`` of the shorter side, as a (left, top, right, bottom) box."""
    side = min(width, height) * fraction
    left, top = (width - side) / 2, (height - side) / 2
    return (left, top, left + side, top + side)


# Measuring works on a copy shrunk to about this side: fast, and smooths pixel noise.
_MEASURE_SIDE = 144
# Detection threshold above the sky, in units of the sky's noise (after the shrink).
_DETECT_SIGMA = 3.0


def measure_extent(pixels: np.ndarray) -> float:
    """The radius (pixels of ``pixels``) holding 90% of the light of the central source.

    ``pixels``: an (H, W) or (H, W, C) image with the galaxy at its centre. The sky level
    and noise are the median and MAD of a border strip; the source is the connected region
    above ``sky + 3 noise`` that holds the centre (else the nearest region to it); its
    light is summed in circles about the centre, other sources masked out, out to the
    region's farthest pixel, and the radius that encloses 90% is returned (interpolated).
    A blank image, or one with nothing near the centre, gives a quarter of the shorter side.
    """
    from scipy import ndimage

    grey = np.asarray(pixels, dtype=np.float32)
    if grey.ndim == 3:
        grey = grey.mean(axis=2)
    height, width = grey.shape
    shrink = max(1, min(height, width) // _MEASURE_SIDE)
    if shrink > 1:
        grey = grey[: height - height % shrink, : width - width % shrink]
        grey = grey.reshape(grey.shape[0] // shrink, shrink, grey.shape[1] // shrink, shrink).mean(axis=(1, 3))
    default = min(height, width) / 4
    h, w = grey.shape
    edge = max(2, min(h, w) // 16)
    border = np.concatenate([grey[:edge].ravel(), grey[-edge:].ravel(), grey[:, :edge].ravel(),
                             grey[:, -edge:].ravel()])
    sky = float(np.median(border))
    noise = max(1.4826 * float(np.median(np.abs(border - sky))), 0.5 / shrink)
    light = ndimage.gaussian_filter(grey - sky, 1.0)
    regions, n_regions = ndimage.label(light > _DETECT_SIGMA * noise)
    if n_regions == 0:
        return default
    yy, xx = np.mgrid[:h, :w]
    cy, cx = (h - 1) / 2, (w - 1) / 2
    distance = np.hypot(yy - cy, xx - cx)
    central = regions[int(round(cy)), int(round(cx))]
    if central == 0:
        near = (regions > 0) & (distance < min(h, w) / 8)
        if not near.any():
            return default
        central = regions[near][np.argmin(distance[near])]
    source = regions == central
    reach = float(distance[source].max()) + 1.0
    inside = (distance <= reach) & ((regions == 0) | source)
    flux = np.clip(grey - sky, 0, None)[inside]
    order = np.argsort(distance[inside])
    cumulative = np.cumsum(flux[order])
    if cumulative[-1] <= 0:
        return default
    r90 = float(np.interp(0.9 * cumulative[-1], cumulative, distance[inside][order]))
    return max(r90, 0.5) * shrink


def _crop_box(pixels: Image.Image, spec: ImageSpec) -> tuple[float, float, float, float]:
    """The square the spec keeps: a fixed centre fraction, or one that follows the galaxy."""
    width, height = pixels.size
    if spec.crop == "centre":
        return _centre_box(width, height, spec.crop_fraction)
    r90 = measure_extent(np.asarray(pixels))
    shorter = min(width, height)
    side = float(np.clip(2 * spec.crop_extent * r90, min(spec.size, shorter * spec.crop_fraction),
                         shorter * spec.crop_fraction))
    return _centre_box(width, height, side / shorter)


def load_image(path: str | os.PathLike, spec: ImageSpec) -> np.ndarray:
    """Decode, centre-crop, resize and (optionally) grey one image: uint8, ``spec.shape``.

    PNG and JPEG in any mode (RGB, L, RGBA, LA, P, 16-bit, CMYK). Raises
    :class:`ImageReadError` naming the file if it is missing or cannot be decoded.
    """
    try:
        with Image.open(path) as image:
            if image.format == "JPEG" and spec.crop == "centre":
                wanted = math.ceil(spec.size / spec.crop_fraction) * _JPEG_DRAFT_OVERSAMPLING
                image.draft(image.mode, (wanted, wanted))
            image.load()
            pixels = _to_rgb_or_grey(image)
            if spec.greyscale and pixels.mode != "L":
                pixels = pixels.convert("L")
            elif not spec.greyscale and pixels.mode != "RGB":
                pixels = pixels.convert("RGB")
            box = _crop_box(pixels, spec)
            resized = pixels.resize((spec.size, spec.size), RESAMPLING[spec.resample], box=box)
    except FileNotFoundError:
        raise ImageReadError(path, "image file missing") from None
    except IsADirectoryError:
        raise ImageReadError(path, "is a folder, not an image") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise ImageReadError(path, f"image cannot be decoded ({type(err).__name__}: {err})") from err
    array = np.asarray(resized, dtype=np.uint8)
    return array[..., np.newaxis] if array.ndim == 2 else array


# --------------------------------------------------------------------------------------
# The on-disk cache
# --------------------------------------------------------------------------------------


class ImageCache:
    """Preprocessed images on disk, one ``.npy`` per (source file, :class:`ImageSpec`).

    ``cache_dir/<spec.key>/<h[:2]>/<h>.npy`` with ``h`` the SHA-1 of the source's absolute
    path, byte size and modification time (ns): editing or replacing an image changes its
    name, so the old entry is simply never looked up again. The two-character sub-folders
    keep folders small for a 250k-galaxy survey.
    """

    def __init__(self, cache_dir: str | os.PathLike, spec: ImageSpec):
        self.spec = spec
        self.root = Path(cache_dir) / spec.key
        buffer = io.BytesIO()
        np.save(buffer, np.zeros(spec.shape, dtype=np.uint8), allow_pickle=False)
        self._header = buffer.getvalue()[: -math.prod(spec.shape)]

    def entry_path(self, source: str | os.PathLike) -> Path:
        """Where the preprocessed ``source`` lives; raises :class:`ImageReadError` if it is missing."""
        try:
            stat = os.stat(source)
        except FileNotFoundError:
            raise ImageReadError(source, "image file missing") from None
        except OSError as err:
            raise ImageReadError(source, f"image cannot be read ({type(err).__name__}: {err})") from err
        identity = f"{os.path.abspath(source)}\0{stat.st_size}\0{stat.st_mtime_ns}"
        digest = hashlib.sha1(identity.encode("utf-8", "surrogateescape")).hexdigest()
        return self.root / digest[:2] / f"{digest}.npy"

    def _read(self, entry: Path) -> np.ndarray | None:
        """The entry's pixels, or None if absent or not a whole entry of this spec's shape.

        Compares the raw bytes with the ``.npy`` header this spec writes instead of calling
        ``np.load``: 10x faster, which matters when the cache feeds training.
        """
        header = self._header
        expected = len(header) + math.prod(self.spec.shape)
        data = bytearray(expected + 1)  # one byte spare: a longer file is not a whole entry either
        try:
            with open(entry, "rb") as file:
                n_read = file.readinto(data)
        except FileNotFoundError:
            return None
        except OSError as err:
            logger.warning("ignoring unreadable cache entry %s (%s); recomputing", entry, err)
            return None
        if n_read != expected or not data.startswith(header):
            logger.warning("ignoring malformed cache entry %s; recomputing", entry)
            return None
        return np.frombuffer(data, dtype=np.uint8, count=expected - len(header), offset=len(header)).reshape(
            self.spec.shape
        )

    def _write(self, entry: Path, array: np.ndarray) -> None:
        """Temporary file + rename: readers see a whole entry or none."""
        entry.parent.mkdir(parents=True, exist_ok=True)
        with written_atomically(entry) as temporary, open(temporary, "wb") as file:
            np.save(file, array, allow_pickle=False)

    def load(self, source: str | os.PathLike) -> tuple[np.ndarray, bool]:
        """The preprocessed image and whether it came from the cache (else decoded and stored)."""
        entry = self.entry_path(source)
        cached = self._read(entry)
        if cached is not None:
            return cached, True
        array = load_image(source, self.spec)
        try:
            self._write(entry, array)
        except OSError as err:  # a full or read-only disk costs speed, not the run
            logger.warning("cannot write cache entry %s: %s", entry, err)
        return array, False

    def __call__(self, source: str | os.PathLike) -> np.ndarray:
        return self.load(source)[0]


def image_loader(spec: ImageSpec, cache_dir: str | os.PathLike | None = None) -> Callable[[str], np.ndarray]:
    """``path -> uint8 array``: through the cache when ``cache_dir`` is given, else decoding."""
    if cache_dir is None:
        return lambda path: load_image(path, spec)
    return ImageCache(cache_dir, spec)


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
        ids = catalogue[id_column(catalogue)].astype("string")
    except CatalogueError:
        ids = catalogue[FILE_COLUMN].astype("string")
    first = catalogue[FILE_COLUMN].astype("string").drop_duplicates()
    return first.tolist(), ids.loc[first.index].tolist()


def _map_threaded(function: Callable, items: Iterable, total: int, workers: int | None, progress: bool, desc: str):
    """``map`` on a thread pool (Pillow and file reads release the GIL), with a tqdm bar."""
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        results = pool.map(function, items)
        if progress:
            from tqdm.auto import tqdm

            results = tqdm(results, total=total, desc=desc, unit="img")
        yield from results


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
    broken file is known up front; an unreadable image is listed, never fatal.
    """
    files, ids = _unique_files(catalogue)
    cache = ImageCache(cache_dir, spec)

    def fill(path: str) -> tuple[bool, str | None]:
        try:
            return cache.load(path)[1], None
        except ImageReadError as err:
            return False, err.reason

    n_cached = n_decoded = 0
    unreadable = []
    outcomes = _map_threaded(fill, files, len(files), workers, progress, f"preprocessing {spec.key}")
    for identifier, path, (from_cache, error) in zip(ids, files, outcomes, strict=True):
        if error is not None:
            unreadable.append((identifier, path, error))
        elif from_cache:
            n_cached += 1
        else:
            n_decoded += 1
    table = pd.DataFrame(unreadable, columns=["id", FILE_COLUMN, "error"])
    if len(table):
        logger.warning("%d of %d images are unreadable, e.g. %s: %s", len(table), len(files), *unreadable[0][1:])
    return PreprocessReport(len(files), n_cached, n_decoded, table)


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
    loader = image_loader(spec, cache_dir)
    out = np.empty((len(paths), *spec.shape), dtype=np.uint8)

    def fill(i: int) -> str | None:
        try:
            out[i] = loader(paths[i])
        except ImageReadError as err:
            return err.reason
        return None

    errors = [(i, e) for i, e in enumerate(_map_threaded(fill, range(len(paths)), len(paths), workers, progress,
                                                          "loading images")) if e is not None]
    if errors:
        first, reason = errors[0]
        more = f" (and {len(errors) - 1} more unreadable images)" if len(errors) > 1 else ""
        raise ImageReadError(paths[first], reason + more)
    return out
