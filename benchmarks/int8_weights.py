"""What int8 weight storage (`cgen convert-weights`) changes in a text zoo
model: the weights file's size, the greedy outputs on held-out requests (its
family's `requests`, compared one by one with the float16 original) and,
where the family's evaluation module has `test_texts`, the perplexity of
the test split under each.

    .venv/bin/python benchmarks/int8_weights.py --models autotitle-unilm-en autotitle-lstm-en --requests 64

Each model is a zoo name or folder stored in float16; its int8 copy is
written to a temporary folder.
"""

import argparse
import math
import tempfile
import warnings
from pathlib import Path


def perplexity(generator, texts, conditions):
    nats = generator.nats(texts, conditions)
    return math.exp(sum(n for n, _ in nats) / sum(c for _, c in nats))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", required=True)
    parser.add_argument("--requests", type=int, default=64)
    args = parser.parse_args()

    import keras_cgen
    from keras_cgen.zoo import family
    from keras_cgen.zoo.store import convert_weights

    print("| model | weights float16 / int8, MB | greedy outputs equal | test perplexity float16 / int8 |\n"
          "|---|---|---|---|")
    work = Path(tempfile.mkdtemp(prefix="cgen-int8-"))
    for name in args.models:
        original = keras_cgen.zoo.load(name)
        quantised = keras_cgen.zoo.load(convert_weights(name, work / Path(name).name, "int8"))
        sizes = [(g.directory / g.config.weights).stat().st_size / 1e6 for g in (original, quantised)]
        evaluation = family(original.config.family).evaluation_module()
        requests = evaluation.requests(original, args.requests)  # a label LM's: its few labels, repeated
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            outputs = [g.generate(requests, num_beams=1, do_sample=False) for g in (original, quantised)]
        equal = sum(a == b for a, b in zip(*outputs))
        texts = evaluation.test_texts(original) if hasattr(evaluation, "test_texts") else None
        ppl = " / ".join(f"{perplexity(g, *texts):.2f}" for g in (original, quantised)) if texts else "n/a"
        print(f"| {Path(name).name} | {sizes[0]:.1f} / {sizes[1]:.1f} | {equal} of {len(requests)} | {ppl} |",
              flush=True)


if __name__ == "__main__":
    main()
