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

import keras

import keras_cgen  # noqa: F401
from keras_cgen import training
from keras_cgen import zoo
from keras_cgen.data.mnist import BINARISED
from keras_cgen.data.mnist import binarised_batches
from keras_cgen.data.mnist import binarised_split
from keras_cgen.data.mnist import load_mnist
from keras_cgen.models.pixelcnn import build_conditional_pixelcnn
from keras_cgen.text import ConditionVocabulary


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="zoo folder to write (must not exist)")
    parser.add_argument("--unconditional", action="store_true", help="train the twin without the label")
    parser.add_argument("--filters", type=int, default=32)
    parser.add_argument("--num-blocks", type=int, default=5)
    parser.add_argument("--kernel-size", type=int, default=3, help="odd width of the blocks after the first")
    parser.add_argument("--head-units", type=int, default=64)
    parser.add_argument("--spatial-condition-channels", type=int, default=0,
                        help="also a learned [28, 28, S] map per digit, a bias per position in every block "
                             "(location-dependent conditioning; 0: the label as a per-channel bias only)")
    parser.add_argument("--guidance", type=float, default=0.0,
                        help="the zoo model's default sampling guidance (0: sample the model as trained)")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--minutes", type=float, default=28, help="stop after this wall-clock budget")
    parser.add_argument("--stop-after", type=int, default=None,
                        help="stop after this many epochs of the --epochs schedule (a twin trained exactly as far "
                             "as a run its time budget stopped)")
    parser.add_argument("--no-jit-compile", action="store_true")
    training.add_arguments(parser)
    args = parser.parse_args()
    strategy = training.distribution_strategy(args.strategy)
    keras.utils.set_random_seed(0)

    splits = load_mnist()
    conditional = not args.unconditional

    train = binarised_batches(*splits["train"], args.batch_size, "int32", with_labels=conditional)
    valid = binarised_split(splits, "valid", "int32", with_labels=conditional)
    builder = dict(num_classes=10 if conditional else None, image_size=28, filters=args.filters,
                   num_blocks=args.num_blocks, kernel_size=args.kernel_size, head_units=args.head_units,
                   levels=2, spatial_condition_channels=args.spatial_condition_channels if conditional else 0)
    steps = args.epochs * -(-len(splits["train"][0]) // args.batch_size)
    with strategy.scope():
        model = build_conditional_pixelcnn(**builder)
        schedule = keras.optimizers.schedules.CosineDecay(args.learning_rate, steps, alpha=0.05)
        model.compile(keras.optimizers.Adam(schedule, clipnorm=1.0),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      jit_compile=not args.no_jit_compile)
    work = training.work_dir("pixelcnn" if conditional else "pixelcnn-unconditional", args.work)
    minutes = training.fit(model, train, valid, epochs=args.stop_after or args.epochs, work=work, patience=6,
                           batch_size=args.batch_size, callbacks=[training.TimeBudget(args.minutes)])

    config = zoo.ZooConfig(family="pixelcnn", vocabulary="conditions.json", max_new_tokens=28 * 28,
                           generation={"do_sample": True, **({"guidance": args.guidance} if conditional else {})},
                           builder=builder,
                           labels=[str(d) for d in range(10)] if conditional else None,
                           data=BINARISED,
                           training=training.record(__file__, args, minutes))
    training.save_zoo_model(args.out, config, model, ConditionVocabulary.digits(), work)


if __name__ == "__main__":
    main()
