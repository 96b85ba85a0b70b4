import numpy as np
import pandas as pd
import pytest
from PIL import Image

from galaxy_utils.learn import models
from galaxy_utils.report import plots


def test_triangle_coordinates_put_certain_galaxies_in_the_corners():
    xy = plots.triangle_coordinates(np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]]))
    assert xy[0] == pytest.approx([0, 0])
    assert xy[1] == pytest.approx([1, 0])
    assert xy[2] == pytest.approx([0.5, np.sqrt(3) / 2])
    assert xy[3] == pytest.approx([0.5, np.sqrt(3) / 6])


def test_every_figure_draws_and_saves(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(30, 16, 16, 1))
    probs = rng.dirichlet([0.5, 0.5, 0.5], size=30)
    names = ["spiral", "round", "edge-on"]
    cells = plots.triangle_cells(probs, n_cols=8)
    history = pd.DataFrame({"epoch": [0, 1], "accuracy": [0.5, 0.7], "loss": [1.0, 0.6],
                            "val_accuracy": [0.55, 0.65], "val_loss": [0.9, 0.7]})
    curve = pd.DataFrame({"threshold": [0.0, 0.5], "coverage": [1.0, 0.6], "accuracy": [0.7, 0.9]})
    figures = {
        "grid": plots.show_images(images[:5], ["a"] * 5),
        "cm": plots.confusion_matrix([[0.9, 0.1, 0], [0.2, 0.8, 0], [0, 0, 1]], names, title="t"),
        "curves": plots.learning_curves(history),
        "bars": plots.probability_bars(images[:3], probs[:3], names, true_labels=names, threshold=0.6),
        "coverage": plots.coverage_tradeoff(curve, chosen=0.6),
        "triangle": plots.probability_triangle(
            images[cells["galaxy"]], cells, names, [(images[:4], name) for name in names], n_cols=8, thumb_px=12),
        "tree": plots.decision_tree(),
        "totals": plots.vote_totals(pd.DataFrame({"smooth-or-featured_total-votes": [5, 4, 40, 38, 5]})),
        "counts": plots.class_counts({"spiral": 4, "round": 7}),
        "stacked": plots.stacked_class_counts(
            pd.DataFrame({"originals": [5, 2], "augmented": [0, 3]}, index=["spiral", "round"])
        ),
        "architecture": plots.architecture(models.build_model("three-class", (16, 16, 1), 3, learning_rate=1e-3)),
    }
    for name, fig in figures.items():
        (path,) = plots.save_fig(fig, name, tmp_path)
        with Image.open(path) as image:
            assert image.size[0] > 100
            pixels = np.asarray(image.convert("L"))
        assert pixels.std() > 5, f"{name} looks blank"
    with pytest.raises(ValueError, match="exactly three"):
        plots.probability_triangle(images[:1], cells.head(1), names + ["x"], [(images[:1], "")] * 4)


def test_triangle_cells_tile_the_triangle_with_each_cells_most_typical_galaxy():
    probabilities = np.array([
        [1.0, 0.0, 0.0],  # the spiral corner: alone in its cell
        [0.02, 0.97, 0.01], [0.0, 0.99, 0.01], [0.01, 0.98, 0.01],  # round corner: the middle one is typical
        [0.0, 0.0, 1.0], [0.0, 0.01, 0.99],  # edge-on corner: a tie on distance goes to the first
        [0.34, 0.33, 0.33],  # the middle
    ])
    cells = plots.triangle_cells(probabilities, n_cols=4)
    assert cells["galaxies"].sum() == len(probabilities)
    assert not cells.duplicated(["row", "col"]).any()
    chosen = dict(zip(zip(cells["row"], cells["col"], strict=True), cells["galaxy"], strict=True))
    assert chosen[(0, 0)] == 0
    assert chosen[(0, 3)] == 3  # nearest the mean of rows 1-3
    assert cells.set_index("galaxy").loc[3, "galaxies"] == 3
    assert chosen[(3, 2)] == 4  # equally near the mean: the first
    middle = cells[cells["galaxy"] == 6].iloc[0]
    assert (middle["row"], middle["col"]) == (1, 1)
    # every cell lies in the triangle's bounding grid: 4 across, ceil(4 * sqrt(3) / 2) = 4 high
    assert cells["col"].between(0, 3).all() and cells["row"].between(0, 3).all()


def test_image_grids_show_as_a_much_smaller_jpeg():
    import io

    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    noisy = [rng.integers(0, 255, size=(64, 64, 3), dtype=np.uint8) for _ in range(8)]
    fig = plots.show_images(noisy, ncols=4)
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=plots.FIGURE_DPI, bbox_inches="tight")
    shown = plots.as_jpeg(fig)
    assert shown.format == "jpeg" and shown.data[:2] == b"\xff\xd8"
    assert len(shown.data) < len(png.getvalue()) / 2
    assert not plt.fignum_exists(fig.number), "the figure is closed so the inline backend does not draw it again"
