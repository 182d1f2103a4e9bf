import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_cgen")
class CachedMultiHeadAttention(keras.layers.Layer):
    """Multi-head attention with an incremental key/value cache.

    Without a cache it is ordinary (self- or cross-) attention. With
    `cache` of shape `[batch, 2, max_length, num_heads, key_dim]` (keys, values)
    the keys/values of the `S` query positions are written into the cache at
    `[cache_update_index, cache_update_index + S)` and attention runs over the
    whole cache; the call then returns `(output, new_cache)`.

    The cache write is a one-hot matmul rather than `slice_update`: it lowers to
    plain MatMul/Mul/Add, which tf2onnx converts and every TF Serving build
    runs (`XlaDynamicUpdateSlice` converts to neither).

    Args:
        num_heads: number of heads.
        key_dim: size of each head.
        dropout: dropout on the attention probabilities.
        kernel_initializer: initializer of the four projections.

    Example:
    >>> layer = CachedMultiHeadAttention(num_heads=2, key_dim=4)
    >>> x = keras.random.normal((1, 3, 8))
    >>> cache = keras.ops.zeros((1, 2, 10, 2, 4))
    >>> out, cache = layer(x, cache=cache, cache_update_index=0)
    >>> out.shape, cache.shape
    ((1, 3, 8), (1, 2, 10, 2, 4))
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
        # -1 for the batch: tf2onnx mis-folds Shape() of a Dense output.
        return ops.reshape(x, (-1, ops.shape(x)[1], self.num_heads, self.key_dim))

    def call(self, query, value=None, attention_mask=None, cache=None, cache_update_index=None, training=None):
        value = query if value is None else value
        q = self._split_heads(self.query_dense(query))
        k = self._split_heads(self.key_dense(value))
        v = self._split_heads(self.value_dense(value))
        if cache is not None:
            if cache_update_index is None:
                raise ValueError("`cache_update_index` is required when `cache` is given.")
            max_length = ops.shape(cache)[2]
            positions = ops.cast(cache_update_index, "int32") + ops.arange(ops.shape(k)[1], dtype="int32")
            write = ops.one_hot(positions, max_length, dtype=k.dtype)  # [S, T]
            keep = ops.reshape(1.0 - ops.sum(write, axis=0), (1, -1, 1, 1))
            cache = ops.cast(cache, k.dtype)
            k = cache[:, 0] * keep + ops.einsum("st,bshd->bthd", write, k)
            v = cache[:, 1] * keep + ops.einsum("st,bshd->bthd", write, v)
            cache = ops.stack([k, v], axis=1)
        scores = ops.einsum("bshd,bthd->bhst", q, k)
        scores = ops.cast(scores, "float32") / math.sqrt(self.key_dim)
        if attention_mask is not None:
            mask = ops.expand_dims(ops.cast(attention_mask, "bool"), 1)
            # A finite large negative (not -inf) keeps fully masked rows NaN-free.
            scores = ops.where(mask, scores, -1e9)
        probs = ops.cast(ops.softmax(scores, axis=-1), self.compute_dtype)
        probs = self.dropout_layer(probs, training=training)
        out = ops.einsum("bhst,bthd->bshd", probs, v)
        out = self.output_dense(ops.reshape(out, (-1, ops.shape(q)[1], self.num_heads * self.key_dim)))
        if cache is not None:
            return out, cache
        return out

    def compute_output_spec(self, query, value=None, attention_mask=None, cache=None, cache_update_index=None, training=None):
        out = keras.KerasTensor(query.shape, dtype=self.compute_dtype)
        if cache is not None:
            return out, keras.KerasTensor(cache.shape, dtype=self.compute_dtype)
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
