import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_cgen")
class VariationalSample(keras.layers.Layer):
    """The reparameterised draw z = mean + exp(log_var / 2) * eps of a
    variational auto-encoder, which also adds the KL term of its loss:

        beta * KL(N(mean, exp(log_var)) || prior), summed over latent
        dimensions, averaged over the batch,

    with the prior N(0, I), or N(prior_mean, exp(prior_log_var)) when the
    layer is called on four tensors (a learned prior p(z | c), one per class).

    `beta` is a non-trainable weight so that a KL warm-up callback can raise it
    during training (`layer.beta.assign(...)`). At inference (`training=False`)
    the layer returns the mean.

    Args:
        beta: the KL weight (beta-VAE; 1 is the evidence lower bound).
        seed: seed of the noise generator.

    Call as `layer([mean, log_var])` or `layer([mean, log_var, prior_mean,
    prior_log_var])`, all `[batch, latent]`.

    Example:
    >>> mean, log_var = keras.ops.zeros((2, 4)), keras.ops.zeros((2, 4))
    >>> tuple(VariationalSample()([mean, log_var], training=True).shape)
    (2, 4)
    """

    def __init__(self, beta=1.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not float(beta) >= 0:
            raise ValueError(f"`beta` must be a number >= 0, got {beta!r}.")
        self.initial_beta = float(beta)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        self.beta = self.add_weight(name="beta", shape=(), trainable=False,
                                    initializer=keras.initializers.Constant(self.initial_beta))
        self.built = True

    @staticmethod
    def kl_divergence(mean, log_var, prior_mean=0.0, prior_log_var=0.0):
        """KL(N(mean, exp(log_var)) || N(prior_mean, exp(prior_log_var))) per row `[batch]`."""
        return 0.5 * ops.sum(prior_log_var - log_var - 1.0
                             + (ops.exp(log_var) + ops.square(mean - prior_mean)) * ops.exp(-prior_log_var), axis=-1)

    def call(self, inputs, training=None):
        mean, log_var = inputs[:2]
        self.add_loss(self.beta * ops.mean(self.kl_divergence(*inputs)))
        if not training:
            return mean
        noise = keras.random.normal(ops.shape(mean), seed=self.seed_generator, dtype=mean.dtype)
        return mean + ops.exp(0.5 * log_var) * noise

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        config = super().get_config()
        config.update(beta=self.initial_beta, seed=self.seed)
        return config
