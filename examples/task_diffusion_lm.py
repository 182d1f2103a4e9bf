"""Diffusion-LM (Li et al. 2022) on Debian package synopses, and the
plug-and-play classifier that steers it by Section class.

    python examples/task_diffusion_lm.py --out zoo/diffusion-lm-debian-en --work /tmp/dlm

Stage 1 trains the diffusion LM (`DiffusionLM`: embedding, rounding head and
denoiser, the paper's "e2e" loss) with AdamW, linear decay and an exponential
moving average of the weights (the weights it ships). Stage 2 trains the
guidance classifier on the frozen embeddings noised at the 200-step schedule;
the diffusion LM is not touched (that is the point of plug and play). Both
stages are resumable: rerun with the same `--work` and each goes on from its
last finished epoch (a finished stage is not trained again).

Deviation from the paper's recipe, for a 2-core budget of ~20K steps instead
of 200K: the learning rate peaks at 3e-4 after a 500-step warm-up (the paper:
1e-4, no warm-up) and the EMA momentum is 0.999 (the paper: 0.9999).
"""

import argparse

import keras
import numpy as np
import tensorflow as tf

import keras_cgen  # noqa: F401
from keras_cgen import training
from keras_cgen.zoo import record
from keras_cgen import zoo
from keras_cgen.data.debian import SECTION_CLASSES
from keras_cgen.data.debian import load_synopses
from keras_cgen.families.diffusion_lm.model import DiffusionLM
from keras_cgen.families.diffusion_lm.model import build_diffusion_denoiser
from keras_cgen.families.diffusion_lm.model import build_latent_classifier
from keras_cgen.families.diffusion_lm.model import respaced_schedule
from keras_cgen.text import WordVocabulary


@keras.saving.register_keras_serializable(package="keras_cgen")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to `peak` over `warmup` steps, then linear decay to 0 at `total`."""

    def __init__(self, peak, warmup, total):
        self.peak, self.warmup, self.total = peak, warmup, total

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        rise = step / max(self.warmup, 1)
        fall = (self.total - step) / max(self.total - self.warmup, 1)
        return self.peak * tf.maximum(0.0, tf.minimum(rise, fall))

    def get_config(self):
        return {"peak": self.peak, "warmup": self.warmup, "total": self.total}


def encode(vocabulary, rows, length):
    kept = [row for row in rows if vocabulary.fits(row["text"], length)]
    ids = np.stack([vocabulary.sequence(row["text"], length) for row in kept])
    classes = np.asarray([list(SECTION_CLASSES).index(row["class"]) for row in kept], "int32")
    return ids, classes, len(kept) / len(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="zoo folder to write (must not exist)")
    parser.add_argument("--sequence-length", type=int, default=16)
    parser.add_argument("--embedding-dim", type=int, default=32)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--num-layers", type=int, default=4)
    parser.add_argument("--num-heads", type=int, default=4)
    parser.add_argument("--min-count", type=int, default=5, help="words seen fewer times in training are [UNK]")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--steps", type=int, default=24000, help="training steps of the diffusion LM")
    parser.add_argument("--steps-per-epoch", type=int, default=1000)
    parser.add_argument("--ema", type=float, default=0.999)
    parser.add_argument("--minutes", type=float, default=95, help="wall-clock budget of the diffusion LM")
    parser.add_argument("--classifier-steps", type=int, default=4000)
    parser.add_argument("--classifier-minutes", type=float, default=15)
    parser.add_argument("--fluency", type=float, default=0.01, help="default lambda of guided sampling")
    training.add_arguments(parser)
    args = parser.parse_args()
    keras.utils.set_random_seed(0)

    splits = load_synopses()
    vocabulary = WordVocabulary.build([row["text"] for row in splits["train"]], min_count=args.min_count)
    train_ids, train_classes, kept = encode(vocabulary, splits["train"], args.sequence_length)
    valid_ids, valid_classes, _ = encode(vocabulary, splits["valid"], args.sequence_length)
    print(f"{len(vocabulary)} words; {len(train_ids)} training synopses ({100 * kept:.1f}% fit "
          f"{args.sequence_length} positions)")

    # ---- stage 1: the diffusion LM ---------------------------------------------------------
    builder = dict(sequence_length=args.sequence_length, embedding_dim=args.embedding_dim, width=args.width,
                   num_layers=args.num_layers, num_heads=args.num_heads)
    lm = DiffusionLM(build_diffusion_denoiser(**builder), len(vocabulary), seed=0)
    lm.compile(keras.optimizers.AdamW(WarmupLinearDecay(args.learning_rate, args.warmup, args.steps),
                                      weight_decay=0.0, use_ema=True, ema_momentum=args.ema), jit_compile=True)
    train = (tf.data.Dataset.from_tensor_slices(train_ids).repeat().shuffle(20000, seed=0)
             .batch(args.batch_size, drop_remainder=True).prefetch(2))
    valid = tf.data.Dataset.from_tensor_slices(valid_ids).batch(256)
    work = training.work_dir("diffusion-lm", args.work)
    # keep="last": fit ends by swapping in the optimizer's moving average of the weights (use_ema)
    lm_minutes = training.fit(lm, train, valid, epochs=-(-args.steps // args.steps_per_epoch),
                              steps_per_epoch=args.steps_per_epoch, work=work, keep="last", minutes=args.minutes)

    # ---- stage 2: the guidance classifier on noisy latents of the frozen embeddings -----------
    table = tf.constant(lm.embedding.embeddings.numpy())
    alpha_bar = tf.constant(respaced_schedule().get("alpha_bar"), tf.float32)
    steps = int(alpha_bar.shape[0])
    noise = tf.random.Generator.from_seed(1)

    def noised(ids, label):
        step = noise.uniform([], 0, steps + 1, dtype=tf.int32)  # == steps: clean
        a = tf.where(step < steps, tf.gather(alpha_bar, tf.minimum(step, steps - 1)), 1.0)
        x = tf.gather(table, ids)
        x = tf.sqrt(a) * x + tf.sqrt(1.0 - a) * noise.normal(tf.shape(x))
        return {"latents": x, "step": step}, label

    classifier_builder = dict(num_classes=len(SECTION_CLASSES), sequence_length=args.sequence_length,
                              embedding_dim=args.embedding_dim, width=args.width, num_layers=2,
                              num_heads=args.num_heads)
    classifier = build_latent_classifier(**classifier_builder)
    classifier.compile(keras.optimizers.AdamW(WarmupLinearDecay(1e-3, 200, args.classifier_steps)),
                       keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    pairs = (tf.data.Dataset.from_tensor_slices((train_ids, train_classes)).repeat().shuffle(20000, seed=1)
             .map(noised).batch(args.batch_size, drop_remainder=True).prefetch(2))
    valid_pairs = tf.data.Dataset.from_tensor_slices((valid_ids, valid_classes)).map(noised).batch(256)
    work_classifier = training.work_dir("diffusion-lm-classifier", args.work)
    classifier_minutes = training.fit(classifier, pairs, valid_pairs, epochs=-(-args.classifier_steps // 500),
                                      steps_per_epoch=500, work=work_classifier, keep="last",
                                      minutes=args.classifier_minutes)

    config = zoo.ZooConfig(
        family="diffusion_lm", vocabulary="words.json", max_new_tokens=args.sequence_length,
        generation={"do_sample": True},
        builder={**builder, "classifier": classifier_builder, "sampling": {"steps": 200, "fluency": args.fluency}},
        language="en", labels=list(SECTION_CLASSES),
        data={"dataset": "Debian package synopses (Translation-en) labelled by Section (Packages)",
              "sections": SECTION_CLASSES, "kept": round(kept, 4), "training_synopses": len(train_ids)},
        training=record.record(__file__, args, lm_minutes + classifier_minutes,
                                 diffusion_minutes=round(lm_minutes, 1),
                                 classifier_minutes=round(classifier_minutes, 1)))
    zoo.save_zoo_model(args.out, config, lm, vocabulary, work, files={
        "classifier.safetensors": lambda path: zoo.save_weights(classifier, path),
        "classifier_history.csv": (work_classifier / "history.csv").read_text()})


if __name__ == "__main__":
    main()
