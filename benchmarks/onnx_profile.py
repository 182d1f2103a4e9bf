"""Where onnxruntime spends a request's time: the zoo model's ONNX export run
with onnxruntime's profiler on batch-`--batch` requests of held-out inputs
(its family's evaluation `requests`, prepared as a client does);
total time per operator type (nodes inside the decode `Loop` included, the
`Loop` node itself left out since it contains them all), standard graph vs the
optimised `model.ort.onnx` that the export ships.

    .venv/bin/python benchmarks/onnx_profile.py --models autotitle-lstm-zh --batch 8
"""

import argparse
import collections
import json
import tempfile
import warnings
from pathlib import Path



def profile(graph, feed, requests):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.enable_profiling = True
    options.profile_file_prefix = str(Path(tempfile.mkdtemp()) / "ort")
    session = onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
    session.run(None, feed)  # first run: allocations, not counted below
    for _ in range(requests):
        session.run(None, feed)
    trace = json.loads(Path(session.end_profiling()).read_text())
    runs = [e for e in trace if e.get("name") == "model_run"]
    first_end = runs[0]["ts"] + runs[0]["dur"]
    per_op = collections.Counter()
    for event in trace:
        if event.get("cat") == "Node" and event["ts"] >= first_end and event["name"].endswith("_kernel_time"):
            op = event["args"].get("op_name", "?")
            if op != "Loop":
                per_op[op] += event["dur"]
    run_us = sum(e["dur"] for e in runs[1:]) / requests
    return run_us, per_op


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["autotitle-lstm-zh"])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument("--top", type=int, default=8)
    args = parser.parse_args()

    import keras_cgen
    from keras_cgen.export import export_onnx
    from keras_cgen.export.check import onnx_feed
    from keras_cgen.text import load_vocabulary
    from keras_cgen.zoo import family

    work = Path(tempfile.mkdtemp(prefix="cgen-ort-profile-"))
    for name in args.models:
        generator = keras_cgen.zoo.load(name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = export_onnx(generator, work / name)  # the export's settings (`onnx_settings`)
        metadata = json.loads((out / "metadata.json").read_text())
        requests = family(generator.config.family).evaluation_module().requests(generator, args.batch)
        feed = onnx_feed(type(generator).client_feed(requests, metadata, load_vocabulary(out / metadata["vocabulary"])),
                         metadata)
        print(f"\n{name}, batch {args.batch}, {args.requests} profiled requests\n")
        print("| graph | ms / request | top operators (share of kernel time) |\n|---|---|---|")
        for graph in ("model.onnx", "model.ort.onnx"):
            run_us, per_op = profile(out / graph, feed, args.requests)
            total = sum(per_op.values())
            top = ", ".join(f"{op} {100 * us / total:.0f}%" for op, us in per_op.most_common(args.top))
            print(f"| {graph} | {run_us / 1000:.0f} | {top} |", flush=True)


if __name__ == "__main__":
    main()
