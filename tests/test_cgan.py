"""The conditional GAN: shapes, the projection discriminator's use of the
label, one `fit` step of each player, serialisation."""

import keras
import numpy as np
import pytest

from keras_cgen.families.digits.cgan import ConditionalGAN
from keras_cgen.families.digits.cgan import build_cgan_discriminator
from keras_cgen.families.digits.cgan import build_cgan_generator


def tiny_gan():
    keras.utils.set_random_seed(0)
    return ConditionalGAN(build_cgan_generator(image_size=8, latent_dim=4, filters=8, embedding_dim=4),
                          build_cgan_discriminator(image_size=8, filters=8, hidden_units=8), seed=0)


def test_shapes_and_the_label_matters(rng):
    gan = tiny_gan()
    z = rng.normal(size=(3, 4)).astype("float32")
    images = np.asarray(gan.generator([z, np.array([1, 2, 3], "int32")]))
    assert images.shape == (3, 8, 8) and np.abs(images).max() <= 1
    other = np.asarray(gan.generator([z, np.array([4, 5, 6], "int32")]))
    assert np.abs(images - other).max() > 1e-4
    gan.discriminator.get_layer("Discriminator-Label").embeddings.assign(rng.normal(size=(10, 8)))
    scores = [np.asarray(gan.discriminator([images, np.full(3, d, "int32")])) for d in (0, 9)]
    assert scores[0].shape == (3, 1) and np.abs(scores[0] - scores[1]).max() > 1e-4  # the projection term


def test_fit_updates_both_players_and_serialises(rng, tmp_path):
    gan = tiny_gan()
    gan.compile(keras.optimizers.Adam(1e-3, beta_1=0.5), keras.optimizers.Adam(1e-3, beta_1=0.5), jit_compile=False)
    images = rng.uniform(-1, 1, (32, 8, 8)).astype("float32")
    labels = rng.integers(0, 10, 32).astype("int32")
    before = [np.asarray(v).copy() for v in gan.generator.trainable_variables + gan.discriminator.trainable_variables]
    history = gan.fit(images, labels, batch_size=16, epochs=2, verbose=0)
    assert {"discriminator_loss", "generator_loss", "real_accuracy"} <= set(history.history)
    assert all(np.isfinite(history.history["generator_loss"]))
    after = gan.generator.trainable_variables + gan.discriminator.trainable_variables
    assert all(np.abs(np.asarray(a) - b).max() > 0 for a, b in zip(after, before))  # every weight moved
    path = tmp_path / "gan.keras"
    gan.save(path)
    restored = keras.saving.load_model(path)
    z, label = rng.normal(size=(2, 4)).astype("float32"), np.array([3, 7], "int32")
    np.testing.assert_allclose(np.asarray(restored.generator([z, label])), np.asarray(gan.generator([z, label])),
                               atol=1e-6)


def test_bad_size():
    with pytest.raises(ValueError, match="divisible by 4, got 30"):
        build_cgan_generator(image_size=30)
