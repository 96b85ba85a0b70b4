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
    with pytest.raises(KeyError, match="choose one of: faithful, fast"):
        profiles.profile("three-class", "slow")
