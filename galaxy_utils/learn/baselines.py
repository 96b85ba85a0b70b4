"""A non-CNN baseline on the same split, so the CNN's gain is measured, not assumed.

Pixels are shrunk to a small greyscale thumbnail, reduced with PCA and classified with
logistic regression: the classic "eigen-galaxy" approach. Rotations matter to it (a
spiral at 30 degrees is a different pixel vector), which is part of what a CNN with
augmentation does better.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler


def pixel_features(images: np.ndarray, size: int = 16) -> np.ndarray:
    """Flattened ``size`` x ``size`` greyscale thumbnails of an (n, h, w[, c]) image stack."""
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] > 1:
        images = images.mean(axis=-1)
    images = images.reshape(images.shape[0], images.shape[1], images.shape[2])
    scale = 255.0 if images.max() > 1.0 else 1.0
    box = Image.Resampling.BOX
    thumbs = [np.asarray(Image.fromarray((im / scale).astype(np.float32)).resize((size, size), box)) for im in images]
    return np.stack(thumbs).reshape(len(thumbs), -1)


def pixel_baseline(n_components: int = 40, seed: int = 0) -> Pipeline:
    """Standardise, PCA, multinomial logistic regression."""
    return make_pipeline(
        StandardScaler(),
        PCA(n_components=n_components, random_state=seed),
        LogisticRegression(max_iter=2000, C=0.1, random_state=seed),
    )


def fit_pixel_baseline(
    train_images: np.ndarray, train_labels: np.ndarray, *, size: int = 16, seed: int = 0
) -> Pipeline:
    """Fit the baseline; PCA components are capped by the number of galaxies."""
    features = pixel_features(train_images, size)
    n_components = int(min(40, features.shape[0] - 1, features.shape[1]))
    return pixel_baseline(n_components, seed).fit(features, train_labels)


def predict_pixel_baseline(model: Pipeline, images: np.ndarray, n_classes: int, *, size: int = 16) -> np.ndarray:
    """Class probabilities in the CNN's class order (zeros for classes unseen in training)."""
    probabilities = model.predict_proba(pixel_features(images, size))
    full = np.zeros((len(probabilities), n_classes))
    full[:, model.classes_.astype(int)] = probabilities
    return full
