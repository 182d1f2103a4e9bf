"""A character-level LSTM language model on Shakespeare's works (the seed lesson
on character-level generation with temperature), held-out plays for validation.

    python examples/task_char_rnn.py --out zoo/charrnn-shakespeare

Trains with model.fit on random 128-character windows, for a fixed number of
steps or a wall-clock budget (`--minutes`), whichever ends first; checkpoints
the best valid loss (nats per character on the held-out plays) and writes a
zoo folder.
"""

import argparse

import keras
import numpy as np
import tensorflow as tf

import keras_cgen  # noqa: F401
from keras_cgen import training
from keras_cgen import zoo
from keras_cgen.data.shakespeare import load_works
from keras_cgen.models import build_char_rnn
from keras_cgen.text import CharVocabulary


def windows(ids, length):
    """Non-overlapping `[N, length + 1]` windows (inputs and next characters)."""
    count = (len(ids) - 1) // length
    x = np.stack([ids[i * length: i * length + length + 1] for i in range(count)])
    return x[:, :-1], x[:, 1:]


def random_windows(ids, length, batch_size, seed=0):
    """An endless tf.data stream of random windows of the training text."""
    ids = tf.constant(ids)
    starts = tf.data.Dataset.random(seed=seed).map(lambda r: r % (len(ids) - length - 1))
    return (starts.map(lambda s: (ids[s: s + length], ids[s + 1: s + length + 1]))
            .batch(batch_size, drop_remainder=True).prefetch(2))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="zoo folder to write (must not exist)")
    parser.add_argument("--steps", type=int, default=1100, help="training steps (the learning-rate schedule's length)")
    parser.add_argument("--steps-per-epoch", type=int, default=100)
    parser.add_argument("--minutes", type=float, default=30, help="stop after this wall-clock budget")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--embedding-dim", type=int, default=64)
    parser.add_argument("--hidden-units", type=int, default=384)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--no-jit-compile", action="store_true")
    training.add_arguments(parser)
    args = parser.parse_args()
    strategy = training.distribution_strategy(args.strategy)  # first: multiworker sets up collectives
    keras.utils.set_random_seed(0)

    works = load_works()
    train_text = "\n".join(works["train"].values())
    vocabulary = CharVocabulary.build([train_text], min_count=5, raw=True)
    train_ids = vocabulary.encode(train_text)
    valid = windows(vocabulary.encode("\n".join(works["valid"].values())), 256)
    print(f"{len(train_ids):,} training characters ({len(works['train'])} works), "
          f"{valid[0].size:,} valid ({', '.join(works['valid'])}), {len(vocabulary)} symbols")

    builder = dict(embedding_dim=args.embedding_dim, hidden_units=args.hidden_units, num_layers=args.num_layers,
                   dropout=args.dropout)
    schedule = keras.optimizers.schedules.CosineDecay(0.0, args.steps, alpha=0.05, warmup_target=args.learning_rate,
                                                      warmup_steps=max(1, args.steps // 20))
    with strategy.scope():
        model = build_char_rnn(len(vocabulary), **builder)
        model.compile(keras.optimizers.Adam(schedule, clipnorm=1.0),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      jit_compile=not args.no_jit_compile)
    work = training.work_dir("charrnn", args.work)
    minutes = training.fit(model, random_windows(train_ids, args.sequence_length, args.batch_size), valid,
                           epochs=-(-args.steps // args.steps_per_epoch), steps_per_epoch=args.steps_per_epoch,
                           batch_size=args.batch_size, work=work, patience=100, callbacks=[training.TimeBudget(args.minutes)])

    config = zoo.ZooConfig(family="char_rnn", builder=builder, vocabulary="vocab.json", max_new_tokens=400,
                           generation={"do_sample": True, "temperature": 0.8},
                           data={"valid": sorted(works["valid"]), "test": sorted(works["test"]),
                                 "train_characters": len(train_ids)},
                           training=training.record(__file__, args, minutes))
    training.save_zoo_model(args.out, config, model, vocabulary, work)


if __name__ == "__main__":
    main()
