"""The decode loop of a zoo title generator as one ONNX graph (an ONNX `Loop`):
source token ids in, generated ids and scores out. The vocabulary and the
tokenisation settings travel beside it."""

import json
import shutil
import tempfile
from pathlib import Path

import tensorflow as tf

from keras_cgen.decoding import engine
from keras_cgen.export.saved_model import export_settings

OPSET = 17


def decode_function(generator, settings):
    """`tf.function`: `source_ids` int32 `[B, S]` (0-padded body ids, no
    specials) -> `sequences` int32 `[B, R, T]`, `scores` float32 `[B, R]`."""
    plan = engine.make_settings(**settings)

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32, name="source_ids")])
    def decode(source_ids):
        out = generator.decode_ids(source_ids, plan, tf.zeros([2], tf.int32), cache_write="where")
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
    decode = decode_function(generator, settings)
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
            "inputs": {"source_ids": "int32 [batch, source_length], 0-padded body token ids, no specials"},
            "outputs": {"sequences": "int32 [batch, returns, max_new_tokens]", "scores": "float32 [batch, returns]"},
            "vocabulary": vocabulary_file, "pad_id": vocabulary.pad_id, "start_id": vocabulary.start_id,
            "end_id": vocabulary.end_id, "max_source_length": generator.config["max_source_length"],
            "source_tail": generator.config.get("source_tail", 0), "generation": settings,
        }, indent=2) + "\n")
        work.rename(out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return out_dir
