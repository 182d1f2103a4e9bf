import keras
import numpy as np
import pytest

from conftest import roundtrip_keras_file
from keras_cgen.layers import CopyPrior
from keras_cgen.models import BertConfig
from keras_cgen.models import build_transformer
from keras_cgen.models import config_from_model

CONFIG = BertConfig(vocabulary_size=50, hidden_size=16, num_layers=2, num_heads=4,
                    intermediate_size=32, max_position=32, dropout=0.0, attention_dropout=0.0)
TOKENS = np.array([[2, 11, 12, 13, 3, 21, 22, 3, 0, 0], [2, 14, 15, 3, 23, 24, 25, 26, 3, 0]], "int32")
SEGMENTS = np.array([[0, 0, 0, 0, 0, 1, 1, 1, 0, 0], [0, 0, 0, 0, 1, 1, 1, 1, 1, 0]], "int32")


def inputs(tokens=TOKENS, segments=SEGMENTS, **extra):
    return {"token_ids": tokens, "segment_ids": segments, **extra}


@pytest.mark.parametrize("application, last_dim", [("encoder", 16), ("lm", 50), ("unilm", 50)])
def test_output_shapes(application, last_dim):
    model = build_transformer(CONFIG, application)
    out = model(inputs())
    assert out.shape == (2, 10, last_dim) and out.dtype == "float32"
    assert model.get_layer("Transformer-1-FeedForward-Norm") is not None
    assert config_from_model(model) == CONFIG


def changed_positions(model, position, **extra):
    """Positions whose output changes when the token at `position` changes."""
    tokens = TOKENS.copy()
    tokens[:, position] = 40
    before = np.asarray(model(inputs(**extra)))
    after = np.asarray(model(inputs(tokens, **extra)))
    return np.abs(after - before).max(axis=-1) > 1e-6


def test_unilm_mask_in_the_model():
    model = build_transformer(CONFIG, "unilm")
    changed = changed_positions(model, 6)  # a target token of row 0 (row 1: target too)
    assert not changed[0, :6].any() and changed[0, 6:8].all()   # sources and earlier targets unaffected
    changed = changed_positions(model, 2)  # a source token
    assert changed[0, :8].all()                                 # everyone sees the source


def test_lm_is_causal_and_encoder_is_not():
    changed = changed_positions(build_transformer(CONFIG, "lm"), 4)
    assert not changed[:, :4].any() and changed[:, 4].all()
    changed = changed_positions(build_transformer(CONFIG, "encoder"), 4)
    assert changed[0, :8].all()


def test_condition_is_zero_initialised_then_used(rng):
    plain = build_transformer(CONFIG, "unilm")
    conditional = build_transformer(CONFIG, "unilm", condition_size=3, condition_hidden_units=8,
                                    condition_hidden_activation="swish")
    by_path = {v.path: v for v in conditional.weights}
    for v in plain.weights:
        by_path[v.path].assign(v)
    condition = rng.normal(size=(2, 3)).astype("float32")
    np.testing.assert_allclose(conditional(inputs(condition=condition)), plain(inputs()), atol=1e-5)
    conditional.get_layer("MLM-Norm").gamma_dense.kernel.assign(rng.normal(size=(8, 16)))
    a = np.asarray(conditional(inputs(condition=condition)))
    b = np.asarray(conditional(inputs(condition=-condition)))
    assert np.abs(a - b).max() > 1e-3


def seq2seq_model(**kwargs):
    """A UniLM with a copy prior on top: every layer of keras_cgen in one model."""
    bert = build_transformer(CONFIG, "unilm", **kwargs)
    # float32 like the MLM head: logits keep full range under mixed precision.
    logits = CopyPrior(CONFIG.vocabulary_size, dtype="float32", name="Copy-Prior")(
        [bert.output, bert.input["token_ids"]])
    return keras.Model(bert.input, logits)


def test_keras_file_round_trip_with_every_layer(rng, tmp_path):
    model = seq2seq_model(condition_size=3, condition_hidden_units=4)
    for v in model.weights:  # non-trivial values everywhere, the zero-init ones included
        v.assign(rng.normal(size=v.shape, scale=0.1))
    restored = roundtrip_keras_file(model, tmp_path, inputs(condition=rng.normal(size=(2, 3)).astype("float32")))
    assert {type(layer).__name__ for layer in restored.layers} >= {
        "ConditionalLayerNormalization", "AttentionMask", "CachedMultiHeadAttention", "BiasAdd", "CopyPrior"}


def fit_seq2seq(model, epochs, jit_compile=True):
    # Loss on target tokens only: predict token t+1 from position t where t+1 is a target.
    x = inputs(TOKENS[:, :-1], SEGMENTS[:, :-1])
    y = TOKENS[:, 1:]
    weights = SEGMENTS[:, 1:].astype("float32")
    model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=jit_compile)
    return model.fit(x, y, sample_weight=weights, epochs=epochs, batch_size=2, verbose=0).history["loss"]


@pytest.mark.slow  # in `make test`: XLA training of the pointer LSTM, the UniLM step without XLA
def test_training_with_xla_learns_the_targets():
    keras.utils.set_random_seed(0)
    losses = fit_seq2seq(seq2seq_model(), epochs=30)
    assert losses[-1] < 0.5 * losses[0]


def test_mixed_precision_training():
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    model = seq2seq_model(condition_size=None)
    assert model.get_layer("Transformer-0-MultiHeadSelfAttention").compute_dtype == "float16"
    assert model(inputs()).dtype == "float32"
    losses = fit_seq2seq(model, epochs=2, jit_compile=False)  # XLA training: the test above
    assert np.all(np.isfinite(losses))


def test_bad_arguments():
    with pytest.raises(ValueError, match="application.*'decoder'"):
        build_transformer(CONFIG, "decoder")
    with pytest.raises(ValueError, match="hidden_size.*divisible"):
        BertConfig(vocabulary_size=10, hidden_size=30, num_heads=4)
    with pytest.raises(ValueError, match="num_layers.*0"):
        BertConfig(vocabulary_size=10, num_layers=0)
    with pytest.raises(ValueError, match="condition_hidden_units.*condition_size"):
        build_transformer(CONFIG, "lm", condition_hidden_units=8)
    with pytest.raises(ValueError, match="vocabulary size"):
        BertConfig.from_dict({"hidden_size": 8})
