import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_cgen")
class ConditionalLayerNormalization(keras.layers.Layer):
    """Layer normalisation whose scale and shift depend on a condition vector.

    Called as `layer(x)` it is a plain LayerNorm over the last axis. Called as
    `layer([x, condition])` with `condition` of shape `[batch, cond_dim]` it uses

        gamma = gamma0 + condition @ W_gamma
        beta  = beta0  + condition @ W_beta

    broadcast over every axis between batch and features. `W_gamma` and `W_beta`
    start at zero, so a pretrained model made conditional is unchanged at step 0
    (the trick of bert4keras's Conditional Layer Normalization).

    Args:
        epsilon: added to the variance before the square root.
        hidden_units: if set, the condition first goes through a
            `Dense(hidden_units, hidden_activation)` projection.
        hidden_activation: activation of that projection (e.g. `"swish"`).

    Example:
    >>> x = keras.random.normal((2, 5, 8))
    >>> c = keras.random.normal((2, 3))
    >>> tuple(ConditionalLayerNormalization()([x, c]).shape)
    (2, 5, 8)
    """

    def __init__(self, epsilon=1e-12, hidden_units=None, hidden_activation=None, **kwargs):
        super().__init__(**kwargs)
        if epsilon <= 0:
            raise ValueError(f"`epsilon` must be > 0, got {epsilon}.")
        if hidden_units is not None and int(hidden_units) <= 0:
            raise ValueError(f"`hidden_units` must be a positive int or None, got {hidden_units}.")
        self.epsilon = epsilon
        self.hidden_units = hidden_units
        self.hidden_activation = keras.activations.get(hidden_activation)
        self.conditional = False

    def build(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple)):
            if len(input_shape) != 2:
                raise ValueError(
                    "ConditionalLayerNormalization takes `x` or `[x, condition]`, "
                    f"got {len(input_shape)} inputs."
                )
            x_shape, condition_shape = input_shape
            if len(condition_shape) != 2:
                raise ValueError(
                    f"`condition` must have shape [batch, cond_dim], got {tuple(condition_shape)}."
                )
            self.conditional = True
        else:
            x_shape, condition_shape = input_shape, None
        dim = x_shape[-1]
        self.gamma = self.add_weight(name="gamma", shape=(dim,), initializer="ones")
        self.beta = self.add_weight(name="beta", shape=(dim,), initializer="zeros")
        if self.conditional:
            if self.hidden_units:
                self.hidden_dense = keras.layers.Dense(
                    self.hidden_units, activation=self.hidden_activation,
                    dtype=self.dtype_policy, name="hidden",
                )
                self.hidden_dense.build(condition_shape)
                condition_shape = (condition_shape[0], self.hidden_units)
            zeros = dict(use_bias=False, kernel_initializer="zeros", dtype=self.dtype_policy)
            self.gamma_dense = keras.layers.Dense(dim, name="gamma_dense", **zeros)
            self.beta_dense = keras.layers.Dense(dim, name="beta_dense", **zeros)
            self.gamma_dense.build(condition_shape)
            self.beta_dense.build(condition_shape)
        self.built = True

    def call(self, inputs):
        if self.conditional:
            x, condition = inputs
        else:
            x = inputs
        # Statistics in float32 even under mixed_float16: the variance of fp16
        # activations underflows/overflows.
        x32 = ops.cast(x, "float32")
        mean = ops.mean(x32, axis=-1, keepdims=True)
        variance = ops.mean(ops.square(x32 - mean), axis=-1, keepdims=True)
        normed = (x32 - mean) * ops.rsqrt(variance + self.epsilon)
        gamma = ops.cast(self.gamma, "float32")
        beta = ops.cast(self.beta, "float32")
        if self.conditional:
            if self.hidden_units:
                condition = self.hidden_dense(condition)
            gamma = gamma + ops.cast(self.gamma_dense(condition), "float32")
            beta = beta + ops.cast(self.beta_dense(condition), "float32")
            # [batch, dim] -> [batch, 1, ..., 1, dim]: broadcast over time.
            for _ in range(len(x.shape) - 2):
                gamma = ops.expand_dims(gamma, 1)
                beta = ops.expand_dims(beta, 1)
        return ops.cast(normed * gamma + beta, self.compute_dtype)

    def take_over(self, layer_norm):
        """Copy gamma/beta from a pretrained `keras.layers.LayerNormalization`."""
        gamma, beta = layer_norm.gamma, layer_norm.beta
        if tuple(gamma.shape) != tuple(self.gamma.shape):
            raise ValueError(
                f"Cannot take over `{layer_norm.name}`: its gamma has shape {tuple(gamma.shape)}, "
                f"this layer's has {tuple(self.gamma.shape)}."
            )
        self.gamma.assign(ops.convert_to_numpy(gamma))
        self.beta.assign(ops.convert_to_numpy(beta))
        self.epsilon = layer_norm.epsilon

    def compute_output_shape(self, input_shape):
        if self.conditional or (input_shape and isinstance(input_shape[0], (list, tuple))):
            return tuple(input_shape[0])
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            epsilon=self.epsilon,
            hidden_units=self.hidden_units,
            hidden_activation=keras.activations.serialize(self.hidden_activation),
        )
        return config
