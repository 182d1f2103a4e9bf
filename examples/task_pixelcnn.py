"""A gated conditional PixelCNN (van den Oord et al. 2016) on real MNIST
digits, binarised: p(x | digit) as a product of 2-way softmaxes over pixels in
raster order, trained with model.fit; `--unconditional` trains its twin (the
same network without the label), whose likelihood bounds what conditioning
can gain (at most ln 10 nats per digit).

    python examples/task_pixelcnn.py --out zoo/pixelcnn-mnist

Binarised as the CVAE recipe binarises (dynamic for training, fixed seeds for
valid and test), so that the two models' likelihoods are of the same digits.
The loss is nats per pixel; x 784 it is the NLL per digit.
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
    parser.add_argument("--unconditional", action="store_true", help="train the twin without the label")
    parser.add_argument("--filters", type=int)
    parser.add_argument("--num-blocks", type=int)
    parser.add_argument("--kernel-size", type=int, help="odd width of the blocks after the first")
    parser.add_argument("--head-units", type=int)
    parser.add_argument("--spatial-condition-channels", type=int,
                        help="also a learned [28, 28, S] map per digit, a bias per position in every block "
                             "(location-dependent conditioning; 0: the label as a per-channel bias only)")
    parser.add_argument("--guidance", type=float,
                        help="the zoo model's default sampling guidance (0: sample the model as trained)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--minutes", type=float, help="stop after this wall-clock budget")
    parser.add_argument("--stop-after", type=int,
                        help="stop after this many epochs of the --epochs schedule (a twin trained exactly as far "
                             "as a run its time budget stopped)")
    parser.add_argument("--no-jit-compile", action="store_true")
    training.add_arguments(parser)
    parser.set_defaults(**DEFAULTS["pixelcnn"])
    args = parser.parse_args(argv)
    strategy = training.distribution_strategy(args.strategy)

    splits = load_mnist()
    settings = {key: value for key, value in vars(args).items() if key in DEFAULTS["pixelcnn"]}
    return train(splits["train"], valid=splits["valid"], model="pixelcnn", out=args.out, work=args.work,
                 strategy=strategy, command=record.command_line(__file__, args), dataset=BINARISED["dataset"],
                 **settings)


if __name__ == "__main__":
    main()
