"""Every figure of the report, as functions of data (never of a trained model object), so
figures can be redrawn from saved artifacts without retraining.

Each function returns the matplotlib Figure; :func:`save_fig` writes it to one folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from galaxy_utils.data import tree
from galaxy_utils.data.labels import GZD5_CLASS_ANSWERS
from galaxy_utils.data.tree import CLASSIFICATIONS_COLUMN

FIGURE_DPI = 100


def save_fig(fig: plt.Figure, name: str, folder: str | Path, *, formats: Sequence[str] = ("png",)) -> list[Path]:
    """Write ``fig`` as ``folder/name.<fmt>`` with fixed metadata (no timestamps)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        path = folder / f"{name}.{fmt}"
        metadata = {"Software": None} if fmt == "png" else {}
        fig.savefig(path, dpi=FIGURE_DPI, bbox_inches="tight", metadata=metadata)
        written.append(path)
    return written


def as_jpeg(fig: plt.Figure, *, quality: int = 85, dpi: int = FIGURE_DPI):
    """Show a figure of galaxy images in a notebook as one JPEG instead of a PNG.

    Photographs of noisy galaxies compress badly as PNG (a grid of 40 thumbnails is about
    2.5 MB, 0.2 MB as JPEG), which makes notebooks slow to open on GitHub. Line plots and
    tables stay PNG. The figure is closed, so the inline backend does not draw it twice.
    """
    import io

    from IPython.display import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="jpeg", dpi=dpi, bbox_inches="tight", pil_kwargs={"quality": quality})
    plt.close(fig)
    return Image(data=buffer.getvalue(), format="jpeg")


def show_images(
    images: Sequence[np.ndarray], titles: Sequence[str] | None = None, *, ncols: int = 6, size: float = 1.8
) -> plt.Figure:
    """A grid of galaxy images with optional titles."""
    n = len(images)
    nrows = max(1, int(np.ceil(n / ncols)))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size * 1.1), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, image in enumerate(images):
        ax = axes.flat[i]
        ax.imshow(np.squeeze(image), cmap="gray" if np.ndim(np.squeeze(image)) == 2 else None)
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    return fig


def confusion_matrix(matrix: Sequence[Sequence[float]], class_names: Sequence[str], *, title: str = "",
                     normalised: bool = True) -> plt.Figure:
    """A confusion matrix heat map: rows are the true class, columns the predicted one."""
    import seaborn as sns

    matrix = np.asarray(matrix, dtype=float)
    fig, ax = plt.subplots(figsize=(1.1 * len(class_names) + 2, 1.0 * len(class_names) + 1.5))
    sns.heatmap(
        matrix, annot=True, fmt=".2f" if normalised else ".0f", cmap="Blues", vmin=0,
        vmax=1 if normalised else None, xticklabels=class_names, yticklabels=class_names, cbar=False, ax=ax,
        square=True,
    )
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def learning_curves(history: pd.DataFrame, *, title: str = "") -> plt.Figure:
    """Accuracy and loss per epoch, training and validation (Keras CSVLogger columns)."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    epochs = history["epoch"] + 1 if "epoch" in history else np.arange(1, len(history) + 1)
    for ax, metric in zip(axes, ("accuracy", "loss"), strict=True):
        ax.plot(epochs, history[metric], marker="o", label="training")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], marker="o", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def probability_bars(
    images: Sequence[np.ndarray],
    probabilities: np.ndarray,
    class_names: Sequence[str],
    *,
    true_labels: Sequence[str] | None = None,
    threshold: float | None = None,
) -> plt.Figure:
    """Each galaxy beside a bar chart of its predicted class probabilities."""
    n = len(images)
    fig, axes = plt.subplots(n, 2, figsize=(6.5, 1.6 * n), squeeze=False, gridspec_kw={"width_ratios": [1, 2]})
    for i in range(n):
        image_ax, bar_ax = axes[i]
        image_ax.imshow(np.squeeze(images[i]), cmap="gray" if np.ndim(np.squeeze(images[i])) == 2 else None)
        image_ax.axis("off")
        if true_labels is not None:
            image_ax.set_title(f"volunteers: {true_labels[i]}", fontsize=8)
        p = np.asarray(probabilities[i])
        colours = ["tab:blue"] * len(class_names)
        colours[int(p.argmax())] = "tab:orange"
        bar_ax.barh(list(class_names), p, color=colours)
        bar_ax.set_xlim(0, 1)
        bar_ax.invert_yaxis()
        bar_ax.tick_params(labelsize=8)
        if threshold is not None:
            bar_ax.axvline(threshold, color="grey", linestyle="--", linewidth=1)
    axes[-1][1].set_xlabel("predicted probability")
    fig.tight_layout()
    return fig


def coverage_tradeoff(curve: pd.DataFrame, *, chosen: float | None = None, title: str = "") -> plt.Figure:
    """Accuracy and coverage against the max-probability threshold."""
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot(curve["threshold"], curve["accuracy"], marker="o", label="accuracy of kept galaxies")
    ax.plot(curve["threshold"], curve["coverage"], marker="s", label="fraction kept (coverage)")
    if chosen is not None:
        ax.axvline(chosen, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("max-probability threshold")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    ax.set_title(title)
    fig.tight_layout()
    return fig


# -- the 3-class project's triangle ----------------------------------------------------

_SQRT3 = np.sqrt(3.0)


def triangle_coordinates(probabilities: np.ndarray) -> np.ndarray:
    """Barycentric -> Cartesian: corner 0 at bottom left, 1 at bottom right, 2 on top."""
    p = np.asarray(probabilities, dtype=float)
    p = p / p.sum(axis=1, keepdims=True)
    x = p[:, 1] + 0.5 * p[:, 2]
    y = (_SQRT3 / 2) * p[:, 2]
    return np.column_stack([x, y])


def _mosaic(images, ncols: int, thumb_px: int) -> np.ndarray:
    """Thumbnails side by side in rows of ``ncols`` (white where the grid is not full)."""
    from PIL import Image

    nrows = max(1, int(np.ceil(len(images) / ncols)))
    mosaic = np.ones((nrows * thumb_px, ncols * thumb_px, 3))
    for k, image in enumerate(images):
        image = np.asarray(image, dtype=float)
        image = image / 255.0 if image.max() > 1.0 else image
        if image.ndim == 2 or image.shape[-1] == 1:
            image = np.repeat(image.reshape(image.shape[0], image.shape[1], 1), 3, axis=2)
        thumb = np.asarray(Image.fromarray((image * 255).astype(np.uint8)).resize((thumb_px, thumb_px)), float) / 255
        r, c = divmod(k, ncols)
        mosaic[r * thumb_px:(r + 1) * thumb_px, c * thumb_px:(c + 1) * thumb_px] = thumb
    return mosaic


def triangle_cells(probabilities: np.ndarray, n_cols: int = 24) -> pd.DataFrame:
    """Tile the probability triangle with square cells, ``n_cols`` across its base, and
    choose one galaxy per cell: the most typical of the galaxies that fall in it, the one
    whose three probabilities are nearest their mean (the first such on a tie).

    One row per cell that holds a galaxy: ``row`` (0 at the base), ``col``, ``galaxy`` (its
    index in ``probabilities``) and ``galaxies`` (how many fell in the cell).
    """
    p = np.asarray(probabilities, dtype=float)
    p = p / p.sum(axis=1, keepdims=True)
    xy = triangle_coordinates(p)
    size = 1.0 / n_cols
    n_rows = int(np.ceil(_SQRT3 / 2 / size))
    cols = np.clip(np.floor(xy[:, 0] / size).astype(int), 0, n_cols - 1)
    rows = np.clip(np.floor(xy[:, 1] / size).astype(int), 0, n_rows - 1)
    cells = []
    for (row, col), members in pd.Series(np.arange(len(p))).groupby([rows, cols]):
        members = members.to_numpy()
        spread = ((p[members] - p[members].mean(axis=0)) ** 2).sum(axis=1)
        cells.append({"row": int(row), "col": int(col), "galaxy": int(members[np.argmin(spread)]),
                      "galaxies": len(members)})
    return pd.DataFrame(cells, columns=["row", "col", "galaxy", "galaxies"])


def probability_triangle(
    cell_images: Sequence[np.ndarray],
    cells: pd.DataFrame,
    class_names: Sequence[str],
    corners: Sequence[tuple[Sequence[np.ndarray], str]],
    *,
    n_cols: int = 24,
    thumb_px: int = 40,
    title: str = "",
) -> plt.Figure:
    """The 3-class project's triangle: thumbnails tiled over the whole triangle, one galaxy
    per cell (``cells`` from :func:`triangle_cells`, ``cell_images`` in its order), with
    the three corners close up (``corners``: images and a title for each class)."""
    if len(class_names) != 3 or len(corners) != 3:
        raise ValueError("the triangle needs exactly three classes and three corners")
    size = 1.0 / n_cols
    n_rows = int(np.ceil(_SQRT3 / 2 / size))
    canvas = np.ones((n_rows * thumb_px, n_cols * thumb_px, 3))
    for (_, cell), image in zip(cells.iterrows(), _thumbnails(cell_images, thumb_px), strict=True):
        top = (n_rows - 1 - int(cell["row"])) * thumb_px
        left = int(cell["col"]) * thumb_px
        canvas[top:top + thumb_px, left:left + thumb_px] = image
    fig = plt.figure(figsize=(14, 8.5))
    grid = fig.add_gridspec(3, 2, width_ratios=[1.9, 1])
    main = fig.add_subplot(grid[:, 0])
    main.imshow(canvas, extent=(0, 1, 0, n_rows * size), interpolation="nearest")
    main.plot([0, 1, 0.5, 0], [0, 0, _SQRT3 / 2, 0], color="tab:orange", linewidth=1.2)
    for (x, y), name, va in zip([(0, 0), (1, 0), (0.5, _SQRT3 / 2)], class_names, ["top", "top", "bottom"],
                                strict=True):
        main.text(x, y - 0.03 if va == "top" else y + 0.03, name, ha="center", va=va, fontsize=12, weight="bold")
    main.set_xlim(-0.06, 1.06)
    main.set_ylim(-0.08, n_rows * size + 0.08)
    main.set_aspect("equal")
    main.axis("off")
    main.set_title(title, fontsize=10)
    for k, (images, caption) in enumerate(corners):
        ax = fig.add_subplot(grid[k, 1])
        ax.imshow(_mosaic(list(images), ncols=6, thumb_px=64) if len(images) else np.ones((64, 384, 3)))
        ax.set_title(caption, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return fig


def _thumbnails(images, thumb_px: int):
    """Each image as a (thumb_px, thumb_px, 3) float RGB array in [0, 1]."""
    from PIL import Image

    for image in images:
        image = np.asarray(image, dtype=float)
        image = image / 255.0 if image.max() > 1.0 else image
        if image.ndim == 2 or image.shape[-1] == 1:
            image = np.repeat(image.reshape(image.shape[0], image.shape[1], 1), 3, axis=2)
        resized = Image.fromarray((image * 255).astype(np.uint8)).resize((thumb_px, thumb_px),
                                                                          Image.Resampling.BILINEAR)
        yield np.asarray(resized, dtype=float) / 255.0


# -- the survey and its labels ---------------------------------------------------------


def vote_totals(catalogue: pd.DataFrame, column: str | None = None) -> plt.Figure:
    """Histogram of classifications per galaxy: GZD-5's two groups, near 5 and near 40."""
    column = column or CLASSIFICATIONS_COLUMN
    totals = pd.to_numeric(catalogue[column], errors="coerce").dropna()
    fig, ax = plt.subplots(figsize=(6, 3.2))
    bins = np.arange(-0.5, max(totals.max(), 1) + 1.5, 1)
    ax.hist(totals, bins=bins, color="tab:blue")
    ax.set_xlabel("volunteers who classified the galaxy")
    ax.set_ylabel("galaxies")
    ax.set_yscale("log")
    ax.set_title(f"classifications per galaxy ({len(totals)} galaxies)")
    fig.tight_layout()
    return fig


def class_counts(counts: pd.Series | dict, *, title: str = "") -> plt.Figure:
    """Bar chart of galaxies per class."""
    counts = pd.Series(counts)
    fig, ax = plt.subplots(figsize=(1.2 * len(counts) + 1.5, 3))
    ax.bar(counts.index.astype(str), counts.to_numpy(), color="tab:blue")
    for x, value in enumerate(counts.to_numpy()):
        ax.text(x, value, str(int(value)), ha="center", va="bottom", fontsize=9)
    ax.set_ylabel("galaxies")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def stacked_class_counts(table: pd.DataFrame, *, title: str = "") -> plt.Figure:
    """Originals and augmented copies per class (the balancing report)."""
    fig, ax = plt.subplots(figsize=(1.2 * len(table) + 2, 3.2))
    ax.bar(table.index.astype(str), table["originals"], label="original galaxies", color="tab:blue")
    ax.bar(table.index.astype(str), table["augmented"], bottom=table["originals"], label="rotated / flipped copies",
           color="tab:orange")
    ax.set_ylabel("training images")
    ax.legend(fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def _tree_layout() -> dict[str, tuple[float, float]]:
    """x, y of every question: depth down the page, leaves spread left to right."""
    positions: dict[str, tuple[float, float]] = {}
    next_x = [0.0]

    def place(name: str, depth: int) -> float:
        kids = [q.name for a in tree.question(name).answers for q in tree.children(name, a)]
        xs = [place(k, depth + 1) for k in kids]
        x = float(np.mean(xs)) if xs else next_x[0]
        if not xs:
            next_x[0] += 1.0
        positions[name] = (x, -depth)
        return x

    for q in tree.QUESTIONS:
        if q.asked_after is None:
            place(q.name, 0)
    return positions


def decision_tree(class_answers: dict[str, list[tuple[str, str]]] | None = None) -> plt.Figure:
    """The GZD-5 decision tree, with the answers each class is built from marked on it."""
    class_answers = class_answers or GZD5_CLASS_ANSWERS
    marks: dict[tuple[str, str], list[str]] = {}
    for name, answers in class_answers.items():
        for answer in answers:
            marks.setdefault(answer, []).append(name)
    positions = _tree_layout()
    fig, ax = plt.subplots(figsize=(15, 6.5))
    for q in tree.QUESTIONS:
        x, y = positions[q.name]
        lines = []
        for answer in q.answers:
            classes = marks.get((q.name, answer))
            lines.append(f"{answer}  \u2192 {', '.join(classes).upper()}" if classes else answer)
        header = q.name if q.asked_after else f"{q.name} (always asked)"
        ax.text(x, y, f"{header}\n" + "\n".join(lines), ha="center", va="top", fontsize=7.5,
                bbox={"boxstyle": "round", "facecolor": "#eef3fb", "edgecolor": "#4a6fa5"})
        if q.asked_after is not None:
            px, py = positions[q.asked_after[0]]
            ax.annotate("", xy=(x, y + 0.02), xytext=(px, py - 0.55),
                        arrowprops={"arrowstyle": "->", "color": "#4a6fa5"})
            ax.text((x + px) / 2, (y + py - 0.5) / 2, q.asked_after[1], fontsize=7, color="#a0522d", ha="center")
    xs = [p[0] for p in positions.values()]
    ys = [p[1] for p in positions.values()]
    ax.set_xlim(min(xs) - 0.8, max(xs) + 0.8)
    ax.set_ylim(min(ys) - 1.0, 0.3)
    ax.axis("off")
    ax.set_title("GZ DECaLS decision tree; CAPITALS: the classes built from each answer", fontsize=11)
    fig.tight_layout()
    return fig


def architecture(model, *, title: str = "") -> plt.Figure:
    """A Keras model drawn as a column of layers with their output shapes and parameters."""
    rows = []
    for layer in model.layers:
        shape = getattr(layer, "output", None)
        shape = tuple(shape.shape[1:]) if shape is not None else ()
        rows.append((type(layer).__name__, "x".join(str(s) for s in shape), layer.count_params()))
    fig, ax = plt.subplots(figsize=(5.2, 0.42 * len(rows) + 1.0))
    colours = {"Conv2D": "#f4a582", "MaxPooling2D": "#92c5de", "Dense": "#b2df8a", "Dropout": "#dddddd",
               "Flatten": "#fddbc7"}
    for i, (kind, shape, params) in enumerate(rows):
        y = len(rows) - i
        ax.add_patch(plt.Rectangle((0, y - 0.4), 1.9, 0.8, facecolor=colours.get(kind, "#ffffff"), edgecolor="k"))
        ax.text(0.95, y, kind, ha="center", va="center", fontsize=9)
        ax.text(2.05, y, shape, va="center", fontsize=8)
        ax.text(3.3, y, f"{params:,} params" if params else "", va="center", fontsize=8, color="grey")
    ax.set_xlim(-0.1, 4.6)
    ax.set_ylim(0.3, len(rows) + 0.8)
    ax.axis("off")
    ax.set_title(title or f"{model.name}: {model.count_params():,} parameters", fontsize=10)
    fig.tight_layout()
    return fig
