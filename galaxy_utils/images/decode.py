"""Images: decode a galaxy cutout, centre-crop, resize, optionally drop colour; cache the result.

Both published recipes are one :class:`ImageSpec`: the course project's
``ImageSpec(224)`` (424 -> 224, colour) and the 3-class project's
``ImageSpec(64, crop_fraction=0.5, greyscale=True)`` (centre 212 x 212 -> 64 x 64 grey).
A fixed crop keeps a small galaxy small and cuts a large one; ``crop='measured'`` instead
follows each galaxy's own extent, measured from the image (:func:`measure_extent`: the
radius holding 90% of the central source's light, like SDSS's ``petroR90``), so it needs
nothing but the image and a saved run carries it in its spec.

Decoded images are kept in an on-disk cache, one memory-mapped array per spec
(:mod:`galaxy_utils.images.store`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

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
NORMALISE_VERSION = 1
"""Part of a normalised spec's cache key: bump it whenever :func:`normalise_light` changes."""

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
        normalise: put every image on one photometric scale (:func:`normalise_light`):
            the sky, measured on the whole cutout's border, becomes the same grey level in
            every channel and the galaxy's bright end the same brightness, whatever survey,
            stretch or depth the cutout came from; colour ratios are kept.
    """

    size: int
    crop_fraction: float = 1.0
    greyscale: bool = False
    resample: str = "lanczos"
    crop: str = "centre"
    crop_extent: float = 1.5
    normalise: bool = False

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
        normalised = f"-norm{NORMALISE_VERSION}" if self.normalise else ""
        return (
            f"size{int(self.size)}-crop{float(self.crop_fraction)!r}-{colour}-{self.resample}{measured}"
            f"{normalised}-v{PREPROCESS_VERSION}"
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
    border = _border(grey).ravel()
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


def _border(pixels: np.ndarray) -> np.ndarray:
    """The pixels of a strip along each edge (1/16 of the shorter side wide), channels last."""
    height, width = pixels.shape[:2]
    edge = max(2, min(height, width) // 16)
    channels = pixels.shape[2] if pixels.ndim == 3 else 1
    strips = (pixels[:edge], pixels[-edge:], pixels[:, :edge], pixels[:, -edge:])
    return np.concatenate([strip.reshape(-1, channels) for strip in strips])


def sky_level(pixels: np.ndarray) -> np.ndarray:
    """The sky level of each channel of an (H, W) or (H, W, C) cutout: its border's median."""
    return np.median(_border(np.asarray(pixels, dtype=np.float32)), axis=0)


# Where normalise_light puts the sky and the galaxy's bright end (the 99th percentile of
# the cropped image's sky-subtracted brightest channel), on the 0-255 scale of the stored images.
_NORMALISED_SKY = 32.0
_NORMALISED_PEAK = 200.0


def normalise_light(pixels: np.ndarray, sky: np.ndarray) -> np.ndarray:
    """``pixels`` (H, W, C, the crop) on one photometric scale: uint8, the sky (per channel,
    from :func:`sky_level` of the whole cutout) at 32 and the 99th percentile of the
    sky-subtracted brightest channel at 200, one factor for every channel so colours keep
    their ratios. Surveys differ in sky level (a DECaLS cutout's sky is grey, an SDSS one's
    black), depth and display stretch; this takes out the first-order differences."""
    light = np.asarray(pixels, dtype=np.float32) - np.asarray(sky, dtype=np.float32)
    peak = max(float(np.percentile(light.max(axis=-1), 99)), 1.0)
    scaled = _NORMALISED_SKY + light * ((_NORMALISED_PEAK - _NORMALISED_SKY) / peak)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


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
            sky = sky_level(np.asarray(pixels)) if spec.normalise else None
    except FileNotFoundError:
        raise ImageReadError(path, "image file missing") from None
    except IsADirectoryError:
        raise ImageReadError(path, "is a folder, not an image") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise ImageReadError(path, f"image cannot be decoded ({type(err).__name__}: {err})") from err
    array = np.asarray(resized, dtype=np.uint8)
    array = array[..., np.newaxis] if array.ndim == 2 else array
    return normalise_light(array, sky) if spec.normalise else array
