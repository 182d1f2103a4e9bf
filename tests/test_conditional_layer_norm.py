import keras
import numpy as np
import pytest

from conftest import assert_from_config_equal
from conftest import roundtrip_keras_file
from keras_cgen.layers import ConditionalLayerNormalization


def reference(x, gamma, beta, epsilon, condition=None, w_gamma=None, w_beta=None,
              w_hidden=None, b_hidden=None, hidden_act=None):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    normed = (x - mean) / np.sqrt(var + epsilon)
    if condition is None:
        return normed * gamma + beta
    c = condition
    if w_hidden is not None:
        c = hidden_act(c @ w_hidden + b_hidden)
    g = gamma + c @ w_gamma
    b = beta + c @ w_beta
    return normed * g[:, None, :] + b[:, None, :]


def test_plain_matches_numpy_and_keras_layer_norm(rng):
    x = rng.normal(size=(3, 5, 8)).astype("float32") * 3 + 1
    layer = ConditionalLayerNormalization(epsilon=1e-5)
    layer(x)
    gamma, beta = rng.normal(size=8).astype("float32"), rng.normal(size=8).astype("float32")
    layer.set_weights([gamma, beta])
    np.testing.assert_allclose(layer(x), reference(x, gamma, beta, 1e-5), atol=1e-5)
    keras_ln = keras.layers.LayerNormalization(epsilon=1e-5)
    keras_ln(x)
    keras_ln.set_weights([gamma, beta])
    np.testing.assert_allclose(layer(x), keras_ln(x), atol=1e-5)


def test_conditional_matches_numpy(rng):
    x = rng.normal(size=(2, 4, 6)).astype("float32")
    c = rng.normal(size=(2, 3)).astype("float32")
    layer = ConditionalLayerNormalization(epsilon=1e-6)
    layer([x, c])
    gamma, beta = rng.normal(size=6).astype("float32"), rng.normal(size=6).astype("float32")
    w_gamma, w_beta = rng.normal(size=(3, 6)).astype("float32"), rng.normal(size=(3, 6)).astype("float32")
    layer.set_weights([gamma, beta, w_gamma, w_beta])
    expected = reference(x, gamma, beta, 1e-6, c, w_gamma, w_beta)
    np.testing.assert_allclose(layer([x, c]), expected, atol=1e-5)


def test_hidden_projection_matches_numpy(rng):
    x = rng.normal(size=(2, 4, 6)).astype("float32")
    c = rng.normal(size=(2, 3)).astype("float32")
    layer = ConditionalLayerNormalization(hidden_units=5, hidden_activation="swish")
    layer([x, c])
    weights = [w.astype("float32") for w in (
        rng.normal(size=6), rng.normal(size=6), rng.normal(size=(3, 5)), rng.normal(size=5),
        rng.normal(size=(5, 6)), rng.normal(size=(5, 6)))]
    layer.set_weights(weights)
    gamma, beta, w_hidden, b_hidden, w_gamma, w_beta = weights
    swish = lambda v: v / (1 + np.exp(-v))  # noqa: E731
    expected = reference(x, gamma, beta, 1e-12, c, w_gamma, w_beta, w_hidden, b_hidden, swish)
    np.testing.assert_allclose(layer([x, c]), expected, atol=1e-5)


def test_zero_init_equals_plain_layer_norm_whatever_the_condition(rng):
    x = rng.normal(size=(2, 4, 6)).astype("float32")
    plain = ConditionalLayerNormalization()
    conditional = ConditionalLayerNormalization(hidden_units=4, hidden_activation="swish")
    c = rng.normal(size=(2, 7)).astype("float32") * 10
    np.testing.assert_allclose(plain(x), conditional([x, c]), atol=1e-6)


def test_condition_changes_output_once_trained(rng):
    x = rng.normal(size=(2, 4, 6)).astype("float32")
    layer = ConditionalLayerNormalization()
    layer([x, np.zeros((2, 3), "float32")])
    layer.gamma_dense.kernel.assign(rng.normal(size=(3, 6)))
    a = layer([x, np.zeros((2, 3), "float32")])
    b = layer([x, np.ones((2, 3), "float32")])
    assert np.abs(np.asarray(a) - np.asarray(b)).max() > 1e-2


def test_take_over_pretrained_layer_norm(rng):
    x = rng.normal(size=(2, 4, 6)).astype("float32")
    pretrained = keras.layers.LayerNormalization(epsilon=1e-7)
    pretrained(x)
    pretrained.set_weights([rng.normal(size=6), rng.normal(size=6)])
    layer = ConditionalLayerNormalization()
    c = rng.normal(size=(2, 3)).astype("float32")
    layer([x, c])
    layer.take_over(pretrained)
    assert layer.epsilon == 1e-7
    np.testing.assert_allclose(layer([x, c]), pretrained(x), atol=1e-5)
    wrong = ConditionalLayerNormalization()
    wrong(np.zeros((1, 2, 5), "float32"))
    with pytest.raises(ValueError, match=r"\(6,\).*\(5,\)"):
        wrong.take_over(pretrained)


def test_rank_2_input_broadcasts(rng):
    x = rng.normal(size=(3, 6)).astype("float32")
    c = rng.normal(size=(3, 2)).astype("float32")
    layer = ConditionalLayerNormalization()
    assert layer([x, c]).shape == (3, 6)


def test_serialisation(rng, tmp_path):
    x = rng.normal(size=(2, 4, 6)).astype("float32")
    c = rng.normal(size=(2, 3)).astype("float32")
    layer = ConditionalLayerNormalization(epsilon=1e-6, hidden_units=4, hidden_activation="swish")
    layer([x, c])
    layer.gamma_dense.kernel.assign(rng.normal(size=(4, 6)))
    config = layer.get_config()
    assert config["epsilon"] == 1e-6 and config["hidden_units"] == 4 and config["hidden_activation"] in ("swish", "silu")
    assert_from_config_equal(layer, [x, c])
    xi, ci = keras.Input((4, 6)), keras.Input((3,))
    model = keras.Model([xi, ci], ConditionalLayerNormalization(hidden_units=4)([xi, ci]))
    model.layers[-1].gamma_dense.kernel.assign(rng.normal(size=(4, 6)))
    roundtrip_keras_file(model, tmp_path, [x, c])


def test_trains_under_xla_and_mixed_precision(rng):
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    xi, ci = keras.Input((4, 6)), keras.Input((3,))
    norm = ConditionalLayerNormalization()
    y = keras.layers.Dense(1, dtype="float32")(norm([xi, ci]))
    model = keras.Model([xi, ci], y)
    assert norm.compute_dtype == "float16" and norm.gamma.dtype == "float32"
    model.compile("adam", "mse", jit_compile=True)
    x = rng.normal(size=(16, 4, 6)).astype("float32")
    c = rng.normal(size=(16, 3)).astype("float32")
    before = np.asarray(norm.gamma_dense.kernel).copy()
    history = model.fit([x, c], rng.normal(size=(16, 4, 1)), epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert np.abs(np.asarray(norm.gamma_dense.kernel) - before).max() > 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="epsilon"):
        ConditionalLayerNormalization(epsilon=0)
    with pytest.raises(ValueError, match="hidden_units"):
        ConditionalLayerNormalization(hidden_units=-3)
    with pytest.raises(ValueError, match="condition"):
        ConditionalLayerNormalization()([np.zeros((2, 3, 4), "float32"), np.zeros((2, 3, 4), "float32")])
