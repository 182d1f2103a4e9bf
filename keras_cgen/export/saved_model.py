"""A string-in / string-out SavedModel of a zoo title generator, for TF Serving.

Tokenisation, the whole decode loop (the engine, beam search included) and
detokenisation are one graph. Character models use core TensorFlow string
ops and a lookup table only, so stock TF Serving runs them; WordPiece models
run tensorflow-text's tokenizer op, which the export's metadata records.
"""

import json
import shutil
import tempfile
from pathlib import Path

import tensorflow as tf

from keras_cgen.decoding import engine
from keras_cgen.text import CharVocabulary
from keras_cgen.text.wordpiece import DETOKENIZE_RULES

METADATA = "assets.extra/keras_cgen.json"


def export_settings(generator, overrides):
    """The generation settings frozen into an export: the model's own, then `overrides`."""
    settings = {**generator.config.get("generation", {}), **overrides}
    settings.setdefault("max_new_tokens", generator.config["max_target_length"])
    settings.setdefault("eos_token_id", generator.vocabulary.end_id)
    return settings


def serving_ids(generator, text, table=None):
    """`text` `[B]` -> source ids `[B, S]` int32 (0-padded), as `generator.source_ids`
    makes them; `table` maps characters to ids (character vocabularies)."""
    vocabulary = generator.vocabulary
    limit, tail = generator.config["max_source_length"], generator.config.get("source_tail", 0)
    if isinstance(vocabulary, CharVocabulary):
        text = tf.strings.strip(tf.strings.regex_replace(tf.strings.lower(text, encoding="utf-8"), r"\s+", " "))
        characters = tf.strings.unicode_split(text, "UTF-8")
        ids = tf.ragged.map_flat_values(table.lookup, characters)
    else:
        ids = tf.cast(vocabulary.tokenizer(text), tf.int32)
    lengths = tf.cast(ids.row_lengths(), tf.int32)
    cut = lengths > limit
    head = tf.where(cut, limit - tail, lengths)
    # Per row: positions [0, head) and, when cut, [length - tail, length).
    positions = tf.concat([tf.ragged.range(head), tf.ragged.range(tf.where(cut, lengths - tail, lengths), lengths)],
                          axis=1)
    return tf.gather(ids, positions, batch_dims=1).to_tensor(0)


def serving_text(generator, sequences):
    """Generated ids `[B, T]` -> titles `[B]`, as `vocabulary.decode` writes them."""
    vocabulary = generator.vocabulary
    ended = tf.cumsum(tf.cast(tf.equal(sequences, vocabulary.end_id), tf.int32), axis=1) > 0
    keep = tf.logical_and(tf.logical_not(ended), sequences != vocabulary.pad_id)
    if isinstance(vocabulary, CharVocabulary):
        keep = tf.logical_and(keep, sequences >= 4)
    else:
        keep = tf.logical_and(keep, sequences != vocabulary.start_id)
    tokens = tf.ragged.boolean_mask(tf.gather(tf.constant(vocabulary.tokens), sequences), keep)
    if isinstance(vocabulary, CharVocabulary):
        return tf.strings.reduce_join(tokens, axis=1)
    text = tf.strings.reduce_join(tokens, axis=1, separator=" ")
    for pattern, replacement in DETOKENIZE_RULES:
        text = tf.strings.regex_replace(text, pattern, replacement)
    return text


def non_core_ops(directory):
    """Op types of a SavedModel that core TensorFlow does not register (for
    these exports: tensorflow-text's tokenizer ops)."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((Path(directory) / "saved_model.pb").read_bytes())
    graph = saved.meta_graphs[0].graph_def
    ops = {node.op for node in graph.node} | {n.op for f in graph.library.function for n in f.node_def}
    return sorted(op for op in ops if not hasattr(tf.raw_ops, op))


def serving_archive(generator, settings):
    """A `keras.export.ExportArchive` whose `serving_default` is
    `text [B] string -> {"text": [B] string, "score": [B] float32}`.
    (Keras' archive tracks the variables so that TF1-style session loaders,
    TF Serving's and `saved_model_cli run`'s, restore them too.)"""
    import keras

    vocabulary = generator.vocabulary
    archive = keras.export.ExportArchive()
    archive.track(generator.model)
    table = None
    if isinstance(vocabulary, CharVocabulary):
        table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(vocabulary.tokens[4:]),
                                                tf.range(4, len(vocabulary), dtype=tf.int32)),
            default_value=vocabulary.unk_id)
        archive.track(table)
    plan = engine.make_settings(**settings)

    def serve(text):
        ids = serving_ids(generator, text, table)
        out = generator.decode_ids(ids, plan, tf.zeros([2], tf.int32), cache_write="where")
        return {"text": serving_text(generator, out.sequences[:, 0]), "score": out.scores[:, 0]}

    archive.add_endpoint("serving_default", serve, input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    return archive


def export_saved_model(generator, base_dir, version=1, **settings):
    """Writes `base_dir/<version>/`, a SavedModel with a `serving_default`
    signature `text` (string `[None]`) -> `text` (string `[None]`), `score`
    (float32 `[None]`, the title's log-probability score).

    Generation settings (`num_beams`, `length_penalty`, `max_new_tokens`, ...)
    are fixed at export; they and what the graph needs are written to
    `<version>/assets.extra/keras_cgen.json`. An existing version is never
    overwritten; the export is written beside it and renamed, so a failed
    export leaves nothing.
    """
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"`version` must be a positive int (TF Serving's version folder), got {version!r}.")
    target = Path(base_dir) / str(version)
    if target.exists():
        raise FileExistsError(f"'{target}' exists: export a new version number instead (TF Serving then "
                              "rolls to it); versions are never overwritten.")
    settings = export_settings(generator, settings)
    archive = serving_archive(generator, settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=target.parent))
    try:
        archive.write_out(str(work), verbose=False)
        custom_ops = non_core_ops(work)
        metadata = {
            "model": generator.directory.name, "family": generator.config["family"],
            "generation": settings, "max_source_length": generator.config["max_source_length"],
            "source_tail": generator.config.get("source_tail", 0),
            "requires": ["tensorflow", "tensorflow-text"] if custom_ops else ["tensorflow"],
            "custom_ops": custom_ops,  # not in core TensorFlow: TF Serving must link them in
            "signature": {"inputs": {"text": "string [None]"},
                          "outputs": {"text": "string [None]", "score": "float32 [None]"}},
        }
        (work / METADATA).parent.mkdir(exist_ok=True)
        (work / METADATA).write_text(json.dumps(metadata, indent=2) + "\n")
        work.rename(target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return target
