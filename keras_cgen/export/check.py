"""`cgen serve-check DIR`: load an export in a fresh process and answer a few
requests, bad ones included. The SavedModel check's process imports only
TensorFlow (and tensorflow-text when the export's metadata asks for it), the
ONNX check's only onnxruntime and numpy: requests are prepared here, by the
export's family (`client_feed`, `request_bytes`), as a client would."""

import base64
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

SAVED_MODEL = """
import base64, json, sys, time
import tensorflow as tf
path, requests = sys.argv[1], [base64.b64decode(r) for r in json.loads(sys.argv[2])]
meta = json.load(open(path + "/assets.extra/keras_cgen.json"))
if "tensorflow-text" in meta["requires"]:
    import tensorflow_text  # noqa: F401
serve = tf.saved_model.load(path).signatures["serving_default"]
name = next(iter(meta["signature"]["inputs"]))
start = time.perf_counter()
out = serve(**{name: tf.constant(requests)})
seconds = time.perf_counter() - start
def texts(values):  # text answers as text; binary ones (PNG images) as base64
    try:
        return {"text": [v.decode() for v in values]}
    except UnicodeDecodeError:
        return {"base64": [base64.b64encode(v).decode() for v in values]}
answer = {key: texts(value.numpy().tolist()) if value.dtype == tf.string else value.numpy().tolist()
          for key, value in out.items()}
print(json.dumps({"answer": answer, "seconds": seconds, "requires": meta["requires"]}))
"""

ONNX = """
import json, os, sys, time
import numpy as np, onnxruntime
path, feed = sys.argv[1], sys.argv[2]
with np.load(feed) as arrays:
    inputs = {name: arrays[name] for name in arrays.files}
graphs = [g for g in ("model.ort.onnx", "model.onnx") if os.path.isfile(os.path.join(path, g))]
answers = []
for graph in graphs:  # the optimised graph onnxruntime serves, and the standard one it was made from
    session = onnxruntime.InferenceSession(os.path.join(path, graph), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    start = time.perf_counter()
    values = session.run(names, inputs)
    answers.append((dict(zip(names, values)), time.perf_counter() - start))
(outputs, seconds), *others = answers
for (other, _), graph in zip(others, graphs[1:]):
    for name, value in outputs.items():
        same = np.allclose(other[name], value, atol=1e-4) if value.dtype.kind == "f" else np.array_equal(other[name], value)
        if not same:
            raise SystemExit(f"{graphs[0]} and {graph} answer differently ({name})")
np.savez(feed, **outputs)
print(json.dumps({"seconds": seconds, "requires": ["onnxruntime"], "graphs": graphs}))
"""


def export_kind(path):
    """("saved_model", version dir) or ("onnx", dir) for an export folder or its base dir."""
    path = Path(path)
    if (path / "model.onnx").is_file():
        return "onnx", path
    if (path / "saved_model.pb").is_file():
        return "saved_model", path
    versions = sorted((p for p in path.iterdir() if p.name.isdigit() and (p / "saved_model.pb").is_file()),
                      key=lambda p: int(p.name)) if path.is_dir() else []
    if versions:
        return "saved_model", versions[-1]  # TF Serving serves the newest version
    raise FileNotFoundError(f"'{path}' is not an export: expected model.onnx, saved_model.pb or version folders.")


def read_metadata(kind, path):
    """The export's metadata and the `Generator` class of its family."""
    from keras_cgen.zoo import family

    metadata = json.loads((path / ("assets.extra/keras_cgen.json" if kind == "saved_model" else "metadata.json"))
                          .read_text())
    return metadata, family(metadata["family"]).generator_class()


def run(script, *argv):
    result = subprocess.run([sys.executable, "-c", script, *map(str, argv)], capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"The export at '{argv[0]}' failed to answer:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def onnx_feed(feed, metadata):
    """`client_feed`'s answer (an array for a one-input graph, else a dict) as a dict by input name."""
    return feed if isinstance(feed, dict) else {next(iter(metadata["inputs"])): feed}


def serve_check(path, requests=None):
    """Answers `requests` (default: the family's `check_requests`) from the
    export at `path` in a fresh Python process. Returns `{"kind", "path",
    "requests", "answer": {output: [...]}, "seconds", "requires"}`."""
    from keras_cgen.text import load_vocabulary

    kind, path = export_kind(path)
    metadata, generator_class = read_metadata(kind, path)
    requests = generator_class.check_requests(metadata) if requests is None else requests
    if kind == "saved_model":
        payload = [base64.b64encode(data).decode() for data in generator_class.request_bytes(requests)]
        result = run(SAVED_MODEL, path, json.dumps(payload))
        result["answer"] = {key: value if isinstance(value, list) else value["text"] if "text" in value
                            else [base64.b64decode(v) for v in value["base64"]]
                            for key, value in result["answer"].items()}
    else:
        vocabulary = load_vocabulary(path / metadata["vocabulary"])
        with tempfile.TemporaryDirectory(prefix="cgen-serve-check-") as folder:
            feed = Path(folder) / "feed.npz"
            np.savez(feed, **onnx_feed(generator_class.client_feed(requests, metadata, vocabulary), metadata))
            result = run(ONNX, path, feed)
            with np.load(feed) as outputs:
                result["answer"] = generator_class.client_answer(dict(outputs), vocabulary, requests)
    return {"kind": kind, "path": str(path), "requests": requests, **result}
