"""Training throughput with 1 vs 2 workers of `--strategy multiworker` on this
machine: the same model, global batch and steps; the two workers are separate
processes on localhost ports (TF_CONFIG), each limited to its share of the
cores (the single process gets them all). Median samples/s of `--runs` timed
epochs after a warm-up epoch, reported by the chief.

    .venv/bin/python benchmarks/multiworker.py --runs 3

On a 2-core CPU, two workers are not faster than one process: each gets one
core and every step all-reduces the gradients over gRPC. The path is what the
benchmark (and tests/test_multiworker.py) exercise; see export/DISTRIBUTED.md.
"""

import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import json, os, sys
workers, model_name, runs = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
import tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(max(1, os.cpu_count() // workers))
from keras_cgen import training
strategy = training.distribution_strategy("multiworker" if workers > 1 else "default")
import time, keras, numpy as np
rng = np.random.default_rng(0)
with strategy.scope():
    keras.utils.set_random_seed(0)
    if model_name == "unilm":
        from keras_cgen.models import BertConfig, build_transformer
        model = build_transformer(BertConfig(vocabulary_size=3700, hidden_size=384, num_layers=6, num_heads=12,
                                             intermediate_size=1536, max_position=512), "unilm")
        batch, length = 32, 80
        x = {"token_ids": rng.integers(1, 3700, (batch * 4, length)).astype("int32"),
             "segment_ids": np.repeat([[0] * (length - 16) + [1] * 16], batch * 4, 0).astype("int32")}
        y = rng.integers(1, 3700, (batch * 4, length))
        weights = x["segment_ids"].astype("float32")
    else:
        from keras_cgen.families.autotitle import build_lstm_seq2seq
        model = build_lstm_seq2seq(8000, embedding_dim=128, hidden_units=256, dropout=0.1)
        batch = 64
        x = {"source_ids": rng.integers(1, 8000, (batch * 4, 96)).astype("int32"),
             "target_ids": rng.integers(1, 8000, (batch * 4, 24)).astype("int32")}
        y = rng.integers(1, 8000, (batch * 4, 24))
        weights = np.ones(y.shape, "float32")
    model.compile(keras.optimizers.AdamW(1e-4), training.target_loss(), jit_compile=False)
model.fit(x, y, sample_weight=weights, batch_size=batch, epochs=1, verbose=0, shuffle=False)  # trace
rates = []
for _ in range(runs):
    start = time.perf_counter()
    model.fit(x, y, sample_weight=weights, batch_size=batch, epochs=1, verbose=0, shuffle=False)
    rates.append(len(y) / (time.perf_counter() - start))
if training.is_chief():
    print(json.dumps({"rate": float(np.median(rates)), "replicas": strategy.num_replicas_in_sync}))
"""

MODELS = {"unilm": "UniLM (MiniLM-L6 size, 3.7k vocab, batch 32 x 80)",
          "lstm": "LSTM seq2seq (8k vocab, batch 64, 96 -> 24)"}


def run(workers, model, runs):
    from keras_cgen.training import local_cluster

    processes = []
    for tf_config in local_cluster(workers):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        if workers > 1:
            env["TF_CONFIG"] = tf_config
        processes.append(subprocess.Popen([sys.executable, "-c", CHILD, str(workers), model, str(runs)], env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [process.communicate() for process in processes]
    if any(process.returncode for process in processes):
        raise SystemExit("\n".join(err[-2000:] for _, err in outputs))
    return json.loads(outputs[0][0].strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    args = parser.parse_args()
    print("| model | workers (processes) | threads each | samples/s (median) | vs 1 worker |\n|---|---|---|---|---|")
    for model in args.models:
        single = None
        for workers in (1, 2):
            rate = run(workers, model, args.runs)["rate"]
            single = single or rate
            print(f"| {MODELS[model]} | {workers} | {max(1, os.cpu_count() // workers)} | {rate:.1f} | "
                  f"{rate / single:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
