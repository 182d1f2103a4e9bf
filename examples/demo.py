"""The `make demo` job: titles for real, held-out Debian package descriptions
from the zoo's trained models.

Loads each auto-title model of the zoo by name (checksums verified), takes a
few descriptions from the test split (families never seen in training;
fetched into the cache by the project's own code on first use) and prints
the reference synopsis next to the generated titles.
"""

import textwrap
import time
import warnings

import numpy as np

import keras_cgen
from keras_cgen.data import load_pairs

MODELS = {"en": ["autotitle-unilm-en", "autotitle-lstm-en"], "zh_CN": ["autotitle-lstm-zh"]}


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


if __name__ == "__main__":
    main()
