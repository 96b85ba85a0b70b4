"""The true morphology of mock galaxies, in the answer vocabulary of the GZD-5 tree.

A :class:`GalaxyTruth` is what the mock survey *knows* about a galaxy: the renderer draws
it and the simulated volunteers answer questions about it. Its categorical fields use the
tree's own answer words (``"strong"`` bar, ``"in-between"`` roundness, ...) so that the
volunteer model can compare an answer with the truth without a translation table. Its
physical fields (position, redshift, magnitude, size, shape, colours, observing
conditions) follow simple but realistic scaling relations for an SDSS/NSA-selected
sample like GZD-5's (r < 17.77, Petrosian radius above 3 arcsec, z < 0.15).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

MORPHOLOGIES = ("elliptical", "lenticular", "spiral", "edge-on", "irregular", "merger", "artifact")
# Rough GZD-5 mix: smooth ellipticals and spirals dominate, edge-ons about a tenth,
# disturbed galaxies a few per cent, artifacts about two per cent.
MORPHOLOGY_PROBABILITIES = (0.30, 0.14, 0.36, 0.10, 0.04, 0.04, 0.02)

ROUNDNESS = ("round", "in-between", "cigar-shaped")
EDGE_ON_BULGES = ("boxy", "none", "rounded")
BARS = ("strong", "weak", "no")
BULGE_SIZES = ("dominant", "large", "moderate", "small", "none")
WINDINGS = ("tight", "medium", "loose")
DISTURBANCES = ("none", "minor-disturbance", "major-disturbance", "merger")
ARTIFACT_KINDS = ("bright-star", "satellite-trail", "bad-pixels")

# GZD-5 targets come from the NSA: SDSS spectroscopic limit and a minimum apparent size.
MAGNITUDE_LIMIT_R = 17.77
MIN_PETRO_THETA_ARCSEC = 3.0
MAX_REDSHIFT = 0.15
MIN_REDSHIFT = 0.01

# Flat LambdaCDM (no radiation), enough for distances and angular sizes of z < 0.15 galaxies.
HUBBLE_CONSTANT = 70.0
OMEGA_MATTER = 0.3

# Bulge-to-total ranges that a volunteer would call each bulge size.
_BULGE_FRACTION_RANGE = {
    "dominant": (0.65, 0.85),
    "large": (0.45, 0.65),
    "moderate": (0.25, 0.45),
    "small": (0.08, 0.25),
    "none": (0.0, 0.05),
}
_PITCH_RANGE_DEG = {"tight": (7.0, 13.0), "medium": (14.0, 23.0), "loose": (25.0, 38.0)}
_ROUNDNESS_AXIS_RATIO = {"round": (0.8, 1.0), "in-between": (0.5, 0.8), "cigar-shaped": (0.22, 0.5)}


@dataclass(frozen=True)
class GalaxyTruth:
    """Everything true about one mock galaxy.

    Categorical fields are ``None`` where the tree never asks about them for this kind of
    galaxy (no ``bar`` for an elliptical, no ``roundness`` for a spiral). Angles are in
    degrees, sizes in arcsec, colours in magnitudes.
    """

    morphology: str
    ra: float
    dec: float
    redshift: float
    mag_r: float
    abs_mag_r: float
    r_half_arcsec: float  # half-light radius of the whole galaxy
    sersic_n: float  # of the bulge, or of the whole body of a smooth galaxy
    axis_ratio: float  # apparent b/a of the main body
    position_angle_deg: float
    inclination_deg: float  # 0 face-on, 90 edge-on (disks); 0 for smooth bodies
    bulge_fraction: float  # share of the light in the bulge (1 for ellipticals)
    g_r_bulge: float
    r_z_bulge: float
    g_r_disk: float
    r_z_disk: float
    roundness: str | None = None
    edge_on_bulge: str | None = None
    bar: str | None = None
    bulge_size: str | None = None
    n_arms: int | None = None  # actual number of arms; more than 4 answers "more-than-4"
    winding: str | None = None
    disturbance: str = "none"
    artifact_kind: str | None = None
    arm_strength: float = 0.0  # arm/inter-arm contrast, 0 (none) .. 1 (grand design)
    arm_pitch_deg: float = 0.0
    bar_length_arcsec: float = 0.0
    bar_angle_deg: float = 0.0  # in the disk plane, from the major axis
    clumpiness: float = 0.0  # share of disk light in star-forming knots
    dust_lane: float = 0.0  # optical depth of an edge-on's mid-plane dust
    companion_flux_ratio: float = 0.0
    companion_separation_arcsec: float = 0.0
    companion_angle_deg: float = 0.0
    tidal_strength: float = 0.0  # share of light in tidal tails / plumes
    psf_fwhm_arcsec: float = 1.3
    noise_factor: float = 1.0  # sky noise relative to a typical DR5 coadd
    catalogue_size_factor: float = 1.0  # NSA size measurement / true size (rarely << 1)

    @property
    def iauname(self) -> str:
        return iau_name(self.ra, self.dec)

    @property
    def flux_nmgy(self) -> float:
        """Total r-band flux in nanomaggies (the catalogue's ``sersic_nmgy_r``)."""
        return float(10 ** ((22.5 - self.mag_r) / 2.5))

    @property
    def concentration(self) -> float:
        """Petrosian r90/r50: 2.3 for a pure disk, about 3.3 for a de Vaucouleurs body."""
        smooth_share = self.bulge_fraction * min(self.sersic_n, 4.0) / 4.0
        return 2.3 + 1.0 * smooth_share

    @property
    def petro_th50(self) -> float:
        """Catalogue half-light radius, including the (rare) catalogue size error."""
        return self.r_half_arcsec * 0.92 * self.catalogue_size_factor

    @property
    def petro_th90(self) -> float:
        return self.petro_th50 * self.concentration

    @property
    def petro_theta(self) -> float:
        return self.petro_th50 * 1.95

    @property
    def pixscale(self) -> float:
        """Arcsec per pixel of the 424x424 cutout, by the GZD-5 image-size rule.

        GZD-5 sized each cutout from the NSA radii so that the galaxy fills the frame:
        max(min(0.04 * petro_th50, 0.02 * petro_th90), 0.1) arcsec per pixel.
        """
        return max(min(0.04 * self.petro_th50, 0.02 * self.petro_th90), 0.1)

    @property
    def feature_contrast(self) -> float:
        """How strongly the galaxy shows *any* feature (disk, arms, clumps), 0..1.

        The volunteer model scales this by visibility to decide how many people answer
        "featured-or-disk": a lenticular's smooth disk is a weak feature, an edge-on
        disk or a grand-design spiral a strong one.
        """
        if self.morphology == "elliptical":
            return 0.0
        if self.morphology == "lenticular":
            return 0.6 + (0.15 if self.bar in ("strong", "weak") else 0.0)
        if self.morphology == "spiral":
            return 0.55 + 0.45 * self.arm_strength
        if self.morphology == "edge-on":
            return 0.9
        if self.morphology == "irregular":
            return 0.75 + 0.2 * self.clumpiness
        if self.morphology == "merger":
            return 0.3 + 0.5 * (1.0 - self.bulge_fraction) + 0.2 * self.arm_strength
        return 0.0

    @property
    def apparent_roundness(self) -> str:
        """The how-rounded answer the galaxy's outline suggests, for any morphology."""
        return self.roundness or roundness_from_axis_ratio(self.axis_ratio)

    @property
    def arm_count_answer(self) -> str | None:
        """``n_arms`` in the spiral-arm-count vocabulary ("1".."4", "more-than-4")."""
        if self.n_arms is None:
            return None
        return str(self.n_arms) if self.n_arms <= 4 else "more-than-4"


def roundness_from_axis_ratio(axis_ratio: float) -> str:
    if axis_ratio >= 0.8:
        return "round"
    if axis_ratio >= 0.5:
        return "in-between"
    return "cigar-shaped"


def iau_name(ra: float, dec: float) -> str:
    """IAU designation ``JHHMMSS.ss+DDMMSS.s`` as GZD-5 spells it (truncated, not rounded)."""
    ra_seconds_total = int(np.floor((ra % 360.0) / 15.0 * 3600.0 * 100.0 + 1e-6))
    hours, rest = divmod(ra_seconds_total, 3600 * 100)
    minutes, centiseconds = divmod(rest, 60 * 100)
    sign = "+" if dec >= 0 else "-"
    dec_tenths_total = int(np.floor(abs(dec) * 3600.0 * 10.0 + 1e-6))
    degrees, rest = divmod(dec_tenths_total, 3600 * 10)
    arcmin, tenths = divmod(rest, 60 * 10)
    return (
        f"J{hours:02d}{minutes:02d}{centiseconds // 100:02d}.{centiseconds % 100:02d}"
        f"{sign}{degrees:02d}{arcmin:02d}{tenths // 10:02d}.{tenths % 10:d}"
    )


# --- cosmology -----------------------------------------------------------------------

@functools.cache
def cosmology():
    """astropy's flat LambdaCDM with the mock's parameters (made on first use: importing
    astropy.cosmology takes about a second)."""
    from astropy.cosmology import FlatLambdaCDM

    return FlatLambdaCDM(H0=HUBBLE_CONSTANT, Om0=OMEGA_MATTER, Tcmb0=0.0)


def distance_modulus(z):
    return cosmology().distmod(z).value


def kpc_per_arcsec(z):
    from astropy import units

    return cosmology().kpc_proper_per_arcmin(z).to_value(units.kpc / units.arcsec)


@functools.cache
def _distance_modulus_grid() -> tuple[np.ndarray, np.ndarray]:
    z = np.linspace(0.0, 0.5, 2001)[1:]
    return z, distance_modulus(z)


def redshift_for_distance_modulus(mu: float) -> float:
    """The redshift at which a distance modulus is reached (interpolated on a fine grid:
    much faster than ``astropy.cosmology.z_at_value`` for every sampled galaxy)."""
    z, grid = _distance_modulus_grid()
    return float(np.interp(mu, grid, z))


def at_redshift(truth: GalaxyTruth, z: float) -> GalaxyTruth:
    """The same galaxy moved to redshift ``z``: fainter/brighter and smaller/larger.

    The debiased vote fractions ask what volunteers would have said had the galaxy been
    nearby; this is the galaxy they would have seen.
    """
    dm = float(distance_modulus(z) - distance_modulus(truth.redshift))
    size_scale = float(kpc_per_arcsec(truth.redshift) / kpc_per_arcsec(z))
    return dataclasses.replace(
        truth,
        redshift=float(z),
        mag_r=truth.mag_r + dm,
        r_half_arcsec=truth.r_half_arcsec * size_scale,
        bar_length_arcsec=truth.bar_length_arcsec * size_scale,
        companion_separation_arcsec=truth.companion_separation_arcsec * size_scale,
    )


# --- sky positions -------------------------------------------------------------------

# Rows: galactic x, y, z axes expressed in equatorial (J2000) coordinates.
_EQUATORIAL_TO_GALACTIC = np.array(
    [
        [-0.0548755604, -0.8734370902, -0.4838350155],
        [0.4941094279, -0.4448296300, 0.7469822445],
        [-0.8676661490, -0.1980763734, 0.4559837762],
    ]
)


def galactic_latitude(ra: float, dec: float) -> float:
    ra_r, dec_r = np.radians(ra), np.radians(dec)
    vec = np.array([np.cos(dec_r) * np.cos(ra_r), np.cos(dec_r) * np.sin(ra_r), np.sin(dec_r)])
    return float(np.degrees(np.arcsin(_EQUATORIAL_TO_GALACTIC[2] @ vec)))


def _sample_sky_position(rng: np.random.Generator) -> tuple[float, float]:
    """A position in a DECaLS-DR5-like footprint: -20 < dec < +35, away from the Milky Way."""
    sin_lo, sin_hi = np.sin(np.radians(-20.0)), np.sin(np.radians(35.0))
    while True:
        ra = float(rng.uniform(0.0, 360.0))
        dec = float(np.degrees(np.arcsin(rng.uniform(sin_lo, sin_hi))))
        if abs(galactic_latitude(ra, dec)) > 22.0:
            return ra, dec


# --- sampling ------------------------------------------------------------------------

_ABS_MAG = {  # mean, spread of M_r per morphology
    "elliptical": (-21.0, 0.9),
    "lenticular": (-20.8, 0.8),
    "spiral": (-20.6, 0.9),
    "edge-on": (-20.5, 0.9),
    "irregular": (-19.4, 0.8),
    "merger": (-21.0, 0.9),
    "artifact": (-19.8, 1.0),
}


def _choice(rng: np.random.Generator, options: tuple, probabilities: tuple):
    return options[int(rng.choice(len(options), p=np.asarray(probabilities) / sum(probabilities)))]


def _half_light_radius_kpc(rng: np.random.Generator, abs_mag: float, early_type: bool) -> float:
    """Size-luminosity relations in the spirit of Shen et al. (2003).

    Zero points sit ~0.2 dex above Shen's: the reference cutouts' star sizes and noise
    texture show less zoom (larger galaxies in arcsec) than the plain relations give.
    """
    log_luminosity = -0.4 * (abs_mag + 21.0)
    if early_type:
        log_radius = 0.72 + 0.60 * log_luminosity + rng.normal(0.0, 0.12)
    else:
        log_radius = 0.90 + 0.35 * log_luminosity + rng.normal(0.0, 0.15)
    return float(10**log_radius)


def _sample_one(rng: np.random.Generator) -> GalaxyTruth:
    morphology = _choice(rng, MORPHOLOGIES, MORPHOLOGY_PROBABILITIES)
    fields: dict = {"morphology": morphology}

    # Brightness and distance: draw M_r, then z uniformly (not by volume) out to where the
    # galaxy would drop below the spectroscopic limit. Uniform z favours nearby, large
    # galaxies more than a pure flux limit would; tuned so that apparent sizes, and hence
    # the GZD-5 zoom (pixscale), match the reference DECaLS cutouts.
    early_type = morphology in ("elliptical", "lenticular")
    mean_mag, spread = _ABS_MAG[morphology]
    while True:
        abs_mag = float(rng.normal(mean_mag, spread))
        z_max = min(MAX_REDSHIFT, redshift_for_distance_modulus(MAGNITUDE_LIMIT_R - abs_mag))
        if z_max <= MIN_REDSHIFT * 1.5:
            continue
        z = float(MIN_REDSHIFT + rng.uniform() * (z_max - MIN_REDSHIFT))
        radius_arcsec = _half_light_radius_kpc(rng, abs_mag, early_type) / float(kpc_per_arcsec(z))
        mag_r = abs_mag + float(distance_modulus(z))
        if radius_arcsec * 0.92 * 1.95 >= MIN_PETRO_THETA_ARCSEC and mag_r > 11.0:
            break
    fields.update(redshift=z, abs_mag_r=abs_mag, mag_r=mag_r, r_half_arcsec=radius_arcsec)
    fields["ra"], fields["dec"] = _sample_sky_position(rng)
    fields["position_angle_deg"] = float(rng.uniform(0.0, 180.0))

    # Colours: red sequence for bulges and early types, bluer star-forming disks.
    red_g_r = float(rng.normal(0.88, 0.05))
    red_r_z = float(rng.normal(0.50, 0.05))
    fields.update(g_r_bulge=red_g_r, r_z_bulge=red_r_z)
    if early_type:
        fields.update(g_r_disk=red_g_r - 0.05, r_z_disk=red_r_z - 0.03)
    else:
        fields.update(g_r_disk=float(rng.normal(0.54, 0.08)), r_z_disk=float(rng.normal(0.32, 0.06)))

    fields["disturbance"] = _choice(rng, DISTURBANCES[:3], (0.9, 0.08, 0.02))
    fields["psf_fwhm_arcsec"] = float(np.clip(rng.normal(1.20, 0.15), 0.9, 1.7))
    # Most fields have typical DR5 depth; some have many more exposures (much smoother sky).
    fields["noise_factor"] = (
        float(rng.uniform(0.25, 0.55)) if rng.uniform() < 0.12 else float(np.exp(rng.normal(0.0, 0.18)))
    )
    # A few NSA sizes are badly underestimated (a shredded big galaxy), so the cutout
    # zooms into the galaxy: GZD-5 flags these with wrong_size_warning.
    fields["catalogue_size_factor"] = (
        float(rng.uniform(0.15, 0.4)) if rng.uniform() < 0.012 else float(rng.normal(1.0, 0.05))
    )

    if morphology == "elliptical":
        roundness = _choice(rng, ROUNDNESS, (0.36, 0.5, 0.14))
        fields.update(
            roundness=roundness,
            axis_ratio=float(rng.uniform(*_ROUNDNESS_AXIS_RATIO[roundness])),
            sersic_n=float(rng.uniform(3.0, 5.5)),
            inclination_deg=0.0,
            bulge_fraction=1.0,
        )
    elif morphology in ("lenticular", "spiral", "merger"):
        _sample_disk_features(rng, fields, morphology)
    elif morphology == "edge-on":
        edge_on_bulge = _choice(rng, EDGE_ON_BULGES, (0.15, 0.45, 0.40))
        low, high = {"boxy": (0.15, 0.35), "none": (0.0, 0.04), "rounded": (0.2, 0.5)}[edge_on_bulge]
        inclination = float(rng.uniform(80.0, 90.0))
        fields.update(
            edge_on_bulge=edge_on_bulge,
            inclination_deg=inclination,
            axis_ratio=_disk_axis_ratio(inclination, 0.1),
            bulge_fraction=float(rng.uniform(low, high)),
            sersic_n=float(rng.uniform(1.0, 2.5)) if edge_on_bulge == "boxy" else float(rng.uniform(2.0, 4.0)),
            dust_lane=float(rng.uniform(0.3, 0.9)) if rng.uniform() < 0.45 else 0.0,
        )
    elif morphology == "irregular":
        fields.update(
            disturbance=_choice(rng, DISTURBANCES[1:3], (0.4, 0.6)),
            inclination_deg=float(np.degrees(np.arccos(rng.uniform(0.3, 1.0)))),
            sersic_n=1.0,
            bulge_fraction=0.0,
            bulge_size="none",
            clumpiness=float(rng.uniform(0.2, 0.5)),
            tidal_strength=float(rng.uniform(0.0, 0.1)),
            g_r_disk=float(rng.normal(0.35, 0.07)),
            r_z_disk=float(rng.normal(0.22, 0.05)),
        )
        fields["axis_ratio"] = _disk_axis_ratio(fields["inclination_deg"], 0.3)
    elif morphology == "artifact":
        fields.update(
            artifact_kind=_choice(rng, ARTIFACT_KINDS, (0.5, 0.2, 0.3)),
            disturbance="none",
            axis_ratio=float(rng.uniform(0.5, 1.0)),
            sersic_n=float(rng.uniform(1.0, 4.0)),
            inclination_deg=0.0,
            bulge_fraction=float(rng.uniform(0.2, 1.0)),
            # The catalogue "galaxy" is often a shred or a faint smudge near the defect.
            mag_r=mag_r + float(rng.uniform(0.5, 2.5)),
        )

    if morphology == "merger":
        fields.update(
            disturbance=_choice(rng, ("major-disturbance", "merger"), (0.3, 0.7)),
            companion_flux_ratio=float(rng.uniform(0.25, 1.0)),
            companion_separation_arcsec=float(radius_arcsec * rng.uniform(1.0, 2.6)),
            companion_angle_deg=float(rng.uniform(0.0, 360.0)),
            tidal_strength=float(rng.uniform(0.06, 0.2)),
        )
    elif fields["disturbance"] == "minor-disturbance" and morphology != "irregular":
        fields["tidal_strength"] = float(rng.uniform(0.03, 0.07))
    elif fields["disturbance"] == "major-disturbance" and morphology != "irregular":
        fields["tidal_strength"] = float(rng.uniform(0.07, 0.14))
    return GalaxyTruth(**fields)


def _disk_axis_ratio(inclination_deg: float, thickness: float) -> float:
    """Apparent b/a of an oblate disk of intrinsic thickness ``thickness`` (Hubble 1926)."""
    cos_i = np.cos(np.radians(inclination_deg))
    return float(np.sqrt(cos_i**2 + thickness**2 * (1 - cos_i**2)))


def _sample_disk_features(rng: np.random.Generator, fields: dict, morphology: str) -> None:
    """Bulge, bar, arms and orientation of a not-edge-on disk galaxy (or merger host)."""
    inclination = float(np.degrees(np.arccos(rng.uniform(0.3, 1.0))))
    fields["inclination_deg"] = inclination
    fields["axis_ratio"] = _disk_axis_ratio(inclination, 0.12)
    if morphology == "lenticular":
        bulge_size = _choice(rng, BULGE_SIZES, (0.08, 0.42, 0.40, 0.10, 0.0))
        bar = _choice(rng, BARS, (0.05, 0.15, 0.80))
        has_arms = False
    elif morphology == "spiral":
        bulge_size = _choice(rng, BULGE_SIZES, (0.03, 0.12, 0.40, 0.32, 0.13))
        bar = _choice(rng, BARS, (0.12, 0.22, 0.66))
        has_arms = True
    else:  # merger host: a spiral half the time, else a bulge-dominated system
        has_arms = bool(rng.uniform() < 0.5)
        bulge_size = (
            _choice(rng, BULGE_SIZES, (0.3, 0.3, 0.3, 0.1, 0.0))
            if not has_arms
            else (_choice(rng, BULGE_SIZES, (0.0, 0.15, 0.45, 0.3, 0.1)))
        )
        bar = "no"
    fields["bulge_size"] = bulge_size
    fields["bulge_fraction"] = float(rng.uniform(*_BULGE_FRACTION_RANGE[bulge_size]))
    fields["sersic_n"] = float(rng.uniform(1.5, 4.0))
    if morphology != "merger":
        fields["bar"] = bar
    if bar != "no":
        fields["bar_length_arcsec"] = float(
            fields["r_half_arcsec"] * (rng.uniform(0.6, 1.1) if bar == "strong" else rng.uniform(0.4, 0.7))
        )
        fields["bar_angle_deg"] = float(rng.uniform(0.0, 180.0))
    if has_arms:
        winding = _choice(rng, WINDINGS, (0.3, 0.45, 0.25))
        arm_choice = _choice(rng, (1, 2, 3, 4, 5), (0.05, 0.6, 0.14, 0.08, 0.13))
        n_arms = arm_choice if arm_choice <= 4 else int(rng.integers(5, 8))
        fields.update(
            winding=winding,
            n_arms=n_arms,
            arm_pitch_deg=float(rng.uniform(*_PITCH_RANGE_DEG[winding])),
            arm_strength=float(rng.uniform(0.35, 1.0)),
            clumpiness=float(rng.uniform(0.02, 0.15)),
        )


def sample_truths(n: int, rng: np.random.Generator) -> list[GalaxyTruth]:
    """``n`` mock galaxies in GZD-5-like proportions, with unique IAU names.

    Galaxies are drawn one after another from ``rng``, so the first k of a larger draw
    equal a draw of k with the same generator state.
    """
    truths: list[GalaxyTruth] = []
    seen: set[str] = set()
    while len(truths) < n:
        truth = _sample_one(rng)
        if truth.iauname in seen:
            continue
        seen.add(truth.iauname)
        truths.append(truth)
    return truths


def truth_table(truths: list[GalaxyTruth]) -> pd.DataFrame:
    """One row per galaxy: ``iauname``, then every truth field, then derived catalogue sizes."""
    rows = []
    for truth in truths:
        row = {"iauname": truth.iauname, **dataclasses.asdict(truth)}
        row.update(
            petro_th50=truth.petro_th50,
            petro_th90=truth.petro_th90,
            pixscale=truth.pixscale,
            feature_contrast=truth.feature_contrast,
        )
        rows.append(row)
    columns = ["iauname", *(f.name for f in dataclasses.fields(GalaxyTruth))]
    columns += ["petro_th50", "petro_th90", "pixscale", "feature_contrast"]
    table = pd.DataFrame(rows, columns=columns)
    table["n_arms"] = table["n_arms"].astype("Int64")
    return table
