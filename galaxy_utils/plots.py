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

FIGURE_DPI = 120


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


def _thumbnail_canvas(images, xy, canvas_px: int, thumb_px: int, order) -> np.ndarray:
    """Paste thumbnails at their triangle positions into one RGB canvas (one imshow, fast)."""
    height = int(canvas_px * _SQRT3 / 2) + thumb_px
    width = canvas_px + thumb_px
    canvas = np.ones((height, width, 3), dtype=float)
    for i in order:
        image = np.asarray(images[i], dtype=float)
        if image.max() > 1.0:
            image = image / 255.0
        if image.ndim == 2 or image.shape[-1] == 1:
            image = np.repeat(image.reshape(image.shape[0], image.shape[1], 1), 3, axis=2)
        from PIL import Image

        thumb = np.asarray(
            Image.fromarray((image * 255).astype(np.uint8)).resize((thumb_px, thumb_px), Image.Resampling.BILINEAR),
            dtype=float,
        ) / 255.0
        col = int(round(xy[i, 0] * canvas_px))
        row = int(round((_SQRT3 / 2 - xy[i, 1]) * canvas_px))
        canvas[row:row + thumb_px, col:col + thumb_px] = thumb
    return canvas


def probability_triangle(
    images: Sequence[np.ndarray],
    probabilities: np.ndarray,
    class_names: Sequence[str],
    *,
    canvas_px: int = 1400,
    thumb_px: int = 28,
    corner_fraction: float = 0.22,
) -> plt.Figure:
    """Galaxies placed by their three predicted probabilities, drawn as thumbnails, with
    close-ups of the three corners (where the network is most certain)."""
    if np.asarray(probabilities).shape[1] != 3:
        raise ValueError("the triangle needs exactly three class probabilities")
    xy = triangle_coordinates(probabilities)
    # Least confident first, so the confident galaxies near the corners stay on top.
    order = np.argsort(np.asarray(probabilities).max(axis=1))
    canvas = _thumbnail_canvas(images, xy, canvas_px, thumb_px, order)
    fig = plt.figure(figsize=(12, 8))
    grid = fig.add_gridspec(3, 2, width_ratios=[2.2, 1])
    main = fig.add_subplot(grid[:, 0])
    main.imshow(canvas)
    main.axis("off")
    corners_px = [(0, canvas_px * _SQRT3 / 2), (canvas_px, canvas_px * _SQRT3 / 2), (canvas_px / 2, 0)]
    offsets = [(0, 1.0), (0, 1.0), (0, 0)]
    for (x, y), name, (_, dy) in zip(corners_px, class_names, offsets, strict=True):
        main.text(x + thumb_px / 2, y + (thumb_px * 2.2 if dy else -thumb_px * 0.6), name,
                  ha="center", fontsize=12, weight="bold")
    size = int(corner_fraction * canvas_px)
    crops = [
        canvas[-size:, :size],
        canvas[-size:, -size:],
        canvas[:size, (canvas.shape[1] - size) // 2:(canvas.shape[1] + size) // 2],
    ]
    for k, (crop, name) in enumerate(zip(crops, class_names, strict=True)):
        ax = fig.add_subplot(grid[k, 1])
        ax.imshow(crop)
        ax.set_title(f"{name} corner", fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    return fig
