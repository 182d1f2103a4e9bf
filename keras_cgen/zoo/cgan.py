"""The conditional-GAN family (`cgan`): a condition text in, a digit out, from
the generator G(z, label) with z ~ N(0, I). Its score is the projection
discriminator's logit for the image and label: how real the discriminator
finds it (higher is more convincing)."""

from keras_cgen.zoo.image_generator import ImageGenerator


class CGANGenerator(ImageGenerator):
    """A conditional GAN (`ConditionalGAN` of `build_cgan_generator` and `build_cgan_discriminator`)."""

    score_meaning = "the discriminator's logit (real vs generated) for the image and its condition"

    def __init__(self, directory, config):
        from keras_cgen.models.cgan import ConditionalGAN
        from keras_cgen.models.cgan import build_cgan_discriminator
        from keras_cgen.models.cgan import build_cgan_generator

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
