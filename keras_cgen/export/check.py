"""`cgen serve-check DIR`: load an export in a fresh process and answer a few
requests, bad ones included. The SavedModel check imports only TensorFlow
(and tensorflow-text when the export's metadata asks for it)."""

import json
import subprocess
import sys
from pathlib import Path

REQUESTS = ["Atril is a simple multi-page document viewer. It can display and print PostScript and PDF files.",
            "这是一个允许你从 Shell 创建 X 菜单的简单程序。", "", "   ", "x" * 10_000, "☃ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢"]

SAVED_MODEL = """
import json, os, sys, time
import tensorflow as tf
path, requests = sys.argv[1], json.loads(sys.argv[2])
meta = json.load(open(path + "/assets.extra/keras_cgen.json"))
if "tensorflow-text" in meta["requires"]:
    import tensorflow_text  # noqa: F401
serve = tf.saved_model.load(path).signatures["serving_default"]
name = next(iter(meta["signature"]["inputs"]))  # "text", or "condition" for conditional LMs
start = time.perf_counter()
if name == "image":  # requests are image files (anything else is sent as its bytes)
    requests = [open(r, "rb").read() if os.path.isfile(r) else r.encode() for r in requests]
out = serve(**{name: tf.constant(requests)})
print(json.dumps({"text": [t.decode() for t in out["text"].numpy()], "score": out["score"].numpy().tolist(),
                  "seconds": time.perf_counter() - start, "requires": meta["requires"]}))
"""

ONNX = """
import json, sys, time, warnings
import numpy as np, onnxruntime
from keras_cgen.text import pad_rows
from keras_cgen.zoo import load_vocabulary
from keras_cgen.text import truncate
path, requests = sys.argv[1], json.loads(sys.argv[2])
meta = json.load(open(path + "/metadata.json"))
vocabulary = load_vocabulary(path + "/" + meta["vocabulary"])
name = next(iter(meta["inputs"]))
if name == "image":  # captioner: image files, decoded as the generator does (unreadable: white)
    from keras_cgen.data.emoji import read_image
    def pixels(r):
        try:
            return read_image(r, meta["image_size"])
        except ValueError:
            return np.ones((meta["image_size"],) * 2 + (3,), "float32")
    feed = np.stack([pixels(r) for r in requests])
elif name == "condition":  # conditional LM: one-hot labels (unknown: zeros)
    labels = meta["labels"]
    feed = np.array([[float(t == label) for label in labels] for t in requests], "float32")
elif name == "prompt_ids":  # character LM: left-padded prompts
    rows = [vocabulary.encode(t or "\\n")[-meta["max_prompt"]:] for t in requests]
    feed = np.array([[0] * (max(map(len, rows)) - len(r)) + list(r) for r in rows], "int32")
else:
    rows = [truncate(vocabulary.encode(t) if t.strip() else [], meta["max_source_length"], meta.get("source_tail", 0))
            for t in requests]
    feed = pad_rows([r or [0] for r in rows])
session = onnxruntime.InferenceSession(path + "/model.onnx", providers=["CPUExecutionProvider"])
start = time.perf_counter()
sequences, scores = session.run(["sequences", "scores"], {name: feed})
print(json.dumps({"text": [vocabulary.decode(s[0]) for s in sequences], "score": scores[:, 0].tolist(),
                  "seconds": time.perf_counter() - start, "requires": ["onnxruntime"]}))
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


LABEL_REQUESTS = ["positive", "negative", "", "neutral"]


def image_requests(size):
    """Image files for a captioner's check: a PNG with transparency, a JPEG,
    a larger PNG (resized) and a file that is not an image."""
    import tempfile

    from PIL import Image
    from PIL import ImageDraw

    folder = Path(tempfile.mkdtemp(prefix="cgen-serve-check-"))
    face = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    ImageDraw.Draw(face).ellipse([4, 4, size - 4, size - 4], fill=(250, 200, 40, 255), outline=(0, 0, 0, 255))
    face.save(folder / "face.png")
    face.convert("RGB").save(folder / "face.jpg")
    face.resize((3 * size, 3 * size)).save(folder / "large.png")
    (folder / "notes.txt").write_text("not an image")
    return [str(folder / name) for name in ("face.png", "face.jpg", "large.png", "notes.txt")]


def serve_check(path, requests=None):
    """Answers `requests` (default: texts, or labels for a conditional LM)
    from the export at `path` in a fresh Python process."""
    kind, path = export_kind(path)
    if requests is None:
        metadata = path / ("assets.extra/keras_cgen.json" if kind == "saved_model" else "metadata.json")
        metadata = json.loads(metadata.read_text())
        requests = (LABEL_REQUESTS if "labels" in metadata else
                    image_requests(metadata["image_size"]) if "image_size" in metadata else REQUESTS)
    script = SAVED_MODEL if kind == "saved_model" else ONNX
    result = subprocess.run([sys.executable, "-c", script, str(path), json.dumps(requests)],
                            capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"The {kind} export at '{path}' failed to answer:\n{result.stderr[-3000:]}")
    return {"kind": kind, "path": str(path), **json.loads(result.stdout.strip().splitlines()[-1])}
