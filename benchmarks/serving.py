"""Serving latency of the zoo models: Keras `generate` vs the SavedModel loaded
in a fresh TensorFlow process vs onnxruntime, same inputs, same settings, same run.

    .venv/bin/python benchmarks/serving.py --requests 20            # every zoo model
    .venv/bin/python benchmarks/serving.py --models autotitle-lstm-zh --requests 30

Each runtime runs in its own process, one after the other (never in parallel),
on held-out inputs of the model's family (its evaluation module's `requests`:
test descriptions, test-play lines, labels, test emoji): batch-1 and batch-8
requests, after two warm-up requests (tracing / session start are not counted);
Keras first runs `generator.warmup(batch_sizes=(1, 8))`, which compiles every
length bucket. Reports the p50 / p95 request latency and requests per second.
Settings: the ONNX export's (`onnx_settings`: the model's own, greedy where it
samples, since ONNX has no sampling operator), given to all three runtimes.
"""

import argparse
import base64
import json
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

CHILD = r"""
import base64, json, os, sys, time, warnings
import numpy as np
kind, path, settings, requests = sys.argv[1], sys.argv[2], json.loads(sys.argv[4]), int(sys.argv[5])
inputs = json.loads(open(sys.argv[3]).read())  # a file: a batch of encoded images is too long for argv
if kind == "saved_model":  # inputs: the bytes a client sends, base64
    import tensorflow as tf
    meta = json.load(open(path + "/assets.extra/keras_cgen.json"))
    if "tensorflow-text" in meta["requires"]:
        import tensorflow_text  # noqa: F401
    serve = tf.saved_model.load(path).signatures["serving_default"]
    name = next(iter(meta["signature"]["inputs"]))
    inputs = [base64.b64decode(x) for x in inputs]
    answer = lambda batch: serve(**{name: tf.constant(batch)})
elif kind == "onnx":
    import onnxruntime
    from keras_cgen.export.check import onnx_feed
    from keras_cgen.text import load_vocabulary
    from keras_cgen.zoo import family
    meta = json.load(open(path + "/metadata.json"))
    vocabulary = load_vocabulary(path + "/" + meta["vocabulary"])
    client = family(meta["family"]).generator_class()  # the client-side preparation serve-check uses
    graph = "/model.ort.onnx" if os.path.isfile(path + "/model.ort.onnx") else "/model.onnx"  # as exported
    ort = onnxruntime.InferenceSession(path + graph, providers=["CPUExecutionProvider"])
    def answer(batch):  # preparing the inputs on the client is part of the request
        names = [output.name for output in ort.get_outputs()]
        values = ort.run(names, onnx_feed(client.client_feed(batch, meta, vocabulary), meta))
        return client.client_answer(dict(zip(names, values)), vocabulary, batch)
else:
    import keras_cgen
    generator = keras_cgen.zoo.load(path)
    warnings.simplefilter("ignore", UserWarning)
    warmed_up = generator.warmup(batch_sizes=(1, 8), **settings)  # every length bucket compiled before timing
    answer = lambda batch: generator.generate(batch, **settings)
result = {}
for size in (1, 8):
    batches = [inputs[(i * size) % len(inputs):][:size] for i in range(requests + 2)]
    batches = [b if len(b) == size else inputs[:size] for b in batches]
    for batch in batches[:2]:
        answer(batch)
    times = []
    for batch in batches[2:]:
        start = time.perf_counter()
        answer(batch)
        times.append(time.perf_counter() - start)
    times = np.asarray(times)
    result[size] = {"p50_ms": 1000 * float(np.median(times)), "p95_ms": 1000 * float(np.percentile(times, 95)),
                    "per_s": size * len(times) / float(times.sum())}
print(json.dumps(result))
"""


def milliseconds(value):
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=None, help="zoo model names (default: the whole zoo)")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per batch size")
    args = parser.parse_args()

    import keras_cgen
    from keras_cgen.export import export_onnx
    from keras_cgen.export import export_saved_model
    from keras_cgen.export.onnx import onnx_settings
    from keras_cgen.zoo import family

    print("| model | runtime | batch | p50 ms | p95 ms | requests/s |\n|---|---|---|---|---|---|")
    work = Path(tempfile.mkdtemp(prefix="cgen-serving-"))
    for name in args.models or keras_cgen.zoo.list():
        generator = keras_cgen.zoo.load(name)
        inputs = family(generator.config.family).evaluation_module().requests(generator, 64)
        # Only what the ONNX export changes (a sampling default becomes greedy) is passed on.
        own = generator.settings()
        settings = {key: value for key, value in onnx_settings(generator).items() if own.get(key) != value}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            saved = export_saved_model(generator, work / name, version=1, **settings)
            onnx = export_onnx(generator, work / f"{name}-onnx", **settings)
        sent = [base64.b64encode(data).decode() for data in type(generator).request_bytes(inputs)]
        for kind, path, payload in (("keras", name, inputs), ("saved_model", saved, sent), ("onnx", onnx, inputs)):
            (work / "inputs.json").write_text(json.dumps(payload))
            result = subprocess.run([sys.executable, "-c", CHILD, kind, str(path), str(work / "inputs.json"),
                                     json.dumps(settings), str(args.requests)], capture_output=True, text=True)
            if result.returncode:
                raise SystemExit(result.stderr[-3000:])
            rows = json.loads(result.stdout.strip().splitlines()[-1])
            label = {"keras": "Keras generate (XLA)", "saved_model": "SavedModel, fresh TF process",
                     "onnx": "onnxruntime (+ client preparation)"}[kind]
            for size, row in rows.items():
                print(f"| {name} | {label} | {size} | {milliseconds(row['p50_ms'])} | {milliseconds(row['p95_ms'])} | "
                      f"{row['per_s']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
