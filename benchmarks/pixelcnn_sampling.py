"""PixelCNN sampling speed: the cached sampler (Ramachandran et al. 2017) vs the
naive one (the whole network on the whole image for every pixel), side by side
in one run, on the same network and seed (the two draw identical images:
checked here on every run).

Networks: the issue's reference shape (64 filters, 3 gated blocks, 256 levels,
random weights) and, with --zoo, the zoo model `pixelcnn-mnist`. Each sampler
runs as one compiled loop: the naive one under XLA, the cached one as a
TensorFlow graph (XLA compiles its nested loops slower than it runs them: a
first measurement gave 14.3 s vs 2.5 s for 10 digits). Reported: seconds per
`--digits` digits (median of `--runs`, after one compile-and-run call) and the ratio.

    python benchmarks/pixelcnn_sampling.py --digits 100 --runs 3 --zoo

`--guidance W` instead times the cached sampler on the zoo model with and
without guidance by the model's own class posterior (every image runs once per
class), side by side. `--against REV` times this cached sampler against the one
of git revision REV on the zoo model, interleaved in one process.
"""

import argparse
import statistics
import time

import numpy as np
import tensorflow as tf


def timed(function, labels, seed, runs):
    first = time.perf_counter()
    images = function(labels, seed).numpy()
    first = time.perf_counter() - first
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        again = function(labels, seed).numpy()
        times.append(time.perf_counter() - start)
    assert np.array_equal(images, again)
    return images, statistics.median(times), first


def measure(name, model, digits, runs):
    from keras_cgen.families.digits.pixelcnn_sampling import sample_cached
    from keras_cgen.families.digits.pixelcnn_sampling import sample_naive

    labels = tf.constant(np.arange(digits) % 10, tf.int32)
    seed = tf.constant([7, 0], tf.int32)
    naive = tf.function(lambda y, s: sample_naive(model, y, s), jit_compile=True)
    cached = tf.function(lambda y, s: sample_cached(model, y, s))
    fast, fast_s, fast_first = timed(cached, labels, seed, runs)
    slow, slow_s, slow_first = timed(naive, labels, seed, runs)
    same = bool(np.array_equal(fast, slow))
    row = (f"| {name} | {digits} | {slow_s:.1f} (first {slow_first:.1f}) | {fast_s:.2f} (first {fast_first:.1f}) | "
           f"{slow_s / fast_s:.1f}x | {'yes' if same else 'NO'} |")
    print(row, flush=True)
    return row


def measure_guidance(model, digits, runs, guidance):
    from keras_cgen.families.digits.pixelcnn_sampling import sample_cached

    labels = tf.constant(np.arange(digits) % 10, tf.int32)
    seed = tf.constant([7, 0], tf.int32)
    _, plain_s, plain_first = timed(tf.function(lambda y, s: sample_cached(model, y, s)), labels, seed, runs)
    _, guided_s, guided_first = timed(tf.function(lambda y, s: sample_cached(model, y, s, guidance=guidance)),
                                      labels, seed, runs)
    print("| network | digits | unguided s | guided s (guidance " f"{guidance}) | guided / unguided |")
    print("|---|---|---|---|---|")
    row = (f"| zoo pixelcnn-mnist | {digits} | {plain_s:.1f} (first {plain_first:.1f}) | "
           f"{guided_s:.1f} (first {guided_first:.1f}) | {guided_s / plain_s:.1f}x |")
    print(row, flush=True)
    return row


def measure_against(model, digits, runs, revision):
    import importlib.util
    import subprocess
    import tempfile
    from pathlib import Path

    from keras_cgen.families.digits.pixelcnn_sampling import sample_cached

    source = subprocess.run(["git", "show", f"{revision}:keras_cgen/families/digits/pixelcnn_sampling.py"], check=True,
                            capture_output=True, text=True, cwd=Path(__file__).parent).stdout
    path = Path(tempfile.mkdtemp()) / "pixelcnn_then.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("pixelcnn_then", path)
    then = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(then)
    labels = tf.constant(np.arange(digits) % 10, tf.int32)
    seed = tf.constant([7, 0], tf.int32)
    now_fn = tf.function(lambda y, s: sample_cached(model, y, s))
    then_fn = tf.function(lambda y, s: then.sample_cached(model, y, s))
    same = bool(np.array_equal(now_fn(labels, seed).numpy(), then_fn(labels, seed).numpy()))
    times = {"now": [], "then": []}
    for i in range(runs):  # interleaved, alternating which goes first
        for key, fn in ([("now", now_fn), ("then", then_fn)] if i % 2 == 0 else [("then", then_fn), ("now", now_fn)]):
            start = time.perf_counter()
            fn(labels, seed).numpy()
            times[key].append(time.perf_counter() - start)
    now, earlier = statistics.median(times["now"]), statistics.median(times["then"])
    row = (f"| zoo pixelcnn-mnist | {digits} | {now:.2f} | {earlier:.2f} ({revision}) | {earlier / now:.1f}x | "
           f"{'yes' if same else 'NO'} |")
    print("| network | digits | this sampler s | earlier sampler s | speed-up | identical images |\n|---|---|---|---|---|---|")
    print(row, flush=True)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--digits", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--zoo", action="store_true", help="also the zoo model pixelcnn-mnist")
    parser.add_argument("--guidance", type=float, help="time guided vs unguided cached sampling on the zoo model")
    parser.add_argument("--against", help="time the cached sampler against git revision AGAINST's on the zoo model")
    args = parser.parse_args()

    import keras

    from keras_cgen.families.digits.pixelcnn import build_conditional_pixelcnn

    # As PixelCNNGenerator builds its sampler: grappler's AddOpsRewrite temporaries make a repeated
    # call of the cached loop fail ("TemporaryVariable ... already exists"). Both samplers run so.
    tf.config.optimizer.set_experimental_options({"arithmetic_optimization": False})

    if args.against:
        from keras_cgen import zoo

        return [measure_against(zoo.load("pixelcnn-mnist").model, args.digits, args.runs, args.against)]
    if args.guidance:
        from keras_cgen import zoo

        return [measure_guidance(zoo.load("pixelcnn-mnist").model, args.digits, args.runs, args.guidance)]
    keras.utils.set_random_seed(0)
    print("| network | digits | naive s (XLA) | cached s (graph) | speed-up | identical images |")
    print("|---|---|---|---|---|---|")
    rows = [measure("64 filters, 3 blocks, 256 levels (random weights)",
                    build_conditional_pixelcnn(filters=64, num_blocks=3), args.digits, args.runs)]
    if args.zoo:
        from keras_cgen import zoo

        generator = zoo.load("pixelcnn-mnist")
        builder = generator.config.builder
        rows.append(measure(f"zoo pixelcnn-mnist ({builder['filters']} filters, {builder['num_blocks']} blocks, "
                            f"{builder['levels']} levels)", generator.model, args.digits, args.runs))
    return rows


if __name__ == "__main__":
    main()
