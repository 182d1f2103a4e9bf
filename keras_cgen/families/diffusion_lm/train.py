"""The Diffusion-LM recipe as library code (Li et al. 2022): `train(examples,
valid=..., labels=...)` on `{"text", "label"}` examples (the zoo's: Debian
package synopses by Section class, `examples/task_diffusion_lm.py`), and the
FUDGE prefix classifier it is compared with (`train_prefix_classifier`,
`examples/task_fudge.py`).

Stage 1 trains the diffusion LM (`DiffusionLM`: embedding, rounding head and
denoiser, the paper's "e2e" loss) with AdamW, linear decay and an exponential
moving average of the weights (the weights it ships). Stage 2 trains the
guidance classifier on the frozen embeddings noised at the 200-step schedule;
the diffusion LM is not touched (that is the point of plug and play). Both
stages are resumable with the same `work` (a finished stage is not trained
again).

Deviation from the paper's recipe, for a 2-core budget of ~20K steps instead
of 200K: the learning rate peaks at 3e-4 after a 500-step warm-up (the paper:
1e-4, no warm-up) and the EMA momentum is 0.999 (the paper: 0.9999).
"""

import keras
import numpy as np
import tensorflow as tf

from keras_cgen import training
from keras_cgen import zoo
from keras_cgen.families.conditional_lm.preprocess import lm_row
from keras_cgen.families.diffusion_lm.fudge import build_prefix_classifier
from keras_cgen.families.diffusion_lm.model import DiffusionLM
from keras_cgen.families.diffusion_lm.model import build_diffusion_denoiser
from keras_cgen.families.diffusion_lm.model import build_latent_classifier
from keras_cgen.families.diffusion_lm.model import respaced_schedule
from keras_cgen.text import WordVocabulary
from keras_cgen.text import load_vocabulary
from keras_cgen.text import pad_rows
from keras_cgen.zoo import record

DEFAULTS = dict(sequence_length=16, embedding_dim=32, width=128, num_layers=4, num_heads=4, min_count=5,
                batch_size=64, learning_rate=3e-4, warmup=500, steps=24000, steps_per_epoch=1000, ema=0.999,
                minutes=95.0, classifier_steps=4000, classifier_minutes=15.0, fluency=0.01)
PREFIX_CLASSIFIER_DEFAULTS = dict(epochs=6, batch_size=128, embedding_dim=64, units=128)


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


def encode(vocabulary, rows, length, labels):
    """Word ids `[N, length]` and class ids of the examples that fit `length`, and the share kept."""
    kept = [row for row in rows if vocabulary.fits(row["text"], length)]
    ids = np.stack([vocabulary.sequence(row["text"], length) for row in kept])
    classes = np.asarray([labels.index(row["label"]) for row in kept], "int32")
    return ids, classes, len(kept) / len(rows)


def train(examples, *, valid, labels, out, work=None, strategy="default", command=None, data_record=None,
          **settings):
    """Trains a Diffusion-LM and its noisy-latent classifier on `examples`
    (`{"text", "label"}` dicts, each label one of `labels`) and writes the zoo
    folder `out`. `settings` override `DEFAULTS`; `data_record` is stored in
    the config's "data" entry. Returns `out`."""
    hp = training.recipe_settings(DEFAULTS, settings, "diffusion_lm.train")
    strategy = training.strategy_of(strategy)
    keras.utils.set_random_seed(0)
    labels = list(labels)
    vocabulary = WordVocabulary.build([row["text"] for row in examples], min_count=hp.min_count)
    train_ids, train_classes, kept = encode(vocabulary, examples, hp.sequence_length, labels)
    valid_ids, valid_classes, _ = encode(vocabulary, valid, hp.sequence_length, labels)
    print(f"{len(vocabulary)} words; {len(train_ids)} training texts ({100 * kept:.1f}% fit "
          f"{hp.sequence_length} positions)")

    # ---- stage 1: the diffusion LM ---------------------------------------------------------
    builder = dict(sequence_length=hp.sequence_length, embedding_dim=hp.embedding_dim, width=hp.width,
                   num_layers=hp.num_layers, num_heads=hp.num_heads)
    with strategy.scope():
        lm = DiffusionLM(build_diffusion_denoiser(**builder), len(vocabulary), seed=0)
        lm.compile(keras.optimizers.AdamW(WarmupLinearDecay(hp.learning_rate, hp.warmup, hp.steps),
                                          weight_decay=0.0, use_ema=True, ema_momentum=hp.ema), jit_compile=True)
    data = (tf.data.Dataset.from_tensor_slices(train_ids).repeat().shuffle(20000, seed=0)
            .batch(hp.batch_size, drop_remainder=True).prefetch(2))
    work_lm = training.work_dir("diffusion-lm", work)
    # keep="last": fit ends by swapping in the optimizer's moving average of the weights (use_ema)
    lm_minutes = training.fit(lm, data, tf.data.Dataset.from_tensor_slices(valid_ids).batch(256),
                              epochs=-(-hp.steps // hp.steps_per_epoch), steps_per_epoch=hp.steps_per_epoch,
                              work=work_lm, keep="last", minutes=hp.minutes)

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

    classifier_builder = dict(num_classes=len(labels), sequence_length=hp.sequence_length,
                              embedding_dim=hp.embedding_dim, width=hp.width, num_layers=2, num_heads=hp.num_heads)
    with strategy.scope():
        classifier = build_latent_classifier(**classifier_builder)
        classifier.compile(keras.optimizers.AdamW(WarmupLinearDecay(1e-3, 200, hp.classifier_steps)),
                           keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    pairs = (tf.data.Dataset.from_tensor_slices((train_ids, train_classes)).repeat().shuffle(20000, seed=1)
             .map(noised).batch(hp.batch_size, drop_remainder=True).prefetch(2))
    valid_pairs = tf.data.Dataset.from_tensor_slices((valid_ids, valid_classes)).map(noised).batch(256)
    work_classifier = training.work_dir("diffusion-lm-classifier", work)
    classifier_steps_per_epoch = min(500, hp.classifier_steps)
    classifier_minutes = training.fit(classifier, pairs, valid_pairs,
                                      epochs=-(-hp.classifier_steps // classifier_steps_per_epoch),
                                      steps_per_epoch=classifier_steps_per_epoch, work=work_classifier, keep="last",
                                      minutes=hp.classifier_minutes)

    config = zoo.ZooConfig(
        family="diffusion_lm", vocabulary="words.json", max_new_tokens=hp.sequence_length,
        generation={"do_sample": True},
        builder={**builder, "classifier": classifier_builder, "sampling": {"steps": 200, "fluency": hp.fluency}},
        language="en", labels=labels,
        data={**(data_record or {}), "kept": round(kept, 4), "training_synopses": len(train_ids)},
        training=record.record(command or record.call_line(train, len(examples), settings),
                               lm_minutes + classifier_minutes, diffusion_minutes=round(lm_minutes, 1),
                               classifier_minutes=round(classifier_minutes, 1)))
    return zoo.save_zoo_model(out, config, lm, vocabulary, work_lm, files={
        "classifier.safetensors": lambda path: zoo.save_weights(classifier, path),
        "classifier_history.csv": (work_classifier / "history.csv").read_text()})


def train_prefix_classifier(examples, *, valid, labels, lm, out, work=None, command=None, **settings):
    """FUDGE's future-attribute classifier (Yang & Klein 2021) for the LM in
    zoo folder `lm`: p(class | prefix) at every prefix of the LM's own rows
    ([START], words, [END]), trained on `examples` (`{"text", "label"}`) with
    the text's class at every position, early stopping on `valid`. Writes the
    folder `out` (`prefix_classifier.json` and its weights). Returns `out`."""
    hp = training.recipe_settings(PREFIX_CLASSIFIER_DEFAULTS, settings, "diffusion_lm.train_prefix_classifier")
    keras.utils.set_random_seed(0)
    labels = list(labels)
    lm = zoo.find(lm)
    config = zoo.ZooConfig.read(lm)
    vocabulary = load_vocabulary(lm / config.vocabulary)
    max_words = config.max_new_tokens - 1

    def arrays(rows):
        ids = pad_rows([lm_row(vocabulary, "none", r["text"], None, max_words) for r in rows])
        classes = np.asarray([labels.index(r["label"]) for r in rows], "int32")
        return ids, np.repeat(classes[:, None], ids.shape[1], axis=1), (ids != 0).astype("float32")

    builder = {"vocabulary_size": len(vocabulary), "num_classes": len(labels), "embedding_dim": hp.embedding_dim,
               "units": hp.units}
    classifier = build_prefix_classifier(**builder)
    classifier.compile(keras.optimizers.Adam(1e-3), training.target_loss(), weighted_metrics=["accuracy"])
    work = training.work_dir("fudge", work)
    minutes = training.fit(classifier, arrays(examples), arrays(valid), epochs=hp.epochs, work=work,
                           batch_size=hp.batch_size, patience=2)
    out = zoo.write_zoo_folder(out, {
        "prefix_classifier.json": {"builder": builder, "labels": labels, "lm": lm.name,
                                   "training": record.record(command or record.call_line(
                                       train_prefix_classifier, len(examples), settings), minutes)},
        "prefix_classifier.safetensors": lambda path: zoo.save_weights(classifier, path),
        "history.csv": (work / "history.csv").read_text()})
    print(f"wrote {out} after {minutes:.1f} min")
    return out
