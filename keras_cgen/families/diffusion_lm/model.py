"""Diffusion-LM (Li et al. 2022, "Diffusion-LM Improves Controllable Text
Generation"): a language model that denoises Gaussian noise into a sequence of
word embeddings, all positions at once.

- `sqrt_schedule`, `respaced_schedule`: the "sqrt" noise schedule and the
  200-step schedule that sampling and the guiding classifiers use.
- `build_diffusion_denoiser`: f(x_t, t) -> predicted x_0 (a bidirectional
  transformer), a functional model.
- `DiffusionLM`: the embedding, the tied rounding head and the denoiser,
  trained by `fit` on token ids with the paper's "e2e" loss.
- `build_latent_classifier`: p(class | x_t, step), the plug-and-play
  guidance classifier, trained on the frozen embeddings noised at the
  200-step schedule (step == num_steps: clean).

Sampling (and the guidance) lives in `keras_cgen.families.diffusion_lm.sampling`.
"""

import keras
import keras_hub
import numpy as np
from keras import ops

from keras_cgen.layers import BiasAdd
from keras_cgen.layers import TimestepEmbedding

TRAINING_STEPS = 2000
SAMPLING_STEPS = 200


def sqrt_schedule(steps=TRAINING_STEPS):
    """alpha_bar (cumulative product of 1 - beta) of the "sqrt" schedule, float64 `[steps]`:
    beta_i = min(1 - a((i + 1) / T) / a(i / T), 0.999) with a(s) = 1 - sqrt(s + 1e-4)."""
    def a(s):
        return 1.0 - np.sqrt(s + 1e-4)

    i = np.arange(steps, dtype="float64")
    betas = np.minimum(1.0 - a((i + 1) / steps) / a(i / steps), 0.999)
    return np.cumprod(1.0 - betas)


def respaced_schedule(steps=SAMPLING_STEPS, training_steps=TRAINING_STEPS):
    """The `steps`-step schedule on the points round(k (T - 1) / (steps - 1))
    of the training schedule (0, 10, 20, ..., 1999 for 200 of 2000, as the
    official code's `space_timesteps`). A dict of float64 arrays `[steps]`:
    `timesteps` (the training-schedule index, what the denoiser is told),
    `alpha_bar`, `alpha_bar_prev`, `betas`, the posterior's `coef_x0`,
    `coef_xt` and `log_variance` (clipped at the first step as the official
    code clips it)."""
    if not isinstance(steps, int) or not 2 <= steps <= training_steps:
        raise ValueError(f"`steps` must be an int in 2..{training_steps}, got {steps!r}.")
    full = sqrt_schedule(training_steps)
    timesteps = np.round(np.linspace(0, training_steps - 1, steps)).astype("int64")
    alpha_bar = full[timesteps]
    alpha_bar_prev = np.concatenate([[1.0], alpha_bar[:-1]])
    betas = 1.0 - alpha_bar / alpha_bar_prev
    variance = betas * (1.0 - alpha_bar_prev) / (1.0 - alpha_bar)
    return {"timesteps": timesteps, "alpha_bar": alpha_bar, "alpha_bar_prev": alpha_bar_prev, "betas": betas,
            "coef_x0": betas * np.sqrt(alpha_bar_prev) / (1.0 - alpha_bar),
            "coef_xt": (1.0 - alpha_bar_prev) * np.sqrt(1.0 - betas) / (1.0 - alpha_bar),
            "log_variance": np.log(np.concatenate([[variance[1]], variance[1:]]))}


def build_diffusion_denoiser(sequence_length=16, embedding_dim=32, width=128, num_layers=4, num_heads=4,
                             dropout=0.1):
    """f(x_t, t): inputs `latents` float `[B, L, d]` and `timestep` float `[B]`
    (the training-schedule index rescaled to 0..1000), output the predicted
    x_0 `[B, L, d]`. Dense(d -> width, tanh, width) + learned positions + a
    sinusoidal time embedding (MLP, SiLU) at every position -> LayerNorm ->
    bidirectional transformer -> Dense back to d."""
    latents = keras.Input((sequence_length, embedding_dim), name="latents")
    timestep = keras.Input((), name="timestep")
    x = keras.layers.Dense(width, activation="tanh", name="DiffusionLM-Input-Up")(latents)
    x = keras.layers.Dense(width, name="DiffusionLM-Input")(x)
    x = x + keras_hub.layers.PositionEmbedding(sequence_length, name="DiffusionLM-Position")(x)
    time = keras.layers.Dense(4 * width, activation="silu", name="DiffusionLM-Time-Hidden")(
        TimestepEmbedding(width, name="DiffusionLM-Time-Embedding")(timestep))
    x = x + keras.layers.Dense(width, name="DiffusionLM-Time")(time)[:, None, :]
    x = keras.layers.Dropout(dropout)(keras.layers.LayerNormalization(epsilon=1e-12, name="DiffusionLM-Norm")(x))
    for i in range(num_layers):
        x = keras_hub.layers.TransformerEncoder(4 * width, num_heads, dropout=dropout, layer_norm_epsilon=1e-12,
                                                name=f"DiffusionLM-Transformer-{i}")(x)
    x0 = keras.layers.Dense(embedding_dim, name="DiffusionLM-Output")(x)
    return keras.Model({"latents": latents, "timestep": timestep}, x0, name="diffusion_denoiser")


@keras.saving.register_keras_serializable(package="keras_cgen")
class DiffusionLM(keras.Model):
    """Embedding EMB (N(0, 1) init, learned), the rounding head (logits =
    x EMB^T + b) and the denoiser, trained by `fit` on token ids `[B, L]` with
    the "e2e" loss of the paper (its three terms are reported as metrics):

        x_start = EMB(w) + sqrt(1 - alpha_bar_0) eps,  x_t ~ q(x_t | x_start), t ~ U{0..T-1}
        mse     = mean ||f(x_t, t) - x_start||^2   (target EMB(w) when t = 0)
        nll     = cross-entropy of the rounding head on x_start
        prior   = mean ||sqrt(alpha_bar_T) x_start||^2

    Without `nll` and `prior` the embeddings collapse (the authors' warning).

    Args:
        denoiser: from `build_diffusion_denoiser`.
        vocabulary_size: words in the vocabulary.
        training_steps: T of the training schedule.
        seed: seed of the training noise.

    Example:
    >>> lm = DiffusionLM(build_diffusion_denoiser(8, 16, 32, 1, 2), vocabulary_size=50)
    >>> lm.compile(keras.optimizers.AdamW(1e-3))
    >>> history = lm.fit(np.random.randint(0, 50, (64, 8)), batch_size=32, epochs=1, verbose=0)
    >>> sorted(history.history)
    ['loss', 'mse', 'nll', 'prior']
    """

    def __init__(self, denoiser, vocabulary_size, training_steps=TRAINING_STEPS, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.denoiser = denoiser
        self.vocabulary_size = int(vocabulary_size)
        self.training_steps = int(training_steps)
        self.seed = seed
        self.sequence_length, self.embedding_dim = denoiser.input["latents"].shape[1:]
        self.embedding = keras.layers.Embedding(
            self.vocabulary_size, self.embedding_dim, embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0),
            name="DiffusionLM-Embedding")
        self.embedding.build((None, self.sequence_length))
        self.rounding_bias = BiasAdd(name="DiffusionLM-Rounding-Bias")
        self.rounding_bias.build((None, self.vocabulary_size))
        self.alpha_bar = sqrt_schedule(self.training_steps).astype("float32")
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in ("loss", "mse", "nll", "prior")}
        self.built = True

    @property
    def metrics(self):
        return list(self.trackers.values())

    def embed(self, token_ids):
        return self.embedding(token_ids)

    def rounding_logits(self, latents):
        """Logits over words `[..., V]` of latents `[..., d]`."""
        return self.rounding_bias(ops.matmul(latents, ops.transpose(self.embedding.embeddings)))

    def call(self, inputs, training=False):
        """The predicted x_0 of `{"latents", "timestep"}` (as the denoiser)."""
        return self.denoiser(inputs, training=training)

    def losses_of(self, token_ids, training, draws=None):
        """The loss terms (batch means) of `token_ids`; `draws`: `(noise, t,
        noise_t)` in place of the random ones (x_start's noise, the steps, x_t's noise)."""
        token_ids = ops.cast(token_ids, "int32")
        batch = ops.shape(token_ids)[0]
        alpha_bar = ops.convert_to_tensor(self.alpha_bar)
        embeddings = self.embed(token_ids)
        if draws is None:
            draws = (keras.random.normal(ops.shape(embeddings), seed=self.seed_generator),
                     keras.random.randint((batch,), 0, self.training_steps, seed=self.seed_generator, dtype="int32"),
                     keras.random.normal(ops.shape(embeddings), seed=self.seed_generator))
        noise, t, noise_t = draws
        x_start = embeddings + ops.sqrt(1.0 - alpha_bar[0]) * noise
        a = ops.take(alpha_bar, t)[:, None, None]
        x_t = ops.sqrt(a) * x_start + ops.sqrt(1.0 - a) * noise_t
        predicted = self.denoiser({"latents": x_t, "timestep": ops.cast(t, "float32") * (1000.0 / self.training_steps)},
                                  training=training)
        target = ops.where((t == 0)[:, None, None], embeddings, x_start)
        mse = ops.mean(ops.square(predicted - target), axis=(1, 2))
        nll = ops.mean(keras.losses.sparse_categorical_crossentropy(
            token_ids, self.rounding_logits(x_start), from_logits=True), axis=1)
        prior = ops.mean(ops.square(ops.sqrt(alpha_bar[-1]) * x_start), axis=(1, 2))
        return {"mse": ops.mean(mse), "nll": ops.mean(nll), "prior": ops.mean(prior)}

    def train_step(self, data):
        import tensorflow as tf

        token_ids = data[0] if isinstance(data, tuple) else data
        with tf.GradientTape() as tape:
            terms = self.losses_of(token_ids, training=True)
            loss = terms["mse"] + terms["nll"] + terms["prior"]
        variables = self.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return self.record(loss, terms)

    def test_step(self, data):
        token_ids = data[0] if isinstance(data, tuple) else data
        terms = self.losses_of(token_ids, training=False)
        return self.record(terms["mse"] + terms["nll"] + terms["prior"], terms)

    def record(self, loss, terms):
        for name, value in {"loss": loss, **terms}.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def get_config(self):
        return {"denoiser": keras.saving.serialize_keras_object(self.denoiser),
                "vocabulary_size": self.vocabulary_size, "training_steps": self.training_steps,
                "seed": self.seed, "name": self.name}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["denoiser"] = keras.saving.deserialize_keras_object(config["denoiser"])
        return cls(**config)


def build_latent_classifier(num_classes, sequence_length=16, embedding_dim=32, width=128, num_layers=2, num_heads=4,
                            num_steps=SAMPLING_STEPS, dropout=0.1):
    """p(class | x, step): inputs `latents` float `[B, L, d]` (a noisy
    sequence of embeddings) and `step` int `[B]` (its index in the
    `num_steps`-step schedule; `num_steps` means clean), output class logits
    `[B, num_classes]`. Dense up + learned positions + a learned step
    embedding -> LayerNorm -> `num_layers` transformer layers -> mean -> Dense."""
    latents = keras.Input((sequence_length, embedding_dim), name="latents")
    step = keras.Input((), dtype="int32", name="step")
    x = keras.layers.Dense(width, name="Classifier-Input")(latents)
    x = x + keras_hub.layers.PositionEmbedding(sequence_length, name="Classifier-Position")(x)
    x = x + keras.layers.Embedding(num_steps + 1, width, name="Classifier-Step")(step)[:, None, :]
    x = keras.layers.Dropout(dropout)(keras.layers.LayerNormalization(epsilon=1e-12, name="Classifier-Norm")(x))
    for i in range(num_layers):
        x = keras_hub.layers.TransformerEncoder(4 * width, num_heads, dropout=dropout, layer_norm_epsilon=1e-12,
                                                name=f"Classifier-Transformer-{i}")(x)
    logits = keras.layers.Dense(num_classes, name="Classifier-Logits")(ops.mean(x, axis=1))
    return keras.Model({"latents": latents, "step": step}, logits, name="latent_classifier")
