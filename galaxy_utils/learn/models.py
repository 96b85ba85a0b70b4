"""The two published CNNs, as Keras 3 models.

* The course project's network: a Sequential stack of three Conv2D layers with max
  pooling, 25% dropout, and a softmax over four (or five, with 'uncertain') classes;
  Adam at learning rate 1e-4.
* The 3-class project's network: three convolution + ReLU + max-pooling blocks, two dense
  layers with dropout 0.5 between them, softmax over spiral / round / edge-on.

Random rotations and flips (the 3-class recipe) happen in the input pipeline
(:func:`galaxy_utils.learn.dataset.make_dataset` with ``augment=True``), so saved models take
plain images.
"""

from __future__ import annotations

import keras
from keras import layers


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


ARCHITECTURES = {"course": course_cnn, "three-class": three_class_cnn}


def build_model(
    architecture: str,
    input_shape: tuple[int, int, int],
    n_classes: int,
    *,
    learning_rate: float,
) -> keras.Model:
    """A compiled classifier. Labels are integer class indices (sparse cross-entropy)."""
    try:
        model = ARCHITECTURES[architecture](input_shape, n_classes)
    except KeyError:
        raise KeyError(f"unknown architecture {architecture!r}; choose one of {', '.join(ARCHITECTURES)}") from None
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
