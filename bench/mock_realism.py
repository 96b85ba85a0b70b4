"""Compare mock survey cutouts with real DECaLS cutouts, by number and by eye.

Renders mock galaxies (or reads a generated mock survey's images), measures them and the
real reference cutouts with galaxy_utils.mock.realism, and writes into artifacts/realism/
(git-ignored, because the figure shows real images that must not be committed):

- ``comparison.png``: mock and real cutouts side by side, plus luminance histograms;
- ``statistics.csv`` / ``statistics.md``: the summary statistics, mock vs real;
- ``mock_per_image.csv`` / ``real_per_image.csv``: per-image measurements.

Prints every statistic as ``mock_<name>=... real_<name>=...`` lines.

    python bench/mock_realism.py [--n 160] [--seed 0] [--images DIR] [--reference DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from galaxy_utils.mock import realism  # noqa: E402
from galaxy_utils.mock.morphology import sample_truths  # noqa: E402
from galaxy_utils.mock.render import render_galaxy  # noqa: E402

DEFAULT_REFERENCE = ROOT.parent / "shared" / "reference" / "decals_examples"
OUT = ROOT / "artifacts" / "realism"


def mock_images(n: int, seed: int, folder: Path | None) -> list[np.ndarray]:
    if folder is not None:
        return [realism.load_rgb(p) for p in realism.image_paths(folder)[:n]]
    rng = np.random.default_rng(seed)
    truths = sample_truths(n, rng)
    seeds = np.random.SeedSequence(seed).generate_state(n)
    return [render_galaxy(truth, int(s)) for truth, s in zip(truths, seeds, strict=True)]


def comparison_figure(mock: list[np.ndarray], real: list[np.ndarray], path: Path) -> None:
    columns = 8
    rows = 2 if real else 1
    fig = plt.figure(figsize=(2 * columns, 2 * (2 * rows) + 3))
    grid = fig.add_gridspec(2 * rows + 1, columns, height_ratios=[1] * (2 * rows) + [1.4])
    for row, (images, name) in enumerate(((mock, "mock"), (real, "real")) if real else ((mock, "mock"),)):
        for k in range(2 * columns):
            if k >= len(images):
                break
            ax = fig.add_subplot(grid[2 * row + k // columns, k % columns])
            ax.imshow(images[k])
            ax.set_axis_off()
            if k == 0:
                ax.set_title(name, loc="left", fontsize=10)
    ax = fig.add_subplot(grid[-1, :])
    centres = 0.5 * (realism.HISTOGRAM_BINS[1:] + realism.HISTOGRAM_BINS[:-1])
    ax.step(centres, realism.mean_histogram(mock), where="mid", label="mock")
    if real:
        ax.step(centres, realism.mean_histogram(real), where="mid", label="real")
    ax.set_yscale("log")
    ax.set_xlabel("pixel luminance (mean of R, G, B)")
    ax.set_ylabel("fraction of pixels")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=160, help="mock images to measure")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--images", type=Path, default=None, help="use a mock survey's images/")
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    mock = mock_images(args.n, args.seed, args.images)
    mock_table = realism.measure_images(mock)
    mock_table.to_csv(args.out / "mock_per_image.csv", index=False)
    summaries = {"mock": realism.summarize(mock_table)}

    real: list[np.ndarray] = []
    if args.reference.is_dir():
        paths = realism.image_paths(args.reference)
        real = [realism.load_rgb(p) for p in paths]
        real_table = realism.measure_images(real)
        real_table.insert(0, "file", [p.name for p in paths])
        real_table.to_csv(args.out / "real_per_image.csv", index=False)
        summaries["real"] = realism.summarize(real_table)
    else:
        print(f"no reference images at {args.reference}: mock statistics only", file=sys.stderr)

    table = pd.DataFrame(summaries)
    table.index.name = "statistic"
    table.to_csv(args.out / "statistics.csv", float_format="%.4f")
    (args.out / "statistics.md").write_text(
        table.to_markdown(floatfmt=".3f") + "\n" if _has_tabulate() else table.to_string() + "\n"
    )
    comparison_figure(mock, real, args.out / "comparison.png")
    for statistic, row in table.iterrows():
        print(" ".join(f"{source}_{statistic}={value:.4g}" for source, value in row.items()))
    print(f"figure={args.out / 'comparison.png'}")
    return 0


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    raise SystemExit(main())
