import keras
from keras import ops

from keras_cgen.ops import token_bag


@keras.saving.register_keras_serializable(package="keras_cgen")
class CopyPrior(keras.layers.Layer):
    """Mixes a bag-of-source-words prior into the output logits.

    From the seq2seq auto-title seed text: titles mostly reuse words of the
    article, so a per-token prior built from the 0/1 bag of source tokens
    `chi` (padding excluded) is averaged with the model's logits:

        prior  = exp(log_scale) * chi + shift
        logits = (logits + prior) / 2

    `log_scale` and `shift` are per-vocabulary-entry weights initialised at zero.

    Args:
        vocabulary_size: size of the output vocabulary V.
        pad_token_id: source id that is padding and never enters the bag.

    Call as `layer([logits, source_token_ids])` with logits `[batch, V]` or
    `[batch, T, V]` and source ids `[batch, S]`.

    Example:
    >>> logits = keras.random.normal((2, 4, 10))
    >>> source = keras.ops.array([[3, 4, 0], [5, 5, 9]])
    >>> tuple(CopyPrior(10)([logits, source]).shape)
    (2, 4, 10)
    """

    def __init__(self, vocabulary_size, pad_token_id=0, **kwargs):
        super().__init__(**kwargs)
        if int(vocabulary_size) <= 0:
            raise ValueError(f"`vocabulary_size` must be a positive int, got {vocabulary_size}.")
        self.vocabulary_size = int(vocabulary_size)
        self.pad_token_id = pad_token_id

    def build(self, input_shape):
        logits_shape = input_shape[0]
        if logits_shape[-1] is not None and logits_shape[-1] != self.vocabulary_size:
            raise ValueError(
                f"CopyPrior(vocabulary_size={self.vocabulary_size}) got logits with last "
                f"dimension {logits_shape[-1]}."
            )
        v = (self.vocabulary_size,)
        self.log_scale = self.add_weight(name="log_scale", shape=v, initializer="zeros")
        self.shift = self.add_weight(name="shift", shape=v, initializer="zeros")
        self.built = True

    def source_bag(self, source_token_ids):
        """0/1 float32 `[batch, V]`: which vocabulary entries occur in the source."""
        include = ops.not_equal(source_token_ids, self.pad_token_id)
        return token_bag(source_token_ids, include, self.vocabulary_size)

    def call(self, inputs):
        logits, source_token_ids = inputs
        chi = self.source_bag(source_token_ids)
        prior = ops.exp(ops.cast(self.log_scale, "float32")) * chi + ops.cast(self.shift, "float32")
        for _ in range(len(logits.shape) - 2):
            prior = ops.expand_dims(prior, 1)
        mixed = (ops.cast(logits, "float32") + prior) / 2.0
        return ops.cast(mixed, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        config = super().get_config()
        config.update(vocabulary_size=self.vocabulary_size, pad_token_id=self.pad_token_id)
        return config
