"""Training throughput of the zoo recipes' models on this machine: XLA
(`jit_compile=True`) against TensorFlow's default graph executor, float32
against mixed bfloat16. Each setting runs in its own process (the dtype
policy is global); median samples/s of `--runs` timed epochs.

    .venv/bin/python benchmarks/training_step.py --runs 3
"""

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, sys, time
import keras, numpy as np
import keras_cgen
from keras_cgen import training
model_name, precision, jit, runs = sys.argv[1], sys.argv[2], sys.argv[3] == "1", int(sys.argv[4])
keras.mixed_precision.set_dtype_policy(precision)
rng = np.random.default_rng(0)
if model_name == "unilm":
    from keras_cgen.checkpoints import load_bert, minilm_directory
    model = load_bert(minilm_directory(), "unilm", keep_tokens=list(range(3700)))
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
model.compile(keras.optimizers.AdamW(1e-4), training.target_loss(), jit_compile=jit)
model.fit(x, y, sample_weight=weights, batch_size=batch, epochs=1, verbose=0)  # trace / compile
rates = []
for _ in range(runs):
    start = time.perf_counter()
    model.fit(x, y, sample_weight=weights, batch_size=batch, epochs=1, verbose=0)
    rates.append(len(y) / (time.perf_counter() - start))
print(json.dumps({"rate": float(np.median(rates))}))
"""

SETTINGS = [("unilm", "float32", "1"), ("unilm", "float32", "0"), ("unilm", "mixed_bfloat16", "1"),
            ("unilm", "mixed_bfloat16", "0"), ("lstm", "float32", "1"), ("lstm", "float32", "0")]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print("| model | precision | XLA | samples/s (median) |\n|---|---|---|---|")
    for model, precision, jit in SETTINGS:
        result = subprocess.run([sys.executable, "-c", CHILD, model, precision, jit, str(args.runs)],
                                capture_output=True, text=True)
        if result.returncode:
            raise SystemExit(result.stderr[-2000:])
        rate = json.loads(result.stdout.strip().splitlines()[-1])["rate"]
        name = "UniLM (MiniLM-L6, 3.7k vocab, batch 32 x 80)" if model == "unilm" else \
            "LSTM seq2seq (8k vocab, batch 64, 96 -> 24)"
        print(f"| {name} | {precision} | {'on' if jit == '1' else 'off'} | {rate:.1f} |", flush=True)


if __name__ == "__main__":
    main()
