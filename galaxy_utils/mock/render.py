"""Draw a mock galaxy as a GZD-5-like 424x424 RGB cutout.

The pipeline copies how the real cutouts were made, because that is what makes them look
real: the sky is drawn in nanomaggies at the native DECaLS pixel scale (0.262"/px) with a
Moffat PSF, sky noise and source Poisson noise; the cutout is then resampled to 424x424 at
the GZD-5 image scale (``GalaxyTruth.pixscale``: small galaxies are zoomed in, so their
noise looks correlated and their cores soft), and the g, r, z bands are mapped to blue,
green, red with the per-band asinh stretch of the DECaLS Galaxy Zoo images.

Speed: each colour group (bulge light, disk light, every numpy-drawn layer) is convolved
with the PSF once and shared by the three bands, instead of rendering every band apart;
GalSim draws each profile on a stamp of its own FFT size rather than on the whole canvas;
the numpy-drawn layer of the galaxy and of the rest of the sky share one batched float32
FFT convolution (two only when a dust lane must dim the galaxy alone); noise, resampling
and the stretch run in float32.
"""

from __future__ import annotations

import math

import galsim
import numpy as np
import scipy.fft
from PIL import Image
from scipy import ndimage

from galaxy_utils.mock.morphology import GalaxyTruth

IMAGE_SIZE = 424
NATIVE_PIXSCALE = 0.262  # arcsec per DECam coadd pixel
# g, r, z nanomaggies per display unit before the asinh: the DECaLS Galaxy Zoo colour
# scheme's (0.008, 0.014, 0.019), brightened by DISPLAY_GAIN (tuned on the reference
# cutouts' pixel histograms). g drives blue, r green, z red.
DISPLAY_GAIN = 2.6
BAND_DISPLAY_SCALE = np.array([0.008, 0.014, 0.019]) / DISPLAY_GAIN
STRETCH_MIN, STRETCH_MAX = -0.5, 300.0
# Sky noise per native pixel in display units, for noise_factor 1 (tuned to the
# reference cutouts' border MAD).
SKY_NOISE_DISPLAY = 0.95
# Mean display level (about 3.5 sigma of the band-mean sky noise) above which pixels
# keep their full colour.
DESATURATE_BELOW = 2.0
# Source photon noise: variance grows by one sky variance per this many sigma of signal.
POISSON_SIGNAL_PER_SKY_VARIANCE = 40.0
# Gaussian sigma (native pixels) of the coadd's resampling-induced noise correlation.
COADD_NOISE_SMOOTHING_PX = 0.5

# GalSim profiles are drawn on stamps this many times their good FFT size (or the whole
# canvas, when that is smaller). The good size leaves about 1% of the flux outside
# (folding_threshold): at 1.0 a bright neighbour's halo ended at a visible square edge;
# 1.5 removes it at no measurable cost.
STAMP_MARGIN = 1.5
_GSPARAMS = galsim.GSParams(folding_threshold=1e-2, maxk_threshold=2e-3, maximum_fft_size=8192)


def band_weights(g_r: float, r_z: float) -> np.ndarray:
    """g, r, z flux per unit r-band flux for a source of colours g-r, r-z."""
    return np.array([10 ** (-0.4 * g_r), 1.0, 10 ** (0.4 * r_z)])


def asinh_stretch(bands: np.ndarray) -> np.ndarray:
    """(3, H, W) g, r, z in nanomaggies per native pixel -> (H, W, 3) uint8 RGB.

    Like the Galaxy Zoo DECaLS images, faint pixels are desaturated toward grey, so
    that the sky is grey speckle rather than coloured confetti (in the reference
    cutouts the three channels' sky noise is ~0.9 correlated); colour is kept where the
    light is a few noise levels above the sky.
    """
    scaled = bands[::-1].astype(np.float32) * (1.0 / BAND_DISPLAY_SCALE[::-1, None, None]).astype(np.float32)
    mean = scaled.mean(axis=0, keepdims=True)
    saturation = np.clip(mean * np.float32(1.0 / DESATURATE_BELOW), 0.0, 1.0)
    scaled -= mean
    scaled *= saturation
    scaled += mean
    low, high = math.asinh(STRETCH_MIN), math.asinh(STRETCH_MAX)
    level = np.arcsinh(scaled, out=scaled)  # in place, float32 throughout
    level -= np.float32(low)
    level *= np.float32(255.0 / (high - low))
    np.clip(level, 0.0, 255.0, out=level)
    return np.rint(level, out=level).astype(np.uint8).transpose(1, 2, 0)


def visibility(truth: GalaxyTruth) -> float:
    """How clearly a volunteer can see this galaxy's features, 0 (hopeless) .. 1 (obvious).

    Three things hide structure in a survey cutout: a galaxy only a few PSF widths
    across, a low surface brightness, and a noisy sky. Each gives a factor in [0, 1].
    """
    size_ratio = truth.r_half_arcsec / truth.psf_fwhm_arcsec
    size_term = 1.0 - math.exp(-((size_ratio / 2.5) ** 1.5))
    surface_brightness = truth.mag_r + 2.5 * math.log10(2 * math.pi * truth.r_half_arcsec**2)
    brightness_term = 1.0 / (1.0 + math.exp((surface_brightness - 23.2) / 0.5))
    noise_term = min(1.0, math.exp(-0.35 * (truth.noise_factor - 1.0)))
    return float(np.clip(size_term * brightness_term * noise_term, 0.0, 1.0))


class _Canvas:
    """The native-resolution sky around one galaxy, with its geometry and layers.

    ``convolved`` holds light already convolved with the PSF (GalSim draws), ``sharp``
    light still to be convolved (numpy-drawn arms, knots, tails, stars), both as
    (3, m, m) g, r, z flux per render pixel.
    """

    def __init__(self, truth: GalaxyTruth, rng: np.random.Generator):
        self.truth = truth
        self.rng = rng
        out_scale = truth.pixscale
        if out_scale < NATIVE_PIXSCALE:
            self.scale = NATIVE_PIXSCALE
            self.size = int(round(IMAGE_SIZE * out_scale / NATIVE_PIXSCALE))
        else:  # big galaxies: drawn at the output scale, like the binned cutouts
            self.scale = out_scale
            self.size = IMAGE_SIZE
        self.binning = self.scale / NATIVE_PIXSCALE
        m = self.size
        self.convolved = np.zeros((3, m, m))
        self.sharp = np.zeros((3, m, m))
        self.psf = galsim.Moffat(beta=3.5, fwhm=truth.psf_fwhm_arcsec, gsparams=_GSPARAMS)
        # Cutouts are centred on the catalogue position, to a fraction of a pixel.
        self.offset = tuple(rng.uniform(-0.5, 0.5, size=2))
        self.centre = ((m - 1) / 2 + self.offset[0], (m - 1) / 2 + self.offset[1])
        self.width_arcsec = m * self.scale
        self._psf_fft: tuple[np.ndarray, int, int] | None = None

    # -- coordinates ------------------------------------------------------------------
    def grid_arcsec(self, centre: tuple[float, float] | None = None):
        cx, cy = centre or self.centre
        idx = np.arange(self.size)
        return (idx[None, :] - cx) * self.scale, (idx[:, None] - cy) * self.scale

    def to_pixels(self, x_arcsec, y_arcsec):
        return self.centre[0] + np.asarray(x_arcsec) / self.scale, self.centre[1] + np.asarray(y_arcsec) / self.scale

    # -- drawing ----------------------------------------------------------------------
    def draw_galsim(self, obj: galsim.GSObject, colour: np.ndarray, shift_arcsec=(0.0, 0.0)):
        """Convolve ``obj`` (r-band flux) with the PSF and add it in all bands.

        An object much smaller than the canvas is drawn on a stamp around it (GalSim's
        own FFT size for it, times STAMP_MARGIN) instead of on the whole canvas: the FFT
        and the k-space profile evaluation shrink with the stamp's area.
        """
        profile = galsim.Convolve(obj, self.psf, gsparams=_GSPARAMS)
        m = self.size
        x = self.centre[0] + shift_arcsec[0] / self.scale  # the profile's centre, canvas pixels
        y = self.centre[1] + shift_arcsec[1] / self.scale
        side = galsim.Image.good_fft_size(int(math.ceil(STAMP_MARGIN * profile.getGoodImageSize(self.scale))))
        if side >= m:
            x0 = y0 = 0
            side = m
        else:
            x0 = int(math.floor(x - (side - 1) / 2 + 0.5))
            y0 = int(math.floor(y - (side - 1) / 2 + 0.5))
        # the part of the stamp on the canvas
        ax, bx, ay, by = max(x0, 0), min(x0 + side, m), max(y0, 0), min(y0 + side, m)
        if ax >= bx or ay >= by:
            return
        offset = (x - (x0 + (side - 1) / 2), y - (y0 + (side - 1) / 2))
        image = profile.drawImage(nx=side, ny=side, scale=self.scale, offset=offset).array
        piece = image[ay - y0 : by - y0, ax - x0 : bx - x0]
        self.convolved[:, ay:by, ax:bx] += colour[:, None, None] * piece[None]

    def splat(self, x_pix, y_pix, flux_r, colour: np.ndarray):
        """Add point sources (r-band fluxes) to the sharp layer, bilinearly shared.

        ``colour`` is one (3,) band weighting for all points or one (n, 3) row per point.
        """
        x_pix, y_pix, flux_r = np.atleast_1d(x_pix, y_pix, flux_r)
        colours = np.broadcast_to(colour, (flux_r.size, 3))
        x0, y0 = np.floor(x_pix).astype(int), np.floor(y_pix).astype(int)
        fx, fy = x_pix - x0, y_pix - y0
        m = self.size
        cells, weights = [], []
        for dx, dy, w in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
            xi, yi = x0 + dx, y0 + dy
            inside = (xi >= 0) & (xi < m) & (yi >= 0) & (yi < m)
            cells.append(yi[inside] * m + xi[inside])
            weights.append((flux_r * w)[inside, None] * colours[inside])
        cell, weight = np.concatenate(cells), np.concatenate(weights)
        for band in range(3):
            self.sharp[band] += np.bincount(cell, weights=weight[:, band], minlength=m * m).reshape(m, m)

    def add_sharp_image(self, image_r: np.ndarray, colour: np.ndarray):
        self.sharp += colour[:, None, None] * image_r[None]

    def psf_image(self) -> np.ndarray:
        half = min(self.size // 2 - 1, int(math.ceil(5.0 * self.truth.psf_fwhm_arcsec / self.scale)))
        psf = self.psf.drawImage(nx=2 * half + 1, ny=2 * half + 1, scale=self.scale).array
        return psf / psf.sum()

    def _psf_transform(self) -> tuple[np.ndarray, int, int]:
        """The PSF image's real FFT at a fast size for 'same'-mode convolution (cached)."""
        if self._psf_fft is None:
            psf = self.psf_image()
            half = psf.shape[0] // 2
            n = scipy.fft.next_fast_len(self.size + 2 * half, real=True)
            self._psf_fft = (scipy.fft.rfft2(psf.astype(np.float32), s=(n, n)), n, half)
        return self._psf_fft

    def flatten(self) -> np.ndarray:
        """All light, PSF-convolved, in g, r, z flux per render pixel.

        The sharp layer's three bands are convolved in one batched float32 FFT with the
        PSF's transform, computed once per canvas (float32 rounding is ~1e-7 of the
        brightest pixel, far below the sky noise).
        """
        total = self.convolved.copy()
        if np.any(self.sharp):
            psf_fft, n, half = self._psf_transform()
            m = self.size
            sharp_fft = scipy.fft.rfft2(self.sharp.astype(np.float32), s=(n, n))
            sharp_fft *= psf_fft
            total += scipy.fft.irfft2(sharp_fft, s=(n, n))[:, half : half + m, half : half + m]
        return total


# --- the galaxy ------------------------------------------------------------------------


def _disk_plane(canvas: _Canvas, x, y):
    """Sky offsets (arcsec) -> coordinates in the plane of the galaxy's disk."""
    truth = canvas.truth
    beta = math.radians(truth.position_angle_deg)
    u = x * math.cos(beta) + y * math.sin(beta)
    v = -x * math.sin(beta) + y * math.cos(beta)
    cos_i = max(math.cos(math.radians(truth.inclination_deg)), 0.08)
    return u, v / cos_i


def _project(obj: galsim.GSObject, truth: GalaxyTruth) -> galsim.GSObject:
    """Put a face-on disk-plane object at the galaxy's inclination and position angle."""
    cos_i = max(math.cos(math.radians(truth.inclination_deg)), 0.08)
    return obj.transform(1.0, 0.0, 0.0, cos_i).rotate(truth.position_angle_deg * galsim.degrees)


def _sersic(n: float, half_light: float, flux: float) -> galsim.GSObject:
    """A Sersic profile; high-n ones truncated at 8 half-light radii so FFTs stay small.

    n is rounded to 0.1 so GalSim's per-(n, truncation) profile tables are reused
    across galaxies instead of being rebuilt for each one.
    """
    n = round(float(np.clip(n, 0.5, 6.0)) * 10) / 10
    trunc = 8.0 * half_light if n > 1.5 else 0.0
    return galsim.Sersic(n=n, half_light_radius=half_light, flux=flux, trunc=trunc, gsparams=_GSPARAMS)


def _draw_bulge(canvas: _Canvas, flux: float, half_light: float, q: float, n: float):
    truth = canvas.truth
    n = float(np.clip(n, 0.5, 6.0))
    bulge = _sersic(n, half_light, flux)
    bulge = bulge.shear(q=float(np.clip(q, 0.15, 1.0)), beta=truth.position_angle_deg * galsim.degrees)
    canvas.draw_galsim(bulge, band_weights(truth.g_r_bulge, truth.r_z_bulge))


def _draw_disk(canvas: _Canvas, flux: float, scale_radius: float, thickness: float, colour: np.ndarray):
    truth = canvas.truth
    disk = galsim.InclinedExponential(
        truth.inclination_deg * galsim.degrees,
        scale_radius=scale_radius,
        scale_height=thickness * scale_radius,
        flux=flux,
        gsparams=_GSPARAMS,
    ).rotate(truth.position_angle_deg * galsim.degrees)
    canvas.draw_galsim(disk, colour)


def _draw_bar(canvas: _Canvas, flux: float):
    truth = canvas.truth
    bar = galsim.Sersic(n=0.6, half_light_radius=0.45 * truth.bar_length_arcsec, flux=flux, gsparams=_GSPARAMS)
    bar = bar.shear(q=0.3, beta=truth.bar_angle_deg * galsim.degrees)
    colour = band_weights(0.5 * (truth.g_r_bulge + truth.g_r_disk), 0.5 * (truth.r_z_bulge + truth.r_z_disk))
    canvas.draw_galsim(_project(bar, truth), colour)


def _arm_density(canvas: _Canvas, u, v, scale_radius: float) -> np.ndarray:
    """Logarithmic spiral arms in the disk plane, tapered inside the bulge/bar."""
    truth, rng = canvas.truth, canvas.rng
    r = np.hypot(u, v) + 1e-3
    theta = np.arctan2(v, u)
    m = truth.n_arms or 2
    pitch = math.radians(truth.arm_pitch_deg)
    phase = theta - np.log(r / scale_radius) / math.tan(pitch)
    if m > 4:  # flocculent: many short, ragged arm segments
        for k in (1, 2, 3):
            phase = phase + rng.uniform(0.1, 0.35) / k * np.sin(k * theta + rng.uniform(0, 2 * np.pi)) * np.log1p(r)
    sharpness = float(rng.uniform(1.2, 3.0))
    pattern = (0.5 * (1 + np.cos(m * phase + rng.uniform(0, 2 * np.pi)))) ** sharpness
    inner = max(truth.bar_length_arcsec, 0.6 * scale_radius)
    envelope = np.exp(-r / (1.15 * scale_radius)) * (1 - np.exp(-((r / inner) ** 3)))
    return pattern * envelope


def _draw_disk_galaxy(canvas: _Canvas, flux: float):
    """Bulge + exponential disk (+ bar, arms, star-forming knots) of a face-on-ish disk."""
    truth, rng = canvas.truth, canvas.rng
    r_half = truth.r_half_arcsec
    scale_radius = r_half / 1.678 * (1.0 + 0.3 * truth.bulge_fraction)
    bulge_flux = flux * truth.bulge_fraction
    bar_flux = {"strong": 0.12, "weak": 0.06}.get(truth.bar or "no", 0.0) * flux
    disk_flux = flux - bulge_flux - bar_flux
    arm_flux = disk_flux * 0.3 * truth.arm_strength if truth.n_arms else 0.0
    knot_flux = disk_flux * truth.clumpiness
    disk_colour = band_weights(truth.g_r_disk, truth.r_z_disk)
    arm_colour = band_weights(truth.g_r_disk - 0.12, truth.r_z_disk - 0.06)
    knot_colour = band_weights(truth.g_r_disk - 0.3, truth.r_z_disk - 0.15)

    if bulge_flux > 0:
        bulge_half_light = r_half * (0.15 + 0.45 * truth.bulge_fraction)
        bulge_q = max(truth.axis_ratio, 0.75 + 0.2 * rng.uniform())
        _draw_bulge(canvas, bulge_flux, bulge_half_light, bulge_q, truth.sersic_n)
    _draw_disk(canvas, disk_flux - arm_flux - knot_flux, scale_radius, 0.12, disk_colour)
    if bar_flux > 0:
        _draw_bar(canvas, bar_flux)

    if arm_flux > 0:
        # float32 grids: the transcendental functions run several times faster
        x, y = canvas.grid_arcsec()
        u, v = _disk_plane(canvas, x.astype(np.float32), y.astype(np.float32))
        arms = _arm_density(canvas, u, v, scale_radius).astype(np.float64)
        if arms.sum() > 0:
            canvas.add_sharp_image(arm_flux * arms / arms.sum(), arm_colour)
            if knot_flux > 0:  # knots trace the arms
                probability = (arms / arms.sum()).ravel()
                n_knots = int(rng.integers(15, 60))
                cells = rng.choice(probability.size, size=n_knots, p=probability)
                fluxes = rng.exponential(1.0, n_knots)
                canvas.splat(
                    cells % canvas.size + rng.uniform(-0.5, 0.5, n_knots),
                    cells // canvas.size + rng.uniform(-0.5, 0.5, n_knots),
                    knot_flux * fluxes / fluxes.sum(),
                    knot_colour,
                )
    elif knot_flux > 0:
        _draw_random_knots(canvas, knot_flux, r_half, knot_colour)


def _draw_random_knots(canvas: _Canvas, flux: float, half_light: float, colour: np.ndarray, shift=(0.0, 0.0)):
    """Star-forming clumps scattered through a disk (GalSim RandomKnots)."""
    truth, rng = canvas.truth, canvas.rng
    knots = galsim.RandomKnots(
        int(rng.integers(20, 60)),
        half_light_radius=half_light,
        flux=flux,
        rng=galsim.BaseDeviate(int(rng.integers(1, 2**31 - 1))),
        gsparams=_GSPARAMS,
    )
    # Knots are tiny but resolved star-forming regions, not perfect points.
    knots = galsim.Convolve(knots, galsim.Gaussian(sigma=0.4, gsparams=_GSPARAMS))
    canvas.draw_galsim(_project(knots, truth), colour, shift)


def _draw_edge_on(canvas: _Canvas, flux: float):
    truth, rng = canvas.truth, canvas.rng
    r_half = truth.r_half_arcsec
    scale_radius = r_half / 1.678
    bulge_flux = flux * truth.bulge_fraction
    if bulge_flux > 0:
        if truth.edge_on_bulge == "boxy":  # flat-topped, flattened: a box/peanut outline
            _draw_bulge(canvas, bulge_flux, r_half * 0.35, 0.55, 0.6)
        else:
            _draw_bulge(canvas, bulge_flux, r_half * rng.uniform(0.2, 0.35), rng.uniform(0.7, 0.95), truth.sersic_n)
    disk_colour = band_weights(truth.g_r_disk, truth.r_z_disk)
    _draw_disk(canvas, flux - bulge_flux, scale_radius, float(rng.uniform(0.18, 0.32)), disk_colour)


def _apply_dust_lane(canvas: _Canvas, galaxy_light: np.ndarray) -> np.ndarray:
    """Darken an edge-on disk along its mid-plane (bluer light suffers more)."""
    truth = canvas.truth
    x, y = canvas.grid_arcsec()
    beta = math.radians(truth.position_angle_deg)
    along = x * math.cos(beta) + y * math.sin(beta)
    across = -x * math.sin(beta) + y * math.cos(beta)
    width = 0.5 * truth.psf_fwhm_arcsec
    extent = np.exp(-((along / (2.2 * truth.r_half_arcsec)) ** 4))
    depth = truth.dust_lane * np.exp(-0.5 * (across / width) ** 2) * extent
    reddening = np.array([1.15, 1.0, 0.8])[:, None, None]
    return galaxy_light * np.exp(-depth[None] * reddening)


def _draw_irregular(canvas: _Canvas, flux: float):
    truth, rng = canvas.truth, canvas.rng
    r_half = truth.r_half_arcsec
    colour = band_weights(truth.g_r_disk, truth.r_z_disk)
    knot_flux = flux * truth.clumpiness
    lopsided_flux = flux * rng.uniform(0.1, 0.25)
    _draw_disk(canvas, flux - knot_flux - lopsided_flux, r_half / 1.678, 0.3, colour)
    angle = rng.uniform(0, 2 * np.pi)
    shift = (0.6 * r_half * math.cos(angle), 0.6 * r_half * math.sin(angle))
    blob = galsim.Exponential(half_light_radius=0.6 * r_half, flux=lopsided_flux, gsparams=_GSPARAMS)
    canvas.draw_galsim(blob.shear(q=rng.uniform(0.4, 0.9), beta=rng.uniform(0, 180) * galsim.degrees), colour, shift)
    _draw_random_knots(canvas, knot_flux, 0.9 * r_half, band_weights(truth.g_r_disk - 0.25, truth.r_z_disk - 0.12))


def _draw_tidal_features(canvas: _Canvas, flux: float, origin=(0.0, 0.0), count: int = 1):
    """Tails and plumes: streams of light curving away from a galaxy, drawn as particles."""
    truth, rng = canvas.truth, canvas.rng
    colour = band_weights(truth.g_r_disk + 0.05, truth.r_z_disk)
    r_half = truth.r_half_arcsec
    for _ in range(count):
        n_particles = 4000
        t = rng.uniform(0.0, 1.0, n_particles) ** 0.7
        length = r_half * rng.uniform(2.0, 4.5)
        start = rng.uniform(0, 2 * np.pi)
        bend = rng.uniform(0.6, 1.6) * rng.choice([-1, 1])
        radius = 0.7 * r_half + length * t
        angle = start + bend * t
        spread = (0.15 + 0.45 * t) * r_half
        x = origin[0] + radius * np.cos(angle) + rng.normal(0, 1, n_particles) * spread
        y = origin[1] + radius * np.sin(angle) + rng.normal(0, 1, n_particles) * spread
        xp, yp = canvas.to_pixels(x, y)
        canvas.splat(xp, yp, np.full(n_particles, flux / count / n_particles), colour)


def _draw_main_galaxy(canvas: _Canvas):
    truth, rng = canvas.truth, canvas.rng
    flux = truth.flux_nmgy
    tidal_flux = flux * truth.tidal_strength
    body_flux = flux - tidal_flux
    morphology = truth.morphology
    if morphology in ("elliptical", "artifact"):
        _draw_bulge(canvas, body_flux, truth.r_half_arcsec, truth.axis_ratio, truth.sersic_n)
    elif morphology in ("lenticular", "spiral"):
        _draw_disk_galaxy(canvas, body_flux)
    elif morphology == "edge-on":
        _draw_edge_on(canvas, body_flux)
    elif morphology == "irregular":
        _draw_irregular(canvas, body_flux)
    elif morphology == "merger":
        companion_flux = body_flux * truth.companion_flux_ratio / (1 + truth.companion_flux_ratio)
        _draw_disk_galaxy(canvas, body_flux - companion_flux)
        angle = math.radians(truth.companion_angle_deg)
        shift = (
            truth.companion_separation_arcsec * math.cos(angle),
            truth.companion_separation_arcsec * math.sin(angle),
        )
        n = float(rng.uniform(1.0, 4.0))
        half_light = truth.r_half_arcsec * math.sqrt(truth.companion_flux_ratio) * rng.uniform(0.6, 1.0)
        companion = _sersic(n, half_light, companion_flux).shear(
            q=rng.uniform(0.4, 1.0), beta=rng.uniform(0, 180) * galsim.degrees
        )
        red = rng.uniform() < 0.5
        colour = band_weights(truth.g_r_bulge, truth.r_z_bulge) if red else band_weights(truth.g_r_disk, truth.r_z_disk)
        canvas.draw_galsim(companion, colour, shift)
        _draw_tidal_features(canvas, tidal_flux * 0.6, count=int(rng.integers(1, 3)))
        _draw_tidal_features(canvas, tidal_flux * 0.4, origin=shift, count=1)
        return
    if tidal_flux > 0:
        _draw_tidal_features(canvas, tidal_flux, count=1 if truth.disturbance == "minor-disturbance" else 2)


# --- the rest of the sky -----------------------------------------------------------------


def _star_colour(rng: np.random.Generator) -> np.ndarray:
    g_r = float(np.clip(rng.normal(0.9, 0.35), 0.2, 1.5))
    return band_weights(g_r, 0.1 + 0.45 * g_r)


def _add_field(canvas: _Canvas):
    """Foreground stars and faint background galaxies, in numbers that scale with area."""
    rng = canvas.rng
    m = canvas.size
    area_arcmin2 = canvas.width_arcsec**2 / 3600.0
    # Stars: density varies from field to field; counts rise to fainter magnitudes.
    star_density = float(np.exp(rng.normal(math.log(0.8), 0.6)))
    n_stars = int(rng.poisson(star_density * area_arcmin2))
    if n_stars:
        mags = 14.0 + 8.5 * rng.uniform(size=n_stars) ** 0.6
        colours = np.array([_star_colour(rng) for _ in range(n_stars)])
        canvas.splat(
            rng.uniform(0, m - 1, n_stars), rng.uniform(0, m - 1, n_stars), 10 ** ((22.5 - mags) / 2.5), colours
        )
    # Faint galaxies: mostly small, red (distant) smudges.
    n_galaxies = int(rng.poisson(rng.uniform(4.0, 12.0) * area_arcmin2))
    half = 12
    stamp = np.arange(-half, half + 1)
    for _ in range(n_galaxies):
        mag = 19.5 + 4.5 * rng.uniform() ** 0.5
        sigma = rng.uniform(0.15, 0.7) / canvas.scale
        q = rng.uniform(0.3, 1.0)
        angle = rng.uniform(0, np.pi)
        cx, cy = rng.uniform(0, m - 1), rng.uniform(0, m - 1)
        ix, iy = int(cx), int(cy)
        xs = stamp[None, :] + ix - cx
        ys = stamp[:, None] + iy - cy
        u = xs * math.cos(angle) + ys * math.sin(angle)
        v = -xs * math.sin(angle) + ys * math.cos(angle)
        blob = np.exp(-np.sqrt(u**2 + (v / q) ** 2) / max(sigma / 1.6, 0.2))
        blob *= 10 ** ((22.5 - mag) / 2.5) / blob.sum()
        g_r = float(rng.uniform(0.5, 1.7))
        colour = band_weights(g_r, 0.3 + 0.4 * g_r)
        y0, y1 = max(iy - half, 0), min(iy + half + 1, m)
        x0, x1 = max(ix - half, 0), min(ix + half + 1, m)
        if y0 >= y1 or x0 >= x1:
            continue
        piece = blob[y0 - (iy - half) : y1 - (iy - half), x0 - (ix - half) : x1 - (ix - half)]
        canvas.sharp[:, y0:y1, x0:x1] += colour[:, None, None] * piece[None]


def _add_neighbours(canvas: _Canvas):
    """Other galaxies of the same group: fainter, sometimes overlapping the target."""
    truth, rng = canvas.truth, canvas.rng
    n_neighbours = int(rng.choice([0, 1, 2, 3], p=[0.55, 0.3, 0.11, 0.04]))
    for _ in range(n_neighbours):
        mag = truth.mag_r + rng.uniform(0.7, 3.5)
        flux = 10 ** ((22.5 - mag) / 2.5)
        half_light = truth.r_half_arcsec * 10 ** (-0.2 * (mag - truth.mag_r)) * rng.uniform(0.6, 1.3)
        # Outside the target's half-light radius, unless the frame is zoomed in too far.
        nearest = min(2.0 * truth.r_half_arcsec, 0.3 * canvas.width_arcsec)
        radius = rng.uniform(nearest, 0.5 * canvas.width_arcsec)
        angle = rng.uniform(0, 2 * np.pi)
        shift = (radius * math.cos(angle), radius * math.sin(angle))
        n = float(rng.uniform(1.0, 4.0))
        body = _sersic(n, half_light, flux).shear(q=rng.uniform(0.25, 1.0), beta=rng.uniform(0, 180) * galsim.degrees)
        red = n > 2.5
        colour = (
            band_weights(rng.normal(0.8, 0.05), rng.normal(0.45, 0.05))
            if red
            else band_weights(rng.normal(0.5, 0.08), rng.normal(0.3, 0.06))
        )
        canvas.draw_galsim(body, colour, shift)


# --- artifacts -----------------------------------------------------------------------------


def _moffat(canvas: _Canvas, x0: float, y0: float, fwhm_arcsec: float, beta: float, flux: float) -> np.ndarray:
    idx = np.arange(canvas.size)
    r2 = ((idx[None, :] - x0) ** 2 + (idx[:, None] - y0) ** 2) * canvas.scale**2
    alpha = fwhm_arcsec / (2 * math.sqrt(2 ** (1 / beta) - 1))
    profile = (1 + r2 / alpha**2) ** (-beta)
    return flux * profile * (beta - 1) / (math.pi * alpha**2) * canvas.scale**2


def _add_bright_star(
    canvas: _Canvas, light: np.ndarray, mag: float, x0: float, y0: float
) -> tuple[np.ndarray, np.ndarray]:
    """A saturated star: PSF core, broad halo, diffraction spikes and a bleed trail.

    Returns (m, m) masks of the saturated core (empty in every band of the coadd) and of
    the rim around it (empty in some bands).
    """
    rng = canvas.rng
    flux = 10 ** ((22.5 - mag) / 2.5)
    colour = _star_colour(rng)
    fwhm = canvas.truth.psf_fwhm_arcsec
    star = _moffat(canvas, x0, y0, fwhm, 3.5, 0.97 * flux) + _moffat(canvas, x0, y0, 4 * fwhm, 1.8, 0.03 * flux)
    idx = np.arange(canvas.size)
    dx, dy = idx[None, :] - x0, idx[:, None] - y0
    spike_width = 0.5 * fwhm / canvas.scale
    spike_angle = rng.uniform(0, np.pi / 2)
    for angle in (spike_angle, spike_angle + np.pi / 2):
        across = -dx * math.sin(angle) + dy * math.cos(angle)
        along = dx * math.cos(angle) + dy * math.sin(angle)
        star += (
            2e-5 * flux * np.exp(-0.5 * (across / spike_width) ** 2) / (1 + (np.abs(along) * canvas.scale / 3) ** 1.5)
        )
    light += colour[:, None, None] * star[None]
    saturation = 40.0 * BAND_DISPLAY_SCALE[1]  # nmgy per pixel where the CCD saturates
    core = star * colour[1] > saturation * canvas.binning**2
    # Charge bleeds along CCD columns (here the x axis), beyond the saturated core.
    bleed_length = int(np.clip(np.sqrt(core.sum()) * rng.uniform(1.0, 2.5), 0, canvas.size))
    bleed = (np.abs(dy) < max(1.0, 0.15 * np.sqrt(core.sum()))) & (np.abs(dx) < bleed_length)
    # Fewer exposures saturate in the rim: masked in some bands only (a coloured ring).
    rim = star * colour[1] > 0.3 * saturation * canvas.binning**2
    return core | bleed, rim


def _add_trail(canvas: _Canvas, light: np.ndarray, through_centre: bool, brightness: float):
    """A satellite or aircraft trail: a straight streak, usually in one band only."""
    rng = canvas.rng
    m = canvas.size
    angle = rng.uniform(0, np.pi)
    if through_centre:
        px, py = canvas.centre[0] + rng.normal(0, 0.05 * m), canvas.centre[1] + rng.normal(0, 0.05 * m)
    else:
        px, py = rng.uniform(0, m), rng.uniform(0, m)
    idx = np.arange(m)
    across = -(idx[None, :] - px) * math.sin(angle) + (idx[:, None] - py) * math.cos(angle)
    width = 0.35 * canvas.truth.psf_fwhm_arcsec / canvas.scale
    streak = np.exp(-0.5 * (across / width) ** 2)
    bands = rng.choice(3, size=int(rng.choice([1, 1, 2])), replace=False)
    for band in bands:
        light[band] += brightness * BAND_DISPLAY_SCALE[band] * canvas.binning**2 * streak


def _bad_pixel_regions(out_size: int, rng: np.random.Generator):
    """Missing data: chip gaps, an absent exposure in some bands, hot columns.

    Returns a list of (band mask (3,), pixel mask (out, out), fill value in display units).
    """
    regions = []
    idx = np.arange(out_size)
    for _ in range(int(rng.integers(1, 3))):  # edges of missing coverage in 1-2 bands
        vertical = rng.uniform() < 0.5
        edge = rng.uniform(0.15, 0.85) * out_size
        coord = idx[None, :] if vertical else idx[:, None]
        side = (coord < edge) if rng.uniform() < 0.5 else (coord > edge)
        mask = np.broadcast_to(side, (out_size, out_size))
        bands = np.zeros(3, bool)
        bands[rng.choice(3, size=int(rng.integers(1, 3)), replace=False)] = True
        regions.append((bands, mask, 0.0))
    for _ in range(int(rng.integers(0, 3))):  # chip gaps: empty in every band
        vertical = rng.uniform() < 0.5
        start = rng.uniform(0, out_size)
        width = rng.uniform(4, 20)
        coord = idx[None, :] if vertical else idx[:, None]
        mask = np.broadcast_to((coord > start) & (coord < start + width), (out_size, out_size))
        regions.append((np.ones(3, bool), mask, 0.0))
    for _ in range(int(rng.integers(1, 4))):  # hot columns
        col = int(rng.integers(0, out_size - 3))
        mask = np.zeros((out_size, out_size), bool)
        mask[:, col : col + int(rng.integers(1, 4))] = True
        bands = np.zeros(3, bool)
        bands[int(rng.integers(0, 3))] = True
        regions.append((bands, mask, float(rng.uniform(5, 60))))
    return regions


# --- putting it together ----------------------------------------------------------------


def _coadd_noise(rng: np.random.Generator, shape: tuple[int, ...], binning: float) -> np.ndarray:
    """Unit-variance noise correlated like a coadd's.

    DECaLS coadds are built by interpolating each exposure onto the brick grid, so even
    at the native scale neighbouring pixels share noise (a lag-1 correlation of about a
    third); binned cutouts average that correlation away.
    """
    noise = rng.standard_normal(shape).astype(np.float32)
    sigma = COADD_NOISE_SMOOTHING_PX / binning
    if sigma < 0.25:
        return noise
    kernel_norm = float(np.sqrt((ndimage.gaussian_filter(_UNIT_IMPULSE, sigma) ** 2).sum()))
    noise = ndimage.gaussian_filter(noise, (0, sigma, sigma))
    noise *= np.float32(1.0 / kernel_norm)
    return noise


_UNIT_IMPULSE = np.zeros((21, 21))
_UNIT_IMPULSE[10, 10] = 1.0


def _resample(bands: np.ndarray) -> np.ndarray:
    """Native-scale (3, m, m) -> float32 (3, 424, 424), as the cutout service interpolates."""
    bands = bands.astype(np.float32, copy=False)
    if bands.shape[1] == IMAGE_SIZE:
        return bands
    out = np.empty((3, IMAGE_SIZE, IMAGE_SIZE), np.float32)
    for band, resampled in zip(bands, out, strict=True):
        image = Image.fromarray(band, mode="F").resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BICUBIC)
        resampled[:] = np.asarray(image)
    return out


def render_galaxy(truth: GalaxyTruth, seed: int) -> np.ndarray:
    """A (424, 424, 3) uint8 DECaLS-like cutout of ``truth``; same inputs, same bytes."""
    rng = np.random.default_rng(seed)
    canvas = _Canvas(truth, rng)
    _draw_main_galaxy(canvas)
    if truth.dust_lane > 0:  # dims the galaxy only: flatten it apart from the rest of the sky
        galaxy = _apply_dust_lane(canvas, canvas.flatten())
        canvas.convolved[:] = 0.0
        canvas.sharp[:] = 0.0
    else:  # everything shares one PSF convolution
        galaxy = 0.0
    _add_neighbours(canvas)
    _add_field(canvas)
    light = galaxy + canvas.flatten()

    saturated = np.zeros((canvas.size, canvas.size), bool)
    rim = np.zeros((canvas.size, canvas.size), bool)
    artifact = truth.artifact_kind
    if artifact == "bright-star":
        x0 = canvas.centre[0] + rng.normal(0, 0.08 * canvas.size)
        y0 = canvas.centre[1] + rng.normal(0, 0.08 * canvas.size)
        core, ring = _add_bright_star(canvas, light, rng.uniform(7.5, 11.0), x0, y0)
        saturated |= core
        rim |= ring
    elif rng.uniform() < 0.05:  # a bright star somewhere in an ordinary field
        edge = rng.choice([-0.1, 1.1])
        x0, y0 = (
            (edge * canvas.size, rng.uniform(0, canvas.size))
            if rng.uniform() < 0.5
            else (rng.uniform(0, canvas.size), edge * canvas.size)
        )
        core, ring = _add_bright_star(canvas, light, rng.uniform(9.0, 12.0), x0, y0)
        saturated |= core
        rim |= ring
    if artifact == "satellite-trail":
        _add_trail(canvas, light, through_centre=True, brightness=rng.uniform(8.0, 60.0))
    elif rng.uniform() < 0.03:
        _add_trail(canvas, light, through_centre=False, brightness=rng.uniform(2.0, 15.0))

    # Per native pixel: binned big-galaxy cutouts average, not sum, their pixels. From
    # here on float32 (as the resampling always was) is plenty: 8-bit output, noisy sky.
    light = (light / canvas.binning**2).astype(np.float32)
    sky_sigma = (SKY_NOISE_DISPLAY * BAND_DISPLAY_SCALE * truth.noise_factor / canvas.binning)[:, None, None]
    sky_sigma = sky_sigma.astype(np.float32)
    noise_sigma = np.clip(light, 0, None)
    noise_sigma *= 1.0 / POISSON_SIGNAL_PER_SKY_VARIANCE / sky_sigma
    noise_sigma += 1.0
    np.sqrt(noise_sigma, out=noise_sigma)
    noise_sigma *= sky_sigma
    image = _coadd_noise(rng, light.shape, canvas.binning)
    image *= noise_sigma
    image += light
    # Saturated pixels are masked in the coadd: a black core inside a coloured rim.
    if saturated.any():
        for band in rng.choice(3, size=2, replace=False):
            image[band][rim] = -BAND_DISPLAY_SCALE[band]
        image[:, saturated] = -BAND_DISPLAY_SCALE[:, None]
    image = _resample(image)
    if artifact == "bad-pixels":
        for bands, mask, fill in _bad_pixel_regions(IMAGE_SIZE, rng):
            for band in np.flatnonzero(bands):
                image[band][mask] = fill * BAND_DISPLAY_SCALE[band]
    return asinh_stretch(image)
