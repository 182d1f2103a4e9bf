"""The digit recipes as library code: `train((images, labels), valid=...,
model="cvae" | "cgan" | "pixelcnn")` on 8-bit 28x28 digits and their classes
(the zoo's: MNIST, `examples/task_cvae.py`, `task_cgan.py`, `task_pixelcnn.py`).

- cvae: the reference text's conditional VAE (784 inputs, a one-hot condition,
  Bernoulli likelihood); the KL weight rises from 0 to `beta` over the first
  `warmup_epochs` (KL warm-up).
- cgan: generator G(z, label) and a projection discriminator trained together
  by `ConditionalGAN.train_step`; no validation loss to select by, so the last
  epoch is kept, with the generator's weights averaged (EMA, momentum `ema`).
- pixelcnn: a gated conditional PixelCNN, p(x | digit) as a product of 2-way
  softmaxes in raster order; `unconditional=True` trains its twin without the
  label, whose likelihood bounds what conditioning can gain (ln 10 nats).

The likelihood models (cvae, pixelcnn) see training digits binarised afresh
every epoch and valid digits once, with the seed of `BINARISED`, so that their
likelihoods are of the same digits.
"""

import keras
import tensorflow as tf

from keras_cgen import training
from keras_cgen import zoo
from keras_cgen.data.mnist import BINARISED
from keras_cgen.data.mnist import binarise
from keras_cgen.data.mnist import binarised_batches
from keras_cgen.families.digits.cgan import ConditionalGAN
from keras_cgen.families.digits.cgan import build_cgan_discriminator
from keras_cgen.families.digits.cgan import build_cgan_generator
from keras_cgen.families.digits.cvae import bernoulli_nll
from keras_cgen.families.digits.cvae import build_cvae
from keras_cgen.families.digits.pixelcnn import build_conditional_pixelcnn
from keras_cgen.text import ConditionVocabulary
from keras_cgen.zoo import record

DEFAULTS = {
    "cvae": dict(variant="mlp", latent_dim=32, hidden_units=512, beta=1.0, standard_prior=False, warmup_epochs=10,
                 epochs=200, batch_size=100, learning_rate=1e-3, minutes=20.0),
    "cgan": dict(latent_dim=64, filters=64, discriminator_hidden_units=256, epochs=80, batch_size=64,
                 learning_rate=2e-4, ema=0.999, minutes=28.0),
    "pixelcnn": dict(unconditional=False, filters=32, num_blocks=5, kernel_size=3, head_units=64,
                     spatial_condition_channels=0, guidance=0.0, epochs=40, batch_size=32, learning_rate=2e-3,
                     minutes=28.0, stop_after=None, no_jit_compile=False),
}
DIGITS = [str(d) for d in range(10)]


class KLWarmUp(keras.callbacks.Callback):
    """beta = target * min(1, (epoch + 1) / epochs): the KL term phased in."""

    def __init__(self, target, epochs):
        super().__init__()
        self.target, self.epochs = target, max(1, epochs)

    def on_epoch_begin(self, epoch, logs=None):
        self.model.get_layer("CVAE-Sample").beta.assign(self.target * min(1.0, (epoch + 1) / self.epochs))


def binarised_valid(valid, dtype, with_labels=True):
    """`(inputs, pixels)` of the valid digits, once-binarised with `BINARISED`'s seed."""
    images, labels = valid
    pixels = binarise(images, BINARISED["binarisation"]["valid_seed"]).astype(dtype)
    return ({"image": pixels, "label": labels.astype("int32")} if with_labels else {"image": pixels}), pixels


def train_cvae(examples, valid, hp, work):
    builder = dict(num_classes=10, image_size=28, latent_dim=hp.latent_dim, hidden_units=hp.hidden_units,
                   beta=hp.beta, variant=hp.variant, learned_prior=not hp.standard_prior)
    model = build_cvae(**{**builder, "beta": 0.0})
    model.compile(keras.optimizers.Adam(hp.learning_rate), loss=bernoulli_nll, jit_compile=False)
    # val_loss is the -ELBO (nats per digit) only once the warm-up ends; patience counts from there
    minutes = training.fit(model, binarised_batches(*examples, hp.batch_size, "float32"),
                           binarised_valid(valid, "float32"), epochs=hp.epochs, work=work,
                           patience=hp.warmup_epochs + 15, batch_size=hp.batch_size,
                           callbacks=[KLWarmUp(hp.beta, hp.warmup_epochs)], minutes=hp.minutes)
    model.get_layer("CVAE-Sample").beta.assign(hp.beta)
    return model, minutes, dict(generation={"do_sample": True}, builder=builder, labels=DIGITS,
                                data={"binarisation": BINARISED["binarisation"]})


def train_cgan(examples, valid, hp, work):
    images, labels = examples
    data = (tf.data.Dataset.from_tensor_slices((images.astype("float32") / 127.5 - 1.0, labels.astype("int32")))
            .shuffle(len(images), seed=0).batch(hp.batch_size, drop_remainder=True).prefetch(2))
    generator_args = dict(num_classes=10, image_size=28, latent_dim=hp.latent_dim, filters=hp.filters)
    gan = ConditionalGAN(build_cgan_generator(**generator_args),
                         build_cgan_discriminator(10, 28, filters=hp.filters,
                                                  hidden_units=hp.discriminator_hidden_units), seed=0)
    gan.compile(keras.optimizers.Adam(hp.learning_rate, beta_1=0.5, use_ema=True, ema_momentum=hp.ema),
                keras.optimizers.Adam(hp.learning_rate, beta_1=0.5), jit_compile=False)
    minutes = training.fit(gan, data, epochs=hp.epochs, work=work, keep="last", minutes=hp.minutes,
                           finish=lambda: gan.generator_optimizer.finalize_variable_values(
                               gan.generator.trainable_variables))  # the generator's EMA weights
    builder = {**generator_args, "discriminator_filters": hp.filters,
               "discriminator_hidden_units": hp.discriminator_hidden_units}
    return gan, minutes, dict(generation={"do_sample": True}, builder=builder, labels=DIGITS,
                              data={"scaling": "8-bit grey scaled to [-1, 1]"})


def train_pixelcnn(examples, valid, hp, work):
    conditional = not hp.unconditional
    builder = dict(num_classes=10 if conditional else None, image_size=28, filters=hp.filters,
                   num_blocks=hp.num_blocks, kernel_size=hp.kernel_size, head_units=hp.head_units,
                   levels=2, spatial_condition_channels=hp.spatial_condition_channels if conditional else 0)
    steps = hp.epochs * -(-len(examples[0]) // hp.batch_size)
    model = build_conditional_pixelcnn(**builder)
    schedule = keras.optimizers.schedules.CosineDecay(hp.learning_rate, steps, alpha=0.05)
    model.compile(keras.optimizers.Adam(schedule, clipnorm=1.0),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=not hp.no_jit_compile)
    minutes = training.fit(model, binarised_batches(*examples, hp.batch_size, "int32", with_labels=conditional),
                           binarised_valid(valid, "int32", with_labels=conditional),
                           epochs=hp.stop_after or hp.epochs, work=work, patience=6, batch_size=hp.batch_size,
                           minutes=hp.minutes)
    generation = {"do_sample": True, **({"guidance": hp.guidance} if conditional else {})}
    return model, minutes, dict(generation=generation, builder=builder, labels=DIGITS if conditional else None,
                                data={"binarisation": BINARISED["binarisation"]})


TRAINERS = {"cvae": train_cvae, "cgan": train_cgan, "pixelcnn": train_pixelcnn}


def train(examples, *, valid, model, out, work=None, strategy="default", command=None, dataset=None, **settings):
    """Trains digit model `model` ("cvae", "cgan" or "pixelcnn") on
    `examples` = (uint8 images `[N, 28, 28]`, int labels `[N]` in 0..9) and
    writes the zoo folder `out`; `valid` (the same kind of pair) gives the kept
    checkpoint of the likelihood models. `settings` override `DEFAULTS[model]`;
    `dataset` describes the data in the config (default: the digit counts).
    Resumable with the same `work`. Returns `out`."""
    if model not in TRAINERS:
        raise ValueError(f"`model` must be one of {', '.join(TRAINERS)}, got {model!r}.")
    hp = training.recipe_settings(DEFAULTS[model], settings, f"digits.train(model={model!r})")
    strategy = training.strategy_of(strategy)
    keras.utils.set_random_seed(0)
    work = training.work_dir("pixelcnn-unconditional" if getattr(hp, "unconditional", False) else model, work)
    with strategy.scope():
        network, minutes, entries = TRAINERS[model](examples, valid, hp, work)
    described = dataset or f"{len(examples[0]):,} training / {len(valid[0]):,} valid digits"
    entries["data"] = {"dataset": described, **entries["data"]}
    config = zoo.ZooConfig(family=model, vocabulary="conditions.json", max_new_tokens=28 * 28, **entries,
                           training=record.record(command or record.call_line(train, len(examples[0]), settings),
                                                  minutes))
    return zoo.save_zoo_model(out, config, network, ConditionVocabulary.digits(), work)
