"""A conditional GAN (Mirza & Osindero 2014) for grey images, sized for CPUs:
a generator G(z, c) from a label embedding and noise through two transposed
convolutions, and a projection discriminator (Miyato & Koyama 2018: the
label's embedding dotted with the image features, plus an unconditional
score). Trained by `ConditionalGAN.train_step` with the non-saturating loss."""

import keras
import tensorflow as tf
from keras import ops


def build_cgan_generator(num_classes=10, image_size=28, latent_dim=64, filters=64, embedding_dim=32):
    """`[z [B, latent], label int32 [B]]` -> images `[B, H, W]` in [-1, 1]."""
    if image_size % 4:
        raise ValueError(f"The generator doubles its side twice: `image_size` must be divisible by 4, got {image_size}.")
    side = image_size // 4
    z = keras.Input((latent_dim,), name="z")
    label = keras.Input((), dtype="int32", name="label")
    embedded = keras.layers.Embedding(num_classes, embedding_dim, name="Generator-Label")(label)
    x = keras.layers.Dense(side * side * 2 * filters, name="Generator-Project")(
        keras.layers.Concatenate()([z, embedded]))
    x = keras.layers.LeakyReLU(0.2)(keras.layers.BatchNormalization(name="Generator-Norm-0")(x))
    x = keras.layers.Reshape((side, side, 2 * filters))(x)
    x = keras.layers.Conv2DTranspose(filters, 4, strides=2, padding="same", name="Generator-Up-1")(x)
    x = keras.layers.LeakyReLU(0.2)(keras.layers.BatchNormalization(name="Generator-Norm-1")(x))
    x = keras.layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh", name="Generator-Up-2")(x)
    return keras.Model([z, label], keras.layers.Reshape((image_size, image_size))(x), name="CGAN-Generator")


def build_cgan_discriminator(num_classes=10, image_size=28, filters=64, hidden_units=256, dropout=0.3):
    """`[images [B, H, W] in [-1, 1], label int32 [B]]` -> logits `[B, 1]` (real vs generated).
    Two strided convolutions, then a dense layer over the whole feature map
    (where a digit's strokes are, not only which strokes: global pooling let
    the generator collapse to one image per digit), scored unconditionally
    plus the projection onto the label's embedding."""
    image = keras.Input((image_size, image_size), name="image")
    label = keras.Input((), dtype="int32", name="label")
    x = keras.layers.Reshape((image_size, image_size, 1))(image)
    x = keras.layers.LeakyReLU(0.2)(keras.layers.Conv2D(filters // 2, 4, strides=2, padding="same",
                                                        name="Discriminator-Conv-1")(x))
    x = keras.layers.LeakyReLU(0.2)(keras.layers.Conv2D(filters, 4, strides=2, padding="same",
                                                        name="Discriminator-Conv-2")(x))
    x = keras.layers.Dropout(dropout)(keras.layers.Flatten()(x))
    features = keras.layers.LeakyReLU(0.2)(keras.layers.Dense(hidden_units, name="Discriminator-Features")(x))
    score = keras.layers.Dense(1, name="Discriminator-Score")(features)
    embedded = keras.layers.Embedding(num_classes, hidden_units, name="Discriminator-Label")(label)
    projection = ops.sum(embedded * features, axis=-1, keepdims=True)
    return keras.Model([image, label], score + projection, name="CGAN-Discriminator")


@keras.saving.register_keras_serializable(package="keras_cgen")
class ConditionalGAN(keras.Model):
    """Generator and discriminator trained together by `fit` on `(images in
    [-1, 1], labels)`: each step one discriminator update on real and generated
    images of the same labels, then one generator update.

    Args:
        generator: from `build_cgan_generator`.
        discriminator: from `build_cgan_discriminator`.
        seed: seed of the training noise.

    Example:
    >>> gan = ConditionalGAN(build_cgan_generator(), build_cgan_discriminator())     # doctest: +SKIP
    >>> gan.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5))  # doctest: +SKIP
    >>> gan.fit(tf.data.Dataset.from_tensor_slices((images, labels)).batch(64), epochs=10)  # doctest: +SKIP
    """

    def __init__(self, generator, discriminator, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = generator.input[0].shape[-1]
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.built = True  # both parts are built functional models (BackupAndRestore needs a built model)

    def compile(self, generator_optimizer, discriminator_optimizer, **kwargs):
        super().compile(**kwargs)
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer
        self.generator_optimizer.build(self.generator.trainable_variables)
        self.discriminator_optimizer.build(self.discriminator.trainable_variables)

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def train_step(self, data):
        images, labels = data
        batch = ops.shape(images)[0]
        noise = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            fake = self.generator([noise, labels], training=True)
            real_logits = self.discriminator([images, labels], training=True)
            fake_logits = self.discriminator([fake, labels], training=True)
            discriminator_loss = ops.mean(ops.softplus(-real_logits)) + ops.mean(ops.softplus(fake_logits))
        variables = self.discriminator.trainable_variables
        self.discriminator_optimizer.apply_gradients(zip(tape.gradient(discriminator_loss, variables), variables))

        noise = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            fake_logits = self.discriminator([self.generator([noise, labels], training=True), labels], training=True)
            generator_loss = ops.mean(ops.softplus(-fake_logits))  # non-saturating
        variables = self.generator.trainable_variables
        self.generator_optimizer.apply_gradients(zip(tape.gradient(generator_loss, variables), variables))
        return {"discriminator_loss": discriminator_loss, "generator_loss": generator_loss,
                "real_accuracy": ops.mean(ops.cast(real_logits > 0, "float32"))}

    def get_config(self):
        return {"generator": keras.saving.serialize_keras_object(self.generator),
                "discriminator": keras.saving.serialize_keras_object(self.discriminator),
                "seed": self.seed, "name": self.name}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["generator"] = keras.saving.deserialize_keras_object(config["generator"])
        config["discriminator"] = keras.saving.deserialize_keras_object(config["discriminator"])
        return cls(**config)
