"""Would astropy's cosmology change the mock survey? The hand-written flat-LambdaCDM integral
in ``galaxy_utils.mock.morphology`` against ``astropy.cosmology.FlatLambdaCDM`` (same H0,
Omega_m, no radiation): the functions themselves, then the default mock survey's catalogue
and truth CSVs written both ways (byte for byte) and a sample of its images.

Committed runs fingerprint the catalogue's SHA-1, so the swap lands only if the CSVs stay
byte-identical. Measured: they do not (every row has float cells differing in the 9th-10th
significant digit), so the mock keeps its own integral; rerun this after any change.

    python bench/astropy_cosmology.py [--images 50]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from galaxy_utils.mock import DEFAULT_MOCK_SEED, MOCK_SURVEYS  # noqa: E402
from galaxy_utils.mock import morphology as m  # noqa: E402
from galaxy_utils.mock.render import render_galaxy  # noqa: E402
from galaxy_utils.mock.survey import write_mock_catalogue  # noqa: E402


def astropy_functions():
    """The mock's four cosmology functions computed by astropy."""
    import astropy.units as u
    from astropy.cosmology import FlatLambdaCDM

    cosmo = FlatLambdaCDM(H0=m.HUBBLE_CONSTANT, Om0=m.OMEGA_MATTER, Tcmb0=0)
    grid_mu = cosmo.distmod(m._Z_GRID[1:]).value
    return {
        "comoving_distance_mpc": lambda z: cosmo.comoving_distance(z).to_value(u.Mpc),
        "distance_modulus": lambda z: cosmo.distmod(z).value,
        "kpc_per_arcsec": lambda z: cosmo.kpc_proper_per_arcmin(z).to_value(u.kpc / u.arcmin) / 60,
        "redshift_for_distance_modulus": lambda mu: float(np.interp(mu, grid_mu, m._Z_GRID[1:])),
    }


def compare_csv(a: Path, b: Path) -> tuple[bool, str]:
    da, db = a.read_bytes(), b.read_bytes()
    line = f"{a.name}: sha1 {hashlib.sha1(da).hexdigest()[:12]} (hand) vs {hashlib.sha1(db).hexdigest()[:12]} (astropy)"
    if da == db:
        return True, line + ", byte-identical"
    ta, tb = pd.read_csv(a), pd.read_csv(b)
    floats = [c for c in ta.columns if ta[c].dtype.kind == "f"]
    exact = [c for c in ta.columns if c not in floats]
    changed_exact = [c for c in exact if not ta[c].equals(tb[c])]
    rel = ((ta[floats] - tb[floats]).abs() / ta[floats].abs().where(ta[floats] != 0)).to_numpy()
    rows = int((np.nan_to_num(rel) > 0).any(axis=1).sum())
    return False, (f"{line}: {rows} of {len(ta)} rows differ, {int((np.nan_to_num(rel) > 0).sum())} float cells, "
                   f"max relative {np.nanmax(rel):.2g}; non-float columns changed: {changed_exact or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50, help="galaxies whose images are compared")
    args = parser.parse_args()

    hand = {name: getattr(m, name) for name in astropy_functions()}
    astro = astropy_functions()
    z = np.linspace(m.MIN_REDSHIFT, m.MAX_REDSHIFT, 500)
    worst = max(float(np.max(np.abs(hand[f](z) / astro[f](z) - 1)))
                for f in ("comoving_distance_mpc", "distance_modulus", "kpc_per_arcsec"))
    print(f"functions, z in [{m.MIN_REDSHIFT}, {m.MAX_REDSHIFT}]: max relative difference {worst:.2g}")

    n, seed = MOCK_SURVEYS["mock"], DEFAULT_MOCK_SEED
    with tempfile.TemporaryDirectory() as tmp:
        out = {"hand": Path(tmp) / "hand", "astropy": Path(tmp) / "astropy"}
        truths_a, seeds, _ = write_mock_catalogue(n, seed, out["hand"])
        for name, function in astro.items():
            setattr(m, name, function)
        try:
            truths_b, _, _ = write_mock_catalogue(n, seed, out["astropy"])
        finally:
            for name, function in hand.items():
                setattr(m, name, function)
        identical = []
        for name in ("gz_decals_volunteers_5.csv", "truth.csv"):
            same, line = compare_csv(out["hand"] / name, out["astropy"] / name)
            identical.append(same)
            print(line)
    sample = sorted(np.random.default_rng(0).choice(n, min(args.images, n), replace=False))
    same_images, worst_pixel = 0, 0
    for i in sample:
        x, y = (render_galaxy(t[i], int(seeds[i])).astype(int) for t in (truths_a, truths_b))
        same_images += bool(np.array_equal(x, y))
        worst_pixel = max(worst_pixel, int(np.abs(x - y).max()))
    print(f"images: {same_images} of {len(sample)} byte-identical, largest pixel difference {worst_pixel} of 255")
    print(f"function_max_rel={worst:.2g} catalogue_identical={identical[0]} truth_identical={identical[1]} "
          f"images_identical={same_images}/{len(sample)} max_pixel_diff={worst_pixel}")


if __name__ == "__main__":
    main()
