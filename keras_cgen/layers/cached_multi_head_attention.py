import math

import keras
from keras import ops

CACHE_WRITES = ("where", "slice_update")


@keras.saving.register_keras_serializable(package="keras_cgen")
class CachedMultiHeadAttention(keras.layers.Layer):
    """Multi-head attention with an incremental key/value cache.

    Without a cache it is ordinary (self- or cross-) attention. With
    `cache=(keys, values)`, each `[batch, num_heads, max_length, key_dim]`, the
    keys/values of the `S` query positions are written into the cache at
    `[cache_update_index, cache_update_index + S)`, attention runs over the
    whole cache, and the call returns `(output, new_cache)`.

    `cache_write="where"` (default) writes with `where`/one-hot matmul: plain
    ops that tf2onnx converts and every TF Serving build runs.
    `"slice_update"` uses a dynamic-update-slice, which XLA does in place
    (faster in an XLA-compiled loop) but which neither ONNX nor a non-XLA
    TensorFlow graph can run.

    For beam search over a long source, `shared_cache=(keys, values)`
    `[batch, num_heads, S0, key_dim]` with `shared_mask` bool `[batch, S0]`
    is attended by every one of the `N = batch * r` query rows (row n sees
    source row n // r) without being copied per beam; `cache` then holds only
    the generated positions.

    Args:
        num_heads: number of heads.
        key_dim: size of each head.
        dropout: dropout on the attention probabilities.
        kernel_initializer: initializer of the four projections.

    Example:
    >>> layer = CachedMultiHeadAttention(num_heads=2, key_dim=4)
    >>> x = keras.random.normal((1, 3, 8))
    >>> empty = keras.ops.zeros((1, 2, 10, 4))
    >>> out, (keys, values) = layer(x, cache=(empty, empty), cache_update_index=0)
    >>> tuple(out.shape), tuple(keys.shape)
    ((1, 3, 8), (1, 2, 10, 4))
    """

    def __init__(self, num_heads, key_dim, dropout=0.0, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if int(num_heads) <= 0 or int(key_dim) <= 0:
            raise ValueError(
                f"`num_heads` and `key_dim` must be positive ints, got {num_heads} and {key_dim}."
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1), got {dropout}.")
        self.num_heads = int(num_heads)
        self.key_dim = int(key_dim)
        self.dropout = dropout
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.dropout_layer = keras.layers.Dropout(dropout, dtype=self.dtype_policy)

    def build(self, query_shape, value_shape=None):
        value_shape = query_shape if value_shape is None else value_shape
        inner = self.num_heads * self.key_dim

        def dense(units, name, shape):
            # A fresh initializer per projection: a shared seeded one would give
            # query, key and value the same initial kernel.
            initializer = self.kernel_initializer.__class__.from_config(self.kernel_initializer.get_config())
            layer = keras.layers.Dense(units, kernel_initializer=initializer, dtype=self.dtype_policy, name=name)
            layer.build(shape)
            return layer

        self.query_dense = dense(inner, "query", query_shape)
        self.key_dense = dense(inner, "key", value_shape)
        self.value_dense = dense(inner, "value", value_shape)
        self.output_dense = dense(query_shape[-1], "output", tuple(query_shape[:-1]) + (inner,))
        self.built = True

    def _split_heads(self, x):
        """[B, S, H*D] -> [B, H, S, D]."""
        # -1 for the batch: tf2onnx mis-folds Shape() of a Dense output.
        x = ops.reshape(x, (-1, ops.shape(x)[1], self.num_heads, self.key_dim))
        return ops.transpose(x, (0, 2, 1, 3))

    @staticmethod
    def _write(cache, new, index, how):
        """cache[:, :, index:index + S] = new, for cache [B, H, T, D] and new [B, H, S, D]."""
        if how == "prefill":
            return new
        if how == "slice_update":
            return ops.slice_update(cache, (0, 0, index, 0), new)
        length = ops.shape(cache)[2]
        if new.shape[2] == 1:  # one decoding step: a single `where`
            hit = ops.equal(ops.arange(length, dtype="int32"), index)[None, None, :, None]
            return ops.where(hit, new, cache)
        positions = index + ops.arange(ops.shape(new)[2], dtype="int32")
        write = ops.one_hot(positions, length, dtype=new.dtype)  # [S, T]
        keep = ops.reshape(1.0 - ops.sum(write, axis=0), (1, 1, -1, 1))
        return cache * keep + ops.einsum("st,bhsd->bhtd", write, new)

    def call(self, query, value=None, attention_mask=None, cache=None, cache_update_index=None,
             shared_cache=None, shared_mask=None, cache_write="where", training=None):
        if cache_write not in CACHE_WRITES:
            raise ValueError(f"`cache_write` must be one of {CACHE_WRITES}, got {cache_write!r}.")
        value = query if value is None else value
        q = self._split_heads(self.query_dense(query))
        k = self._split_heads(self.key_dense(value))
        v = self._split_heads(self.value_dense(value))
        if cache is not None:
            if cache_update_index is None:
                raise ValueError("`cache_update_index` is required when `cache` is given.")
            if isinstance(cache_update_index, int) and cache_update_index == 0 and k.shape[2] == cache[0].shape[2]:
                cache_write = "prefill"  # the prompt fills the whole cache: no write needed
            index = ops.cast(cache_update_index, "int32")
            k = self._write(ops.cast(cache[0], k.dtype), k, index, cache_write)
            v = self._write(ops.cast(cache[1], v.dtype), v, index, cache_write)
            cache = (k, v)
        scale = 1.0 / math.sqrt(self.key_dim)
        rows, queries = ops.shape(q)[0], ops.shape(q)[2]
        scores = ops.einsum("bhsd,bhtd->bhst", q, k)
        scores = ops.cast(scores, "float32") * scale
        if attention_mask is not None:
            # A finite large negative (not -inf) keeps fully masked rows NaN-free.
            scores = ops.where(ops.expand_dims(ops.cast(attention_mask, "bool"), 1), scores, -1e9)
        if shared_cache is not None:
            shared_k, shared_v = shared_cache
            batch = ops.shape(shared_k)[0]
            grouped = ops.reshape(q, (batch, -1, self.num_heads, queries, self.key_dim))  # [B, r, H, S, D]
            shared_scores = ops.einsum("brhsd,bhtd->brhst", grouped, ops.cast(shared_k, q.dtype))
            shared_scores = ops.cast(shared_scores, "float32") * scale
            if shared_mask is not None:
                shared_scores = ops.where(ops.cast(shared_mask, "bool")[:, None, None, None, :], shared_scores, -1e9)
            shared_scores = ops.reshape(shared_scores, (rows, self.num_heads, queries, -1))
            scores = ops.concatenate([shared_scores, scores], axis=-1)
        probs = ops.cast(ops.softmax(scores, axis=-1), self.compute_dtype)
        probs = self.dropout_layer(probs, training=training)
        own_probs = probs
        out = 0.0
        if shared_cache is not None:
            shared_length = ops.shape(shared_k)[2]
            shared_probs = ops.reshape(probs[..., :shared_length], (batch, -1, self.num_heads, queries, shared_length))
            out = ops.reshape(ops.einsum("brhst,bhtd->brhsd", shared_probs, ops.cast(shared_v, q.dtype)),
                              (rows, self.num_heads, queries, self.key_dim))
            own_probs = probs[..., shared_length:]
        out = out + ops.einsum("bhst,bhtd->bhsd", own_probs, v)
        out = ops.transpose(out, (0, 2, 1, 3))
        out = self.output_dense(ops.reshape(out, (-1, queries, self.num_heads * self.key_dim)))
        if cache is not None:
            return out, cache
        return out

    def compute_output_spec(self, query, value=None, attention_mask=None, cache=None, cache_update_index=None,
                            shared_cache=None, shared_mask=None, cache_write="where", training=None):
        out = keras.KerasTensor(query.shape, dtype=self.compute_dtype)
        if cache is not None:
            return out, tuple(keras.KerasTensor(c.shape, dtype=self.compute_dtype) for c in cache)
        return out

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            key_dim=self.key_dim,
            dropout=self.dropout,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
        )
        return config
