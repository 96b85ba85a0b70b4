"""The per-galaxy shape statistics of galaxy_utils.mock.realism, on synthetic images of
known shape (no reference images needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from galaxy_utils.mock import realism

SIZE = 424
SKY = 20.0


def _image(profile: np.ndarray, seed: int = 0, noise: float = 4.0, colour=(1.0, 1.0, 1.0)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    channels = [SKY + c * profile + rng.normal(0, noise, profile.shape) for c in colour]
    return np.clip(np.round(np.stack(channels, axis=2)), 0, 255).astype(np.uint8)


def _coords(angle_deg: float = 0.0):
    ys, xs = np.indices((SIZE, SIZE)) - (SIZE - 1) / 2
    a = np.radians(angle_deg)
    return xs * np.cos(a) + ys * np.sin(a), -xs * np.sin(a) + ys * np.cos(a)


def _gaussian(sigma: float, q: float = 1.0, angle_deg: float = 0.0, peak: float = 200.0) -> np.ndarray:
    u, v = _coords(angle_deg)
    return peak * np.exp(-0.5 * ((u / sigma) ** 2 + (v / (q * sigma)) ** 2))


def _sersic(r_e: float, n: float, q: float = 1.0, peak: float = 200.0) -> np.ndarray:
    u, v = _coords()
    r = np.hypot(u, v / q)
    b = 2.0 * n - 1.0 / 3.0
    return peak * np.exp(-b * ((r / r_e) ** (1.0 / n) - 1.0)) / np.exp(b)


@pytest.mark.parametrize("q", [0.3, 0.6, 1.0])
def test_axis_ratio_of_elliptical_gaussian(q):
    measured, angle = realism.segment_shape(_image(_gaussian(30.0, q, angle_deg=30.0)))
    assert measured == pytest.approx(q, abs=0.04)
    if q < 1:
        assert np.degrees(angle) == pytest.approx(30.0, abs=3.0)


def test_flux_radii_and_concentration_of_gaussian():
    # A circular Gaussian's r50 = 1.177 sigma and r90 = 2.146 sigma, so r90/r50 = 1.82;
    # the 2-sigma segment cuts off the faint wings, which only lowers r90 a little.
    r50, r90 = realism.flux_radii(_image(_gaussian(20.0), noise=1.0), (0.5, 0.9))
    assert r50 == pytest.approx(1.177 * 20.0, rel=0.08)
    assert r90 / r50 == pytest.approx(1.82, rel=0.08)


def test_concentration_and_core_order_cuspy_above_flat():
    # Same half-light radius, same total above-sky light: the de Vaucouleurs body is the
    # more concentrated one and has the brighter core.
    cuspy, flat = _sersic(25.0, 4.0), _sersic(25.0, 1.0, peak=60.0)
    cuspy *= flat.sum() / cuspy.sum()
    cuspy_image, flat_image = _image(np.minimum(cuspy, 230)), _image(flat)
    assert realism.concentration(cuspy_image) > realism.concentration(flat_image) + 0.3
    assert realism.central_brightness(cuspy_image) > 1.5 * realism.central_brightness(flat_image)


def test_feature_contrast_sees_arms_not_smooth_bodies():
    smooth = _gaussian(35.0, 0.7, angle_deg=20.0, peak=150.0)
    u, v = _coords()
    r, theta = np.hypot(u, v) + 1e-3, np.arctan2(v, u)
    arms = 0.5 * (1 + np.cos(2 * (theta - np.log(r / 10.0) / np.tan(np.radians(20.0))))) ** 3
    spiral = _gaussian(35.0, peak=150.0) * (0.5 + arms)
    smooth_contrast = realism.feature_contrast(_image(smooth))
    spiral_contrast = realism.feature_contrast(_image(spiral))
    assert smooth_contrast < 0.05
    assert spiral_contrast > 0.25
    # The sky noise is taken out: a noisier smooth galaxy stays smooth.
    assert realism.feature_contrast(_image(smooth, noise=10.0)) < 0.08


def test_central_colour_orders_red_above_blue():
    body = _gaussian(25.0)
    red = realism.central_colour(_image(body, colour=(1.0, 0.8, 0.6)))
    blue = realism.central_colour(_image(body, colour=(0.7, 0.85, 1.0)))
    assert red > 0.2 > -0.2 > blue


def test_measure_morphology_and_compare_by_answer():
    images = [_image(_gaussian(25.0, q), seed=k) for k, q in enumerate((0.3, 0.35, 0.9, 0.95))]
    table = pd.DataFrame([realism.measure_morphology(image) for image in images])
    assert list(table.columns) == list(realism.MORPHOLOGY_STATISTICS)
    truth = pd.DataFrame({"morphology": ["elliptical"] * 4, "roundness": ["cigar-shaped"] * 2 + ["in-between"] * 2,
                          "dust_lane": 0.0, "bar": None, "bulge_size": None})
    groups = realism.select_by_answer(truth)
    assert list(groups["how-rounded_cigar-shaped"]) == [0, 1]
    real = table.iloc[[2, 3]].reset_index(drop=True)
    labels = pd.Series(["how-rounded_cigar-shaped"] * 2)
    compared = realism.compare_by_answer(table, {"how-rounded_cigar-shaped": groups["how-rounded_cigar-shaped"]},
                                         real, labels).set_index("statistic")
    assert compared.loc["axis_ratio", "n_mock"] == 2 and compared.loc["axis_ratio", "n_real"] == 2
    assert compared.loc["axis_ratio", "outside"]  # 0.3 mock vs 0.9 real
