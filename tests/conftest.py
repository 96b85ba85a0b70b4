"""Hand-made catalogues in the real GZD-5 layout, and small images, for the tests."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
# The suite, and the notebooks nbval runs in kernels that inherit this, use the fast profile
# (the committed notebooks show the laptop profile of `make run`; the cells nbval compares
# do not depend on the profile). Collected before the notebooks, so it is set in time.
os.environ.setdefault("GALAXY_CNN_PROFILE", "fast")

from galaxy_utils.data import tree  # noqa: E402
from galaxy_utils.data.catalogue import build_gzd5_table, png_loc_for  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

# Short names for the answers the tests set most often.
SHORT = {
    "smooth": "smooth-or-featured_smooth",
    "featured": "smooth-or-featured_featured-or-disk",
    "artifact": "smooth-or-featured_artifact",
    "edge_yes": "disk-edge-on_yes",
    "edge_no": "disk-edge-on_no",
    "arms_yes": "has-spiral-arms_yes",
    "arms_no": "has-spiral-arms_no",
    "round": "how-rounded_round",
    "in_between": "how-rounded_in-between",
    "cigar": "how-rounded_cigar-shaped",
    "bar_no": "bar_no",
    "merge_none": "merging_none",
    "minor": "merging_minor-disturbance",
    "major": "merging_major-disturbance",
    "merger": "merging_merger",
}


def iauname(i: int) -> str:
    """A valid-looking, unique iauname for test row ``i``."""
    return f"J{10 + i // 60:02d}{i % 60:02d}12.47+220853.0"


def galaxy(**votes: int) -> dict[str, int]:
    """Counts for one galaxy from short answer names (``smooth=4, featured=1``)."""
    counts = {}
    for key, value in votes.items():
        counts[SHORT.get(key, key)] = value
    return counts


def make_catalogue(galaxies: list[dict[str, int]]) -> pd.DataFrame:
    """A GZD-5 table (127 columns) from per-galaxy answer counts; merging 'none' fills in.

    Every galaxy answers the always-asked merging question with as many votes as
    smooth-or-featured got, unless the test sets merging answers itself.
    """
    rows = []
    for g in galaxies:
        g = dict(g)
        total = sum(g.get(c, 0) for c in tree.question("smooth-or-featured").count_columns)
        if not any(k.startswith("merging_") for k in g):
            g["merging_none"] = total
        rows.append(g)
    counts = pd.DataFrame(rows).fillna(0).astype("int64")
    n = len(galaxies)
    names = [iauname(i) for i in range(n)]
    metadata = pd.DataFrame(
        {
            "iauname": names,
            "ra": np.linspace(10, 20, n),
            "dec": np.linspace(-5, 5, n),
            "redshift": np.full(n, 0.05),
            "elpetro_absmag_r": np.full(n, -21.0),
            "sersic_nmgy_r": np.full(n, 50.0),
            "petro_th50": np.full(n, 3.0),
            "petro_th90": np.full(n, 8.0),
            "petro_theta": np.full(n, 6.0),
            "upload_group": ["active_baseline"] * n,
            "active_learning_on": [False] * n,
            "in_gzd_ab": [True] * n,
            "png_loc": [png_loc_for(name) for name in names],
            "wrong_size_statistic": np.full(n, 1.0),
            "wrong_size_warning": [False] * n,
        }
    )
    return build_gzd5_table(metadata, counts)


# A small zoo covering every branch of both mappings (5 or 10 votes each).
ZOO = {
    "elliptical": galaxy(smooth=5, round=5),
    "lenticular": galaxy(featured=5, edge_no=5, arms_no=5, bar_no=5),
    "spiral": galaxy(featured=5, edge_no=5, arms_yes=5, bar_no=5),
    "edge-on": galaxy(featured=5, edge_yes=5),
    "irregular": galaxy(featured=5, edge_no=5, arms_yes=5, merge_none=1, merger=2, major=2),
    "artifact": galaxy(artifact=4, smooth=1, round=1),
    "uncertain": galaxy(smooth=2, featured=2, artifact=1, round=2, edge_no=2, arms_yes=1, arms_no=1),
}


@pytest.fixture
def zoo() -> pd.DataFrame:
    catalogue = make_catalogue(list(ZOO.values()))
    catalogue.attrs["truth"] = list(ZOO)
    return catalogue


def write_png(path: Path, size: int = 32, seed: int = 0, mode: str = "RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "L": 1, "RGBA": 4}[mode]
    pixels = rng.integers(0, 255, size=(size, size, channels), dtype=np.uint8)
    Image.fromarray(pixels.squeeze() if channels == 1 else pixels, mode=mode).save(path)
    return path


def write_corrupt_png(path: Path) -> Path:
    """A PNG cut off half way: the header is fine, the pixel data is not."""
    good = write_png(path.with_suffix(".tmp.png"), size=64)
    data = good.read_bytes()
    good.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.fixture
def images_for():
    """Write a PNG for every row of a catalogue under ``root`` at its ``png_loc``."""

    def write(catalogue: pd.DataFrame, root: Path, layout: str = "dr5") -> Path:
        for i, loc in enumerate(catalogue["png_loc"]):
            if layout == "archive":
                loc = "gz_decals_dr5_png_part1/" + "/".join(Path(loc).parts[-2:])
            write_png(root / loc, seed=i)
        return root

    return write
