"""The auto-title recipes as library code: `train(pairs, valid=..., model=...)`
on `{"body", "title"}` pairs (the zoo's: Debian package descriptions,
`examples/task_seq2seq_autotitle.py` and `examples/task_seq2seq_lstm_copy.py`).

- model="unilm" (bert4keras's task_seq2seq_autotitle.py): a real BERT
  (`checkpoint`) with the UniLM mask, `[CLS] body [SEP] title [SEP]`, the loss
  on the title only; the checkpoint's WordPiece vocabulary cut to the pieces
  the corpus uses (`keep_tokens`).
- model="lstm" (the seed text's LSTM seq2seq + attention + copy prior, with an
  optional pointer): characters for Chinese, MiniLM's WordPiece pieces cut to
  the corpus for other languages.

Stages before the pairs: `pretraining={"train": [...], "valid": [...]}` pairs
of another corpus (People's Daily headlines for the Chinese models) for
`news_pretraining_epochs`, then body -> one of its own sentences
(`copy_pairs`) for `copy_pretraining_epochs`. Resumable with the same `work`.
"""

import dataclasses
from pathlib import Path

import keras
import numpy as np

from keras_cgen import training
from keras_cgen import zoo
from keras_cgen.checkpoints import load_bert
from keras_cgen.checkpoints import minilm_directory
from keras_cgen.checkpoints import named_checkpoint
from keras_cgen.data import copy_pairs
from keras_cgen.families.autotitle.model import build_lstm_seq2seq
from keras_cgen.families.autotitle.preprocess import lstm_arrays
from keras_cgen.families.autotitle.preprocess import unilm_dataset
from keras_cgen.families.autotitle.preprocess import unilm_rows
from keras_cgen.families.autotitle.preprocess import visible
from keras_cgen.models import build_transformer
from keras_cgen.models import config_from_model
from keras_cgen.text import CharVocabulary
from keras_cgen.text import WordPieceVocabulary
from keras_cgen.text import load_vocabulary
from keras_cgen.text import read_vocabulary
from keras_cgen.text import simplify_vocabulary
from keras_cgen.zoo import record

DEFAULTS = {
    "unilm": dict(checkpoint="all-MiniLM-L6-v2", vocabulary_size=None, news_pretraining_epochs=0,
                  news_steps_per_epoch=None, copy_pretraining_epochs=0, copy_steps_per_epoch=None, max_source=96,
                  source_tail=32, max_target=24, epochs=6, steps_per_epoch=300, batch_size=32, learning_rate=2e-4,
                  valid_size=1000, precision="mixed_bfloat16", no_jit_compile=False),
    "lstm": dict(vocabulary_size=8000, epochs=60, batch_size=32, learning_rate=2e-3, embedding_dim=128,
                 hidden_units=256, dropout=0.1, max_source=160, source_tail=0, max_target=32, patience=6,
                 copy_pretraining_epochs=0, news_pretraining_epochs=0, pretrained_embeddings=False,
                 no_copy_prior=False, pointer=False, initial_weights=None, mixed_precision=False,
                 no_jit_compile=False),
}


def minilm_embeddings(vocabulary, dim):
    """MiniLM's word embeddings of the kept WordPiece tokens, reduced to `dim` by
    PCA and scaled to Keras' initial spread: the LSTM starts knowing which
    pieces are alike instead of learning that from the titles."""
    from safetensors.numpy import load_file

    checkpoint = minilm_directory()
    table = load_file(str(checkpoint / "model.safetensors"))["embeddings.word_embeddings.weight"]
    original = {token: i for i, token in enumerate(read_vocabulary(checkpoint))}
    kept = table[[original[token] for token in vocabulary.tokens]].astype("float64")
    centred = kept - kept.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    reduced = centred @ components[:dim].T
    return (reduced * (0.03 / reduced.std())).astype("float32")


def lstm_vocabulary(language, pairs, size):
    if language == "zh_CN":  # `pairs` may include the news pairs: their characters are kept too
        return CharVocabulary.build([p["body"] + p["title"] for p in pairs], min_count=2)
    checkpoint = minilm_directory()
    corpus = WordPieceVocabulary(checkpoint).encode_batch(p[k] for p in pairs for k in ("body", "title"))
    return WordPieceVocabulary(checkpoint, simplify_vocabulary(read_vocabulary(checkpoint), corpus, max_size=size))


def train_lstm(pairs, valid, news, hp, strategy, work, language):
    vocabulary = lstm_vocabulary(language, pairs + news["train"], hp.vocabulary_size)
    lengths = (hp.max_source, hp.source_tail, hp.max_target)
    train_arrays, valid_arrays = lstm_arrays(pairs, vocabulary, *lengths), lstm_arrays(valid, vocabulary, *lengths)
    print(f"{len(pairs)} train / {len(valid)} valid pairs, {len(vocabulary)} tokens")
    if hp.mixed_precision:
        keras.mixed_precision.set_dtype_policy("mixed_float16")
    builder = dict(embedding_dim=hp.embedding_dim, hidden_units=hp.hidden_units,
                   copy_prior=not hp.no_copy_prior, dropout=hp.dropout, pointer=hp.pointer)
    previous = None
    with strategy.scope():
        model = build_lstm_seq2seq(len(vocabulary), **builder)
        model.compile(keras.optimizers.Adam(hp.learning_rate, clipnorm=1.0), training.target_loss(),
                      jit_compile=not hp.no_jit_compile)
        if hp.initial_weights:
            start = Path(hp.initial_weights)
            previous = zoo.ZooConfig.read(start)
            if load_vocabulary(start / previous.vocabulary).tokens != vocabulary.tokens:
                raise ValueError(f"initial_weights {start}: its vocabulary is not this run's.")
            # A model without the pointer can be continued with it: only its gate starts fresh.
            added = ("Pointer-Gate",) if hp.pointer and not previous.builder.get("pointer") else ()
            zoo.load_weights(model, start / previous.weights, new_layers=added)
            if added:
                print(f"initial_weights {start}: the pointer gate is new and starts from its initial values")
        elif hp.pretrained_embeddings:
            if language == "zh_CN":
                raise ValueError("pretrained_embeddings: MiniLM is English; the zh_CN model reads characters.")
            model.get_layer("Embedding").set_weights([minilm_embeddings(vocabulary, hp.embedding_dim)])
    minutes = 0
    copies = (copy_pairs(pairs), copy_pairs(valid)) if hp.copy_pretraining_epochs else ([], [])
    stages = [("lstm-news", "news", news["train"], news["valid"], hp.news_pretraining_epochs),
              ("lstm-copy", "copy", *copies, hp.copy_pretraining_epochs)]
    for folder, stage, stage_train, stage_valid, epochs in stages:
        if epochs and stage_train:
            print(f"{stage} pre-training on {len(stage_train)} pairs")
            minutes += training.fit(model, lstm_arrays(stage_train, vocabulary, *lengths),
                                    lstm_arrays(stage_valid, vocabulary, *lengths), epochs=epochs,
                                    batch_size=hp.batch_size, work=training.work_dir(folder, work),
                                    patience=hp.patience)
    work = training.work_dir("lstm", work)
    minutes += training.fit(model, train_arrays, valid_arrays, epochs=hp.epochs, batch_size=hp.batch_size, work=work,
                            patience=hp.patience)
    final = training.float32_copy(model, lambda: build_lstm_seq2seq(len(vocabulary), **builder))
    entries = dict(builder=builder, vocabulary="vocab.json" if isinstance(vocabulary, CharVocabulary) else "vocab.txt")
    return final, vocabulary, minutes, work, entries, previous


def train_unilm(pairs, valid, news, hp, strategy, work, language):
    checkpoint, described = named_checkpoint(hp.checkpoint)
    valid = valid[: hp.valid_size]
    # Lower-cased like the zoo reads every WordPiece vocabulary (m3e's own config keeps case: its
    # vocabulary is nearly all lower-case anyway).
    full = WordPieceVocabulary(checkpoint, lowercase=True)
    corpus = full.encode_batch(p[k] for p in pairs + news["train"] for k in ("body", "title"))
    size = hp.vocabulary_size or (3700 if language == "en" else None)
    keep_tokens = simplify_vocabulary(read_vocabulary(checkpoint), corpus, max_size=size, min_count=1 if size else 2)
    vocabulary = WordPieceVocabulary(checkpoint, keep_tokens=keep_tokens, lowercase=True)
    lengths = (hp.max_source, hp.source_tail, hp.max_target)
    longest = hp.max_source + 2 + hp.max_target  # [CLS] body [SEP] title [SEP]
    print(f"{len(pairs)} train / {len(valid)} valid pairs, {len(news['train'])} news pairs, {len(vocabulary)} tokens")

    keras.mixed_precision.set_dtype_policy(hp.precision)
    copies = {name: [row for row in unilm_rows(copy_pairs(split), vocabulary, *lengths) if visible(row)]
              for name, split in (("train", pairs), ("valid", valid))} if hp.copy_pretraining_epochs else None
    # Stages before the pairs: (work folder, stage, pair kind, rows, epochs, steps per epoch).
    stages = [("unilm-news", "news", "headline pairs",
               {name: unilm_rows(news[name], vocabulary, *lengths) for name in ("train", "valid")},
               hp.news_pretraining_epochs, hp.news_steps_per_epoch),
              ("unilm-copy", "copy", "body -> own sentence pairs", copies, hp.copy_pretraining_epochs,
               hp.copy_steps_per_epoch)]
    stages = [(folder, stage, kind, rows, epochs, steps or len(rows["train"]) // hp.batch_size)
              for folder, stage, kind, rows, epochs, steps in stages if epochs and rows and rows["train"]]
    with strategy.scope():
        model = load_bert(checkpoint, "unilm", keep_tokens=keep_tokens)
        total = sum(epochs * steps for *_, epochs, steps in stages) + hp.epochs * hp.steps_per_epoch  # one schedule
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0, total - total // 10, warmup_target=hp.learning_rate, warmup_steps=total // 10)
        model.compile(keras.optimizers.AdamW(schedule, weight_decay=0.01, clipnorm=1.0), training.target_loss(),
                      jit_compile=not hp.no_jit_compile)
    minutes = 0
    for folder, stage, kind, rows, epochs, steps in stages:
        print(f"{stage} pre-training on {len(rows['train'])} {kind}")
        minutes += training.fit(
            model, unilm_dataset(rows["train"], hp.batch_size, True, longest),
            unilm_dataset(rows["valid"], hp.batch_size, False, longest), epochs=epochs, steps_per_epoch=steps,
            work=training.work_dir(folder, work), patience=epochs)
    work = training.work_dir("unilm", work)
    minutes += training.fit(model, unilm_dataset(unilm_rows(pairs, vocabulary, *lengths), hp.batch_size, True, longest),
                            unilm_dataset(unilm_rows(valid, vocabulary, *lengths), hp.batch_size, False, longest),
                            epochs=hp.epochs, steps_per_epoch=hp.steps_per_epoch, work=work, patience=2)
    config = config_from_model(model)
    final = training.float32_copy(model, lambda: build_transformer(config, "unilm"))
    entries = dict(transformer=dataclasses.asdict(config), vocabulary="vocab.txt", checkpoint=described)
    return final, vocabulary, minutes, work, entries, None


TRAINERS = {"unilm": train_unilm, "lstm": train_lstm}
FAMILY = {"unilm": "unilm", "lstm": "lstm_seq2seq"}


def train(pairs, *, valid, model="unilm", out, work=None, strategy="default", command=None, language="en",
          pretraining=None, **settings):
    """Trains title model `model` ("unilm" or "lstm") on `pairs` (dicts with
    "body" and "title") and writes the zoo folder `out`; `valid` pairs give
    the kept checkpoint. `language`: "zh_CN" (characters for the LSTM) or any
    other (WordPiece). `pretraining`: `{"train", "valid"}` pairs for the news
    stage. `settings` override `DEFAULTS[model]`. Returns `out`."""
    if model not in TRAINERS:
        raise ValueError(f"`model` must be one of {', '.join(TRAINERS)}, got {model!r}.")
    hp = training.recipe_settings(DEFAULTS[model], settings, f"autotitle.train(model={model!r})")
    strategy = training.strategy_of(strategy)
    keras.utils.set_random_seed(0)
    news = pretraining or {"train": [], "valid": []}
    if hp.news_pretraining_epochs and not news["train"]:
        raise ValueError("news_pretraining_epochs needs `pretraining` pairs ({'train': [...], 'valid': [...]}).")
    final, vocabulary, minutes, work, entries, previous = TRAINERS[model](pairs, valid, news, hp, strategy, work,
                                                                          language)
    described = entries.pop("checkpoint", None)
    trained = record.record(command or record.call_line(train, len(pairs), settings), minutes,
                            **({"checkpoint": described} if described else {}))
    if previous is not None:  # the whole recipe is every stage; `cgen train` reruns them in order
        stage = len(record.stage_commands(previous.training))
        trained.update(
            continued_from=previous.training, minutes=round(minutes + previous.training["minutes"], 1),
            command=trained["command"].replace(f"--initial-weights {hp.initial_weights}",
                                               f"--initial-weights STAGE{stage}"),
            note="Trained in stages, each continued from the previous stage's folder with a fresh Adam; minutes "
                 "add up every stage's wall-clock time.")
    config = zoo.ZooConfig(family=FAMILY[model], language=language, max_source_length=hp.max_source,
                           source_tail=hp.source_tail, max_new_tokens=hp.max_target, generation={"num_beams": 4},
                           training=trained, **entries)
    return zoo.save_zoo_model(out, config, final, vocabulary, work)
