import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_cgen")
class BiasAdd(keras.layers.Layer):
    """Adds a learned bias over the last axis (the MLM head's output bias,
    which sits after the logits tied to the token embedding).

    Example:
    >>> tuple(BiasAdd()(keras.ops.zeros((2, 3, 5))).shape)
    (2, 3, 5)
    """

    def build(self, input_shape):
        self.bias = self.add_weight(name="bias", shape=(input_shape[-1],), initializer="zeros")
        self.built = True

    def call(self, inputs):
        return inputs + ops.cast(self.bias, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)
