import keras
from keras import ops


def causal_attention_mask(padding_mask):
    """Left-to-right LM mask: query i sees key j when `j <= i` and j is not padding.

    Args:
        padding_mask: bool `[batch, T]`, True for real tokens.

    Returns:
        bool `[batch, T, T]` indexed `[batch, query, key]`.
    """
    padding_mask = ops.cast(padding_mask, "bool")
    positions = ops.arange(ops.shape(padding_mask)[1])
    causal = ops.expand_dims(positions, 1) >= ops.expand_dims(positions, 0)
    return ops.logical_and(ops.expand_dims(causal, 0), ops.expand_dims(padding_mask, 1))


def unilm_attention_mask(segment_ids, padding_mask=None):
    """UniLM seq2seq mask: source tokens see the whole source, target tokens see
    the source and the target up to themselves.

    With `idx = cumsum(segment_ids)`, query i sees key j when `idx[j] <= idx[i]`
    (segment 0 = source, 1 = target), as in bert4keras.

    Args:
        segment_ids: int `[batch, T]`.
        padding_mask: optional bool `[batch, T]`, True for real tokens.

    Returns:
        bool `[batch, T, T]` indexed `[batch, query, key]`.
    """
    idx = ops.cumsum(ops.cast(segment_ids, "int32"), axis=1)
    allowed = ops.expand_dims(idx, 1) <= ops.expand_dims(idx, 2)
    if padding_mask is not None:
        allowed = ops.logical_and(allowed, ops.expand_dims(ops.cast(padding_mask, "bool"), 1))
    return allowed


@keras.saving.register_keras_serializable(package="keras_cgen")
class AttentionMask(keras.layers.Layer):
    """Builds the `[batch, T, T]` bool attention mask of a functional model.

    Args:
        mode: `"bidirectional"` (padding only), `"causal"` (LM) or `"unilm"`.
        pad_token_id: token id treated as padding (keys that are never attended).

    Call as `layer(token_ids, segment_ids=None)`; `"unilm"` needs `segment_ids`.

    Example:
    >>> ids = keras.ops.array([[5, 6, 7, 0]])
    >>> seg = keras.ops.array([[0, 0, 1, 0]])
    >>> tuple(AttentionMask("unilm")(ids, seg).shape)
    (1, 4, 4)
    """

    MODES = ("bidirectional", "causal", "unilm")

    def __init__(self, mode="bidirectional", pad_token_id=0, **kwargs):
        super().__init__(**kwargs)
        if mode not in self.MODES:
            raise ValueError(f"`mode` must be one of {self.MODES}, got {mode!r}.")
        self.mode = mode
        self.pad_token_id = pad_token_id

    def call(self, token_ids, segment_ids=None):
        padding_mask = ops.not_equal(token_ids, self.pad_token_id)
        if self.mode == "causal":
            return causal_attention_mask(padding_mask)
        if self.mode == "unilm":
            if segment_ids is None:
                raise ValueError("AttentionMask(mode='unilm') needs `segment_ids`.")
            return unilm_attention_mask(segment_ids, padding_mask)
        length = ops.shape(token_ids)[1]
        return ops.logical_and(
            ops.expand_dims(padding_mask, 1),
            ops.ones((1, length, 1), dtype="bool"),
        )

    def compute_output_shape(self, token_ids_shape, segment_ids_shape=None):
        return (token_ids_shape[0], token_ids_shape[1], token_ids_shape[1])

    def compute_output_spec(self, token_ids, segment_ids=None):
        shape = self.compute_output_shape(token_ids.shape)
        return keras.KerasTensor(shape, dtype="bool")

    def get_config(self):
        config = super().get_config()
        config.update(mode=self.mode, pad_token_id=self.pad_token_id)
        return config
