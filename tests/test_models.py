from dataclasses import replace

import numpy as np
import pytest

from galaxy_utils.learn import models, profiles


def test_course_cnn_has_three_conv_layers_and_quarter_dropout():
    model = models.build_model("course", (64, 64, 3), 4, learning_rate=1e-4)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("Conv2D") == 3
    assert [layer.rate for layer in model.layers if type(layer).__name__ == "Dropout"] == [0.25]
    assert model.output_shape == (None, 4)
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(1e-4)


def test_three_class_cnn_has_two_dense_layers_with_half_dropout_between():
    model = models.build_model("three-class", (32, 32, 1), 3, learning_rate=1e-3)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("Conv2D") == 3 and kinds.count("MaxPooling2D") == 3
    dense = [i for i, k in enumerate(kinds) if k == "Dense"]
    assert len(dense) == 2 and kinds[dense[0] + 1] == "Dropout"
    assert model.layers[dense[0] + 1].rate == 0.5
    probs = model.predict(np.zeros((2, 32, 32, 1), "float32"), verbose=0)
    assert probs.shape == (2, 3) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)


def test_unknown_architecture():
    with pytest.raises(KeyError, match="unknown architecture 'resnet'"):
        models.build_model("resnet", (8, 8, 1), 2, learning_rate=1e-3)


def test_profiles_follow_the_published_recipes():
    four = profiles.profile("four-class", "faithful")
    assert (four.image_size, four.n_train, four.n_test, four.epochs, four.learning_rate) == (224, 9000, 3000, 20, 1e-4)
    assert four.balance == "dihedral" and not four.greyscale
    three = profiles.profile("three-class", "faithful")
    assert (three.image_size, three.crop_fraction, three.greyscale, three.val_fraction) == (64, 0.5, True, 0.1)
    assert three.random_augment and three.early_stopping_patience
    for task in ("four-class", "three-class"):
        fast = profiles.profile(task, "fast")
        assert fast.epochs <= 2 and fast.image_size <= 64
    with pytest.raises(KeyError, match="choose one of: best, faithful, fast"):
        profiles.profile("three-class", "slow")


def test_dihedral_views_are_the_eight_rotations_and_flips():
    images = np.random.default_rng(0).random((2, 5, 5, 3)).astype("float32")
    views = np.asarray(models.dihedral_views(images)).reshape(models.N_VIEWS, 2, 5, 5, 3)
    expected = [np.rot90(image, k, axes=(1, 2)) for image in (images, np.flip(images, 2)) for k in range(4)]
    found = {view.tobytes() for view in views}
    assert found == {view.tobytes() for view in expected} and len(found) == models.N_VIEWS


@pytest.mark.parametrize("architecture", ["bn-cnn", "invariant-three-class"])
def test_invariant_model_gives_the_same_output_for_every_rotation_and_flip(architecture, tmp_path):
    import keras

    model = models.build_model(architecture, (16, 16, 3), 3, learning_rate=1e-3)
    images = np.random.default_rng(1).random((4, 16, 16, 3)).astype("float32")
    reference = model.predict(images, verbose=0)
    assert reference.shape == (4, 3) and np.allclose(reference.sum(axis=1), 1, atol=1e-5)
    for k in range(4):
        for flipped in (False, True):
            view = np.rot90(np.flip(images, 2) if flipped else images, k, axes=(1, 2))
            np.testing.assert_allclose(model.predict(view, verbose=0), reference, atol=1e-5)
    # a 90-degree rotation is a different input: a plain network's output changes
    plain = models.build_model("bn-cnn-plain", (16, 16, 3), 3, learning_rate=1e-3)
    assert np.abs(plain.predict(np.rot90(images, 1, axes=(1, 2)), verbose=0)
                  - plain.predict(images, verbose=0)).max() > 1e-4
    # training sees one view per image (the pipeline rotates them); a saved model reloads invariant
    assert model(images, training=True).shape == (4, 3)
    reference = model.predict(images, verbose=0)  # training updated the batch-norm statistics
    model.save(tmp_path / "model.keras")
    reloaded = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(reloaded.predict(np.flip(images, 1), verbose=0), reference, atol=1e-5)


def test_smoothed_sparse_crossentropy_matches_keras_on_one_hot_targets():
    import keras

    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], "float32")
    labels = np.array([0, 2])
    for smoothing in (0.0, 0.1):
        ours = models.SmoothedSparseCrossentropy(smoothing)(labels, probabilities)
        theirs = keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)(np.eye(3)[labels], probabilities)
        assert float(ours) == pytest.approx(float(theirs), rel=1e-5)
    assert float(models.SmoothedSparseCrossentropy(0.1)(labels, probabilities)) > float(
        models.SmoothedSparseCrossentropy(0.0)(labels, probabilities))


def test_adamw_cosine_decays_to_zero_over_the_run():
    model = models.build_model("bn-cnn", (8, 8, 1), 3, learning_rate=2e-3, optimizer="adamw-cosine",
                               weight_decay=1e-2, decay_steps=100, label_smoothing=0.1)
    schedule = model.optimizer._learning_rate
    assert float(schedule(0)) == pytest.approx(2e-3) and float(schedule(100)) == pytest.approx(0.0, abs=1e-9)
    assert model.optimizer.weight_decay == pytest.approx(1e-2)
    with pytest.raises(ValueError, match="decay_steps"):
        models.build_model("bn-cnn", (8, 8, 1), 3, learning_rate=1e-3, optimizer="adamw-cosine")
    with pytest.raises(KeyError, match="unknown optimizer"):
        models.build_model("bn-cnn", (8, 8, 1), 3, learning_rate=1e-3, optimizer="sgd")


def test_best_profile_and_its_ablations():
    best = profiles.profile("three-class", "best")
    assert best.crop == "measured" and best.crop_extent == 2.0 and not best.greyscale and best.class_weights
    assert best.model == "invariant-three-class"  # it beat the batch-normalised CNN on validation
    assert best.normalise and best.optimizer == "adam"  # one photometric scale; plain Adam beat AdamW-cosine
    ablations = profiles.ablations(best)
    assert len(ablations) >= 5 and "label-smoothing" not in ablations  # best does not smooth: nothing to switch off
    assert "label-smoothing" in profiles.ablations(replace(best, label_smoothing=0.1))
    for idea, variant in ablations.items():
        assert variant.name == f"best-without-{idea}" and variant != best
        assert variant.task == best.task and variant.epochs == best.epochs
    # the published recipes' run fingerprints are unchanged by the fields the best recipe added
    faithful = profiles.profile("three-class", "faithful").to_dict()
    assert "crop" not in faithful and "optimizer" not in faithful and "normalise" not in faithful
    assert faithful["crop_fraction"] == 0.5
    assert best.to_dict()["crop"] == "measured"
