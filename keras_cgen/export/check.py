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
answer = {key: [v.decode() if isinstance(v, bytes) else v for v in value.numpy().tolist()] for key, value in out.items()}
print(json.dumps({"answer": answer, "seconds": seconds, "requires": meta["requires"]}))
"""

ONNX = """
import json, os, sys, time
import numpy as np, onnxruntime
path, feed = sys.argv[1], sys.argv[2]
with np.load(feed) as arrays:
    name, inputs = arrays.files[0], arrays[arrays.files[0]]
graphs = [g for g in ("model.ort.onnx", "model.onnx") if os.path.isfile(os.path.join(path, g))]
answers = []
for graph in graphs:  # the optimised graph onnxruntime serves, and the standard one it was made from
    session = onnxruntime.InferenceSession(os.path.join(path, graph), providers=["CPUExecutionProvider"])
    start = time.perf_counter()
    answers.append(session.run(["sequences", "scores"], {name: inputs}) + [time.perf_counter() - start])
(sequences, scores, seconds), *others = answers
for other, graph in zip(others, graphs[1:]):
    if not (np.array_equal(other[0], sequences) and np.allclose(other[1], scores, atol=1e-4)):
        raise SystemExit(f"{graphs[0]} and {graph} answer differently")
np.savez(feed, sequences=sequences, scores=scores)
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
    else:
        vocabulary = load_vocabulary(path / metadata["vocabulary"])
        name = next(iter(metadata["inputs"]))
        with tempfile.TemporaryDirectory(prefix="cgen-serve-check-") as folder:
            feed = Path(folder) / "feed.npz"
            np.savez(feed, **{name: generator_class.client_feed(requests, metadata, vocabulary)})
            result = run(ONNX, path, feed)
            with np.load(feed) as outputs:
                result["answer"] = generator_class.client_answer(outputs["sequences"], outputs["scores"], vocabulary)
    return {"kind": kind, "path": str(path), "requests": requests, **result}
