"""A conditional VAE on real MNIST digits (the reference text's "conditional
generative models" example: 784 inputs, a one-hot condition of 10, latent 32,
hidden 512, Bernoulli likelihood), trained with model.fit.

    python examples/task_cvae.py --out zoo/cvae-mnist

Training digits are binarised afresh every epoch (dynamic binarisation: a
regulariser on 8,000 images); the valid and test digits once, with fixed
seeds, so that their likelihoods compare with the PixelCNN's and with the
binarised-MNIST figures of the literature. The KL weight rises from 0 to
`--beta` over the first `--warmup-epochs` (KL warm-up).
"""

import argparse

import keras

import keras_cgen  # noqa: F401
from keras_cgen import training
from keras_cgen import zoo
from keras_cgen.data.mnist import BINARISED
from keras_cgen.data.mnist import binarised_batches
from keras_cgen.data.mnist import binarised_split
from keras_cgen.data.mnist import load_mnist
from keras_cgen.models.cvae import bernoulli_nll
from keras_cgen.models.cvae import build_cvae
from keras_cgen.text import ConditionVocabulary

class KLWarmUp(keras.callbacks.Callback):
    """beta = target * min(1, (epoch + 1) / epochs): the KL term phased in."""

    def __init__(self, target, epochs):
        super().__init__()
        self.target, self.epochs = target, max(1, epochs)

    def on_epoch_begin(self, epoch, logs=None):
        self.model.get_layer("CVAE-Sample").beta.assign(self.target * min(1.0, (epoch + 1) / self.epochs))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="zoo folder to write (must not exist)")
    parser.add_argument("--variant", default="mlp", choices=["mlp", "conv"])
    parser.add_argument("--latent-dim", type=int, default=32)
    parser.add_argument("--hidden-units", type=int, default=512)
    parser.add_argument("--beta", type=float, default=1.0)
    parser.add_argument("--standard-prior", action="store_true", help="p(z | c) = N(0, I) instead of learned per class")
    parser.add_argument("--warmup-epochs", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--minutes", type=float, default=20, help="stop after this wall-clock budget")
    training.add_arguments(parser)
    args = parser.parse_args()
    strategy = training.distribution_strategy(args.strategy)
    keras.utils.set_random_seed(0)

    splits = load_mnist()
    valid = binarised_split(splits, "valid", "float32")
    builder = dict(num_classes=10, image_size=28, latent_dim=args.latent_dim, hidden_units=args.hidden_units,
                   beta=args.beta, variant=args.variant, learned_prior=not args.standard_prior)
    with strategy.scope():
        model = build_cvae(**{**builder, "beta": 0.0})
        model.compile(keras.optimizers.Adam(args.learning_rate), loss=bernoulli_nll, jit_compile=False)
    work = training.work_dir("cvae", args.work)
    # val_loss is the -ELBO (nats per digit) only once the warm-up ends; patience counts from there
    minutes = training.fit(model, binarised_batches(*splits["train"], args.batch_size, "float32"), valid, epochs=args.epochs,
                           work=work, patience=args.warmup_epochs + 15, batch_size=args.batch_size,
                           callbacks=[KLWarmUp(args.beta, args.warmup_epochs),
                                      training.TimeBudget(args.minutes)])
    model.get_layer("CVAE-Sample").beta.assign(args.beta)

    config = zoo.ZooConfig(family="cvae", vocabulary="conditions.json", max_new_tokens=28 * 28,
                           generation={"do_sample": True}, builder=builder, labels=[str(d) for d in range(10)],
                           data=BINARISED,
                           training=training.record(__file__, args, minutes))
    training.save_zoo_model(args.out, config, model, ConditionVocabulary.digits(), work)


if __name__ == "__main__":
    main()
