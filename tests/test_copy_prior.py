import keras
import numpy as np
import pytest

from conftest import assert_from_config_equal
from conftest import roundtrip_keras_file
from keras_cgen.layers import CopyPrior


def reference(logits, source, log_scale, shift, pad=0):
    chi = np.zeros((source.shape[0], logits.shape[-1]), "float32")
    for n, row in enumerate(source):
        for token in row:
            if token != pad:
                chi[n, token] = 1.0
    prior = np.exp(log_scale) * chi + shift
    if logits.ndim == 3:
        prior = prior[:, None, :]
    return (logits + prior) / 2


def test_matches_numpy_for_3d_and_2d_logits(rng):
    vocab = 11
    source = np.array([[3, 4, 4, 0, 0], [0, 10, 2, 2, 7]], "int32")  # repeats and padding
    layer = CopyPrior(vocab)
    logits3 = rng.normal(size=(2, 3, vocab)).astype("float32")
    layer([logits3, source])
    log_scale, shift = rng.normal(size=vocab).astype("float32"), rng.normal(size=vocab).astype("float32")
    layer.set_weights([log_scale, shift])
    np.testing.assert_allclose(layer([logits3, source]), reference(logits3, source, log_scale, shift), atol=1e-5)
    logits2 = rng.normal(size=(2, vocab)).astype("float32")
    np.testing.assert_allclose(layer([logits2, source]), reference(logits2, source, log_scale, shift), atol=1e-5)


def test_initial_prior_favours_exactly_the_source_tokens(rng):
    layer = CopyPrior(6, pad_token_id=0)
    logits = np.zeros((1, 6), "float32")
    out = np.asarray(layer([logits, np.array([[2, 5, 0, 0]])]))
    np.testing.assert_allclose(out, [[0, 0, 0.5, 0, 0, 0.5]])  # pad id 0 is not in the bag


def test_serialisation_and_xla_training(rng, tmp_path):
    vocab = 9
    logits_in = keras.Input((None, vocab))
    source_in = keras.Input((None,), dtype="int32")
    layer = CopyPrior(vocab, pad_token_id=1)
    model = keras.Model([logits_in, source_in], keras.layers.Softmax()(layer([logits_in, source_in])))
    logits = rng.normal(size=(8, 4, vocab)).astype("float32")
    source = rng.integers(0, vocab, size=(8, 6)).astype("int32")
    layer.set_weights([rng.normal(size=vocab), rng.normal(size=vocab)])
    assert layer.get_config()["pad_token_id"] == 1
    assert_from_config_equal(layer, [logits, source])
    roundtrip_keras_file(model, tmp_path, [logits, source])
    model.compile("adam", "sparse_categorical_crossentropy", jit_compile=True)
    before = np.asarray(layer.log_scale).copy()
    model.fit([logits, source], rng.integers(0, vocab, size=(8, 4)), epochs=1, verbose=0)
    assert np.abs(np.asarray(layer.log_scale) - before).max() > 0


def test_mixed_precision(rng):
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    layer = CopyPrior(7)
    out = layer([rng.normal(size=(2, 7)).astype("float16"), np.array([[1, 2]])])
    assert out.dtype == "float16" and layer.log_scale.dtype == "float32"


def test_bad_arguments():
    with pytest.raises(ValueError, match="vocabulary_size"):
        CopyPrior(0)
    with pytest.raises(ValueError, match=r"vocabulary_size=5.*last dimension 7"):
        CopyPrior(5)([np.zeros((1, 7), "float32"), np.array([[1]])])
