"""Auto-title with the LSTM seq2seq + attention + copy prior (bert4keras-era seed text
"玩转Keras之seq2seq自动生成标题"), on real Debian package descriptions.

    python examples/task_seq2seq_lstm_copy.py --language zh_CN --out zoo/autotitle-lstm-zh

Character level; trains with model.fit (XLA), checkpoints the best valid loss,
stops early, and writes a zoo folder (config, vocabulary, weights, curve, manifest).
"""

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

import keras_cgen  # noqa: F401
from keras_cgen import zoo
from keras_cgen.data import load_pairs
from keras_cgen.models import build_lstm_seq2seq
from keras_cgen.text import CharVocabulary


def arrays(pairs, vocabulary, max_source, max_target):
    source = np.zeros((len(pairs), max_source), "int32")
    target = np.zeros((len(pairs), max_target + 1), "int32")
    for i, pair in enumerate(pairs):
        ids = vocabulary.encode(pair["body"], max_source)
        source[i, : len(ids)] = ids
        title = [vocabulary.start_id] + vocabulary.encode(pair["title"], max_target - 1).tolist() + [vocabulary.end_id]
        target[i, : len(title)] = title
    x = {"source_ids": source, "target_ids": target[:, :-1]}
    y = target[:, 1:]
    return x, y, (y != 0).astype("float32")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--language", default="zh_CN", choices=["zh_CN", "en"])
    parser.add_argument("--out", required=True, help="zoo folder to write (must not exist)")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--embedding-dim", type=int, default=128)
    parser.add_argument("--hidden-units", type=int, default=256)
    parser.add_argument("--max-source", type=int, default=160)
    parser.add_argument("--max-target", type=int, default=32)
    parser.add_argument("--no-copy-prior", action="store_true")
    parser.add_argument("--mixed-precision", action="store_true")
    parser.add_argument("--strategy", choices=["default", "mirrored"], default="default",
                        help="mirrored: tf.distribute.MirroredStrategy over every visible device")
    args = parser.parse_args()
    out = Path(args.out)
    if out.exists():
        raise SystemExit(f"{out} exists: choose a new --out (zoo folders are never overwritten).")
    if args.mixed_precision:
        keras.mixed_precision.set_dtype_policy("mixed_float16")
    keras.utils.set_random_seed(0)

    splits = load_pairs(args.language)
    vocabulary = CharVocabulary.build([p["body"] + p["title"] for p in splits["train"]], min_count=2)
    train = arrays(splits["train"], vocabulary, args.max_source, args.max_target)
    valid = arrays(splits["valid"], vocabulary, args.max_source, args.max_target)
    print(f"{len(splits['train'])} train / {len(splits['valid'])} valid pairs, {len(vocabulary)} characters")

    strategy = tf.distribute.MirroredStrategy() if args.strategy == "mirrored" else tf.distribute.get_strategy()
    with strategy.scope():
        builder = dict(embedding_dim=args.embedding_dim, hidden_units=args.hidden_units,
                       copy_prior=not args.no_copy_prior, dropout=0.1)
        model = build_lstm_seq2seq(len(vocabulary), **builder)
        model.compile(keras.optimizers.Adam(2e-3, clipnorm=1.0),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=True,
                      weighted_metrics=[])
    work = Path(tempfile.mkdtemp(prefix="cgen-train-"))
    callbacks = [
        keras.callbacks.ModelCheckpoint(work / "best.weights.h5", save_best_only=True, save_weights_only=True),
        keras.callbacks.EarlyStopping(patience=6, restore_best_weights=True),
        keras.callbacks.CSVLogger(work / "history.csv"),
    ]
    start = time.time()
    model.fit(train[0], train[1], sample_weight=train[2], validation_data=valid, epochs=args.epochs,
              batch_size=args.batch_size, callbacks=callbacks, verbose=2)
    minutes = (time.time() - start) / 60

    work_zoo = work / "zoo"
    work_zoo.mkdir()
    vocabulary.save(work_zoo / "vocab.json")
    keras.mixed_precision.set_dtype_policy("float32")
    final = build_lstm_seq2seq(len(vocabulary), **builder)
    final.set_weights([w.astype("float32") for w in model.get_weights()])
    final.save_weights(work_zoo / "model.weights.h5")
    shutil.copy(work / "history.csv", work_zoo / "history.csv")
    config = {"family": "lstm_seq2seq", "language": args.language, "builder": builder,
              "vocabulary": "vocab.json", "weights": "model.weights.h5",
              "max_source_length": args.max_source, "max_target_length": args.max_target,
              "generation": {"num_beams": 4}, "training_minutes": round(minutes, 1),
              "command": "python examples/task_seq2seq_lstm_copy.py " + " ".join(
                  f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k not in ("out",))}
    (work_zoo / "config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False))
    zoo.write_manifest(work_zoo)
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(work_zoo), out)
    print(f"wrote {out} after {minutes:.1f} min")


if __name__ == "__main__":
    main()
