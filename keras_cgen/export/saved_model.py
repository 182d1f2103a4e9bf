"""A string-in / string-out SavedModel of a zoo generator, for TF Serving.

Tokenisation, the whole decode loop (the engine, beam search included) and
detokenisation are one graph. Character models use core TensorFlow string
ops and a lookup table only, so stock TF Serving runs them; WordPiece models
run tensorflow-text's tokenizer op, which the export's metadata records.

What the signature reads depends on the model: the text to title (title
models), the prompt to continue (character LMs), the label (conditional LMs).
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
    settings = generator.settings(overrides)
    settings.setdefault("max_new_tokens", generator.max_new_tokens)
    settings.setdefault("eos_token_id", generator.vocabulary.end_id)
    return settings


def input_metadata(generator):
    """What a client needs to prepare this model's inputs (both export formats
    write it): truncation of title sources, labels, prompt and image sizes."""
    metadata = {key: generator.config[key] for key in ("max_source_length", "source_tail", "labels")
                if key in generator.config}
    for key, attribute in (("max_prompt", "MAX_PROMPT"), ("image_size", "image_size")):
        if hasattr(generator, attribute):
            metadata[key] = getattr(generator, attribute)
    return metadata


def character_table(vocabulary):
    """Character -> id (unknown -> the [UNK] id), a core TensorFlow lookup table."""
    return tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(vocabulary.tokens[4:]),
                                            tf.range(4, len(vocabulary), dtype=tf.int32)),
        default_value=vocabulary.unk_id)


def character_ids(vocabulary, text, table):
    """`text` `[B]` -> ragged ids, normalised as `CharVocabulary.encode` does."""
    if not vocabulary.raw:
        text = tf.strings.strip(tf.strings.regex_replace(tf.strings.lower(text, encoding="utf-8"), r"\s+", " "))
    return tf.ragged.map_flat_values(table.lookup, tf.strings.unicode_split(text, "UTF-8"))


def serving_ids(generator, text, table=None):
    """`text` `[B]` -> source ids `[B, S]` int32 (0-padded), as `generator.source_ids`
    makes them; `table` maps characters to ids (character vocabularies)."""
    vocabulary = generator.vocabulary
    limit, tail = generator.config["max_source_length"], generator.config.get("source_tail", 0)
    if isinstance(vocabulary, CharVocabulary):
        ids = character_ids(vocabulary, text, table)
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
    stops = tf.equal(sequences, vocabulary.end_id)
    if isinstance(vocabulary, CharVocabulary):  # CharVocabulary.decode also stops at padding
        stops = tf.logical_or(stops, tf.equal(sequences, vocabulary.pad_id))
    ended = tf.cumsum(tf.cast(stops, tf.int32), axis=1) > 0
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


def left_padded(ids, keep_last):
    """Ragged ids -> `[B, P]` with each row's last `keep_last` ids at the right end."""
    ids = ids[:, -keep_last:]
    lengths = tf.cast(ids.row_lengths(), tf.int32)
    dense = ids.to_tensor(0)
    width = tf.shape(dense)[1]
    shift = width - lengths
    positions = tf.range(width)[None, :] - shift[:, None]
    return tf.where(positions >= 0, tf.gather(dense, tf.maximum(positions, 0), batch_dims=1), 0)


def serving_io(generator):
    """What the export of `generator` reads and how: `(input name, lookup
    tables to track, prepare(strings) -> decode input, finish(strings,
    output) -> {"text", "score"})`."""
    from keras_cgen import zoo

    vocabulary = generator.vocabulary
    table = character_table(vocabulary) if isinstance(vocabulary, CharVocabulary) else None

    def finish(strings, out):
        return {"text": serving_text(generator, out.sequences[:, 0]), "score": out.scores[:, 0]}

    if isinstance(generator, zoo.CharLMGenerator):
        def prompt_ids(text):  # an empty prompt starts after a blank line, as generate() does
            text = tf.where(tf.equal(text, ""), "\n", text)
            return left_padded(character_ids(vocabulary, text, table), generator.MAX_PROMPT)
        return "text", [table], prompt_ids, finish

    if isinstance(generator, zoo.ConditionalLMGenerator):
        labels = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(generator.labels),
                                                tf.range(len(generator.labels), dtype=tf.int32)), default_value=-1)

        def one_hot(label):
            return tf.one_hot(labels.lookup(label), len(generator.labels))  # unknown label: all zeros

        def finish_known(label, out):
            return blank_unread(finish(label, out), labels.lookup(label) >= 0)
        return "condition", [labels], one_hot, finish_known

    if isinstance(generator, zoo.CaptionGenerator):
        def finish_readable(data, out):
            return blank_unread(finish(data, out), is_image(data))
        return "image", [], lambda data: decode_images(data, generator.image_size), finish_readable

    return "text", [table] if table is not None else [], lambda text: serving_ids(generator, text, table), finish


def blank_unread(answer, read):
    """Rows the graph could not read (unknown label, bytes that are not an
    image) get an empty text and score 0: the batch never fails."""
    return {"text": tf.where(read, answer["text"], ""), "score": tf.where(read, answer["score"], 0.0)}


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def is_image(data):
    """Whether encoded bytes `[B]` (or one string) are PNG or JPEG."""
    return tf.logical_or(tf.equal(tf.strings.substr(data, 0, 8), PNG_SIGNATURE), tf.io.is_jpeg(data))


def decode_images(data, size):
    """Encoded PNG/JPEG bytes `[B]` -> pixels `[B, size, size, 3]` in [0, 1],
    transparency composited on white as `read_image` does. Bytes that are
    neither PNG nor JPEG become a white image (`blank_unread` blanks their answer)."""
    def one(encoded):
        is_png = tf.equal(tf.strings.substr(encoded, 0, 8), PNG_SIGNATURE)
        white = tf.ones([size, size, 4], tf.float32)

        def png():
            return tf.image.convert_image_dtype(tf.io.decode_png(encoded, channels=4), tf.float32)

        def jpeg():
            rgb = tf.image.convert_image_dtype(tf.io.decode_jpeg(encoded, channels=3), tf.float32)
            return tf.concat([rgb, tf.ones_like(rgb[..., :1])], axis=-1)

        rgba = tf.cond(is_png, png, lambda: tf.cond(tf.io.is_jpeg(encoded), jpeg, lambda: white))
        rgb = rgba[..., :3] * rgba[..., 3:] + (1.0 - rgba[..., 3:])
        return tf.image.resize(rgb, [size, size])

    return tf.map_fn(one, data, fn_output_signature=tf.TensorSpec([size, size, 3], tf.float32))


def serving_archive(generator, settings):
    """A `keras.export.ExportArchive` whose `serving_default` is
    `text` (or `condition`) `[B]` string -> `{"text": [B] string, "score": [B]
    float32}`. Sampling models draw a fresh seed per request and also get a
    `seeded` signature (`seed` int32 scalar) that reproduces `generate(...,
    seed=seed)`. (Keras' archive tracks the variables so that TF1-style
    session loaders, TF Serving's and `saved_model_cli run`'s, restore them.)
    Returns `(archive, input name)`."""
    import keras

    archive = keras.export.ExportArchive()
    archive.track(generator.model)
    name, tables, prepare, finish = serving_io(generator)
    for table in tables:
        archive.track(table)
    plan = engine.make_settings(**settings)

    def answer(strings, seed):
        out = generator.decode_ids(prepare(strings), plan, seed, cache_write="where")
        return finish(strings, out)

    def serve(strings):
        seed = tf.random.uniform([2], 0, 2**31 - 1, tf.int32) if plan.do_sample else tf.zeros([2], tf.int32)
        return answer(strings, seed)

    archive.add_endpoint("serving_default", serve, input_signature=[tf.TensorSpec([None], tf.string, name=name)])
    if plan.do_sample:
        archive.add_endpoint("seeded", lambda strings, seed: answer(strings, tf.stack([seed, 0])),
                             input_signature=[tf.TensorSpec([None], tf.string, name=name),
                                              tf.TensorSpec([], tf.int32, name="seed")])
    return archive, name


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
    archive, input_name = serving_archive(generator, settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=target.parent))
    try:
        archive.write_out(str(work), verbose=False)
        custom_ops = non_core_ops(work)
        kind = "string [None]: encoded PNG or JPEG bytes" if input_name == "image" else "string [None]"
        metadata = {
            "model": generator.directory.name, "family": generator.config["family"], "generation": settings,
            "requires": ["tensorflow", "tensorflow-text"] if custom_ops else ["tensorflow"],
            "custom_ops": custom_ops,  # not in core TensorFlow: TF Serving must link them in
            "signature": {"inputs": {input_name: kind},
                          "outputs": {"text": "string [None]", "score": "float32 [None]"}},
            **input_metadata(generator),
        }
        if settings.get("do_sample"):
            metadata["signatures"] = {"seeded": {"inputs": {input_name: "string [None]", "seed": "int32 []"}}}
        (work / METADATA).parent.mkdir(exist_ok=True)
        (work / METADATA).write_text(json.dumps(metadata, indent=2) + "\n")
        work.rename(target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return target
