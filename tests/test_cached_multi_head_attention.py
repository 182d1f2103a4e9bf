import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import assert_from_config_equal
from conftest import roundtrip_keras_file
from keras_cgen.layers import CachedMultiHeadAttention
from keras_cgen.layers import causal_attention_mask

HEADS, HEAD = 2, 4


def reference(layer, query, value, mask):
    (wq, bq), (wk, bk), (wv, bv), (wo, bo) = [
        (np.asarray(d.kernel), np.asarray(d.bias))
        for d in (layer.query_dense, layer.key_dense, layer.value_dense, layer.output_dense)]
    def heads(x):
        return x.reshape(x.shape[0], x.shape[1], HEADS, HEAD).transpose(0, 2, 1, 3)
    q, k, v = heads(query @ wq + bq), heads(value @ wk + bk), heads(value @ wv + bv)
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(HEAD)
    if mask is not None:
        scores = np.where(mask[:, None], scores, -1e9)
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    out = (probs @ v).transpose(0, 2, 1, 3).reshape(query.shape[0], query.shape[1], -1)
    return out @ wo + bo


def test_self_and_cross_attention_match_numpy(rng):
    layer = CachedMultiHeadAttention(HEADS, HEAD)
    x = rng.normal(size=(2, 5, 8)).astype("float32")
    memory = rng.normal(size=(2, 3, 6)).astype("float32")
    mask = rng.random((2, 5, 5)) > 0.3
    np.testing.assert_allclose(layer(x, attention_mask=mask), reference(layer, x, x, mask), atol=1e-5)
    cross = CachedMultiHeadAttention(HEADS, HEAD)
    np.testing.assert_allclose(cross(x, memory), reference(cross, x, memory, None), atol=1e-5)


def test_incremental_cache_equals_full_causal_attention(rng):
    layer = CachedMultiHeadAttention(HEADS, HEAD)
    x = rng.normal(size=(2, 6, 8)).astype("float32")
    full = np.asarray(layer(x, attention_mask=causal_attention_mask(np.ones((2, 6), bool))))
    # Prefill 2 tokens at once, then one at a time, into a cache longer than needed.
    max_length = 9
    empty = np.zeros((2, HEADS, max_length, HEAD), "float32")
    cache = (empty, empty)
    step_mask = lambda start, size: np.arange(max_length)[None, None, :] <= (start + np.arange(size))[None, :, None]  # noqa: E731
    out, cache = layer(x[:, :2], attention_mask=np.repeat(step_mask(0, 2), 2, 0), cache=cache, cache_update_index=0)
    outputs = [np.asarray(out)]
    for t in range(2, 6):
        out, cache = layer(x[:, t:t + 1], attention_mask=np.repeat(step_mask(t, 1), 2, 0), cache=cache, cache_update_index=t)
        outputs.append(np.asarray(out))
    np.testing.assert_allclose(np.concatenate(outputs, 1), full, atol=1e-5)
    assert np.all(np.asarray(cache[0])[:, :, 6:] == 0)  # untouched slots stay empty
    assert np.abs(np.asarray(cache[1])[:, :, :6]).min() > 0


def test_slice_update_write_equals_where_write(rng):
    layer = CachedMultiHeadAttention(HEADS, HEAD)
    x = rng.normal(size=(2, 1, 8)).astype("float32")
    keys, values = rng.normal(size=(2, 2, HEADS, 5, HEAD)).astype("float32")
    mask = np.ones((2, 1, 5), bool)
    a = layer(x, attention_mask=mask, cache=(keys, values), cache_update_index=3)
    b = layer(x, attention_mask=mask, cache=(keys, values), cache_update_index=3, cache_write="slice_update")
    for want, got in zip(keras.tree.flatten(a), keras.tree.flatten(b)):
        np.testing.assert_allclose(want, got, atol=1e-6)


def test_shared_source_cache_equals_a_tiled_copy(rng):
    """Beams of a row attend to one copy of the source cache: same result as
    giving every beam its own copy inside `cache`."""
    layer = CachedMultiHeadAttention(HEADS, HEAD)
    batch, beams, source, generated = 2, 3, 4, 5
    x = rng.normal(size=(batch * beams, 1, 8)).astype("float32")
    source_k, source_v = rng.normal(size=(2, batch, HEADS, source, HEAD)).astype("float32")
    source_mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], bool)
    own_k, own_v = rng.normal(size=(2, batch * beams, HEADS, generated, HEAD)).astype("float32")
    own_mask = np.tile(np.array([0, 1, 1, 0, 0], bool), (batch * beams, 1, 1))
    shared_out, _ = layer(x, attention_mask=own_mask, cache=(own_k, own_v), cache_update_index=3,
                          shared_cache=(source_k, source_v), shared_mask=source_mask)
    tiled = lambda a: np.repeat(a, beams, axis=0)  # noqa: E731
    full_k = np.concatenate([tiled(source_k), own_k], axis=2)
    full_v = np.concatenate([tiled(source_v), own_v], axis=2)
    full_mask = np.concatenate([tiled(source_mask)[:, None, :], own_mask], axis=2)
    full_out, _ = layer(x, attention_mask=full_mask, cache=(full_k, full_v), cache_update_index=source + 3)
    np.testing.assert_allclose(shared_out, full_out, atol=1e-5)


def test_cached_step_converts_to_onnx_and_matches_onnxruntime(rng):
    import onnxruntime
    import tf2onnx

    layer = CachedMultiHeadAttention(HEADS, HEAD)
    layer(np.zeros((1, 1, 8), "float32"))
    max_length = 7

    @tf.function(input_signature=[
        tf.TensorSpec((None, 1, 8), tf.float32, name="x"),
        tf.TensorSpec((None, HEADS, max_length, HEAD), tf.float32, name="keys"),
        tf.TensorSpec((None, HEADS, max_length, HEAD), tf.float32, name="values"),
        tf.TensorSpec((), tf.int32, name="index"),
    ])
    def step(x, keys, values, index):
        mask = tf.range(max_length)[None, None, :] <= index
        mask = tf.tile(mask, [tf.shape(x)[0], 1, 1])
        out, (keys, values) = layer(x, attention_mask=mask, cache=(keys, values), cache_update_index=index)
        return out, keys, values

    ops = {op.type for op in step.get_concrete_function().graph.get_operations()}
    assert not {"XlaDynamicUpdateSlice", "TensorScatterUpdate"} & ops
    proto, _ = tf2onnx.convert.from_function(step, input_signature=step.input_signature, opset=17)
    session = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    x = rng.normal(size=(3, 1, 8)).astype("float32")
    keys, values = rng.normal(size=(2, 3, HEADS, max_length, HEAD)).astype("float32")
    feeds = {i.name: v for i, v in zip(session.get_inputs(), (x, keys, values, np.array(4, "int32")))}
    got = session.run(None, feeds)
    want = [np.asarray(t) for t in step(x, keys, values, 4)]
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_serialisation_mixed_precision_and_xla(rng, tmp_path):
    layer = CachedMultiHeadAttention(HEADS, HEAD, dropout=0.1, kernel_initializer="he_normal")
    x = rng.normal(size=(2, 5, 8)).astype("float32")
    layer(x)
    assert layer.get_config()["dropout"] == 0.1
    assert_from_config_equal(layer, x)
    inputs = keras.Input((None, 8))
    model = keras.Model(inputs, CachedMultiHeadAttention(HEADS, HEAD)(inputs))
    roundtrip_keras_file(model, tmp_path, x)

    keras.mixed_precision.set_dtype_policy("mixed_float16")
    inputs = keras.Input((None, 8))
    y = keras.layers.Dense(1, dtype="float32")(CachedMultiHeadAttention(HEADS, HEAD)(inputs))
    model = keras.Model(inputs, y)
    model.compile("adam", "mse", jit_compile=True)
    history = model.fit(x, rng.normal(size=(2, 5, 1)), epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_heads"):
        CachedMultiHeadAttention(0, 4)
    with pytest.raises(ValueError, match="dropout"):
        CachedMultiHeadAttention(2, 4, dropout=1.5)
    layer = CachedMultiHeadAttention(2, 4)
    empty = np.zeros((1, 2, 3, 4), "float32")
    with pytest.raises(ValueError, match="cache_update_index"):
        layer(np.zeros((1, 1, 8), "float32"), cache=(empty, empty))
    with pytest.raises(ValueError, match="cache_write.*'inplace'"):
        layer(np.zeros((1, 1, 8), "float32"), cache=(empty, empty), cache_update_index=0, cache_write="inplace")
