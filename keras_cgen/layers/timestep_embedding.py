import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_cgen")
class TimestepEmbedding(keras.layers.Layer):
    """The sinusoidal embedding of diffusion timesteps (Ho et al. 2020, as in
    improved-diffusion's `timestep_embedding`): float timesteps `[B]` ->
    `[B, dim]`, cosines then sines of t * max_period^(-i / (dim / 2)).

    The frequencies are computed in `call`, so a graph that runs the layer in
    a loop (a sampler, its ONNX conversion) holds no captured constant.

    Args:
        dim: even size of the embedding.
        max_period: the longest wavelength.

    Example:
    >>> tuple(TimestepEmbedding(8)(keras.ops.convert_to_tensor([0.0, 500.0])).shape)
    (2, 8)
    """

    def __init__(self, dim, max_period=10000.0, **kwargs):
        super().__init__(**kwargs)
        if int(dim) != dim or dim < 2 or dim % 2:
            raise ValueError(f"`dim` must be an even int >= 2, got {dim!r}.")
        self.dim, self.max_period = int(dim), float(max_period)

    def call(self, timesteps):
        half = self.dim // 2
        freqs = ops.exp(-math.log(self.max_period) * ops.arange(half, dtype="float32") / half)
        args = ops.cast(timesteps, "float32")[:, None] * freqs[None]
        return ops.concatenate([ops.cos(args), ops.sin(args)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.dim)

    def get_config(self):
        config = super().get_config()
        config.update(dim=self.dim, max_period=self.max_period)
        return config
