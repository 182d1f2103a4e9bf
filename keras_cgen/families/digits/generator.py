"""The digit families' generators: a condition text in, a digit out.

- The conditional-VAE family (`cvae`): a condition text in, a digit out. The
  decoder alone generates: z ~ p(z | c) (the class's learned prior, or N(0, I),
  from standard normal noise) and the class's one-hot vector -> Bernoulli pixel
  probabilities, shown as grey levels (the decoder's mean image, as VAE samples
  are usually shown). Its score is log p(z | c): how typical the latent draw is.

- The conditional-GAN family (`cgan`): a condition text in, a digit out, from
  the generator G(z, label) with z ~ N(0, I). Its score is the projection
  discriminator's logit for the image and label: how real the discriminator
  finds it (higher is more convincing).

- The conditional-PixelCNN family (`pixelcnn`): a condition text in, a digit
  out, drawn pixel by pixel with the cached sampler (`sample_cached`) from
  Gumbel noise, one `[levels]` vector per pixel, guided by the model's own
  posterior over classes (`guidance`, 0 samples the model as trained). Its
  score is the model's log-probability of the image it drew, log p(x | c) in
  nats.
"""

import math

from keras_cgen.zoo.image_generator import ImageGenerator


class CVAEGenerator(ImageGenerator):
    """A conditional VAE (`build_cvae`)."""

    score_meaning = "log-density of the latent draw z under the prior p(z | c), nats"

    def __init__(self, directory, config):
        from keras_cgen.families.digits.cvae import build_cvae

        super().__init__(directory, config)
        self.model = self.load_weights(build_cvae(**config.builder))
        self.decoder = self.model.get_layer("CVAE-Decoder")
        self.noise_shape = (config.builder["latent_dim"],)
        self.prior = next((layer for layer in self.model.layers if layer.name == "CVAE-Prior"), None)

    def draw(self, class_ids, noise):
        import tensorflow as tf

        z, log_scale = noise, tf.zeros_like(noise)
        if self.prior is not None:
            mean, log_var = tf.split(tf.gather(self.prior.embeddings, class_ids), 2, axis=-1)
            z, log_scale = mean + tf.exp(0.5 * log_var) * noise, 0.5 * log_var
        one_hot = tf.one_hot(class_ids, len(self.vocabulary))
        probabilities = tf.sigmoid(self.decoder([z, one_hot], training=False))
        images = tf.cast(tf.round(probabilities * 255.0), tf.uint8)
        scores = tf.reduce_sum(-0.5 * noise ** 2 - log_scale, axis=-1) - 0.5 * self.noise_shape[0] * math.log(2 * math.pi)
        return images, scores

    def likelihoods(self, pixels, labels, samples=200):
        """Per binarised digit (`pixels` 0/1 `[N, H, W]`, `labels` `[N]`), nats:
        the negative ELBO (one draw of z per digit) and the importance-weighted
        NLL with `samples` draws (Burda et al. 2016)."""
        from keras_cgen.families.digits.cvae import importance_weighted_nll

        pixels = pixels.astype("float32")
        return {"-ELBO": importance_weighted_nll(self.model, pixels, labels, samples=1, seed=1),
                f"NLL (importance-weighted, k={samples})": importance_weighted_nll(self.model, pixels, labels,
                                                                                    samples=samples, seed=2)}


class CGANGenerator(ImageGenerator):
    """A conditional GAN (`ConditionalGAN` of `build_cgan_generator` and `build_cgan_discriminator`)."""

    score_meaning = "the discriminator's logit (real vs generated) for the image and its condition"

    def __init__(self, directory, config):
        from keras_cgen.families.digits.cgan import ConditionalGAN
        from keras_cgen.families.digits.cgan import build_cgan_discriminator
        from keras_cgen.families.digits.cgan import build_cgan_generator

        super().__init__(directory, config)
        builder = dict(config.builder)
        discriminator = {key.removeprefix("discriminator_"): builder.pop(key)
                         for key in [k for k in builder if k.startswith("discriminator_")]}
        self.model = self.load_weights(ConditionalGAN(
            build_cgan_generator(**builder),
            build_cgan_discriminator(builder["num_classes"], builder["image_size"], **discriminator)))
        self.noise_shape = (builder["latent_dim"],)

    def draw(self, class_ids, noise):
        import tensorflow as tf

        pixels = self.model.generator([noise, class_ids], training=False)
        scores = self.model.discriminator([pixels, class_ids], training=False)[:, 0]
        return tf.cast(tf.round((pixels + 1.0) * 127.5), tf.uint8), scores


class PixelCNNGenerator(ImageGenerator):
    """A gated conditional PixelCNN (`build_conditional_pixelcnn`)."""

    noise_distribution = "gumbel"
    # Grappler's rewrite of the sampler's additions (AddOpsRewrite) made a repeated call fail with
    # "TemporaryVariable ... already exists" in the nested loop (seen at 1,000 digits).
    grappler_options = {"arithmetic_optimization": False}
    score_meaning = "log p(image | condition) under the model, nats"
    draw_options = {"guidance": 0.0}
    option_sweeps = {"guidance": (0.0, 1.0, 2.0, 3.0, 4.0)}

    def __init__(self, directory, config):
        from keras_cgen.families.digits.pixelcnn import build_conditional_pixelcnn

        super().__init__(directory, config)
        self.model = self.load_weights(build_conditional_pixelcnn(**config.builder))
        self.levels = config.builder.get("levels", 256)
        self.noise_shape = (self.image_size * self.image_size, self.levels)

    def draw(self, class_ids, noise, guidance=0.0):
        import tensorflow as tf

        from keras_cgen.families.digits.pixelcnn_sampling import sample_cached

        values = sample_cached(self.model, class_ids, None, noise=noise, guidance=guidance)
        logits = self.model({"image": values, "label": class_ids}, training=False)
        log_probs = tf.reduce_sum(tf.one_hot(values, self.levels) * tf.nn.log_softmax(logits), axis=[1, 2, 3])
        images = tf.cast(values * (255 // (self.levels - 1)), tf.uint8)
        return images, log_probs

    def onnx_inputs(self):
        raise ValueError(
            "The PixelCNN's cached sampler does not convert to ONNX: its buffers are updated in place with "
            "`keras.ops.slice_update` (TensorFlow's XlaDynamicUpdateSlice), which tf2onnx cannot convert. "
            "Serve it as a SavedModel (`--format saved_model`).")

    def likelihoods(self, pixels, labels, batch_size=100):
        """Per digit (`pixels` 0..levels-1 `[N, H, W]`, `labels` `[N]`), nats:
        the exact NLL, -log p(x | c) (an unconditional twin ignores `labels`),
        and for a conditional model also -log p(x) with the label
        marginalised out, -log (1/K) sum_c p(x | c): an unconditional model
        made from this one, which by construction lies within ln K of it."""
        import numpy as np
        import tensorflow as tf

        from keras_cgen.families.digits.pixelcnn_sampling import model_inputs

        def nll(x, y):
            logits = self.model(model_inputs(self.model, x, y), training=False)
            return tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(x, logits), axis=[1, 2]).numpy()

        classes = len(self.vocabulary) if "label" in self.model.input else 0
        exact, marginal = [], []
        for start in range(0, len(pixels), batch_size):
            x = tf.constant(pixels[start:start + batch_size], tf.int32)
            exact.append(nll(x, tf.constant(labels[start:start + batch_size], tf.int32)))
            if classes:
                every = np.stack([nll(x, tf.fill([len(x)], c)) for c in range(classes)])  # [K, B]
                low = every.min(0)
                marginal.append(low - np.log(np.exp(-(every - low)).mean(0)))
        out = {"NLL (exact)": np.concatenate(exact)}
        if classes:
            out["NLL, label marginalised (exact)"] = np.concatenate(marginal)
        return out
