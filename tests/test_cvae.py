"""The conditional VAE: its sampling layer against the closed-form KL, the two
variants, a training step, and the importance-weighted NLL against the ELBO."""

import keras
import numpy as np
import pytest
from conftest import roundtrip_keras_file

from keras_cgen.layers import VariationalSample
from keras_cgen.families.digits import build_cvae
from keras_cgen.families.digits.cvae import bernoulli_nll
from keras_cgen.families.digits.cvae import importance_weighted_nll


def test_variational_sample_kl_and_draws(rng, tmp_path):
    mean = rng.normal(size=(4000, 3)).astype("float32") * 0.5
    log_var = rng.normal(size=(4000, 3)).astype("float32") * 0.3
    layer = VariationalSample(beta=0.5, seed=1)
    z = np.asarray(layer([mean, log_var], training=True))
    expected_kl = 0.5 * (mean ** 2 + np.exp(log_var) - 1 - log_var).sum(-1).mean()
    np.testing.assert_allclose(float(layer.losses[-1]), 0.5 * expected_kl, rtol=1e-5)
    standardised = (z - mean) / np.exp(0.5 * log_var)
    assert abs(standardised.mean()) < 0.05 and abs(standardised.std() - 1) < 0.05  # N(0, 1) noise
    np.testing.assert_array_equal(np.asarray(layer([mean, log_var], training=False)), mean)
    layer.beta.assign(0.0)  # what a KL warm-up callback does
    layer([mean, log_var])
    assert float(layer.losses[-1]) == 0.0
    with pytest.raises(ValueError, match="`beta` must be a number >= 0, got -1"):
        VariationalSample(beta=-1)
    inputs = [keras.Input((3,)), keras.Input((3,))]
    model = keras.Model(inputs, VariationalSample(beta=2.0)(inputs))
    roundtrip_keras_file(model, tmp_path, [mean[:5], log_var[:5]])  # inference: the mean


def test_variational_sample_kl_to_a_learned_prior(rng):
    mean, log_var, prior_mean, prior_log_var = (rng.normal(size=(50, 3)).astype("float32") * 0.5 for _ in range(4))
    layer = VariationalSample(beta=1.0)
    layer([mean, log_var, prior_mean, prior_log_var], training=True)
    m, v, pm, pv = (x.astype("float64") for x in (mean, log_var, prior_mean, prior_log_var))
    expected = 0.5 * (pv - v - 1 + (np.exp(v) + (m - pm) ** 2) / np.exp(pv)).sum(-1).mean()
    np.testing.assert_allclose(float(layer.losses[-1]), expected, rtol=1e-5)
    layer([prior_mean, prior_log_var, prior_mean, prior_log_var], training=True)
    assert abs(float(layer.losses[-1])) < 1e-5  # KL(p || p) = 0


def test_learned_prior_enters_the_likelihood_bound(rng):
    """With the prior table moved, the importance-weighted NLL changes as
    log p(z | c) says; a prior-free model reads N(0, I)."""
    keras.utils.set_random_seed(0)
    model = build_cvae(image_size=8, latent_dim=2, hidden_units=8)
    standard = build_cvae(image_size=8, latent_dim=2, hidden_units=8, learned_prior=False)
    standard.set_weights([w for w, layer_weight in zip(model.get_weights(), model.weights)
                          if "CVAE-Prior" not in layer_weight.path])
    images = (rng.random((4, 8, 8)) < 0.5).astype("float32")
    labels = np.array([0, 1, 2, 3])
    np.testing.assert_allclose(importance_weighted_nll(model, images, labels, samples=20),
                               importance_weighted_nll(standard, images, labels, samples=20), rtol=1e-5)
    table = model.get_layer("CVAE-Prior").embeddings
    table.assign(np.concatenate([np.full((10, 2), 3.0), np.zeros((10, 2))], 1).astype("float32"))
    assert importance_weighted_nll(model, images, labels, samples=20).mean() > \
        importance_weighted_nll(standard, images, labels, samples=20).mean() + 3  # q is far from the moved prior


def test_bernoulli_nll_against_numpy(rng):
    logits = rng.normal(size=(2, 4, 4)).astype("float32") * 3
    targets = rng.random((2, 4, 4)).astype("float32")
    p = 1 / (1 + np.exp(-logits.astype("float64")))
    expected = -(targets * np.log(p) + (1 - targets) * np.log(1 - p)).sum((1, 2))
    np.testing.assert_allclose(np.asarray(bernoulli_nll(targets, logits)), expected, rtol=1e-5)


@pytest.mark.parametrize("variant", ["mlp", pytest.param("conv", marks=pytest.mark.slow)])
def test_training_lowers_the_loss_and_the_label_matters(variant, rng):
    keras.utils.set_random_seed(0)
    model = build_cvae(image_size=8, latent_dim=4, hidden_units=32, variant=variant)
    labels = rng.integers(0, 10, 64).astype("int32")
    images = (rng.random((10, 8, 8)) < 0.5).astype("float32")[labels]  # one binary pattern per label
    x = {"image": images, "label": labels}
    model.compile(keras.optimizers.Adam(1e-2), bernoulli_nll, jit_compile=False)
    before = model.evaluate(x, images, verbose=0)
    model.fit({k: np.concatenate([v] * 40) for k, v in x.items()}, np.concatenate([images] * 40), batch_size=32,
              verbose=0)
    after = model.evaluate(x, images, verbose=0)
    assert after < 0.6 * before
    decoder = model.get_layer("CVAE-Decoder")
    z = rng.normal(size=(2, 4)).astype("float32")
    outputs = [np.asarray(decoder([z, np.eye(10, dtype="float32")[[d, d]]])) for d in (1, 7)]
    assert np.abs(outputs[0] - outputs[1]).max() > 1e-4
    # The importance-weighted bound is finite and tightens with more samples (k = 1 is the ELBO).
    iw = importance_weighted_nll(model, images[:32], labels[:32], samples=64)
    elbo = importance_weighted_nll(model, images[:32], labels[:32], samples=1)
    assert np.all(np.isfinite(iw)) and iw.mean() <= elbo.mean() + 0.05


def test_bad_arguments():
    with pytest.raises(ValueError, match="`variant` must be 'mlp' or 'conv', got 'gru'"):
        build_cvae(variant="gru")
    with pytest.raises(ValueError, match="divisible by 4, got 30"):
        build_cvae(image_size=30, variant="conv")
