import keras
import numpy as np
import pytest

from conftest import assert_from_config_equal
from conftest import roundtrip_keras_file
from keras_cgen.layers import PointerGenerator


def reference(logits, attention, source, gate, epsilon=1e-10):
    vocab = logits.shape[-1]
    logits, attention, gate = (np.atleast_3d(a.reshape(a.shape[0], -1, a.shape[-1])) for a in (logits, attention, gate))
    out = np.zeros(logits.shape, "float64")
    for b in range(logits.shape[0]):
        for t in range(logits.shape[1]):
            vocab_p = np.exp(logits[b, t] - logits[b, t].max())
            vocab_p /= vocab_p.sum()
            copy = np.zeros(vocab)
            for s, token in enumerate(source[b]):
                copy[token] += attention[b, t, s]  # repeated tokens add up
            p_gen = 1 / (1 + np.exp(-gate[b, t, 0]))
            out[b, t] = np.log(p_gen * vocab_p + (1 - p_gen) * copy + epsilon)
    return out


def test_matches_numpy_for_3d_and_2d_inputs(rng):
    vocab = 11
    source = np.array([[3, 4, 4, 0, 0], [0, 10, 2, 2, 7]], "int32")
    logits = rng.normal(size=(2, 3, vocab)).astype("float32")
    attention = np.asarray(keras.ops.softmax(rng.normal(size=(2, 3, 5)).astype("float32")))
    gate = rng.normal(size=(2, 3, 1)).astype("float32")
    layer = PointerGenerator(vocab)
    expected = reference(logits, attention, source, gate)
    np.testing.assert_allclose(layer([logits, attention, source, gate]), expected, atol=1e-5)
    np.testing.assert_allclose(layer([logits[:, 1], attention[:, 1], source, gate[:, 1]]), expected[:, 1], atol=1e-5)
    # A distribution: its probabilities sum to one.
    np.testing.assert_allclose(np.exp(expected).sum(-1), 1.0, atol=1e-5)


def test_gate_chooses_between_generating_and_copying(rng):
    vocab = 6
    logits = rng.normal(size=(1, vocab)).astype("float32")
    attention = np.array([[0.25, 0.75, 0.0]], "float32")
    source = np.array([[2, 5, 0]])
    layer = PointerGenerator(vocab)
    generate = np.asarray(layer([logits, attention, source, np.full((1, 1), 30.0, "float32")]))
    np.testing.assert_allclose(generate, np.asarray(keras.ops.log_softmax(logits)), atol=1e-5)
    copy = np.exp(np.asarray(layer([logits, attention, source, np.full((1, 1), -30.0, "float32")])))
    np.testing.assert_allclose(copy, [[0, 0, 0.25, 0, 0, 0.75]], atol=1e-5)


def test_serialisation_and_xla_training(rng, tmp_path):
    vocab, steps, length = 9, 4, 6
    logits_in = keras.Input((None, vocab))
    attention_in = keras.Input((None, length))
    source_in = keras.Input((length,), dtype="int32")
    hidden = keras.layers.Dense(1, name="gate")(logits_in)
    layer = PointerGenerator(vocab, epsilon=1e-9)
    model = keras.Model([logits_in, attention_in, source_in], layer([logits_in, attention_in, source_in, hidden]))
    logits = rng.normal(size=(8, steps, vocab)).astype("float32")
    attention = np.asarray(keras.ops.softmax(rng.normal(size=(8, steps, length)).astype("float32")))
    source = rng.integers(0, vocab, size=(8, length)).astype("int32")
    gate = rng.normal(size=(8, steps, 1)).astype("float32")
    assert layer.get_config()["epsilon"] == 1e-9
    assert_from_config_equal(layer, [logits, attention, source, gate])
    roundtrip_keras_file(model, tmp_path, [logits, attention, source])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=True)
    before = model.get_layer("gate").get_weights()[0].copy()
    # Targets are always copyable here: the gate learns to prefer copying.
    targets = np.take_along_axis(source, rng.integers(0, length, size=(8, steps)), axis=1)
    model.fit([logits, attention, source], targets, epochs=1, verbose=0)
    assert np.abs(model.get_layer("gate").get_weights()[0] - before).max() > 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="vocabulary_size"):
        PointerGenerator(0)
    with pytest.raises(ValueError, match=r"vocabulary_size=5.*last dimension 7"):
        PointerGenerator(5)([np.zeros((1, 7), "float32"), np.ones((1, 1), "float32"), np.array([[1]]),
                             np.zeros((1, 1), "float32")])


def test_decoding_step_exports_to_onnx_with_repeated_source_tokens(rng):
    """The step's copy distribution is a scatter-add: ONNX ScatterND with
    reduction "add" (opset 17), where repeated source tokens add up as in TF."""
    import onnxruntime
    import tensorflow as tf
    import tf2onnx

    vocab = 9
    layer = PointerGenerator(vocab)
    specs = [tf.TensorSpec((None, vocab), tf.float32, name="logits"), tf.TensorSpec((None, 5), tf.float32, name="attention"),
             tf.TensorSpec((None, 5), tf.int32, name="source"), tf.TensorSpec((None, 1), tf.float32, name="gate")]
    step = tf.function(lambda logits, attention, source, gate: layer([logits, attention, source, gate]),
                       input_signature=specs)
    proto, _ = tf2onnx.convert.from_function(step, input_signature=specs, opset=17)
    scatters = [node for node in proto.graph.node if node.op_type == "ScatterND"]
    assert scatters and all(a.s == b"add" for node in scatters for a in node.attribute if a.name == "reduction")
    feed = {"logits": rng.normal(size=(2, vocab)).astype("float32"),
            "attention": np.asarray(keras.ops.softmax(rng.normal(size=(2, 5)).astype("float32"))),
            "source": np.array([[3, 4, 4, 4, 0], [2, 2, 7, 8, 2]], "int32"), "gate": np.full((2, 1), -1.0, "float32")}
    session = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, feed)[0]
    expected = reference(feed["logits"], feed["attention"], feed["source"], feed["gate"])[:, 0]
    np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_allclose(np.asarray(step(**feed)), expected, atol=1e-5)
