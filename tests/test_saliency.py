"""Saliency and Grad-CAM maps for the project's Sequential CNNs and the functional vote-count model."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from galaxy_utils.analysis import saliency  # noqa: E402
from galaxy_utils.data import labels  # noqa: E402
from galaxy_utils.learn import models, votes
from galaxy_utils.report import plots_votes


@pytest.fixture(scope="module")
def course_model():
    keras.utils.set_random_seed(0)
    return models.build_model("course", (16, 16, 3), 4, learning_rate=1e-3)


def test_maps_have_the_image_shape(course_model):
    image = np.random.default_rng(0).uniform(size=(16, 16, 3)).astype("float32")
    for score in saliency.SCORES:
        smap = saliency.saliency_map(course_model, image, 2, score=score)
        assert smap.shape == (16, 16) and (smap >= 0).all() and smap.max() > 0
        cam = saliency.grad_cam(course_model, image[None], 2, score=score)
        assert cam.shape == (16, 16) and cam.min() >= 0 and cam.max() <= 1
    assert saliency.last_conv_layer(course_model) == [
        layer.name for layer in course_model.layers if isinstance(layer, keras.layers.Conv2D)
    ][-1]
    with pytest.raises(ValueError, match="one .H, W, C. image"):
        saliency.saliency_map(course_model, np.zeros((2, 16, 16, 3)), 0)


def test_vote_model_maps_per_answer():
    model = votes.build_vote_model("three-class", (16, 16, 1), learning_rate=1e-3)
    image = np.random.default_rng(1).uniform(size=(16, 16, 1))
    column = labels.answer_slices()["has-spiral-arms"].start  # "yes"
    assert saliency.saliency_map(model, image, column).shape == (16, 16)
    assert saliency.grad_cam(model, image, column).shape == (16, 16)
    with pytest.raises(ValueError, match="Dense softmax"):
        saliency.saliency_map(model, image, column, score="logit")


def test_unbuilt_sequential_is_built_on_first_use():
    model = keras.Sequential([keras.layers.Conv2D(2, 3, activation="relu"), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(2, activation="softmax")])
    image = np.random.default_rng(2).uniform(size=(8, 8, 1))
    assert saliency.saliency_map(model, image, 0).shape == (8, 8)
    assert saliency.grad_cam(model, image, 1).shape == (8, 8)


def test_perturbing_salient_pixels_moves_the_score_more(course_model):
    """To first order, nudging the pixels with the largest gradients changes the class score
    more than nudging as many pixels with the smallest ones."""
    rng = np.random.default_rng(3)
    image = rng.uniform(size=(16, 16, 3)).astype("float32")
    smap = saliency.saliency_map(course_model, image, 1, score="logit")
    order = np.argsort(smap.ravel())
    k = 25

    def logit(x):
        features = x[None]
        for layer in course_model.layers[:-1]:
            features = layer(features, training=False)
        last = course_model.layers[-1]
        return float((keras.ops.matmul(features, last.kernel) + last.bias)[0, 1])

    def nudged(pixels):
        x = image.copy()
        rows, cols = np.unravel_index(pixels, smap.shape)
        x[rows, cols, :] += 0.01
        return x

    base = logit(image)
    high = abs(logit(nudged(order[-k:])) - base)
    low = abs(logit(nudged(order[:k])) - base)
    assert high > low


def test_grad_cam_finds_the_bright_blob():
    """Conv (1x1, weight 1) -> ReLU -> global average -> Dense(1): the map is the image itself."""
    model = keras.Sequential([
        keras.Input((12, 12, 1)),
        keras.layers.Conv2D(1, 1, activation="relu", kernel_initializer="ones", bias_initializer="zeros",
                            name="conv"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(1, kernel_initializer="ones", bias_initializer="zeros"),
    ])
    image = np.zeros((12, 12, 1), "float32")
    image[7:10, 2:5] = 1.0
    cam = saliency.grad_cam(model, image, 0)
    assert np.unravel_index(cam.argmax(), cam.shape) in {(r, c) for r in range(7, 10) for c in range(2, 5)}
    assert cam[0, 11] == 0 and cam.max() == pytest.approx(1)


def test_saliency_overlays_draw(course_model):
    images = np.random.default_rng(4).uniform(size=(3, 16, 16, 3))
    maps = {
        "saliency": [saliency.saliency_map(course_model, im, 0) for im in images],
        "Grad-CAM": [saliency.grad_cam(course_model, im, 0) for im in images],
    }
    fig = plots_votes.saliency_overlays(images, maps, ["a", "b", "c"])
    assert len(fig.axes) == 9
    plt.close(fig)
    fig = plots_votes.saliency_overlays(images[..., :1], maps["saliency"])
    assert len(fig.axes) == 6
    plt.close(fig)
