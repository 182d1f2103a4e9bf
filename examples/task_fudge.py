"""The future-attribute classifier of FUDGE (Yang & Klein 2021) for an
unconditional LM of Debian package synopses: p(Section class | prefix) at
every prefix, over the LM's own word vocabulary. With `FudgeProcessor` it
steers the LM at decoding time (the Diffusion-LM card's FUDGE baseline).

    python examples/task_conditional_language_model.py --data synopses --conditioning none --out /tmp/ar
    python examples/task_fudge.py --lm /tmp/ar --out /tmp/fudge

Trained on the training split's synopses as the LM reads them ([START],
words, [END]) with the text's class at every position; early stopping on
the valid split. Resumable with `--work`.
"""

import argparse

import keras
import numpy as np

import keras_cgen  # noqa: F401
from keras_cgen import training
from keras_cgen.zoo import record
from keras_cgen import zoo
from keras_cgen.data.debian import SECTION_CLASSES
from keras_cgen.data.debian import load_synopses
from keras_cgen.families.diffusion_lm.fudge import build_prefix_classifier
from keras_cgen.text import load_vocabulary
from keras_cgen.text import pad_rows
from keras_cgen.families.conditional_lm.preprocess import lm_row


def arrays(rows, vocabulary, max_words):
    ids = pad_rows([lm_row(vocabulary, "none", r["text"], None, max_words) for r in rows])
    labels = np.asarray([list(SECTION_CLASSES).index(r["class"]) for r in rows], "int32")
    return ids, np.repeat(labels[:, None], ids.shape[1], axis=1), (ids != 0).astype("float32")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lm", required=True, help="the zoo-format folder of the LM to steer (its words.json)")
    parser.add_argument("--out", required=True, help="folder to write (must not exist)")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--embedding-dim", type=int, default=64)
    parser.add_argument("--units", type=int, default=128)
    training.add_arguments(parser)
    args = parser.parse_args()
    keras.utils.set_random_seed(0)

    lm = zoo.find(args.lm)
    config = zoo.ZooConfig.read(lm)
    vocabulary = load_vocabulary(lm / config.vocabulary)
    max_words = config.max_new_tokens - 1
    splits = load_synopses()
    train, valid = arrays(splits["train"], vocabulary, max_words), arrays(splits["valid"], vocabulary, max_words)
    builder = {"vocabulary_size": len(vocabulary), "num_classes": len(SECTION_CLASSES),
               "embedding_dim": args.embedding_dim, "units": args.units}
    classifier = build_prefix_classifier(**builder)
    classifier.compile(keras.optimizers.Adam(1e-3), training.target_loss(), weighted_metrics=["accuracy"])
    work = training.work_dir("fudge", args.work)
    minutes = training.fit(classifier, train, valid, epochs=args.epochs, work=work, batch_size=args.batch_size,
                           patience=2)
    zoo.write_zoo_folder(args.out, {
        "prefix_classifier.json": {"builder": builder, "labels": list(SECTION_CLASSES), "lm": lm.name,
                                   "training": record.record(__file__, args, minutes)},
        "prefix_classifier.safetensors": lambda path: zoo.save_weights(classifier, path),
        "history.csv": (work / "history.csv").read_text()})
    print(f"wrote {args.out} after {minutes:.1f} min")


if __name__ == "__main__":
    main()
