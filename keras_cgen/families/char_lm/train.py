"""The character LM recipe as library code: `train(texts, valid=...)` on any
running text (the zoo's model: Shakespeare's plays, `examples/task_char_rnn.py`).

Trains with model.fit on random windows of the joined training texts, for a
fixed number of steps or a wall-clock budget (`minutes`), whichever ends
first; keeps the best valid loss (nats per character) and writes a zoo folder.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_cgen import training
from keras_cgen import zoo
from keras_cgen.families.char_lm.model import build_char_rnn
from keras_cgen.text import CharVocabulary
from keras_cgen.zoo import record

DEFAULTS = dict(steps=1100, steps_per_epoch=100, minutes=30.0, batch_size=128, sequence_length=128,
                learning_rate=3e-3, embedding_dim=64, hidden_units=384, num_layers=2, dropout=0.1,
                min_count=5, no_jit_compile=False)


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


def train(texts, *, valid, out, work=None, strategy="default", command=None, data_record=None, **settings):
    """Trains a character LM on `texts` (strings, joined by newlines) and
    writes the zoo folder `out`; `valid` texts give the kept checkpoint.
    `settings` override `DEFAULTS`; `data_record` is stored as the config's
    "data" entry. Resumable with the same `work`. Returns `out`."""
    hp = training.recipe_settings(DEFAULTS, settings, "char_lm.train")
    strategy = training.strategy_of(strategy)
    keras.utils.set_random_seed(0)
    train_text, valid_text = "\n".join(texts), "\n".join(valid)
    vocabulary = CharVocabulary.build([train_text], min_count=hp.min_count, raw=True)
    train_ids = vocabulary.encode(train_text)
    valid = windows(vocabulary.encode(valid_text), min(256, (len(valid_text) - 1) // 2))
    print(f"{len(train_ids):,} training characters, {valid[0].size:,} valid, {len(vocabulary)} symbols")

    builder = dict(embedding_dim=hp.embedding_dim, hidden_units=hp.hidden_units, num_layers=hp.num_layers,
                   dropout=hp.dropout)
    schedule = keras.optimizers.schedules.CosineDecay(0.0, hp.steps, alpha=0.05, warmup_target=hp.learning_rate,
                                                      warmup_steps=max(1, hp.steps // 20))
    with strategy.scope():
        model = build_char_rnn(len(vocabulary), **builder)
        model.compile(keras.optimizers.Adam(schedule, clipnorm=1.0),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      jit_compile=not hp.no_jit_compile)
    work = training.work_dir("charrnn", work)
    minutes = training.fit(model, random_windows(train_ids, hp.sequence_length, hp.batch_size), valid,
                           epochs=-(-hp.steps // hp.steps_per_epoch), steps_per_epoch=hp.steps_per_epoch,
                           batch_size=hp.batch_size, work=work, patience=100, minutes=hp.minutes)

    config = zoo.ZooConfig(family="char_rnn", builder=builder, vocabulary="vocab.json", max_new_tokens=400,
                           generation={"do_sample": True, "temperature": 0.8},
                           data={**(data_record or {}), "train_characters": len(train_ids)},
                           training=record.record(command or record.call_line(train, len(texts), settings), minutes))
    return zoo.save_zoo_model(out, config, model, vocabulary, work)
