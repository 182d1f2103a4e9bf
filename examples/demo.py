"""The `make demo` job: the zoo's trained models on real, held-out data.

Loads each model of the zoo by name (checksums verified). Auto-title: a few
descriptions from the test split (families never seen in training; fetched
into the cache by the project's own code on first use), reference synopsis
next to the generated titles. Then the character LM continues a speaker
line, the sentiment LM writes reviews for each label, and the captioner
names held-out emoji.
"""

import textwrap
import time
import warnings

import numpy as np

import keras_cgen
from keras_cgen.data import load_pairs

MODELS = {"en": ["autotitle-unilm-en", "autotitle-lstm-en"], "zh_CN": ["autotitle-lstm-zh", "autotitle-unilm-zh"]}


def main():
    available = set(keras_cgen.zoo.list())
    for language, names in MODELS.items():
        names = [name for name in names if name in available]
        if not names:
            continue
        pairs = load_pairs(language)["test"]
        picks = [pairs[i] for i in np.random.default_rng(7).choice(len(pairs), 4, replace=False)]
        bodies = [p["body"] for p in picks]
        titles = {}
        for name in names:
            generator = keras_cgen.zoo.load(name)
            start = time.time()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # long bodies are cut, as in training
                titles[name] = generator.generate(bodies, num_beams=4)
            print(f"{name}: 4 titles (beam 4) in {time.time() - start:.1f} s, compile included")
        for i, pair in enumerate(picks):
            print(f"\n[{pair['package']}] " + textwrap.shorten(pair["body"].replace("\n", " "), 160))
            print(f"  {'reference':22s} {pair['title']}")
            for name in names:
                print(f"  {name:22s} {titles[name][i]}")
        print()
    if "charrnn-shakespeare" in available:
        text = keras_cgen.zoo.load("charrnn-shakespeare").generate("KING.\n", max_new_tokens=240, seed=0)
        print("charrnn-shakespeare (temperature 0.8, seed 0):\nKING.\n" + text + "\n")
    if "sentiment-clm-zh" in available:
        generator = keras_cgen.zoo.load("sentiment-clm-zh")
        for label, reviews in zip(generator.labels, generator.generate(generator.labels, n=3, seed=0)):
            print(f"sentiment-clm-zh [{label}] " + " / ".join(reviews))
        print()
    for name, language in (("caption-cln-zh", "zh"), ("caption-cln-en", "en")):
        if name in available:
            from keras_cgen.data.emoji import load_emoji

            captioner = keras_cgen.zoo.load(name)
            rows = load_emoji(size=captioner.image_size)["test"][::40][:5]
            for row, caption in zip(rows, captioner.generate([r["image"] for r in rows], num_beams=4)):
                print(f"{name} {row['hexcode']:>12s}: reference {row[language]!r:26s} generated {caption!r}")

if __name__ == "__main__":
    main()
