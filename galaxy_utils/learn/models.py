"""The two published CNNs, as Keras 3 models.

* The course project's network: a Sequential stack of three Conv2D layers with max
  pooling, 25% dropout, and a softmax over four (or five, with 'uncertain') classes;
  Adam at learning rate 1e-4.
* The 3-class project's network: three convolution + ReLU + max-pooling blocks, two dense
  layers with dropout 0.5 between them, softmax over spiral / round / edge-on.

Random rotations and flips (the 3-class recipe) happen in the input pipeline
(:func:`galaxy_utils.learn.dataset.make_dataset` with ``augment=True``), so saved models take
plain images.

The ``best`` recipe's network (:func:`bn_cnn`) adds batch normalisation, two convolutions
per block and global average pooling; wrapped in :class:`DihedralViews` /
:class:`DihedralMean` it is exactly invariant to the eight rotations-by-90-degrees and
flips at inference: it sees all eight views of a galaxy and averages its eight
probability vectors (Dieleman et al. 2015 pool over rotated views; here the pooling is at
the output, and training sees one randomly rotated view, so it costs nothing to train).
The custom layers and loss are registered with Keras, so a saved model loads wherever
this module has been imported.
"""

from __future__ import annotations

import keras
from keras import layers, ops

N_VIEWS = 8
"""The dihedral group D4: four quarter turns, each with and without a mirror flip."""


def course_cnn(input_shape: tuple[int, int, int], n_classes: int, *, name: str = "course_cnn") -> keras.Sequential:
    """Three Conv2D (32, 64, 128 filters) with max pooling, 25% dropout, dense softmax."""
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(32, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(2),
            layers.Conv2D(128, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(2),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(n_classes, activation="softmax"),
        ],
        name=name,
    )


def three_class_cnn(
    input_shape: tuple[int, int, int], n_classes: int = 3, *, name: str = "three_class_cnn"
) -> keras.Sequential:
    """Three conv + ReLU + max-pool blocks, Dense(128) -> dropout 0.5 -> Dense softmax."""
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(32, 5, activation="relu", padding="same"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(2),
            layers.Conv2D(128, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(n_classes, activation="softmax"),
        ],
        name=name,
    )


def dihedral_views(images):
    """The eight dihedral views of an (N, H, W, C) square batch, stacked as (8N, H, W, C).

    View ``k`` (0-3) is ``k`` quarter turns; views 4-7 are the same turns of the mirror
    image. Their order does not matter to :class:`DihedralMean`, only that all eight are there.
    """
    views = []
    for image in (images, ops.flip(images, axis=2)):
        for _ in range(4):
            views.append(image)
            image = ops.flip(ops.transpose(image, (0, 2, 1, 3)), axis=1)  # a quarter turn
    return ops.concatenate(views, axis=0)


@keras.saving.register_keras_serializable(package="galaxy_utils")
class DihedralViews(layers.Layer):
    """At inference, the batch becomes its eight dihedral views (8N images); while training,
    the images pass unchanged (the input pipeline already rotates and flips them at random)."""

    def call(self, inputs, training=None):
        return inputs if training else dihedral_views(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="galaxy_utils")
class DihedralMean(layers.Layer):
    """At inference, the mean of the eight views' outputs of each image (8N -> N rows), the
    partner of :class:`DihedralViews`; while training, the outputs pass unchanged."""

    def call(self, inputs, training=None):
        if training:
            return inputs
        return ops.mean(ops.reshape(inputs, (N_VIEWS, -1, inputs.shape[-1])), axis=0)

    def compute_output_shape(self, input_shape):
        return input_shape


def bn_cnn(
    input_shape: tuple[int, int, int], n_classes: int, *, invariant: bool = True, width: int = 32,
    name: str = "bn_cnn",
) -> keras.Model:
    """Three blocks of 3x3 convolution + batch norm + ReLU and max pooling (``width``, 2x,
    4x filters; the first 5x5 as in the 3-class project's network), a fourth convolution
    (8x), global average pooling, dropout 0.3, softmax. Batch norm with momentum 0.9: a
    small training set has few steps per epoch, and its running statistics must keep up.

    ``invariant``: wrap it in :class:`DihedralViews` / :class:`DihedralMean`, so its
    predictions are the same for all eight rotations-by-90-degrees and flips of an image.
    """
    inputs = keras.Input(shape=input_shape)
    x = DihedralViews()(inputs) if invariant else inputs
    for kernel, filters in ((5, width), (3, 2 * width), (3, 4 * width)):
        x = layers.Conv2D(filters, kernel, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU()(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(8 * width, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(n_classes, activation="softmax")(x)
    if invariant:
        outputs = DihedralMean()(outputs)
    return keras.Model(inputs, outputs, name=name)


def bn_cnn_plain(input_shape: tuple[int, int, int], n_classes: int) -> keras.Model:
    """:func:`bn_cnn` without the dihedral views: one view in, one prediction out."""
    return bn_cnn(input_shape, n_classes, invariant=False, name="bn_cnn_plain")


def invariant_three_class_cnn(input_shape: tuple[int, int, int], n_classes: int = 3) -> keras.Model:
    """The 3-class project's network inside :class:`DihedralViews` / :class:`DihedralMean`."""
    inputs = keras.Input(shape=input_shape)
    body = three_class_cnn(input_shape, n_classes)
    outputs = DihedralMean()(body(DihedralViews()(inputs)))
    return keras.Model(inputs, outputs, name="invariant_three_class_cnn")


@keras.saving.register_keras_serializable(package="galaxy_utils")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Cross-entropy on integer labels with label smoothing (Keras' sparse loss has none):
    the target puts ``1 - label_smoothing`` on the true class and spreads the rest evenly."""

    def __init__(self, label_smoothing: float = 0.0, name: str = "smoothed_sparse_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        y_true = ops.one_hot(ops.cast(ops.reshape(y_true, (-1,)), "int32"), ops.shape(y_pred)[-1])
        return keras.losses.categorical_crossentropy(y_true, y_pred, label_smoothing=self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


ARCHITECTURES = {
    "course": course_cnn,
    "three-class": three_class_cnn,
    "invariant-three-class": invariant_three_class_cnn,
    "bn-cnn": bn_cnn,
    "bn-cnn-plain": bn_cnn_plain,
}
OPTIMIZERS = ("adam", "adamw-cosine")


def build_model(
    architecture: str,
    input_shape: tuple[int, int, int],
    n_classes: int,
    *,
    learning_rate: float,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    decay_steps: int | None = None,
    label_smoothing: float = 0.0,
) -> keras.Model:
    """A compiled classifier. Labels are integer class indices (sparse cross-entropy).

    ``optimizer``: ``'adam'`` at a constant ``learning_rate`` (both published recipes), or
    ``'adamw-cosine'``: AdamW with ``weight_decay``, its rate decaying from
    ``learning_rate`` to zero along a cosine over ``decay_steps`` steps (the whole run).
    ``label_smoothing`` > 0 trains on smoothed targets (:class:`SmoothedSparseCrossentropy`).
    """
    try:
        model = ARCHITECTURES[architecture](input_shape, n_classes)
    except KeyError:
        raise KeyError(f"unknown architecture {architecture!r}; choose one of {', '.join(ARCHITECTURES)}") from None
    if optimizer == "adam":
        chosen = keras.optimizers.Adam(learning_rate=learning_rate)
    elif optimizer == "adamw-cosine":
        if not decay_steps:
            raise ValueError("the 'adamw-cosine' optimizer needs decay_steps (the run's number of steps)")
        schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps)
        chosen = keras.optimizers.AdamW(learning_rate=schedule, weight_decay=weight_decay)
    else:
        raise KeyError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
    if label_smoothing:
        loss = SmoothedSparseCrossentropy(label_smoothing)
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    else:
        loss, metrics = "sparse_categorical_crossentropy", ["accuracy"]
    model.compile(optimizer=chosen, loss=loss, metrics=metrics)
    return model
