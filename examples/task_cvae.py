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

from keras_cgen import training
from keras_cgen.data.mnist import BINARISED
from keras_cgen.data.mnist import load_mnist
from keras_cgen.families.digits.train import DEFAULTS
from keras_cgen.families.digits.train import train
from keras_cgen.zoo import record


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="zoo folder to write (must not exist)")
    parser.add_argument("--variant", choices=["mlp", "conv"])
    parser.add_argument("--latent-dim", type=int)
    parser.add_argument("--hidden-units", type=int)
    parser.add_argument("--beta", type=float)
    parser.add_argument("--standard-prior", action="store_true", help="p(z | c) = N(0, I) instead of learned per class")
    parser.add_argument("--warmup-epochs", type=int)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--minutes", type=float, help="stop after this wall-clock budget")
    training.add_arguments(parser)
    parser.set_defaults(**DEFAULTS["cvae"])
    args = parser.parse_args(argv)
    strategy = training.distribution_strategy(args.strategy)

    splits = load_mnist()
    settings = {key: value for key, value in vars(args).items() if key in DEFAULTS["cvae"]}
    return train(splits["train"], valid=splits["valid"], model="cvae", out=args.out, work=args.work,
                 strategy=strategy, command=record.command_line(__file__, args), dataset=BINARISED["dataset"],
                 **settings)


if __name__ == "__main__":
    main()
