"""What the CNN looks at: gradient saliency and Grad-CAM maps for Keras 3 models.

* :func:`saliency_map` (Simonyan et al. 2014): how much each pixel moves a class score,
  ``|d score / d pixel|``, the largest over colour channels. Sharp, pixel-level, noisy.
* :func:`grad_cam` (Selvaraju et al. 2017): the last convolutional layer's feature maps,
  weighted by the mean gradient of the class score over each map, summed, ReLU'd and
  resized to the image. Coarse (one cell per pooled pixel), but it says *where*.

Both work on Sequential models (the two published CNNs) and on functional ones (the
vote-count model, :func:`galaxy_utils.learn.votes.build_vote_model`, whose "classes" are its 34
Dirichlet concentrations: pick the answer's column from
:func:`galaxy_utils.data.labels.answer_slices`). A Keras 3 Sequential model has no graph to
take a layer's output from until it is called, so its layers are re-traced here on a
fresh ``keras.Input``; a model that was never built is built by calling it on the image.
"""

from __future__ import annotations

import keras
import numpy as np

from galaxy_utils.data.catalogue import FILE_COLUMN, ids_of
from galaxy_utils.data.labels import GZD5_CLASS_ANSWERS
from galaxy_utils.images.decode import ImageSpec
from galaxy_utils.images.store import load_images
from galaxy_utils.learn.profiles import VOTE_COUNTS
from galaxy_utils.learn.runs import RunFolder
from galaxy_utils.learn.training import read_predictions
from galaxy_utils.learn.votes import fraction_columns

SCORES = ("output", "logit")


def _as_batch(image) -> np.ndarray:
    """(1, H, W, C) float32 from an (H, W, C) or (1, H, W, C) image."""
    array = np.asarray(image, dtype=np.float32)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[0] != 1:
        raise ValueError(f"expected one (H, W, C) image, got shape {np.shape(image)}")
    return array


def _ensure_built(model, batch: np.ndarray) -> None:
    if not model.built or not getattr(model, "inputs", None):
        model(batch, training=False)


def _traced(model, batch: np.ndarray, wanted: list[str]):
    """``(inputs, {name: tensor}, output)``: symbolic tensors of the named layers' outputs,
    of the input of the last layer (under the key ``None``) and of the model's output."""
    _ensure_built(model, batch)
    if isinstance(model, keras.Sequential):
        inputs = keras.Input(shape=batch.shape[1:])
        x, tensors = inputs, {}
        for layer in model.layers:
            tensors[None] = x
            x = layer(x)
            if layer.name in wanted:
                tensors[layer.name] = x
        missing = set(wanted) - set(tensors)
        if missing:
            raise ValueError(f"no layer named {', '.join(sorted(missing))} in {model.name}")
        return inputs, tensors, x
    tensors = {name: model.get_layer(name).output for name in wanted}
    tensors[None] = model.layers[-1].input
    return model.inputs, tensors, model.outputs[0]


def last_conv_layer(model) -> str:
    """Name of the model's last Conv2D layer (Grad-CAM's default)."""
    convolutions = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    if not convolutions:
        raise ValueError(f"{model.name} has no Conv2D layer")
    return convolutions[-1]


def _as_list(outputs) -> list:
    """A Keras model with one output returns the tensor itself, not a list of one."""
    return list(outputs) if isinstance(outputs, list | tuple) else [outputs]


def _scores(model, batch: np.ndarray, score: str, extra: list[str]):
    """A function image -> ([extra layer outputs], scores), scores being the model's
    output or, with ``score='logit'``, the pre-softmax output of a final Dense softmax."""
    if score not in SCORES:
        raise ValueError(f"score must be one of {SCORES}")
    inputs, tensors, output = _traced(model, batch, extra)
    if score == "output":
        graph = keras.Model(inputs, [*(tensors[n] for n in extra), output])

        def run(x):
            *layers, out = _as_list(graph(x, training=False))
            return layers, out

        return run
    last = model.layers[-1]
    if not (isinstance(last, keras.layers.Dense) and last.activation is keras.activations.softmax):
        raise ValueError("score='logit' needs a model ending in a Dense softmax layer")
    graph = keras.Model(inputs, [*(tensors[n] for n in extra), tensors[None]])

    def run(x):
        *layers, features = _as_list(graph(x, training=False))
        logits = keras.ops.matmul(features, last.kernel)
        if last.use_bias:
            logits = logits + last.bias
        return layers, logits

    return run


def saliency_map(model, image, class_index: int, *, score: str = "output") -> np.ndarray:
    """(H, W) map of ``|d score / d pixel|``, the largest over channels, for one image.

    ``score='output'`` differentiates the model's output ``class_index`` (a softmax
    probability, or a vote-count model's concentration); ``'logit'`` the pre-softmax
    class score of a model ending in a Dense softmax, which does not saturate on a
    confident prediction.
    """
    import tensorflow as tf

    batch = _as_batch(image)
    run = _scores(model, batch, score, [])
    x = tf.convert_to_tensor(batch)
    with tf.GradientTape() as tape:
        tape.watch(x)
        _, out = run(x)
        target = out[:, class_index]
    gradient = tape.gradient(target, x)
    return np.abs(gradient.numpy()[0]).max(axis=-1)


def grad_cam(model, image, class_index: int, layer_name: str | None = None, *, score: str = "output") -> np.ndarray:
    """(H, W) Grad-CAM map in [0, 1] for one image: where the evidence for ``class_index`` is.

    ``layer_name`` defaults to the last Conv2D layer. All zeros when no feature map of
    that layer raises the score (then there is nothing to show, not a bug).
    """
    import tensorflow as tf

    batch = _as_batch(image)
    layer_name = layer_name or last_conv_layer(model)
    run = _scores(model, batch, score, [layer_name])
    x = tf.convert_to_tensor(batch)
    with tf.GradientTape() as tape:
        (features,), out = run(x)
        target = out[:, class_index]
    gradient = tape.gradient(target, features)
    weights = tf.reduce_mean(gradient, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1))[..., None]
    cam = tf.image.resize(cam, batch.shape[1:3], method="bilinear")[0, ..., 0].numpy()
    top = cam.max()
    return cam / top if top > 0 else cam


# --------------------------------------------------------------------------------------
# From run folders: example galaxies and their maps
# --------------------------------------------------------------------------------------


def class_examples(run_dir, catalogue=None, *, per_class: int = 2):
    """Test galaxies of a hard-label run to look inside: for each class, the ``per_class``
    the model gives the highest probability of that class among those the volunteers put
    in it (right answers first; a class the model never gets right shows its best tries).

    Rows of the run's ``predictions.csv`` (id, ``file_loc``, ``true_class``, ``p_<class>``)
    plus ``class``; ``file_loc`` is taken from ``catalogue`` when given (a resolved
    catalogue, so a run folder made on another machine still finds its images).
    """
    import pandas as pd

    table, _, _, classes = read_predictions(run_dir)
    picks = []
    for name in classes:
        members = table[table["true_class"] == name]
        members = members.assign(_right=members["predicted_class"] == name).sort_values(
            ["_right", f"p_{name}"], ascending=False, kind="stable")
        picks.append(members.head(per_class).drop(columns="_right").assign(**{"class": name}))
    examples = pd.concat(picks, ignore_index=True)
    if catalogue is not None:
        where = dict(zip(catalogue[ids_of(catalogue)].astype(str), catalogue[FILE_COLUMN], strict=True))
        examples[FILE_COLUMN] = examples[ids_of(examples)].astype(str).map(where).fillna(examples[FILE_COLUMN])
    return examples


def target_index(run: dict, target: str) -> int:
    """Which output of a run's model scores ``target``: a class of a hard-label run, or for a
    vote-count run a class (its GZD-5 answer, as the labels read it: spiral is
    has-spiral-arms 'yes', round is how-rounded 'round', ...) or a ``question_answer``."""
    if run["task"] != VOTE_COUNTS:
        return list(run["classes"]).index(target)
    if target in GZD5_CLASS_ANSWERS:
        question, answer = GZD5_CLASS_ANSWERS[target][0]
    else:
        question, answer = target.rsplit("_", 1)
    return fraction_columns().index(f"{question}_{answer}_fraction")


def run_maps(run_dir, file_locs, targets, *, cache_dir=None) -> tuple[np.ndarray, dict[str, list[np.ndarray]]]:
    """A saved run's model on some galaxies: the images as the model sees them (its image
    spec, scaled to [0, 1]) and ``{"saliency": [...], "Grad-CAM": [...]}``, one map per
    galaxy for its ``target`` (see :func:`target_index`). Hard-label models are
    differentiated through their logits (the softmax saturates on confident galaxies);
    the vote-count model through the answer's Dirichlet concentration.
    """

    folder = RunFolder(run_dir)
    run, model = folder.run(), folder.model()
    images = load_images(list(file_locs), ImageSpec(**run["image_spec"]), cache_dir=cache_dir).astype(np.float32)
    images /= 255.0
    score = "output" if run["task"] == "vote-counts" else "logit"
    maps: dict[str, list[np.ndarray]] = {"saliency": [], "Grad-CAM": []}
    for image, target in zip(images, targets, strict=True):
        index = target_index(run, target)
        maps["saliency"].append(saliency_map(model, image, index, score=score))
        maps["Grad-CAM"].append(grad_cam(model, image, index, score=score))
    return images, maps
