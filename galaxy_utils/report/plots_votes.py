"""Figures for the vote-count model: predicted against volunteers' fractions per question,
per-question errors, two models' reliability diagrams, the uncertain galaxies' ranking,
and saliency / Grad-CAM overlays.

As in :mod:`galaxy_utils.report.plots`, every function takes data (tables, arrays), never a
model, and returns the matplotlib Figure; save it with :func:`galaxy_utils.report.plots.save_fig`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from galaxy_utils.analysis.comparison import HARD, SOFT, ranking_scores
from galaxy_utils.data import tree


def _grid(n: int, ncols: int, size: float) -> tuple[plt.Figure, np.ndarray]:
    ncols = max(1, min(ncols, n))
    nrows = max(1, int(np.ceil(n / ncols)))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, axes


def fraction_scatter(
    volunteers: pd.DataFrame,
    predicted: pd.DataFrame,
    questions: Sequence[str] | None = None,
    *,
    ncols: int = 4,
    size: float = 3.0,
    min_votes: int = 1,
) -> plt.Figure:
    """One panel per question: predicted against volunteers' vote fraction, a colour per answer.

    ``volunteers`` holds GZD-5 fraction and total-votes columns, ``predicted`` the model's
    fraction columns (:func:`galaxy_utils.learn.votes.fraction_table`), rows in the same order.
    Galaxies where fewer than ``min_votes`` volunteers answered a question are left out of
    its panel; the title gives the mean absolute error over the points shown.
    """
    names = list(questions) if questions is not None else [q.name for q in tree.QUESTIONS]
    fig, axes = _grid(len(names), ncols, size)
    for ax, name in zip(axes.flat, names, strict=False):
        q = tree.question(name)
        total = pd.to_numeric(volunteers[q.total_column], errors="coerce").fillna(0).to_numpy()
        shown = total >= max(min_votes, 1)
        errors = []
        for answer, column in zip(q.answers, q.fraction_columns, strict=True):
            x = pd.to_numeric(volunteers[column], errors="coerce").to_numpy()[shown]
            y = predicted[column].to_numpy(dtype=float)[shown]
            ax.scatter(x, y, s=6, alpha=0.5, label=answer)
            errors.append(np.abs(y - x))
        ax.plot([0, 1], [0, 1], color="black", lw=0.8, ls="--")
        ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), aspect="equal")
        mae = float(np.nanmean(np.concatenate(errors))) if shown.any() else float("nan")
        ax.set_title(f"{name}\nMAE {mae:.3f}, n {int(shown.sum())}", fontsize=9)
        ax.set_xlabel("volunteers' fraction", fontsize=8)
        ax.set_ylabel("predicted fraction", fontsize=8)
        ax.legend(fontsize=6, markerscale=2, loc="upper left")
    fig.tight_layout()
    return fig


def question_errors(metrics: pd.DataFrame | Mapping, *, title: str = "") -> plt.Figure:
    """Per-question mean absolute error of the fractions and accuracy on confident galaxies.

    ``metrics``: :func:`galaxy_utils.learn.votes.question_metrics`, or ``metrics.json['questions']``.
    """
    table = metrics if isinstance(metrics, pd.DataFrame) else pd.DataFrame(metrics).T
    table = table.apply(pd.to_numeric, errors="coerce")
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.35 * len(table) + 1.5), sharey=True)
    y = np.arange(len(table))
    axes[0].barh(y, table["mae"], color="tab:blue", label="all asked")
    if "mae_well_sampled" in table:
        axes[0].scatter(table["mae_well_sampled"], y, color="black", marker="|", s=120, label="well sampled", zorder=3)
    axes[0].set(xlabel="mean absolute error of vote fractions", yticks=y, yticklabels=table.index)
    axes[0].invert_yaxis()
    axes[0].legend(fontsize=8)
    axes[1].barh(y, table["confident_accuracy"].fillna(0), color="tab:green")
    for yi, (accuracy, n) in enumerate(zip(table["confident_accuracy"], table["n_confident"], strict=True)):
        axes[1].text(0.01, yi, "no confident galaxies" if accuracy != accuracy else f"n {int(n)}", va="center",
                     fontsize=7, color="black" if accuracy != accuracy else "white")
    axes[1].set(xlabel="accuracy on confident galaxies", xlim=(0, 1))
    for ax in axes:
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def reliability_diagram(
    tables: Mapping[str, pd.DataFrame], eces: Mapping[str, float] | None = None, *, title: str = ""
) -> plt.Figure:
    """Reliability diagrams of several models on one axes (accuracy against confidence per
    bin, :func:`galaxy_utils.learn.evaluation.reliability_table`), with bin sizes below."""
    fig, (ax, bars) = plt.subplots(2, 1, figsize=(4.8, 5.2), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], color="black", lw=0.8, ls="--", label="perfectly calibrated")
    width = None
    for i, (name, table) in enumerate(tables.items()):
        label = name if not eces or name not in eces else f"{name} (ECE {eces[name]:.3f})"
        filled = table.dropna(subset=["confidence", "accuracy"])
        ax.plot(filled["confidence"], filled["accuracy"], marker="o", label=label)
        width = (table["bin_high"] - table["bin_low"]).to_numpy() / (len(tables) + 1)
        centres = table["bin_low"].to_numpy() + width * (i + 0.5)
        bars.bar(centres, table["n"], width=width, label=name)
    ax.set(ylabel="accuracy", xlim=(0, 1), ylim=(0, 1), title=title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    bars.set(xlabel="confidence (largest class probability)", ylabel="galaxies")
    fig.tight_layout()
    return fig


def uncertain_ranking(
    volunteers: Sequence[float], scores: Mapping[str, Sequence[float]], *, class_name: str = "spiral",
    title: str = "",
) -> plt.Figure:
    """Each model's score for ``class_name`` against the volunteers' confidence in it, on the
    galaxies the volunteers left uncertain (``Comparison.ranking``); Spearman in the legend."""
    fig, ax = plt.subplots(figsize=(4.8, 4.2))
    _ranking_panel(ax, volunteers, scores, class_name, title)
    fig.tight_layout()
    return fig


def _ranking_panel(ax, volunteers, scores: Mapping[str, Sequence[float]], class_name: str, title: str) -> None:
    """One ranking panel: each model's ``class_name`` score against the volunteers' confidence."""
    for name, values in scores.items():
        rho = ranking_scores(volunteers, values)["spearman"]
        ax.scatter(volunteers, values, s=10, alpha=0.6, label=f"{name} (Spearman {rho:.2f})")
    ax.set(xlim=(0, 1), ylim=(0, 1), title=title)
    ax.set_xlabel(f"volunteers' {class_name} confidence", fontsize=8)
    ax.set_ylabel(f"model's {class_name} score", fontsize=8)
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(alpha=0.3)


def saliency_overlays(
    images: Sequence[np.ndarray],
    maps: Mapping[str, Sequence[np.ndarray]] | Sequence[np.ndarray],
    titles: Sequence[str] | None = None,
    *,
    alpha: float = 0.55,
    cmap: str = "inferno",
    size: float = 2.0,
) -> plt.Figure:
    """One column per galaxy: the image, then each kind of map laid over it (rows).

    ``maps`` is ``{"saliency": [...], "Grad-CAM": [...]}`` (or one list); each map is
    (H, W) like its image, shown scaled to its own maximum.
    """
    if not isinstance(maps, Mapping):
        maps = {"saliency": maps}
    n = len(images)
    rows = 1 + len(maps)
    fig, axes = plt.subplots(rows, n, figsize=(n * size, rows * size * 1.05), squeeze=False)
    for j, image in enumerate(images):
        picture = np.squeeze(np.asarray(image, dtype=float))
        grey = picture.ndim == 2
        axes[0, j].imshow(picture, cmap="gray" if grey else None)
        if titles is not None:
            axes[0, j].set_title(titles[j], fontsize=8)
        for i, (kind, kind_maps) in enumerate(maps.items(), start=1):
            heat = np.asarray(kind_maps[j], dtype=float)
            top = np.nanmax(heat) if heat.size else 0
            axes[i, j].imshow(picture if grey else picture.mean(axis=-1), cmap="gray")
            axes[i, j].imshow(heat / top if top > 0 else heat, cmap=cmap, alpha=alpha, vmin=0, vmax=1)
            if j == 0:
                axes[i, j].set_ylabel(kind, fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def reliability_grid(comparisons: Mapping, *, size: float = 3.6, title: str = "") -> plt.Figure:
    """Hard-label and vote-count models' reliability diagrams side by side: a row per task
    (``{task: Comparison}`` of :func:`galaxy_utils.analysis.comparison.compare_hard_soft`), a column
    per reference (volunteers, truth); each model's expected calibration error in its legend
    and the galaxies per bin as the marker size."""
    references = list(dict.fromkeys(ref for c in comparisons.values() for _, ref in c.reliability))
    fig, axes = plt.subplots(len(comparisons), len(references), figsize=(len(references) * size,
                             len(comparisons) * size), squeeze=False)
    for row, (task, result) in zip(axes, comparisons.items(), strict=True):
        ece = result.table[result.table["metric"] == "ece"].set_index(["model", "reference"])
        for ax, reference in zip(row, references, strict=True):
            ax.plot([0, 1], [0, 1], color="black", lw=0.8, ls="--")
            for (model, ref), table in result.reliability.items():
                if ref != reference:
                    continue
                filled = table.dropna(subset=["confidence", "accuracy"])
                value = ece["value"].get((model, ref), float("nan"))
                n = int(ece["n"].get((model, ref), 0))
                ax.plot(filled["confidence"], filled["accuracy"], lw=1)
                ax.scatter(filled["confidence"], filled["accuracy"], s=8 + 200 * filled["n"] / max(n, 1),
                           label=f"{model}: ECE {value:.3f}", alpha=0.8)
            ax.set(xlim=(0, 1), ylim=(0, 1), title=f"{task} vs {reference}")
            ax.set_xlabel("confidence (largest class probability)", fontsize=8)
            ax.set_ylabel("accuracy", fontsize=8)
            ax.legend(fontsize=7, loc="upper left")
            ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def uncertain_rankings(comparisons: Mapping, *, class_name: str = "spiral", size: float = 3.8,
                       title: str = "") -> plt.Figure:
    """:func:`uncertain_ranking` for several comparisons (``{task: Comparison}``), one panel each:
    on the galaxies volunteers left 'uncertain', each model's ``class_name`` score against the
    volunteers' confidence in it."""
    fig, axes = plt.subplots(1, len(comparisons), figsize=(len(comparisons) * size, size), squeeze=False)
    for ax, (task, result) in zip(axes[0], comparisons.items(), strict=True):
        ranking = result.ranking
        scores = {model: ranking[f"{model}_p_{class_name}"] for model in (HARD, SOFT)}
        _ranking_panel(ax, ranking[f"volunteers_p_{class_name}"], scores, class_name,
                       f"{task}: {len(ranking)} uncertain galaxies")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
