"""Measure survey cutouts, so that mock images can be compared with real ones by number.

Every statistic works on 8-bit RGB images alone (no pixel scale, no photometry), so that
it can be applied the same way to the mock survey and to real DECaLS JPEG/PNG cutouts:
sky level and noise from the border, noise correlation (how resampled the pixels are),
point-source FWHM, the colour of the central galaxy, its size in the frame, and the
brightness histogram.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from scipy import ndimage

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
BORDER = 40  # pixels of each edge treated as mostly-empty sky
HISTOGRAM_BINS = np.arange(0, 257, 8)


def image_paths(folder: Path) -> list[Path]:
    """All images under ``folder`` (recursively), sorted so results are reproducible."""
    return sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def load_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def _border_pixels(image: np.ndarray) -> np.ndarray:
    b = BORDER
    return np.concatenate(
        [
            image[:b].reshape(-1, 3),
            image[-b:].reshape(-1, 3),
            image[b:-b, :b].reshape(-1, 3),
            image[b:-b, -b:].reshape(-1, 3),
        ]
    ).astype(np.float64)


def sky_level_and_noise(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel median and robust sigma (1.4826 MAD) of the border pixels."""
    border = _border_pixels(image)
    level = np.median(border, axis=0)
    noise = 1.4826 * np.median(np.abs(border - level), axis=0)
    return level, noise


def luminance(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float64).mean(axis=2)


def noise_correlation(image: np.ndarray) -> float:
    """Lag-1 autocorrelation of the sky in the top border strip, sources clipped.

    White noise gives 0; a cutout interpolated from coarser pixels gives a clearly
    positive value, so this says whether the mock is resampled like the real images.
    """
    strip = luminance(image)[:BORDER]
    level = np.median(strip)
    sigma = 1.4826 * np.median(np.abs(strip - level)) + 1e-9
    strip = np.clip(strip - level, -3 * sigma, 3 * sigma)
    strip -= strip.mean()
    return float(np.mean(strip[:, :-1] * strip[:, 1:]) / (np.mean(strip**2) + 1e-12))


def point_source_fwhm(image: np.ndarray, central_radius: float = 80.0) -> float:
    """FWHM in pixels of the sharpest compact sources away from the centre (stars).

    Finds local maxima well above the sky, measures each one's half-maximum area, and
    returns the 25th percentile of 2*sqrt(area/pi): the smallest sources are the stars.
    NaN when the field has fewer than two usable sources.
    """
    lum = luminance(image)
    level = np.median(lum[:BORDER])
    sigma = 1.4826 * np.median(np.abs(lum[:BORDER] - level)) + 1.0
    smooth = ndimage.uniform_filter(lum, 3)
    peaks = (smooth == ndimage.maximum_filter(smooth, 9)) & (smooth > level + 6 * sigma) & (lum < 245)
    ys, xs = np.nonzero(peaks)
    centre = (np.array(lum.shape) - 1) / 2
    far = np.hypot(ys - centre[0], xs - centre[1]) > central_radius
    widths = []
    half = 12
    for y, x in zip(ys[far], xs[far], strict=True):
        if y < half or x < half or y >= lum.shape[0] - half or x >= lum.shape[1] - half:
            continue
        stamp = lum[y - half : y + half + 1, x - half : x + half + 1] - level
        peak = stamp[half - 1 : half + 2, half - 1 : half + 2].max()
        above, _ = ndimage.label(stamp >= peak / 2)
        label = above[half, half]
        if label == 0:
            continue
        area = float((above == label).sum())
        widths.append(2.0 * np.sqrt(area / np.pi))
    if len(widths) < 2:
        return float("nan")
    return float(np.percentile(widths, 25))


def central_segment(image: np.ndarray, threshold_sigma: float = 2.0) -> np.ndarray:
    """Boolean mask of the connected object covering the image centre.

    Smoothed luminance above sky + ``threshold_sigma`` noise; if the centre pixel itself
    is not above threshold (a faint galaxy), the largest object near the centre is used.
    """
    lum = luminance(image)
    level, noise = sky_level_and_noise(image)
    smooth = ndimage.gaussian_filter(lum, 2.0)
    sigma_smooth = max(float(noise.mean()) / 3.0, 1.0)
    labels, _ = ndimage.label(smooth > float(level.mean()) + threshold_sigma * sigma_smooth)
    cy, cx = np.array(lum.shape) // 2
    label = labels[cy, cx]
    if label == 0:
        window = labels[cy - 20 : cy + 21, cx - 20 : cx + 21]
        values, counts = np.unique(window[window > 0], return_counts=True)
        if values.size == 0:
            return np.zeros(lum.shape, bool)
        label = values[np.argmax(counts)]
    return labels == label


def half_flux_radius(image: np.ndarray) -> float:
    """Radius (pixels) around the central object's centroid enclosing half its above-sky light."""
    mask = central_segment(image)
    if mask.sum() < 5:
        return float("nan")
    level, _ = sky_level_and_noise(image)
    flux = np.clip(luminance(image) - level.mean(), 0, None) * mask
    total = flux.sum()
    ys, xs = np.indices(flux.shape)
    cy, cx = (flux * ys).sum() / total, (flux * xs).sum() / total
    radius = np.hypot(ys - cy, xs - cx)[mask]
    weights = flux[mask]
    order = np.argsort(radius)
    cumulative = np.cumsum(weights[order])
    return float(radius[order][np.searchsorted(cumulative, 0.5 * total)])


def central_colour(image: np.ndarray) -> float:
    """A g-z-like colour of the central object: -2.5 log10(blue / red above-sky light).

    Positive means redder than the sky-subtracted grey; it orders galaxies from blue
    star-forming disks to red ellipticals, in display units, not magnitudes.
    """
    mask = central_segment(image, threshold_sigma=4.0)
    if mask.sum() < 5:
        mask = central_segment(image)
    if mask.sum() < 5:
        return float("nan")
    level, _ = sky_level_and_noise(image)
    pixels = image[mask].astype(np.float64) - level
    red, blue = np.clip(pixels[:, 0], 0, None).sum(), np.clip(pixels[:, 2], 0, None).sum()
    if red <= 0 or blue <= 0:
        return float("nan")
    return float(-2.5 * np.log10(blue / red))


def luminance_histogram(image: np.ndarray) -> np.ndarray:
    """Fraction of pixels per 8-level luminance bin (32 bins)."""
    counts, _ = np.histogram(luminance(image), bins=HISTOGRAM_BINS)
    return counts / counts.sum()


def measure_image(image: np.ndarray) -> dict[str, float]:
    level, noise = sky_level_and_noise(image)
    lum = luminance(image)
    return {
        "sky_level": float(level.mean()),
        "sky_level_r": float(level[0]),
        "sky_level_g": float(level[1]),
        "sky_level_b": float(level[2]),
        "sky_noise": float(noise.mean()),
        "noise_correlation": noise_correlation(image),
        "psf_fwhm_px": point_source_fwhm(image),
        "half_flux_radius_px": half_flux_radius(image),
        "central_colour": central_colour(image),
        "luminance_p50": float(np.percentile(lum, 50)),
        "luminance_p99": float(np.percentile(lum, 99)),
        "bright_fraction": float((lum > 100).mean()),
    }


def measure_images(images: Iterable[np.ndarray]) -> pd.DataFrame:
    """One row of statistics per image."""
    return pd.DataFrame([measure_image(image) for image in images])


def measure_folder(folder: Path, limit: int | None = None) -> pd.DataFrame:
    paths = image_paths(folder)[:limit]
    table = measure_images(load_rgb(p) for p in paths)
    table.insert(0, "file", [p.name for p in paths])
    return table


def summarize(table: pd.DataFrame) -> dict[str, float]:
    """Medians of the per-image statistics, plus the colour of red and blue galaxies.

    Red / blue are the redder and bluer halves of the set by central colour, so the
    numbers compare the spread of galaxy colours as well as their middle.
    """
    summary = {
        column: float(table[column].median())
        for column in table.columns
        if column != "file" and pd.api.types.is_numeric_dtype(table[column])
    }
    colours = table["central_colour"].dropna().to_numpy()
    if colours.size >= 2:
        split = np.median(colours)
        summary["colour_red_half"] = float(colours[colours >= split].mean())
        summary["colour_blue_half"] = float(colours[colours < split].mean())
    summary["sky_noise_p10"] = float(table["sky_noise"].quantile(0.1))
    summary["sky_noise_p90"] = float(table["sky_noise"].quantile(0.9))
    summary["half_flux_radius_p10"] = float(table["half_flux_radius_px"].quantile(0.1))
    summary["half_flux_radius_p90"] = float(table["half_flux_radius_px"].quantile(0.9))
    summary["n_images"] = float(len(table))
    return summary


def mean_histogram(images: Iterable[np.ndarray]) -> np.ndarray:
    histograms = [luminance_histogram(image) for image in images]
    return np.mean(histograms, axis=0)
