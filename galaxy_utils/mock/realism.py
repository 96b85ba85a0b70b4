"""Measure survey cutouts, so that mock images can be compared with real ones by number.

Every statistic works on 8-bit RGB images alone (no pixel scale, no photometry), so that
it can be applied the same way to the mock survey and to real DECaLS JPEG/PNG cutouts:
sky level and noise from the border, noise correlation (how resampled the pixels are),
point-source FWHM, the colour of the central galaxy, its size in the frame, and the
brightness histogram.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
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
    return flux_radii(image, (0.5,))[0]


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


# --- per-galaxy shape statistics, for comparing morphologies answer by answer ----------


@dataclass(frozen=True)
class _Central:
    """The central object of one image, measured once for every shape statistic: its mask,
    its above-sky luminance (zero outside the mask), its flux-weighted centroid, the sky's
    mean level and the image's luminance."""

    mask: np.ndarray
    flux: np.ndarray
    cy: float
    cx: float
    sky: float
    lum: np.ndarray

    def radius(self) -> np.ndarray:
        ys, xs = np.indices(self.flux.shape)
        return np.hypot(ys - self.cy, xs - self.cx)


def _central_light(image: np.ndarray) -> _Central | None:
    """The central object (:class:`_Central`); None when it is too small or faint to measure."""
    mask = central_segment(image)
    if mask.sum() < 5:
        return None
    level, _ = sky_level_and_noise(image)
    lum = luminance(image)
    flux = np.clip(lum - level.mean(), 0, None) * mask
    total = flux.sum()
    if total <= 0:
        return None
    ys, xs = np.indices(flux.shape)
    return _Central(mask, flux, float((flux * ys).sum() / total), float((flux * xs).sum() / total),
                    float(level.mean()), lum)


def _radii(central: _Central | None, fractions) -> tuple[float, ...]:
    if central is None:
        return tuple(float("nan") for _ in fractions)
    radius = central.radius()[central.mask]
    order = np.argsort(radius)
    cumulative = np.cumsum(central.flux[central.mask][order])
    return tuple(
        float(radius[order][min(np.searchsorted(cumulative, f * cumulative[-1]), radius.size - 1)]) for f in fractions
    )


def flux_radii(image: np.ndarray, fractions=(0.5, 0.9)) -> tuple[float, ...]:
    """Circular radii (pixels) around the central object's centroid enclosing each fraction
    of its above-sky light (display units)."""
    return _radii(_central_light(image), fractions)


def _concentration(central: _Central | None) -> float:
    r50, r90 = _radii(central, (0.5, 0.9))
    return float(r90 / r50) if r50 > 0 else float("nan")


def concentration(image: np.ndarray) -> float:
    """r90 / r50 of the central object's above-sky light: high for a compact, cuspy body
    (an elliptical's bright core), low for a flat, diffuse one. Display units, so an asinh
    stretch lowers it compared with linear photometry; compare like with like."""
    return _concentration(_central_light(image))


def _shape(central: _Central | None) -> tuple[float, float]:
    if central is None:
        return float("nan"), float("nan")
    ys, xs = np.nonzero(central.flux)
    w = central.flux[ys, xs]
    dy, dx = ys - central.cy, xs - central.cx
    cov = np.array([[(w * dx * dx).sum(), (w * dx * dy).sum()], [(w * dx * dy).sum(), (w * dy * dy).sum()]]) / w.sum()
    values, vectors = np.linalg.eigh(cov)
    if values[1] <= 0:
        return float("nan"), float("nan")
    major = vectors[:, 1]
    return float(np.sqrt(max(values[0], 0.0) / values[1])), float(np.arctan2(major[1], major[0]) % np.pi)


def segment_shape(image: np.ndarray) -> tuple[float, float]:
    """Axis ratio b/a and position angle (radians, from the x axis towards y) of the central
    object, from the second moments of its above-sky light."""
    return _shape(_central_light(image))


def _core(central: _Central | None, radius: float) -> float:
    if central is None:
        return float("nan")
    return float(central.lum[central.radius() <= radius].mean() - central.sky)


def central_brightness(image: np.ndarray, radius: float = 3.0) -> float:
    """Mean above-sky luminance (display units) within ``radius`` pixels of the centroid:
    a compact, bright core scores high, a diffuse body low."""
    return _core(_central_light(image), radius)


FEATURE_SMOOTHING_PX = 1.5


def _contrast(central: _Central | None) -> float:
    if central is None:
        return float("nan")
    q, angle = _shape(central)
    (r50,) = _radii(central, (0.5,))
    if not (np.isfinite(q) and np.isfinite(r50)) or r50 < 2:
        return float("nan")
    smooth = ndimage.gaussian_filter(central.lum, FEATURE_SMOOTHING_PX) - central.sky
    ys, xs = np.indices(smooth.shape)
    dx, dy = xs - central.cx, ys - central.cy
    u = dx * np.cos(angle) + dy * np.sin(angle)
    v = -dx * np.sin(angle) + dy * np.cos(angle)
    # Elliptical radius scaled to the same area as the circle of radius r (a * sqrt(q) = r).
    a = np.hypot(u * np.sqrt(q), v / np.sqrt(max(q, 0.05)))
    region = central.mask & (a >= 0.5 * r50) & (a <= 2.0 * r50)
    if region.sum() < 20:
        return float("nan")
    width = max(1.0, r50 / 10.0)
    bins = np.floor(a[region] / width).astype(int)
    values = smooth[region]
    medians = np.zeros(bins.max() + 1)
    for b in np.unique(bins):
        medians[b] = np.median(values[bins == b])
    model = medians[bins]
    mean_model = float(np.mean(model))
    if mean_model <= 0:
        return float("nan")
    sky = smooth[:BORDER, :]
    sky_var = _trimmed_variance(sky - np.median(sky))
    return float(np.sqrt(max(_trimmed_variance(values - model) - sky_var, 0.0)) / mean_model)


def feature_contrast(image: np.ndarray) -> float:
    """Arm / feature contrast: RMS residual of the central object from its own smooth
    elliptical model, relative to the model, between 0.5 and 2 half-flux radii.

    The model is the median (lightly smoothed) luminance in elliptical annuli of the
    object's own axis ratio and position angle, so a smooth elliptical body leaves only
    noise, while arms, bars, rings, clumps and dust lanes leave structure. The largest 5%
    of the residuals (stars and small neighbours on the galaxy) are left out, and the
    smoothed sky's own scatter (measured on the top border, trimmed alike) is taken out in
    quadrature, so images of different noise compare fairly.
    """
    return _contrast(_central_light(image))


FEATURE_TRIM = 0.05


def _trimmed_variance(residual: np.ndarray) -> float:
    """Mean square of ``residual`` without its largest ``FEATURE_TRIM`` share (by size):
    the cores of stars and small neighbours inside a galaxy's segment are dropped, arms and
    bars (a larger share of its area) are kept. The sky is trimmed the same way."""
    squares = np.sort(np.ravel(residual) ** 2)
    keep = max(1, int(round(squares.size * (1.0 - FEATURE_TRIM))))
    return float(squares[:keep].mean())


MORPHOLOGY_STATISTICS = (
    "central_colour",
    "half_flux_radius_px",
    "concentration",
    "central_brightness",
    "axis_ratio",
    "feature_contrast",
)


def measure_morphology(image: np.ndarray) -> dict[str, float]:
    """The statistics that tell one morphology from another (see MORPHOLOGY_STATISTICS);
    the central object is found and measured once."""
    central = _central_light(image)
    return {
        "central_colour": central_colour(image),
        "half_flux_radius_px": _radii(central, (0.5,))[0],
        "concentration": _concentration(central),
        "central_brightness": _core(central, 3.0),
        "axis_ratio": _shape(central)[0],
        "feature_contrast": _contrast(central),
    }


# --- which mock galaxies answer like which reference images ----------------------------


def _is(column: str, *values):
    return lambda truth: truth[column].isin(values)


# Reference label (question_answer) -> (which mock truths show that answer, in words; the
# selector on a truth table). Only answers that say something about the main body's shape,
# light profile, colour or features; the reference set has no "smooth", "round",
# "disk-edge-on yes" or spiral-winding examples, so ellipticals are judged through the
# how-rounded answers and edge-on disks through the dust-lane and cigar-shaped ones.
ANSWER_GROUPS = {
    "smooth-or-featured_featured-or-disk": ("spiral or edge-on", _is("morphology", "spiral", "edge-on")),
    "how-rounded_in-between": ("elliptical, in-between",
                               lambda t: (t.morphology == "elliptical") & (t.roundness == "in-between")),
    "how-rounded_cigar-shaped": ("elliptical, cigar-shaped",
                                 lambda t: (t.morphology == "elliptical") & (t.roundness == "cigar-shaped")),
    "odd-feature_dust-lane": ("edge-on with dust lane", lambda t: (t.morphology == "edge-on") & (t.dust_lane > 0)),
    "disk-edge-on_no": ("spiral", _is("morphology", "spiral")),
    "has-spiral-arms_no": ("lenticular", _is("morphology", "lenticular")),
    "bar_yes": ("spiral/lenticular, strong or weak bar", _is("bar", "strong", "weak")),
    "bar_no": ("spiral/lenticular, no bar", lambda t: t.morphology.isin(["spiral", "lenticular"]) & (t.bar == "no")),
    "bulge-size_dominant": ("spiral/lenticular, dominant bulge",
                            lambda t: t.morphology.isin(["spiral", "lenticular"]) & (t.bulge_size == "dominant")),
    "bulge-size_obvious": ("spiral/lenticular, large or moderate bulge",
                           lambda t: t.morphology.isin(["spiral", "lenticular"])
                           & t.bulge_size.isin(["large", "moderate"])),
    "bulge-size_none": ("spiral, no bulge", lambda t: (t.morphology == "spiral") & (t.bulge_size == "none")),
}


def select_by_answer(truth: pd.DataFrame, per_answer: int | None = None) -> dict[str, pd.Index]:
    """Row labels of ``truth`` (a mock truth table) in each ANSWER_GROUPS group, the first
    ``per_answer`` of each."""
    return {label: truth.index[selector(truth).fillna(False).to_numpy(bool)][:per_answer]
            for label, (_, selector) in ANSWER_GROUPS.items()}


def compare_by_answer(mock: pd.DataFrame, mock_groups: dict, real: pd.DataFrame,
                      real_labels: pd.Series) -> pd.DataFrame:
    """One row per (answer, statistic): n, median and quartiles of the mock galaxies of that
    answer (rows ``mock_groups[label]`` of ``mock``) and of the reference images labelled
    with it (``real_labels``, aligned with ``real``), plus the reference's full range, and
    ``outside``: whether the mock median falls outside the reference's quartiles."""
    rows = []
    for label, index in mock_groups.items():
        real_rows = real[real_labels.to_numpy() == label]
        for statistic in MORPHOLOGY_STATISTICS:
            m = mock.loc[index, statistic].dropna()
            r = real_rows[statistic].dropna() if len(real_rows) else pd.Series(dtype=float)
            row = {"answer": label, "mock_truth": ANSWER_GROUPS[label][0], "statistic": statistic,
                   "n_mock": len(m), "n_real": len(r)}
            for name, values in (("mock", m), ("real", r)):
                row[f"{name}_median"] = float(values.median()) if len(values) else float("nan")
                row[f"{name}_p25"] = float(values.quantile(0.25)) if len(values) else float("nan")
                row[f"{name}_p75"] = float(values.quantile(0.75)) if len(values) else float("nan")
            row["real_min"] = float(r.min()) if len(r) else float("nan")
            row["real_max"] = float(r.max()) if len(r) else float("nan")
            row["outside"] = bool(len(r) and len(m) and not (row["real_p25"] <= row["mock_median"] <= row["real_p75"]))
            rows.append(row)
    return pd.DataFrame(rows)
