"""Cached incremental decoding of the BERT "lm"/"unilm" models."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_cgen.checkpoints import load_bert
from keras_cgen.checkpoints import minilm_directory
from keras_cgen.decoding import make_settings
from keras_cgen.models import BertConfig
from keras_cgen.models import TransformerDecoder
from keras_cgen.models import build_transformer

CONFIG = BertConfig(vocabulary_size=40, hidden_size=32, num_layers=2, num_heads=4, intermediate_size=64,
                    max_position=64, dropout=0.0, attention_dropout=0.0)
SOURCES = np.array([[2, 5, 6, 7, 3], [2, 9, 3, 0, 0], [2, 11, 12, 3, 0]], "int32")  # ragged, right-padded


def random_model(application, seed=0, config=CONFIG, **kwargs):
    model = build_transformer(config, application, **kwargs)
    rng = np.random.default_rng(seed)
    for v in model.weights:  # large random weights: peaked, input-dependent distributions
        if v.path.endswith("kernel") or v.path.endswith("embeddings"):
            v.assign(rng.normal(size=v.shape, scale=0.3))
    return model


@pytest.mark.parametrize("application", ["unilm", "lm"])
@pytest.mark.parametrize("settings", [
    dict(),
    dict(num_beams=3, num_return_sequences=2, eos_token_id=3, length_penalty=0.8),
    dict(do_sample=True, seed=5, top_k=10),
])
def test_cached_equals_rerunning_the_whole_model(application, settings):
    model = random_model(application, condition_size=3, condition_hidden_units=4)
    model.get_layer("Transformer-1-FeedForward-Norm").gamma_dense.kernel.assign(np.full((4, 32), 0.2))
    inputs = {"token_ids": SOURCES, "condition": np.random.default_rng(1).normal(size=(3, 3)).astype("float32")}
    # A random model may pick id 0; re-running would then read it as padding. Ban it.
    settings = {**settings, "bad_words_ids": [[0]]}
    cached = TransformerDecoder(model).generate(inputs, max_new_tokens=7, **settings)
    rerun = TransformerDecoder(model, use_cache=False).generate(inputs, max_new_tokens=7, **settings)
    np.testing.assert_array_equal(cached.sequences, rerun.sequences)
    np.testing.assert_allclose(cached.scores, rerun.scores, rtol=1e-4, atol=1e-4)
    assert len(np.unique(cached.sequences.numpy()[:, 0], axis=0)) == 3  # the rows really differ


@pytest.mark.parametrize("application", ["unilm", "lm"])
def test_one_row_step_equals_rerunning_the_whole_model(application):
    # One row takes its own head path (the embedding transposed before the loop).
    model = random_model(application, condition_size=3, condition_hidden_units=4)
    cached_decoder, rerun_decoder = TransformerDecoder(model), TransformerDecoder(model, use_cache=False)
    for row in range(len(SOURCES)):
        inputs = {"token_ids": SOURCES[row:row + 1],
                  "condition": np.random.default_rng(row).normal(size=(1, 3)).astype("float32")}
        cached = cached_decoder.generate(inputs, max_new_tokens=7, bad_words_ids=[[0]])
        rerun = rerun_decoder.generate(inputs, max_new_tokens=7, bad_words_ids=[[0]])
        np.testing.assert_array_equal(cached.sequences, rerun.sequences)
        np.testing.assert_allclose(cached.scores, rerun.scores, rtol=1e-4, atol=1e-4)


def test_condition_changes_what_is_generated():
    model = random_model("lm", condition_size=2)
    for name in ("Embedding-Norm", "MLM-Norm"):
        model.get_layer(name).beta_dense.kernel.assign(np.random.default_rng(3).normal(size=(2, 32)) * 3)
    ids = np.array([[2, 5], [2, 5]], "int32")
    out = TransformerDecoder(model).generate({"token_ids": ids, "condition": np.array([[1, 0], [0, 1]], "float32")},
                                             max_new_tokens=6)
    assert out.sequences[0, 0].numpy().tolist() != out.sequences[1, 0].numpy().tolist()


@pytest.mark.slow  # the real UniLM zoo model's recorded titles (tests/test_zoo_outputs.py) cover real weights
def test_real_minilm_unilm_cached_equals_rerun():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MiniLM has no MLM head: it stays random, which is fine here
        model = load_bert(minilm_directory(), application="unilm")
    ids = np.array([[101, 1037, 2158, 2003, 2652, 1037, 2858, 1012, 102],
                    [101, 4518, 3006, 3062, 102, 0, 0, 0, 0]], "int32")
    cached = TransformerDecoder(model).generate({"token_ids": ids}, max_new_tokens=5, num_beams=2)
    rerun = TransformerDecoder(model, use_cache=False).generate({"token_ids": ids}, max_new_tokens=5, num_beams=2)
    np.testing.assert_array_equal(cached.sequences, rerun.sequences)
    np.testing.assert_allclose(cached.scores, rerun.scores, rtol=1e-4)


# Covered in `make test` by every family's ONNX export (tests/test_export.py: greedy and sampling
# families, beam search through the UniLM title model): slow here.
@pytest.mark.slow
@pytest.mark.parametrize("settings", [dict(), dict(num_beams=3, eos_token_id=3, num_return_sequences=2)])
def test_decode_graph_converts_to_onnx(settings):
    import onnxruntime
    import tf2onnx

    # One layer: tf2onnx's conversion time grows with the graph, not the point being made.
    model = random_model("unilm", config=BertConfig(**{**CONFIG.to_dict(), "num_layers": 1}))
    decoder = TransformerDecoder(model)
    plan = make_settings(max_new_tokens=6, **settings)

    @tf.function(input_signature=[tf.TensorSpec((None, None), tf.int32, name="token_ids")])
    def run(token_ids):
        out = decoder.decode({"token_ids": token_ids}, plan, tf.constant([0, 0]))
        return {"sequences": out.sequences, "scores": out.scores}

    ops = {op.type for f in [run.get_concrete_function()] for op in f.graph.get_operations()}
    assert "While" in ops or "StatelessWhile" in ops
    proto, _ = tf2onnx.convert.from_function(run, input_signature=run.input_signature, opset=17)
    assert "Loop" in {node.op_type for node in proto.graph.node}  # the decode loop is inside the graph
    session = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    got = dict(zip(names, session.run(None, {"token_ids": SOURCES})))
    want = run(SOURCES)
    np.testing.assert_array_equal(got["sequences"], want["sequences"])
    np.testing.assert_allclose(got["scores"], want["scores"], rtol=1e-4)
    keras_out = decoder.generate({"token_ids": SOURCES}, max_new_tokens=6, **settings)
    np.testing.assert_array_equal(got["sequences"], keras_out.sequences)


def test_bad_inputs():
    with pytest.raises(ValueError, match="no MLM head"):
        TransformerDecoder(build_transformer(CONFIG, "encoder"))
    decoder = TransformerDecoder(build_transformer(CONFIG, "lm", condition_size=2))
    with pytest.raises(ValueError, match="condition"):
        decoder.generate({"token_ids": SOURCES}, max_new_tokens=3)
    with pytest.raises(ValueError, match=r"token_ids.*\(0, 0\)"):
        decoder.generate({"token_ids": np.zeros((0, 0), "int32")}, max_new_tokens=3)
    with pytest.raises(ValueError, match="max_new_tokens"):
        decoder.generate({"token_ids": SOURCES, "condition": np.zeros((3, 2), "float32")}, max_new_tokens=0)


def test_lstm_step_carries_its_states():
    """An LSTM LM decoded with (h, c) in the state == re-running the LSTM over the prefix."""
    keras.utils.set_random_seed(0)
    vocabulary, width = 12, 16
    embedding = keras.layers.Embedding(vocabulary, width)
    cell = keras.layers.LSTMCell(width)
    rnn = keras.layers.RNN(cell, return_sequences=True)
    head = keras.layers.Dense(vocabulary)
    rnn(embedding(np.zeros((1, 1), "int32")))
    for v in embedding.weights + cell.weights:
        v.assign(np.random.default_rng(1).normal(size=v.shape, scale=0.8))
    head.build((None, width))
    head.kernel.assign(np.random.default_rng(2).normal(size=(width, vocabulary), scale=2.0))

    def step(last, state, index):
        h, (h_new, c_new) = cell(embedding(last), [state["h"], state["c"]])
        return head(h), {"h": h_new, "c": c_new}

    max_new = 6

    def rerun(last, state, index):
        tokens = tf.where(tf.range(max_new + 1)[None, :] == index, last[:, None], state["tokens"])
        hidden = rnn(embedding(tokens))
        return head(tf.gather(hidden, index, axis=1)), {"tokens": tokens}

    from keras_cgen.decoding import generate

    starts = np.array([1, 5, 7], "int32")
    zeros = np.zeros((3, width), "float32")
    for settings in (dict(), dict(num_beams=3, num_return_sequences=3, eos_token_id=0)):
        cached = generate(step, {"h": zeros, "c": zeros}, starts, max_new_tokens=max_new, **settings)
        uncached = generate(rerun, {"tokens": np.zeros((3, max_new + 1), "int32")}, starts,
                            max_new_tokens=max_new, **settings)
        np.testing.assert_array_equal(cached.sequences, uncached.sequences)
        np.testing.assert_allclose(cached.scores, uncached.scores, rtol=1e-4)
