import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import roundtrip_keras_file
from keras_cgen.decoding import generate
from keras_cgen.families.autotitle import LSTMSeq2SeqDecoder
from keras_cgen.families.autotitle import build_lstm_seq2seq

VOCAB, START, END = 30, 2, 3
SOURCES = np.array([[5, 6, 7, 8, 9, 0], [10, 11, 12, 0, 0, 0], [13, 5, 14, 15, 16, 17]], "int32")


def trained_looking_model(seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    model = build_lstm_seq2seq(VOCAB, embedding_dim=16, hidden_units=16, **kwargs)
    rng = np.random.default_rng(seed)
    for v in model.weights:  # larger weights: peaked, source-dependent distributions
        v.assign(rng.normal(size=v.shape, scale=0.5))
    return model


def test_shapes_and_copy_prior():
    model = build_lstm_seq2seq(VOCAB, embedding_dim=16, hidden_units=16)
    out = model({"source_ids": SOURCES, "target_ids": SOURCES[:, :4]})
    assert out.shape == (3, 4, VOCAB) and out.dtype == "float32"
    assert model.get_layer("Copy-Prior") is not None
    plain = build_lstm_seq2seq(VOCAB, embedding_dim=16, hidden_units=16, copy_prior=False)
    assert "Copy-Prior" not in {layer.name for layer in plain.layers}
    with pytest.raises(ValueError, match="hidden_units.*even"):
        build_lstm_seq2seq(VOCAB, hidden_units=15)
    pointer = build_lstm_seq2seq(VOCAB, embedding_dim=16, hidden_units=16, pointer=True)
    log_probs = np.asarray(pointer({"source_ids": SOURCES, "target_ids": SOURCES[:, :4]}))
    np.testing.assert_allclose(np.exp(log_probs).sum(-1), 1.0, atol=1e-5)


def test_pointer_puts_copy_mass_only_on_source_tokens():
    model = trained_looking_model(pointer=True)
    model.get_layer("Pointer-Gate").set_weights([np.zeros((32, 1)), np.array([-30.0])])  # always copy
    probs = np.exp(np.asarray(model({"source_ids": SOURCES, "target_ids": SOURCES[:, :4]})))
    for row, source in zip(probs, SOURCES):
        outside = np.setdiff1d(np.arange(VOCAB), source[source != 0])
        assert probs.shape[-1] == VOCAB and row[:, outside].max() < 1e-6


# The pointer model holds every layer of the plain one (plus the gate and the mixture); XLA compiles
# of the LSTM's train step take ~30 s here: those variants run in `make test-slow`.
@pytest.mark.parametrize("pointer,jit_compile", [pytest.param(False, True, marks=pytest.mark.slow),
                                                 pytest.param(True, True, marks=pytest.mark.slow), (True, False)])
def test_training_step_and_round_trip(tmp_path, pointer, jit_compile):
    model = build_lstm_seq2seq(VOCAB, embedding_dim=16, hidden_units=16, pointer=pointer)
    target = np.array([[START, 5, 7, END], [START, 10, END, 0], [START, 13, 14, END]], "int32")
    x = {"source_ids": SOURCES, "target_ids": target[:, :-1]}
    y = target[:, 1:]
    model.compile(keras.optimizers.Adam(3e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=jit_compile)
    history = model.fit(x, y, sample_weight=(y != 0).astype("float32"), epochs=40, verbose=0)
    assert history.history["loss"][-1] < 0.3 * history.history["loss"][0]
    roundtrip_keras_file(model, tmp_path, x)


@pytest.mark.parametrize("settings,pointer", [(dict(), False), (dict(), True),
                                              (dict(num_beams=3, num_return_sequences=2, eos_token_id=END), False),
                                              (dict(num_beams=3, num_return_sequences=2, eos_token_id=END), True)])
def test_cached_lstm_step_equals_rerunning_the_model(settings, pointer):
    model = trained_looking_model(pointer=pointer)
    decoder = LSTMSeq2SeqDecoder(model, start_id=START)
    cached = decoder.generate(SOURCES, max_new_tokens=6, **settings)
    start = np.full((len(SOURCES),), START, "int32")

    max_new = 6

    def rerun(last, state, index):
        targets = tf.where(tf.range(max_new)[None, :] == index, last[:, None], state["targets"])
        logits = model({"source_ids": state["source_ids"], "target_ids": targets})
        return tf.gather(logits, index, axis=1), {**state, "targets": targets}

    uncached = generate(rerun, {"source_ids": SOURCES, "targets": np.zeros((3, max_new), "int32")}, start,
                        max_new_tokens=max_new, **settings)
    np.testing.assert_array_equal(cached.sequences, uncached.sequences)
    np.testing.assert_allclose(cached.scores, uncached.scores, rtol=1e-4, atol=1e-5)
    assert len(np.unique(cached.sequences.numpy()[:, 0], axis=0)) == 3
