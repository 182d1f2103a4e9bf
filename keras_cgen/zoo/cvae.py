"""The conditional-VAE family (`cvae`): a condition text in, a digit out. The
decoder alone generates: z ~ p(z | c) (the class's learned prior, or N(0, I),
from standard normal noise) and the class's one-hot vector -> Bernoulli pixel
probabilities, shown as grey levels (the decoder's mean image, as VAE samples
are usually shown). Its score is log p(z | c): how typical the latent draw is."""

import math

from keras_cgen.zoo.image_generator import ImageGenerator


class CVAEGenerator(ImageGenerator):
    """A conditional VAE (`build_cvae`)."""

    score_meaning = "log-density of the latent draw z under the prior p(z | c), nats"

    def __init__(self, directory, config):
        from keras_cgen.models.cvae import build_cvae

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
        from keras_cgen.models.cvae import importance_weighted_nll

        pixels = pixels.astype("float32")
        return {"-ELBO": importance_weighted_nll(self.model, pixels, labels, samples=1, seed=1),
                f"NLL (importance-weighted, k={samples})": importance_weighted_nll(self.model, pixels, labels,
                                                                                    samples=samples, seed=2)}
