"""The conditional LM recipe as library code (bert4keras's
task_conditional_language_model.py): `train(examples, valid=..., labels=...)`
on `{"text", "label"}` examples. The label (one-hot -> Dense(128, swish))
conditions every LayerNorm of a causal transformer (`conditioning="layer_norm"`),
or is the first token (`"first_token"`, the baseline), or is absent (`"none"`,
the unconditional LM whose perplexity measures fluency). The loss is counted
on the text's tokens and the end token only.

`checkpoint` (a BERT directory or "m3e-small") starts from a pretrained BERT:
its WordPiece vocabulary cut to the pieces the texts use, its first unused
tokens renamed as the label tokens, a fresh LM head; the CLN's condition
projections start at zero, so step 0 is the pretrained network.
"""

import keras
import tensorflow as tf

from keras_cgen import training
from keras_cgen import zoo
from keras_cgen.checkpoints import load_bert
from keras_cgen.checkpoints import named_checkpoint
from keras_cgen.families.conditional_lm.preprocess import label_token
from keras_cgen.families.conditional_lm.preprocess import lm_row
from keras_cgen.models import BertConfig
from keras_cgen.models import build_transformer
from keras_cgen.models import config_from_model
from keras_cgen.text import CharVocabulary
from keras_cgen.text import WordPieceVocabulary
from keras_cgen.text import WordVocabulary
from keras_cgen.text import read_vocabulary
from keras_cgen.text import simplify_vocabulary
from keras_cgen.zoo import record

CONDITIONINGS = ("layer_norm", "first_token", "none")
DEFAULTS = dict(conditioning="layer_norm", checkpoint=None, epochs=8, steps_per_epoch=200, batch_size=64,
                learning_rate=1e-3, hidden_size=192, num_layers=3, num_heads=3, max_length=95, precision="float32",
                no_jit_compile=False)


def encode(examples, vocabulary, conditioning, max_length, labels):
    """One `(token_ids, label index)` row per text: prompt, text, [END]."""
    return [(lm_row(vocabulary, conditioning, r["text"], r["label"], max_length), labels.index(r["label"]))
            for r in examples]


def corpus_vocabulary(texts, labels, unit):
    """Characters seen twice (or words seen five times) and the labels' tokens."""
    if unit == "characters":
        base = CharVocabulary.build(texts, min_count=2, raw=True)
        return CharVocabulary([*base.tokens[4:], *map(label_token, labels)], raw=True)
    base = WordVocabulary.build(texts, min_count=5)
    return WordVocabulary([*base.tokens[4:], *map(label_token, labels)])


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


def train(examples, *, valid, labels, out, work=None, strategy="default", command=None, unit="characters",
          language="", **settings):
    """Trains a label-conditioned LM on `examples` (`{"text", "label"}` dicts,
    each label one of `labels`) and writes the zoo folder `out`. `unit`:
    "characters" or "words" (a vocabulary of the texts; ignored with a
    `checkpoint`, whose WordPiece vocabulary is used). `settings` override
    `DEFAULTS`. Resumable with the same `work`. Returns `out`."""
    hp = training.recipe_settings(DEFAULTS, settings, "conditional_lm.train")
    if hp.conditioning not in CONDITIONINGS:
        raise ValueError(f"`conditioning` must be one of {', '.join(CONDITIONINGS)}, got {hp.conditioning!r}.")
    strategy = training.strategy_of(strategy)
    keras.utils.set_random_seed(0)
    labels = list(labels)
    work = training.work_dir("clm", work)
    checkpoint, described = named_checkpoint(hp.checkpoint) if hp.checkpoint else (None, None)
    texts = [r["text"] for r in examples]
    if checkpoint:
        vocabulary, keep_tokens = pretrained_vocabulary(checkpoint, texts, labels, work)
    else:
        vocabulary = corpus_vocabulary(texts, labels, unit)
    train_rows = encode(examples, vocabulary, hp.conditioning, hp.max_length, labels)
    valid_rows = encode(valid, vocabulary, hp.conditioning, hp.max_length, labels)
    print(f"{len(train_rows)} train / {len(valid_rows)} valid texts, {len(vocabulary)} symbols, "
          f"conditioning: {hp.conditioning}")

    transformer = BertConfig(vocabulary_size=len(vocabulary), hidden_size=hp.hidden_size,
                             num_layers=hp.num_layers, num_heads=hp.num_heads,
                             intermediate_size=4 * hp.hidden_size, max_position=hp.max_length + 2,
                             dropout=0.1, attention_dropout=0.1)
    condition = {"condition_hidden_units": 128, "condition_hidden_activation": "swish"}
    conditional = {"condition_size": len(labels), **condition} if hp.conditioning == "layer_norm" else {}
    keras.mixed_precision.set_dtype_policy(hp.precision)
    steps = hp.epochs * hp.steps_per_epoch
    with strategy.scope():
        if checkpoint:
            model = load_bert(checkpoint, "lm", keep_tokens=keep_tokens, **conditional)
            transformer = config_from_model(model)
        else:
            model = build_transformer(transformer, "lm", **conditional)
        schedule = keras.optimizers.schedules.CosineDecay(0.0, steps, alpha=0.05, warmup_target=hp.learning_rate,
                                                          warmup_steps=max(1, steps // 20))
        model.compile(keras.optimizers.AdamW(schedule, weight_decay=0.01, clipnorm=1.0), training.target_loss(),
                      jit_compile=not hp.no_jit_compile)
    minutes = training.fit(model, dataset(train_rows, hp.batch_size, hp.conditioning, True, labels, hp.max_length),
                           dataset(valid_rows, hp.batch_size, hp.conditioning, False, labels, hp.max_length),
                           epochs=hp.epochs, steps_per_epoch=hp.steps_per_epoch, work=work, patience=hp.epochs)

    final = training.float32_copy(model, lambda: build_transformer(transformer, "lm", **conditional))
    config = zoo.ZooConfig(family="conditional_lm", conditioning=hp.conditioning, labels=labels,
                           transformer=transformer.to_dict(),
                           vocabulary="vocab.txt" if checkpoint else "vocab.json" if unit == "characters" else "words.json",
                           language=language, max_new_tokens=hp.max_length + 1,
                           generation={"do_sample": True, "top_p": 0.9},
                           condition=condition if hp.conditioning == "layer_norm" else None,
                           training=record.record(command or record.call_line(train, len(examples), settings), minutes,
                                                  **({"checkpoint": described} if checkpoint else {})))
    return zoo.save_zoo_model(out, config, final, vocabulary, work)
