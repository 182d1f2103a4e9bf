"""One process of the multi-worker tests: trains a tiny LSTM seq2seq (arrays)
and a tiny UniLM (a repeated tf.data pipeline, as the recipes feed it) with
`training.fit` under `--strategy`, and saves their weights. The test runs it
as two workers with TF_CONFIG set; `train` is also the single-process reference."""

import argparse
import time

import keras
import numpy as np
import tensorflow as tf

from keras_cgen import training
from keras_cgen.models import BertConfig
from keras_cgen.families.autotitle import build_lstm_seq2seq
from keras_cgen.models import build_transformer

GLOBAL_BATCH = 8


def lstm_data():
    rng = np.random.default_rng(0)
    x = {"source_ids": rng.integers(1, 30, (32, 6)).astype("int32"),
         "target_ids": rng.integers(1, 30, (32, 4)).astype("int32")}
    return x, rng.integers(1, 30, (32, 4)), np.ones((32, 4), "float32")


def unilm_data(rows, repeat):
    rng = np.random.default_rng(1)
    ids = rng.integers(4, 40, (rows, 8)).astype("int32")
    segments = np.repeat([[0, 0, 0, 0, 0, 1, 1, 1]], rows, 0).astype("int32")
    labels = np.pad(ids[:, 1:], ((0, 0), (0, 1)))
    weights = np.pad(segments[:, 1:], ((0, 0), (0, 1))).astype("float32")
    data = tf.data.Dataset.from_tensor_slices(({"token_ids": ids, "segment_ids": segments}, labels, weights))
    return (data.repeat() if repeat else data).batch(GLOBAL_BATCH)


def train(strategy, work, models, epochs, pause=0.0):
    """{model name: its weights after `epochs` epochs of `training.fit` in `work/<name>`}."""
    pausing = [keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: time.sleep(pause))] if pause else []
    trained = {}
    for name in models:
        with strategy.scope():
            keras.utils.set_random_seed(0)
            if name == "lstm":
                model = build_lstm_seq2seq(30, embedding_dim=8, hidden_units=8)
            else:
                model = build_transformer(BertConfig(vocabulary_size=40, hidden_size=16, num_layers=2, num_heads=2,
                                                     intermediate_size=32, max_position=16, dropout=0.0,
                                                     attention_dropout=0.0), "unilm")
            model.compile(keras.optimizers.Adam(0.01), training.target_loss(), jit_compile=False)
        if name == "lstm":
            data = lstm_data()
            training.fit(model, data, data, epochs=epochs, batch_size=GLOBAL_BATCH, work=training.work_dir(name, work),
                         patience=epochs, verbose=0, shuffle=False, callbacks=pausing)
        else:
            training.fit(model, unilm_data(32, True), unilm_data(16, False), epochs=epochs, steps_per_epoch=3,
                         work=training.work_dir(name, work), patience=epochs, verbose=0, callbacks=pausing)
        trained[name] = model.get_weights()
    return trained


def main():
    parser = argparse.ArgumentParser()
    training.add_arguments(parser)
    parser.add_argument("--out", required=True, help=".npz of the weights")
    parser.add_argument("--models", default="lstm,unilm")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--pause", type=float, default=0.0, help="seconds to sleep after each epoch")
    args = parser.parse_args()
    strategy = training.distribution_strategy(args.strategy)
    print("replicas", strategy.num_replicas_in_sync, "chief", training.is_chief(), flush=True)
    trained = train(strategy, args.work, args.models.split(","), args.epochs, args.pause)
    np.savez(args.out, **{f"{name}_{i}": w for name, weights in trained.items() for i, w in enumerate(weights)})
    print("done", flush=True)


if __name__ == "__main__":
    main()
