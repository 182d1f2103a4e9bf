"""Small tensor helpers shared by layers and the decoding engine."""

from keras import ops


def token_bag(token_ids, include, vocabulary_size):
    """0/1 float32 `[N, V]`: which ids occur in each row of `token_ids` `[N, L]`,
    counting only the positions where the bool `include` `[N, L]` is True.

    A scatter is O(N * L) where a one-hot bag is O(N * L * V). Excluded
    positions are sent to a spare column V (dropped at the end), so every
    scattered value is 1: the result is right whether the runtime adds or
    overwrites duplicate indices (TF adds; ONNX ScatterND leaves it undefined).
    """
    token_ids = ops.cast(token_ids, "int32")
    rows = ops.shape(token_ids)[0]
    length = ops.shape(token_ids)[1]
    row_ids = ops.repeat(ops.expand_dims(ops.arange(rows, dtype="int32"), 1), length, axis=1)
    columns = ops.where(include, token_ids, vocabulary_size)
    indices = ops.reshape(ops.stack([row_ids, columns], axis=-1), (-1, 2))
    ones = ops.ones((rows * length,), dtype="float32")
    counts = ops.scatter(indices, ones, (rows, vocabulary_size + 1))
    return ops.cast(counts[:, :vocabulary_size] > 0, "float32")


def scatter_add_rows(values, columns, width):
    """`out[n, columns[n, s]] += values[n, s]`: float `[N, S]` values into
    `[N, width]`, duplicate columns adding up. O(N * S), where a one-hot
    product is O(N * S * width). On TensorFlow it is `tensor_scatter_nd_add`,
    which tf2onnx exports as ScatterND(reduction="add") (ONNX opset >= 16,
    duplicates defined); other backends get a segment sum."""
    import keras

    columns = ops.cast(columns, "int32")
    rows = ops.shape(columns)[0]
    row_ids = ops.repeat(ops.expand_dims(ops.arange(rows, dtype="int32"), 1), ops.shape(columns)[1], axis=1)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.tensor_scatter_nd_add(tf.zeros(tf.stack([rows, width]), values.dtype),
                                        tf.stack([row_ids, columns], axis=-1), values)
    flat = ops.segment_sum(ops.reshape(values, (-1,)), ops.reshape(row_ids * width + columns, (-1,)),
                           num_segments=rows * width)
    return ops.reshape(flat, (rows, width))
