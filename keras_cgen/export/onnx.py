"""The decode loop of a zoo generator as one ONNX graph (an ONNX `Loop`):
token ids (or a label's one-hot vector) in, generated ids and scores out. The
vocabulary and the tokenisation settings travel beside it.

Sampling draws from stateless TensorFlow random ops that ONNX has no
operator for: sampling models export their greedy or beam-search decoding."""

import json
import shutil
import tempfile
from pathlib import Path

import tensorflow as tf

from keras_cgen.decoding import engine
from keras_cgen.export.saved_model import export_settings
from keras_cgen.export.saved_model import input_metadata

OPSET = 17


def onnx_input(generator):
    """(name, TensorSpec, description) of what the ONNX graph of `generator` reads."""
    from keras_cgen import zoo

    if isinstance(generator, zoo.CharLMGenerator):
        return "prompt_ids", tf.TensorSpec([None, None], tf.int32), "int32 [batch, P], LEFT-padded prompt ids"
    if isinstance(generator, zoo.CaptionGenerator):
        size = generator.image_size
        return ("image", tf.TensorSpec([None, size, size, 3], tf.float32),
                f"float32 [batch, {size}, {size}, 3], RGB in [0, 1] (transparency on white)")
    if isinstance(generator, zoo.ConditionalLMGenerator):
        return ("condition", tf.TensorSpec([None, len(generator.labels)], tf.float32),
                f"float32 [batch, {len(generator.labels)}], one-hot over labels {generator.labels}")
    return "source_ids", tf.TensorSpec([None, None], tf.int32), \
        "int32 [batch, source_length], 0-padded body token ids, no specials"


def decode_function(generator, settings):
    """`tf.function`: the model's input (`onnx_input`) -> `sequences` int32
    `[B, R, T]`, `scores` float32 `[B, R]`."""
    plan = engine.make_settings(**settings)
    name, spec, _ = onnx_input(generator)

    @tf.function(input_signature=[tf.TensorSpec(spec.shape, spec.dtype, name=name)])
    def decode(inputs):
        out = generator.decode_ids(inputs, plan, tf.zeros([2], tf.int32), cache_write="where")
        return {"sequences": out.sequences, "scores": out.scores}

    return decode


def export_onnx(generator, out_dir, opset=OPSET, **settings):
    """Writes `out_dir/` (which must not exist): `model.onnx` (opset `opset`),
    the vocabulary file and `metadata.json` (settings, special ids, how to
    tokenise). Written beside `out_dir` and renamed: a failed export leaves
    nothing."""
    import tf2onnx

    out_dir = Path(out_dir)
    if out_dir.exists():
        raise FileExistsError(f"'{out_dir}' exists: choose a new folder; exports are never overwritten.")
    settings = export_settings(generator, settings)
    if settings.get("do_sample"):  # no ONNX operator for TensorFlow's stateless sampling
        settings["do_sample"] = False
        settings.setdefault("num_beams", 1)
        settings.pop("num_return_sequences", None)
    decode = decode_function(generator, settings)
    name, _, description = onnx_input(generator)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        tf2onnx.convert.from_function(decode, input_signature=decode.input_signature, opset=opset,
                                      output_path=str(work / "model.onnx"))
        vocabulary_file = generator.config["vocabulary"]
        shutil.copy(generator.directory / vocabulary_file, work / vocabulary_file)
        vocabulary = generator.vocabulary
        (work / "metadata.json").write_text(json.dumps({
            "model": generator.directory.name, "family": generator.config["family"], "opset": opset,
            "inputs": {name: description},
            "outputs": {"sequences": "int32 [batch, returns, max_new_tokens]", "scores": "float32 [batch, returns]"},
            "vocabulary": vocabulary_file, "pad_id": vocabulary.pad_id, "start_id": vocabulary.start_id,
            "end_id": vocabulary.end_id, "generation": settings,
            **input_metadata(generator),
        }, indent=2) + "\n")
        work.rename(out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return out_dir
