"""A string-in / string-out SavedModel of a zoo generator, for TF Serving.

Input preparation (the generator's `serving_prepare`: tokenising, label
lookup, image decoding), the whole decode loop (the engine, beam search
included) and the output (`serving_finish`: detokenising) are one graph.
Character models use core TensorFlow string ops and a lookup table only, so
stock TF Serving runs them; WordPiece models run tensorflow-text's tokenizer
op, which the export's metadata records.
"""

import json
import shutil
import tempfile
from pathlib import Path

import tensorflow as tf

from keras_cgen.decoding import engine

METADATA = "assets.extra/keras_cgen.json"


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
    """A `keras.export.ExportArchive` whose `serving_default` reads the
    generator's `serving_input` `[B]` string and answers its
    `serving_outputs`. Sampling models draw a fresh seed per request and also
    get a `seeded` signature (`seed` int32 scalar) that reproduces
    `generate(..., seed=seed)`. (Keras' archive tracks the variables so that
    TF1-style session loaders, TF Serving's and `saved_model_cli run`'s,
    restore them.)"""
    import keras

    archive = keras.export.ExportArchive()
    archive.track(generator.model)
    for resource in generator.serving_resources():
        archive.track(resource)
    plan = engine.make_settings(**settings)
    name = generator.serving_input[0]

    def answer(strings, seed):
        out = generator.decode_ids(generator.serving_prepare(strings), plan, seed, cache_write="where")
        return generator.serving_finish(strings, out)

    def serve(strings):
        seed = tf.random.uniform([2], 0, 2**31 - 1, tf.int32) if plan.do_sample else tf.zeros([2], tf.int32)
        return answer(strings, seed)

    archive.add_endpoint("serving_default", serve, input_signature=[tf.TensorSpec([None], tf.string, name=name)])
    if plan.do_sample:
        archive.add_endpoint("seeded", lambda strings, seed: answer(strings, tf.stack([seed, 0])),
                             input_signature=[tf.TensorSpec([None], tf.string, name=name),
                                              tf.TensorSpec([], tf.int32, name="seed")])
    return archive


def export_saved_model(generator, base_dir, version=1, **settings):
    """Writes `base_dir/<version>/`, a SavedModel with a `serving_default`
    signature: the generator's input (e.g. `text`, string `[None]`) -> `text`
    (string `[None]`), `score` (float32 `[None]`, the log-probability score).

    Generation settings (`num_beams`, `length_penalty`, `max_new_tokens`, ...)
    are fixed at export: the model's `config.generation`, then `settings`;
    they and what a client needs are written to
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
    settings = generator.settings(**settings)
    archive = serving_archive(generator, settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=target.parent))
    try:
        archive.write_out(str(work), verbose=False)
        custom_ops = non_core_ops(work)
        name, kind = generator.serving_input
        metadata = {
            "model": generator.directory.name, "family": generator.config.family, "generation": settings,
            "requires": ["tensorflow", "tensorflow-text"] if custom_ops else ["tensorflow"],
            "custom_ops": custom_ops,  # not in core TensorFlow: TF Serving must link them in
            "signature": {"inputs": {name: kind}, "outputs": generator.serving_outputs},
            **generator.input_metadata(),
        }
        if settings.get("do_sample"):
            metadata["signatures"] = {"seeded": {"inputs": {name: kind, "seed": "int32 []"}}}
        (work / METADATA).parent.mkdir(exist_ok=True)
        (work / METADATA).write_text(json.dumps(metadata, indent=2) + "\n")
        work.rename(target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return target
