import numpy as np

from galaxy_utils.learn.baselines import fit_pixel_baseline, pixel_features, predict_pixel_baseline


def blobs(n, rng, elongated):
    y, x = np.mgrid[-1:1:32j, -1:1:32j]
    images = []
    for _ in range(n):
        q = 0.3 if elongated else 1.0
        images.append(np.exp(-(x**2 + (y / q) ** 2) / 0.1) + rng.normal(0, 0.05, x.shape))
    return np.stack(images)[..., None]


def test_baseline_learns_round_from_elongated():
    rng = np.random.default_rng(0)
    images = np.concatenate([blobs(40, rng, False), blobs(40, rng, True)])
    labels = np.repeat([0, 1], 40)
    assert pixel_features(images, 8).shape == (80, 64)
    model = fit_pixel_baseline(images[::2], labels[::2], size=8)
    probs = predict_pixel_baseline(model, images[1::2], n_classes=3, size=8)
    assert probs.shape == (40, 3) and np.all(probs[:, 2] == 0)
    assert (probs.argmax(axis=1) == labels[1::2]).mean() > 0.9
