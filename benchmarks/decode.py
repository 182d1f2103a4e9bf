"""Decoding speed: keras-cgen's engine vs the peers, same model shape, same run.

A 4-layer, 256-wide, 4-head decoder with vocab 8192 and random weights; batch 8
(and 1, 32 with --batch-sizes), 32-token prompt, 64 and 128 new tokens (no early
stop), greedy and beam 4:

  cgen        keras_cgen TransformerDecoder.generate (KV cache, one XLA graph)
  cgen_lstm   keras_cgen LSTMSeq2SeqDecoder.generate on the zoo's LSTM title model
              shape (8k vocab, 128 / 256 units, attention + copy prior + pointer),
              the 32 prompt tokens as its source: no peer, a row for scale
  rerun       the same model decoded the bert4keras way: a host loop that re-runs
              the whole model on the whole prefix for every token
  keras_hub   keras_hub GPT2CausalLM, GreedySampler / BeamSampler(num_beams=4)
  hf          Hugging Face GPT2LMHeadModel.generate (when torch+transformers import)

Each (system, strategy, length) runs in its own process so peak memory is its
own. Reported: new tokens/s (batch * new tokens / wall time, median of --runs),
the first call (trace + compile + run) and the process's peak RSS.

    python benchmarks/decode.py                 # everything, table to stdout
    python benchmarks/decode.py --markdown out.md
    python benchmarks/decode.py --batch-sizes 1 32 --new-tokens 128 --systems cgen keras_hub hf cgen_lstm
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

VOCAB, WIDTH, LAYERS, HEADS, FFN = 8192, 256, 4, 4, 1024
PROMPT = 32
BATCH = 8  # the child's batch size (set from its --child spec)
SYSTEMS = ("cgen", "rerun", "keras_hub", "hf", "cgen_lstm")


def prompt_ids():
    import numpy as np

    return np.random.default_rng(0).integers(1, VOCAB, size=(BATCH, PROMPT)).astype("int32")


def cgen_lstm_runner(strategy, new_tokens):
    import keras_cgen  # noqa: F401
    from keras_cgen.families.autotitle import LSTMSeq2SeqDecoder
    from keras_cgen.families.autotitle import build_lstm_seq2seq

    model = build_lstm_seq2seq(VOCAB, embedding_dim=128, hidden_units=256, pointer=True)
    decoder = LSTMSeq2SeqDecoder(model, start_id=2)
    ids = prompt_ids()
    beams = dict(num_beams=4) if strategy == "beam4" else {}
    return lambda: decoder.generate(ids, max_new_tokens=new_tokens, **beams).sequences.numpy()


def cgen_runner(strategy, new_tokens):
    import keras_cgen  # noqa: F401
    from keras_cgen.models import BertConfig
    from keras_cgen.models import TransformerDecoder
    from keras_cgen.models import build_transformer

    config = BertConfig(vocabulary_size=VOCAB, hidden_size=WIDTH, num_layers=LAYERS, num_heads=HEADS,
                        intermediate_size=FFN, max_position=512, dropout=0.0, attention_dropout=0.0)
    decoder = TransformerDecoder(build_transformer(config, "lm"))
    ids = prompt_ids()
    beams = dict(num_beams=4) if strategy == "beam4" else {}
    return lambda: decoder.generate({"token_ids": ids}, max_new_tokens=new_tokens, **beams).sequences.numpy()


def rerun_runner(strategy, new_tokens):
    """bert4keras's AutoRegressiveDecoder, batched: numpy on the host, the whole
    model (compiled once for any length) re-run on the whole prefix each step."""
    import numpy as np
    import tensorflow as tf

    import keras_cgen  # noqa: F401
    from keras_cgen.models import BertConfig
    from keras_cgen.models import build_transformer

    config = BertConfig(vocabulary_size=VOCAB, hidden_size=WIDTH, num_layers=LAYERS, num_heads=HEADS,
                        intermediate_size=FFN, max_position=512, dropout=0.0, attention_dropout=0.0)
    model = build_transformer(config, "lm")
    last_logits = tf.function(
        lambda ids: model({"token_ids": ids, "segment_ids": tf.zeros_like(ids)})[:, -1],
        input_signature=[tf.TensorSpec((None, None), tf.int32)], jit_compile=False)
    ids = prompt_ids()

    def log_softmax(x):
        x = x - x.max(-1, keepdims=True)
        return x - np.log(np.exp(x).sum(-1, keepdims=True))

    def greedy():
        out = ids
        for _ in range(new_tokens):
            token = last_logits(out).numpy().argmax(-1)
            out = np.concatenate([out, token[:, None].astype("int32")], 1)
        return out

    def beam(k=4):
        out = np.repeat(ids, k, 0)
        scores = np.tile(np.array([0.0] + [-1e9] * (k - 1)), BATCH)
        for _ in range(new_tokens):
            logp = log_softmax(last_logits(out).numpy()) + scores[:, None]
            flat = logp.reshape(BATCH, -1)
            top = np.argpartition(-flat, k, axis=1)[:, :k]
            parents = top // VOCAB + np.arange(BATCH)[:, None] * k
            scores = np.take_along_axis(flat, top, 1).ravel()
            out = np.concatenate([out[parents.ravel()], (top % VOCAB).reshape(-1, 1).astype("int32")], 1)
        return out

    return greedy if strategy == "greedy" else beam


def keras_hub_runner(strategy, new_tokens):
    import keras_hub
    import numpy as np

    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=VOCAB, num_layers=LAYERS, num_heads=HEADS, hidden_dim=WIDTH, intermediate_dim=FFN,
        max_sequence_length=512, dropout=0.0)
    lm = keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)
    sampler = keras_hub.samplers.BeamSampler(num_beams=4) if strategy == "beam4" else "greedy"
    lm.compile(sampler=sampler)
    ids = np.concatenate([prompt_ids(), np.zeros((BATCH, new_tokens), "int32")], 1)
    mask = np.concatenate([np.ones((BATCH, PROMPT), bool), np.zeros((BATCH, new_tokens), bool)], 1)
    return lambda: lm.generate({"token_ids": ids, "padding_mask": mask}, stop_token_ids=None)


def hf_runner(strategy, new_tokens):
    import torch
    import transformers

    torch.set_num_threads(os.cpu_count())
    config = transformers.GPT2Config(vocab_size=VOCAB, n_positions=512, n_embd=WIDTH, n_layer=LAYERS, n_head=HEADS,
                                     n_inner=FFN, eos_token_id=None, bos_token_id=None)
    model = transformers.GPT2LMHeadModel(config).eval()
    ids = torch.tensor(prompt_ids(), dtype=torch.long)
    beams = 4 if strategy == "beam4" else 1

    def run():
        with torch.no_grad():
            return model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
                                  min_new_tokens=new_tokens, do_sample=False, num_beams=beams, pad_token_id=0)
    return run


def measure(system, strategy, new_tokens, runs):
    """Runs in a child process: one system, one setting."""
    runner = globals()[f"{system}_runner"](strategy, new_tokens)
    start = time.perf_counter()
    runner()
    first = time.perf_counter() - start
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        runner()
        times.append(time.perf_counter() - start)
    times.sort()
    median = times[len(times) // 2]
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"system": system, "strategy": strategy, "new_tokens": new_tokens, "batch": BATCH,
            "tokens_per_s": BATCH * new_tokens / median,
            "median_s": median, "first_call_s": first, "peak_rss_mib": peak_mib, "runs": runs}


def available(system):
    if system != "hf":
        return True
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        return False
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS)
    parser.add_argument("--strategies", nargs="+", default=["greedy", "beam4"], choices=["greedy", "beam4"])
    parser.add_argument("--new-tokens", nargs="+", type=int, default=[64, 128])
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[8])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per setting (the median is reported)")
    parser.add_argument("--rerun-runs", type=int, default=3, help="timed runs for the slow re-run baseline")
    parser.add_argument("--markdown", help="also write the results table to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        global BATCH
        system, strategy, new_tokens, runs, batch = args.child.split(",")
        BATCH = int(batch)
        print("RESULT " + json.dumps(measure(system, strategy, int(new_tokens), int(runs))))
        return

    results = []
    for batch in args.batch_sizes:
        for new_tokens in args.new_tokens:
            for strategy in args.strategies:
                for system in args.systems:
                    if not available(system):
                        print(f"skip {system}: not importable", file=sys.stderr)
                        continue
                    runs = args.rerun_runs if system == "rerun" else args.runs
                    child = [sys.executable, __file__, "--child", f"{system},{strategy},{new_tokens},{runs},{batch}"]
                    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}
                    proc = subprocess.run(child, capture_output=True, text=True, env=env)
                    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
                    if proc.returncode or not line:
                        print(f"{system} {strategy} {new_tokens} failed:\n{proc.stderr[-3000:]}", file=sys.stderr)
                        continue
                    result = json.loads(line[0][7:])
                    results.append(result)
                    print(f"batch {batch:3d} {system:10s} {strategy:7s} {new_tokens:4d} new: "
                          f"{result['tokens_per_s']:8.0f} tok/s  first call {result['first_call_s']:6.1f} s  "
                          f"peak {result['peak_rss_mib']:6.0f} MiB", flush=True)
    table = markdown(results)
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table)


def markdown(results):
    lines = ["| batch | new tokens | strategy | system | new tokens/s (median) | vs cgen | first call (s) | "
             "peak RSS (MiB) |", "|---:|---:|---|---|---:|---:|---:|---:|"]
    for r in results:
        ours = next((x for x in results if x["system"] == "cgen" and x["strategy"] == r["strategy"]
                     and x["new_tokens"] == r["new_tokens"] and x["batch"] == r["batch"]), None)
        ratio = f"{ours['tokens_per_s'] / r['tokens_per_s']:.2f}x slower" if ours and r is not ours else ""
        if r["system"] == "cgen_lstm":
            ratio = "(another model)"
        lines.append(f"| {r['batch']} | {r['new_tokens']} | {r['strategy']} | {r['system']} | {r['tokens_per_s']:.0f} | "
                     f"{ratio} | {r['first_call_s']:.1f} | {r['peak_rss_mib']:.0f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
