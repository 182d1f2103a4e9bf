"""Which generation settings a zoo title model ships with: ROUGE-L on a seeded
sample of the VALID split (the test split stays for the model card) for beam
width, length penalty and no-repeat n-gram size.

    python benchmarks/decoding_settings.py autotitle-lstm-en --limit 600
    python benchmarks/decoding_settings.py FOLDER --limit 0   # 0: the whole split

Prints a markdown table; the best row goes into the model's config
("generation"), which `generate`, `cgen evaluate` and the exports all read.
"""

import argparse
import itertools
import time

import numpy as np

from keras_cgen import evaluation
from keras_cgen.families.autotitle import evaluate as autotitle
from keras_cgen import zoo
from keras_cgen.data import load_pairs


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", help="zoo name or folder")
    parser.add_argument("--limit", type=int, default=600)
    parser.add_argument("--beams", type=int, nargs="+", default=[4])
    parser.add_argument("--length-penalties", type=float, nargs="+", default=[0.6, 1.0, 1.5])
    parser.add_argument("--no-repeat", type=int, nargs="+", default=[0, 2, 3])
    args = parser.parse_args()

    generator = zoo.load(args.name)
    language = generator.config.language
    pairs = load_pairs(language)["valid"]
    if args.limit and args.limit < len(pairs):
        pairs = [pairs[i] for i in sorted(np.random.default_rng(0).choice(len(pairs), args.limit, replace=False))]
    bodies, references = [p["body"] for p in pairs], [p["title"] for p in pairs]
    print(f"{generator.directory.name}: valid split, {len(pairs)} pairs, shipped settings "
          f"{generator.config.generation}\n")
    print("| num_beams | length_penalty | no_repeat_ngram_size | ROUGE-L | ROUGE-2 | seconds |\n|---|---|---|---|---|---|")
    for beams, penalty, no_repeat in itertools.product(args.beams, args.length_penalties, args.no_repeat):
        if beams == 1 and penalty != args.length_penalties[0]:
            continue  # the length penalty only ranks beams
        settings = {"num_beams": beams, "length_penalty": penalty, "no_repeat_ngram_size": no_repeat}
        start = time.time()
        titles = autotitle.generate_all(generator, bodies, **settings)
        scores = evaluation.score(titles, references, language, resamples=200)
        print(f"| {beams} | {penalty} | {no_repeat} | {scores['rougeL']} | {scores['rouge2']} | "
              f"{time.time() - start:.0f} |", flush=True)


if __name__ == "__main__":
    main()
