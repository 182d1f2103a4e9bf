"""The decode loop of a zoo generator as one ONNX graph (an ONNX `Loop`): the
generator's `onnx_inputs` (token ids, a label's one-hot vector, pixels, noise)
in, its `onnx_outputs` (generated ids and scores, or images and scores) out. The vocabulary and what a client needs to
prepare inputs (`input_metadata`) travel beside it.

Sampling draws from stateless TensorFlow random ops that ONNX has no
operator for: sampling models export their greedy or beam-search decoding.

`model.onnx` is the standard graph (any ONNX runtime); `model.ort.onnx` is the
same graph after onnxruntime's portable optimisations (constant folding, node
fusions into its own operators), which onnxruntime sessions load instead."""

import json
import shutil
import tempfile
from pathlib import Path

import tensorflow as tf

from keras_cgen.decoding import engine

OPSET = 17
OPTIMISED = "model.ort.onnx"


def optimise(model_path, optimised_path):
    """Saves onnxruntime's optimised graph of `model_path`. ORT_ENABLE_EXTENDED,
    not ALL: ALL adds memory layouts for this machine's CPU, which the saved
    file would then require; a session still applies them when it loads."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(optimised_path)
    onnxruntime.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])


def hoist_loop_invariants(graph):
    """Turns the values a `Loop` body passes through unchanged into reads of
    the outer scope; returns how many. A TensorFlow while loop carries every
    weight it captures as a loop variable, and tf2onnx keeps them so:
    onnxruntime then treats the weights as per-iteration state (no pre-packed
    matrices), which made its decode loops slower than the SavedModel's
    (`benchmarks/serving.py`)."""
    count = 0
    for node in graph.node:
        for subgraph in subgraphs(node):
            count += hoist_loop_invariants(subgraph)
        if node.op_type != "Loop":
            continue
        body = next(attribute.g for attribute in node.attribute if attribute.name == "body")
        # Loop inputs: M, cond, carried...; body inputs: iteration, cond, carried...;
        # body outputs: cond, carried..., scans...; Loop outputs: carried..., scans...
        outputs = {output.name for output in graph.output}
        body_outputs = [output.name for output in body.output]
        unchanged = [k for k in range(len(node.input) - 2)
                     if node.input[2 + k] and body.output[1 + k].name == body.input[2 + k].name
                     and body_outputs.count(body.input[2 + k].name) == 1 and node.output[k] not in outputs]
        for k in unchanged:
            rename_input(body, body.input[2 + k].name, node.input[2 + k])
            rename_input(graph, node.output[k], node.input[2 + k])
        for k in reversed(unchanged):
            del body.input[2 + k], body.output[1 + k], node.input[2 + k], node.output[k]
        count += len(unchanged)
    return count


def rename_input(graph, old, new):
    """Every read of `old` in `graph` and its subgraphs reads `new` instead."""
    for node in graph.node:
        node.input[:] = [new if name == old else name for name in node.input]
        for subgraph in subgraphs(node):
            rename_input(subgraph, old, new)


def subgraphs(node):
    """The graphs a node's attributes hold (a Loop's body, an If's branches)."""
    return [graph for attribute in node.attribute for graph in [attribute.g, *attribute.graphs] if graph.node]


def onnx_settings(generator, **settings):
    """The generator's settings (its config's defaults updated by `settings`),
    greedy or beam search where they sample, unless the graph takes its noise
    as an input: ONNX has no operator for TensorFlow's stateless sampling."""
    settings = generator.settings(**settings)
    if settings.get("do_sample") and not generator.onnx_noise_input:
        settings["do_sample"] = False
        settings.setdefault("num_beams", 1)
        settings.pop("num_return_sequences", None)
    return settings


def decode_function(generator, settings):
    """`tf.function`: the model's inputs (`generator.onnx_inputs()`) -> its
    `onnx_outputs` (for text: `sequences` int32 `[B, R, T]`, `scores` float32 `[B, R]`)."""
    plan = engine.make_settings(**settings)
    inputs = generator.onnx_inputs()
    signature = [tf.TensorSpec(spec.shape, spec.dtype, name=name) for name, spec, _ in inputs]

    @tf.function(input_signature=signature)
    def decode(*tensors):
        given = tensors[0] if len(tensors) == 1 else {name: t for (name, _, _), t in zip(inputs, tensors)}
        return generator.onnx_answer(generator.decode_ids(given, plan, tf.zeros([2], tf.int32), cache_write="where"))

    return decode


def export_onnx(generator, out_dir, opset=OPSET, **settings):
    """Writes `out_dir/` (which must not exist): `model.onnx` (opset `opset`),
    `model.ort.onnx` (onnxruntime's optimised graph), the vocabulary file and
    `metadata.json` (settings, special ids, how to tokenise). Written beside `out_dir` and renamed: a failed export leaves
    nothing."""
    import onnx
    import tf2onnx

    out_dir = Path(out_dir)
    if out_dir.exists():
        raise FileExistsError(f"'{out_dir}' exists: choose a new folder; exports are never overwritten.")
    settings = onnx_settings(generator, **settings)
    decode = decode_function(generator, settings)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        proto, _ = tf2onnx.convert.from_function(decode, input_signature=decode.input_signature, opset=opset)
        hoist_loop_invariants(proto.graph)
        onnx.checker.check_model(proto)
        onnx.save(proto, str(work / "model.onnx"))
        optimise(work / "model.onnx", work / OPTIMISED)
        vocabulary_file = generator.config.vocabulary
        shutil.copy(generator.directory / vocabulary_file, work / vocabulary_file)
        (work / "metadata.json").write_text(json.dumps({
            "model": generator.directory.name, "family": generator.config.family, "opset": opset,
            "inputs": {name: description for name, _, description in generator.onnx_inputs()},
            "outputs": generator.onnx_outputs, "vocabulary": vocabulary_file, **generator.vocabulary_metadata(),
            "generation": settings,
            **generator.input_metadata(),
        }, indent=2) + "\n")
        work.rename(out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return out_dir
