"""Where a decoding step's time goes: XLA CPU's own per-operation trace.

Runs `benchmarks/decode.py`'s cgen model (4 layers, 256 wide, vocabulary 8192,
32-token prompt) under the TensorFlow profiler with XLA's per-thunk trace
events on (`--xla_cpu_enable_xprof_traceme`), once per (batch, strategy), each
in its own process, and groups the compiled loop's operations:

  dense matmuls    the q/k/v/output projections, the feed-forward and the
                   vocabulary head (TF MatMul ops, or at one row the dot fused
                   with its bias; the largest is the head)
  attention dots   the batched query-key and probability-value products
  beam reorder     gathers of every layer's key/value cache by parent beam
  loop copies      copies XLA inserts between loop iterations
  top-k            the TopK custom call (greedy argmax and beam selection)
  other            every elementwise / reduction fusion

Thunks run on two threads, so the shares are of the summed thunk time; the
wall time per step is the whole `generate` call over the new tokens.

    python benchmarks/decode_profile.py --batch-sizes 8 --strategies greedy beam4
"""

import argparse
import collections
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

GROUPS = ("dense matmuls", "attention dots", "beam reorder", "loop copies", "top-k", "other")
SKIP = ("ThunkExecutor::Execute", "SlinkyThreadPool::Await")  # wrappers around the thunks below


def group(name):
    if name.startswith("MatMul") or name.startswith("dot_"):  # dot_add_fusion: a one-row product fused with its bias
        return "dense matmuls"
    if name.startswith("dot"):
        return "attention dots"
    if name.startswith("gather") and "add" not in name:  # gather_add_fusion is the embedding lookup
        return "beam reorder"
    if name.startswith("copy") and "fusion" not in name:
        return "loop copies"
    if name.startswith("custom-call"):
        return "top-k"
    return "other"


def thunk_times(xplane_path):
    """(thunk name -> summed milliseconds) of the XLA thunks in one trace."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    with open(xplane_path, "rb") as f:
        space.ParseFromString(f.read())
    times = collections.Counter()
    for plane in space.planes:
        names = {key: meta.name for key, meta in plane.event_metadata.items()}
        for line in plane.lines:
            if "Eigen" not in line.name:  # XLA's thunks run on the intra-op (Eigen) threads
                continue
            for event in line.events:
                name = names.get(event.metadata_id, "?")
                if name not in SKIP and not name.startswith("while"):  # a while thunk holds its body's
                    times[name] += event.duration_ps / 1e9
    return times


def child(batch, strategy, new_tokens):
    import decode
    import tensorflow as tf

    decode.BATCH = batch
    run = decode.cgen_runner(strategy, new_tokens)
    run()  # compile
    walls = []
    for _ in range(3):
        start = time.perf_counter()
        run()
        walls.append(time.perf_counter() - start)
    wall = sorted(walls)[1]
    logdir = tempfile.mkdtemp(prefix="decode_profile_")
    tf.profiler.experimental.start(logdir)
    run()
    tf.profiler.experimental.stop()
    times = thunk_times(glob.glob(f"{logdir}/plugins/profile/*/*.xplane.pb")[0])
    by_group = collections.Counter()
    for name, ms in times.items():
        by_group[group(name)] += ms
    largest = max((n for n in times if group(n) == "dense matmuls"), key=times.get)
    return {"batch": batch, "strategy": strategy, "new_tokens": new_tokens,
            "wall_ms_per_step": wall * 1000 / new_tokens,
            "thunk_ms_per_step": sum(times.values()) / new_tokens,
            "groups_ms_per_step": {g: by_group[g] / new_tokens for g in GROUPS},
            "head_ms_per_step": times[largest] / new_tokens}


def markdown(results):
    lines = ["| batch | strategy | wall ms / step | thunk ms / step | "
             + " | ".join(GROUPS) + " | largest matmul (the head) |",
             "|---:|---|---:|---:|" + "---:|" * (len(GROUPS) + 1)]
    for r in results:
        total = r["thunk_ms_per_step"]
        cells = [f"{r['groups_ms_per_step'][g]:.2f} ({100 * r['groups_ms_per_step'][g] / total:.0f}%)" for g in GROUPS]
        lines.append(f"| {r['batch']} | {r['strategy']} | {r['wall_ms_per_step']:.2f} | {total:.2f} | "
                     + " | ".join(cells) + f" | {r['head_ms_per_step']:.2f} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 8, 32])
    parser.add_argument("--strategies", nargs="+", default=["greedy", "beam4"], choices=["greedy", "beam4"])
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        batch, strategy = args.child.split(",")
        print("RESULT " + json.dumps(child(int(batch), strategy, args.new_tokens)))
        return
    results = []
    for batch in args.batch_sizes:
        for strategy in args.strategies:
            env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow",
                   "XLA_FLAGS": (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_enable_xprof_traceme=true").strip(),
                   "PYTHONPATH": os.pathsep.join([os.path.dirname(os.path.abspath(__file__)),
                                                  os.environ.get("PYTHONPATH", "")])}
            proc = subprocess.run([sys.executable, __file__, "--child", f"{batch},{strategy}",
                                   "--new-tokens", str(args.new_tokens)], capture_output=True, text=True, env=env)
            line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
            if proc.returncode or not line:
                print(f"batch {batch} {strategy} failed:\n{proc.stderr[-3000:]}", file=sys.stderr)
                continue
            results.append(json.loads(line[0][7:]))
            r = results[-1]
            print(f"batch {batch:3d} {strategy:7s} wall {r['wall_ms_per_step']:.2f} ms/step", flush=True)
    print(markdown(results))


if __name__ == "__main__":
    main()
