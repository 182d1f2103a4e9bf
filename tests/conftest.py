import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import keras_cgen  # noqa: E402,F401


@pytest.fixture(autouse=True)
def float32_policy():
    """Every test starts and ends under the float32 policy, whatever it sets."""
    keras.mixed_precision.set_dtype_policy("float32")
    yield
    keras.mixed_precision.set_dtype_policy("float32")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def roundtrip_keras_file(model, tmp_path, inputs):
    """Saves `model` as .keras, loads it back and checks the outputs are equal."""
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    expected = keras.tree.map_structure(np.asarray, model(inputs))
    actual = keras.tree.map_structure(np.asarray, restored(inputs))
    keras.tree.map_structure(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6), expected, actual)
    return restored


def assert_from_config_equal(layer, inputs, **call_kwargs):
    """`from_config(get_config())` makes a layer that gives the same output with the same weights."""
    clone = layer.__class__.from_config(layer.get_config())
    clone(inputs, **call_kwargs)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(
        np.asarray(keras.tree.flatten(clone(inputs, **call_kwargs))[0]),
        np.asarray(keras.tree.flatten(layer(inputs, **call_kwargs))[0]),
        rtol=1e-6, atol=1e-6,
    )
