"""Compare mock survey cutouts with real DECaLS cutouts, by number and by eye.

Renders mock galaxies (or reads a generated mock survey's images), measures them and the
real reference cutouts with galaxy_utils.mock.realism, and writes into artifacts/realism/
(git-ignored, because the figure shows real images that must not be committed):

- ``comparison.png``: mock and real cutouts side by side, plus luminance histograms;
- ``statistics.csv`` / ``statistics.md``: the summary statistics, mock vs real;
- ``mock_per_image.csv`` / ``real_per_image.csv``: per-image measurements.

Prints every statistic as ``mock_<name>=... real_<name>=...`` lines.

With ``--by-answer`` it also compares morphology answer by answer: the reference folder's
``labels.csv`` names each image's decision-tree answer, and the mock galaxies whose truth
shows that answer (``realism.ANSWER_GROUPS``) are measured with the same statistics
(colour, half-flux radius, concentration, central brightness, axis ratio, feature
contrast), into ``by_answer.csv`` / ``by_answer.md``. The mock galaxies then come with their
truth: rendered from ``sample_truths`` (``--n`` of them), or the first ``--n`` galaxies of a
generated survey folder (``--survey DIR``, holding truth.csv and images/).

    python bench/mock_realism.py [--n 160] [--seed 0] [--images DIR] [--reference DIR]
    python bench/mock_realism.py --by-answer [--n 1000] [--survey DIR] [--per-answer 60]
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

from galaxy_utils.data.catalogue import png_loc_for  # noqa: E402
from galaxy_utils.mock import realism  # noqa: E402
from galaxy_utils.mock.morphology import sample_truths, truth_table  # noqa: E402
from galaxy_utils.mock.render import render_galaxy  # noqa: E402

DEFAULT_REFERENCE = ROOT.parent / "shared" / "reference" / "decals_examples"
OUT = ROOT / "artifacts" / "realism"


def mock_truths(n: int, seed: int, survey: Path | None) -> pd.DataFrame:
    """The mock galaxies to measure, as a truth table (``image`` column: where a survey
    holds each one's image, empty when it is to be rendered)."""
    if survey is not None:
        truth = pd.read_csv(survey / "truth.csv", nrows=n, keep_default_na=False, na_values=[""])
        truth["image"] = [str(survey / "images" / png_loc_for(name)) for name in truth["iauname"]]
        return truth
    truths = sample_truths(n, np.random.default_rng(seed))
    table = truth_table(truths)
    table["image"] = ""
    table["image_seed"] = np.random.SeedSequence(seed).generate_state(n)
    table.attrs["truths"] = truths
    return table


def mock_image(truth: pd.DataFrame, row) -> np.ndarray:
    if truth.at[row, "image"]:
        return realism.load_rgb(Path(truth.at[row, "image"]))
    return render_galaxy(truth.attrs["truths"][row], int(truth.at[row, "image_seed"]))


def mock_images(n: int, seed: int, folder: Path | None) -> list[np.ndarray]:
    if folder is not None:
        return [realism.load_rgb(p) for p in realism.image_paths(folder)[:n]]
    truth = mock_truths(n, seed, None)
    return [mock_image(truth, row) for row in truth.index]


def by_answer(args) -> pd.DataFrame | None:
    """Per-answer comparison (see the module docstring); None without labelled references."""
    labels_path = args.reference / "labels.csv"
    if not labels_path.is_file():
        print(f"no {labels_path}: no per-answer comparison", file=sys.stderr)
        return None
    truth = mock_truths(args.n, args.seed, args.survey)
    groups = realism.select_by_answer(truth, args.per_answer)
    rows = sorted(set().union(*(set(index) for index in groups.values())))
    measured = pd.DataFrame([realism.measure_morphology(mock_image(truth, row)) for row in rows], index=rows)
    measured.join(truth[["iauname", "morphology"]]).to_csv(args.out / "mock_by_answer_per_image.csv")
    labels = pd.read_csv(labels_path)
    labels = labels[labels["label"].isin(realism.ANSWER_GROUPS)]
    real = pd.DataFrame([realism.measure_morphology(realism.load_rgb(args.reference / f)) for f in labels["filename"]])
    real.insert(0, "label", labels["label"].to_numpy())
    real.to_csv(args.out / "real_by_answer_per_image.csv", index=False)
    table = realism.compare_by_answer(measured, groups, real, real["label"])
    table.to_csv(args.out / "by_answer.csv", index=False, float_format="%.4f")
    compact = table.assign(
        mock=[f"{r.mock_median:.3g} [{r.mock_p25:.3g}, {r.mock_p75:.3g}]" for r in table.itertuples()],
        real=[f"{r.real_median:.3g} [{r.real_p25:.3g}, {r.real_p75:.3g}]" for r in table.itertuples()],
    )[["answer", "statistic", "n_mock", "n_real", "mock", "real", "outside"]]
    (args.out / "by_answer.md").write_text(
        compact.to_markdown(index=False) + "\n"
    )
    print(compact.to_string(index=False))
    return table


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
    parser.add_argument("--by-answer", action="store_true", help="compare morphology answer by answer")
    parser.add_argument("--survey", type=Path, default=None, help="with --by-answer: a generated mock survey")
    parser.add_argument("--per-answer", type=int, default=60, help="with --by-answer: mock galaxies per answer")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.by_answer:
        by_answer(args)
        return 0

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
        table.to_markdown(floatfmt=".3f") + "\n"
    )
    comparison_figure(mock, real, args.out / "comparison.png")
    for statistic, row in table.iterrows():
        print(" ".join(f"{source}_{statistic}={value:.4g}" for source, value in row.items()))
    print(f"figure={args.out / 'comparison.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
