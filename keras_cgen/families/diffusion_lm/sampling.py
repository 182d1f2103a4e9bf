"""Sampling a `DiffusionLM`, plain or steered, in one `tf.while_loop`.

Each of the (200) steps of the respaced schedule, from noise to words:

1. the denoiser predicts x_0 from x_t; the clamping trick snaps it to the
   nearest word embedding;
2. x_{t-1} is drawn from the posterior q(x_{t-1} | x_t, x_0) (its variance
   clipped as the official code clips it);
3. plug-and-play control (Li et al. 2022): a few Adagrad steps on x_{t-1}
   minimising the controls' energies plus `fluency` * ||mu - x||^2 / variance,
   which keeps x_{t-1} near what the model proposed (none in the last
   `min_guided_step` steps, as the official code);
4. infilling: the known words' embeddings overwrite their positions.

Words are the argmax of the rounding head on the final x_0. Noise comes from
`[seed, step]` (stateless), so a seed gives the same text every time; or from
a `noise` tensor (an ONNX graph has no seeded random op).

Energies are functions `energy(latents [B, L, d], level) -> [B]` of x at
respaced index `level` (`classifier_energy`, `length_energy`,
`content_energy`), minimised by gradient steps, so none needs the diffusion
model retrained.
"""

import tensorflow as tf

from keras_cgen.families.diffusion_lm.model import respaced_schedule


def schedule_constants(lm, steps):
    schedule = respaced_schedule(steps, lm.training_steps)
    constants = {name: tf.constant(values, tf.float32) for name, values in schedule.items()}
    constants["model_time"] = constants["timesteps"] * (1000.0 / lm.training_steps)
    return constants


def predict_x0(lm, latents, model_time):
    batch = tf.shape(latents)[0]
    return lm.denoiser({"latents": latents, "timestep": tf.fill([batch], model_time)}, training=False)


def nearest_embedding(lm, latents, allowed=None):
    """Each position's nearest word embedding (the clamping trick); `allowed`
    bool `[V]` limits the words it may snap to."""
    table = tf.convert_to_tensor(lm.embedding.embeddings)
    distance = (tf.reduce_sum(tf.square(table), -1) - 2.0 * tf.einsum("bld,vd->blv", latents, table))
    if allowed is not None:
        distance = tf.where(allowed, distance, tf.constant(float("inf")))
    return tf.gather(table, tf.argmax(distance * -1.0, axis=-1, output_type=tf.int32))


def round_to_words(lm, latents, allowed=None):
    logits = lm.rounding_logits(latents)
    if allowed is not None:
        logits = tf.where(allowed, logits, tf.constant(-1e9))
    return tf.argmax(logits, axis=-1, output_type=tf.int32)


def sample(lm, batch, seed, steps=200, clamp=True, energies=(), fluency=0.01, guidance_steps=3, learning_rate=0.1,
           min_guided_step=10, known_ids=None, known_mask=None, allowed=None, noise=None):
    """Token ids int32 `[batch, L]` and the final latents `[batch, L, d]`.

    Args:
        lm: a trained `DiffusionLM`.
        batch: samples (an int, or a scalar tensor).
        seed: int32 `[2]` seed of the noise (ignored with `noise`).
        steps: steps of the respaced schedule.
        clamp: snap each predicted x_0 to its nearest word embedding.
        energies: control energies (functions `(latents, level) -> [batch]`).
        fluency: lambda, the weight of ||mu - x||^2 / variance in guidance.
        guidance_steps, learning_rate: Adagrad steps per diffusion step and
            their rate.
        min_guided_step: no guidance in the last steps (respaced index below it).
        known_ids, known_mask: int32 / bool `[batch, L]`: words kept where the
            mask is set (infilling).
        allowed: bool `[V]` words that clamping and rounding may choose (e.g.
            no [UNK], no [START] after position 0); None allows all.
        noise: float `[steps + 1, batch, L, d]` (index `steps` is x_T) in place
            of the seeded draws.
    """
    c = schedule_constants(lm, steps)
    shape = [batch, lm.sequence_length, lm.embedding_dim]

    def draw(index):
        if noise is not None:
            return noise[index]
        return tf.random.stateless_normal(shape, seed=tf.stack([seed[0], seed[1] + index]))

    if known_ids is not None:
        known_mask = tf.cast(known_mask, tf.bool)[..., None]
        known = lm.embed(known_ids)

    def keep_known(x):
        return x if known_ids is None else tf.where(known_mask, known, x)

    def guide(x, mean, variance, level):
        accumulated = tf.zeros_like(x)
        for _ in range(guidance_steps):
            with tf.GradientTape() as tape:
                tape.watch(x)
                energy = fluency * tf.reduce_sum(tf.square(mean - x), axis=[1, 2]) / variance
                for function in energies:
                    energy = energy + function(x, level)
                total = tf.reduce_sum(energy)
            gradient = tape.gradient(total, x)
            accumulated = accumulated + tf.square(gradient)
            x = x - learning_rate * gradient / (tf.sqrt(accumulated) + 1e-10)
        return x

    def body(k, x):
        x0 = predict_x0(lm, x, c["model_time"][k])
        if clamp:
            x0 = nearest_embedding(lm, x0, allowed)
        x0 = keep_known(x0)
        mean = c["coef_x0"][k] * x0 + c["coef_xt"][k] * x
        log_variance = c["log_variance"][k]
        x_prev = mean + tf.cast(k > 0, tf.float32) * tf.exp(0.5 * log_variance) * draw(k)
        if energies:
            x_prev = tf.cond(k >= min_guided_step,
                             lambda: guide(x_prev, mean, tf.exp(log_variance), k - 1), lambda: x_prev)
        return k - 1, keep_known(x_prev)

    x = draw(steps)
    if known_ids is not None:  # the known words start noised to the last step's level
        a = c["alpha_bar"][-1]
        x = tf.where(known_mask, tf.sqrt(a) * known + tf.sqrt(1.0 - a) * x, x)
    _, x = tf.while_loop(lambda k, x: k >= 0, body, (tf.constant(steps - 1), x), parallel_iterations=1,
                         shape_invariants=(tf.TensorShape([]), tf.TensorShape([None, *x.shape[1:]])))
    ids = round_to_words(lm, x, allowed)
    if known_ids is not None:  # the known words, whatever the rounding head makes of their embeddings
        ids = tf.where(known_mask[..., 0], tf.cast(known_ids, tf.int32), ids)
    return ids, x


def classifier_energy(classifier, class_ids, steps=200):
    """-log p(class | x) under a `build_latent_classifier` model (its step
    input: x's respaced level; `steps` = clean)."""
    def energy(latents, level):
        step = tf.fill([tf.shape(latents)[0]], tf.maximum(tf.cast(level, tf.int32), 0))
        logits = classifier({"latents": latents, "step": step}, training=False)
        return tf.nn.sparse_softmax_cross_entropy_with_logits(tf.cast(class_ids, tf.int32), logits)
    return energy


def length_energy(lm, lengths, steps=200, pad_id=0, end_id=2):
    """Squared distance of the predicted x_0 to EMB([END]) at position
    length + 1 (after [START] and `lengths` words) and to EMB([PAD]) after it:
    the words then stop where asked. `lengths` int32 `[B]`."""
    c = schedule_constants(lm, steps)
    positions = tf.range(lm.sequence_length)[None]
    lengths = tf.cast(lengths, tf.int32)[:, None]
    target = tf.where(positions == lengths + 1, end_id, pad_id)
    constrained = tf.cast(positions > lengths, tf.float32)[..., None]

    def energy(latents, level):
        x0 = predict_x0(lm, latents, tf.gather(c["model_time"], tf.maximum(level, 0)))
        return tf.reduce_sum(constrained * tf.square(x0 - lm.embed(target)), axis=[1, 2])
    return energy


def content_energy(lm, word_ids, steps=200):
    """-log of the rounding head's probability of word `word_ids` `[B]` at its
    most likely position of the predicted x_0: the word then appears somewhere."""
    c = schedule_constants(lm, steps)

    def energy(latents, level):
        x0 = predict_x0(lm, latents, tf.gather(c["model_time"], tf.maximum(level, 0)))
        log_probs = tf.nn.log_softmax(lm.rounding_logits(x0), axis=-1)  # [B, L, V]
        word = tf.gather(log_probs, tf.cast(word_ids, tf.int32)[:, None], axis=2, batch_dims=1)[..., 0]
        return -tf.reduce_logsumexp(word, axis=1)
    return energy
