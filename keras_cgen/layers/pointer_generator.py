import keras
from keras import ops

from keras_cgen.ops import scatter_add_rows


@keras.saving.register_keras_serializable(package="keras_cgen")
class PointerGenerator(keras.layers.Layer):
    """Mixes copying from the source into the output distribution (See et al.,
    2017, "Get To The Point"): the decoder's attention over the source is
    itself a distribution over source positions, hence over the vocabulary
    entries found there.

        copy   = sum over source positions s of attention[s] * onehot(source[s])
        p_gen  = sigmoid(gate)
        output = log(p_gen * softmax(logits) + (1 - p_gen) * copy)

    Where `CopyPrior` says only *which* source tokens are likely, the pointer
    copies them *in order*, following the attention along the source: what a
    title model needs when it has ~1k training pairs. The output is a
    log-probability, usable wherever logits are (its softmax is itself).

    Args:
        vocabulary_size: size of the output vocabulary V (source ids index it).
        epsilon: floor inside the log, so a token with no mass stays finite.

    Call as `layer([logits, attention, source_token_ids, gate])` with logits
    `[batch, V]` or `[batch, T, V]`, attention over the source `[batch, S]` or
    `[batch, T, S]` (rows sum to 1, padding weighted 0), source ids
    `[batch, S]` and the gate's pre-sigmoid value `[batch, 1]` or `[batch, T, 1]`.

    Example:
    >>> logits = keras.random.normal((2, 4, 10))
    >>> attention = keras.ops.softmax(keras.random.normal((2, 4, 3)))
    >>> source = keras.ops.array([[3, 4, 0], [5, 5, 9]])
    >>> gate = keras.ops.zeros((2, 4, 1))
    >>> tuple(PointerGenerator(10)([logits, attention, source, gate]).shape)
    (2, 4, 10)
    """

    def __init__(self, vocabulary_size, epsilon=1e-10, **kwargs):
        super().__init__(**kwargs)
        if int(vocabulary_size) <= 0:
            raise ValueError(f"`vocabulary_size` must be a positive int, got {vocabulary_size}.")
        self.vocabulary_size = int(vocabulary_size)
        self.epsilon = float(epsilon)

    def call(self, inputs):
        logits, attention, source_token_ids, gate = inputs
        if logits.shape[-1] is not None and logits.shape[-1] != self.vocabulary_size:
            raise ValueError(f"PointerGenerator(vocabulary_size={self.vocabulary_size}) got logits with last "
                             f"dimension {logits.shape[-1]}.")
        attention = ops.cast(attention, "float32")
        if len(attention.shape) == 2:  # one decoding step: a scatter-add (repeated source tokens add up)
            copy = scatter_add_rows(attention, source_token_ids, self.vocabulary_size)
        else:  # training: every target position at once, as one product
            onehot = ops.one_hot(ops.cast(source_token_ids, "int32"), self.vocabulary_size, dtype="float32")
            copy = ops.matmul(attention, onehot)
        p_gen = ops.sigmoid(ops.cast(gate, "float32"))
        mixed = p_gen * ops.softmax(ops.cast(logits, "float32"), axis=-1) + (1.0 - p_gen) * copy
        return ops.cast(ops.log(mixed + self.epsilon), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        config = super().get_config()
        config.update(vocabulary_size=self.vocabulary_size, epsilon=self.epsilon)
        return config
