"""Measuring a Diffusion-LM (family `diffusion_lm`) and writing its card.

Control success is judged by an independent classifier (word and character
n-gram TF-IDF + logistic regression, scikit-learn) trained on synopses no
generator saw (the valid split and 80% of the test split's package
families), its accuracy reported on the other 20%; never the guidance
classifier. Per class, 95% bootstrap intervals. Diversity: distinct-1/2,
self-BLEU, the share of samples copied verbatim from the training split.
Length control: exact-match rate. Infilling: test synopses with their middle
third hidden: BLEU-4 of the filled synopsis, ROUGE-L and word accuracy of the
filled words against the hidden ones.
Speed: samples per second, unguided and guided, in the same run.
"""

import hashlib
import time

import numpy as np

from keras_cgen.evaluation.cards import finish_card
from keras_cgen.evaluation.cards import training_lines
from keras_cgen.evaluation.metrics import TextJudge
from keras_cgen.evaluation.metrics import interval
from keras_cgen.evaluation.metrics import markdown_table

FLUENCY_SWEEP = (0.1, 0.01, 0.001)
LENGTHS = (3, 5, 7, 9)


class SectionJudge(TextJudge):
    """Word 1-2-gram and character 2-5-gram TF-IDF + logistic regression (scikit-learn)."""

    def __init__(self):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.pipeline import make_union

        self.pipeline = make_pipeline(
            make_union(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                       TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)),
            LogisticRegression(C=8.0, max_iter=3000))


def held_out(row):
    """The 20% of the test split's families the judge is scored on."""
    return int(hashlib.sha1(row["family"].encode("utf-8")).hexdigest(), 16) % 5 == 0


def trained_judge(splits):
    """The judge and its accuracy on held-out test families."""
    fit_rows = splits["valid"] + [r for r in splits["test"] if not held_out(r)]
    score_rows = [r for r in splits["test"] if held_out(r)]
    judge = SectionJudge().fit([r["text"] for r in fit_rows], [r["class"] for r in fit_rows])
    correct = np.asarray(judge.predict([r["text"] for r in score_rows])) == np.asarray([r["class"] for r in score_rows])
    return judge, {"trained_on": f"{len(fit_rows)} synopses (valid split + 80% of the test families)",
                   "accuracy": interval(correct.astype(float).tolist()), "scored_on": len(score_rows)}


def requests(generator, count):
    """`count` class names, each of the model's in turn (serving benchmarks)."""
    return [generator.classes[i % len(generator.classes)] for i in range(count)]


def self_bleu(texts):
    from sacrebleu.metrics import BLEU

    bleu = BLEU(effective_order=True)
    return float(np.mean([bleu.sentence_score(t, texts[:i] + texts[i + 1:]).score / 100 for i, t in enumerate(texts)]))


def diversity(texts, training_texts):
    return {"distinct_1": distinct_words(texts, 1), "distinct_2": distinct_words(texts, 2),
            "self_bleu": self_bleu(texts), "copied": float(np.mean([t in training_texts for t in texts]))}


def distinct_words(texts, n):
    grams = [tuple(words[i:i + n]) for words in (t.split() for t in texts) for i in range(len(words) - n + 1)]
    return len(set(grams)) / max(len(grams), 1)


def class_control(generator, judge, per_class, seed, fluency=None):
    """Judge agreement per class for guided samples, and the texts."""
    out, texts, correct = {}, [], []
    for name in generator.classes:
        samples = generator.generate(n=per_class, control={"section": name}, seed=seed, fluency=fluency)
        right = (np.asarray(judge.predict(samples)) == name).astype(float).tolist()
        out[name] = interval(right)
        texts += samples
        correct += right
    return {"per_class": out, "overall": interval(correct)}, texts


def evaluate(name, split="test", limit=None, compare=None, per_class=50, seed=0):
    """The report of zoo model `name`: `limit` caps the samples per class."""
    from keras_cgen import zoo
    from keras_cgen.data.debian import load_synopses

    per_class = min(per_class, limit) if limit else per_class
    generator = zoo.load(name)
    splits = load_synopses()
    judge, judge_info = trained_judge(splits)
    training_texts = {generator.vocabulary.decode(generator.vocabulary.sequence(r["text"], generator.length))
                      for r in splits["train"] if generator.vocabulary.fits(r["text"], generator.length)}
    report = {"name": zoo.find(name).name, "per_class": per_class, "seed": seed, "judge": judge_info,
              "sampling": generator.sampling()}

    unguided = generator.generate(n=per_class * len(generator.classes), seed=seed)
    predicted = np.asarray(judge.predict(unguided))
    report["unguided"] = {"per_class": {c: interval((predicted == c).astype(float).tolist()) for c in generator.classes},
                          "diversity": diversity(unguided, training_texts), "examples": unguided[:10]}

    # lambda sweep on other seeds than the final samples: the choice is not fitted to them
    report["sweep"] = {}
    for fluency in FLUENCY_SWEEP:
        result, texts = class_control(generator, judge, max(per_class // 5, 4), seed + 1, fluency)
        report["sweep"][str(fluency)] = {"overall": result["overall"], "diversity": diversity(texts, training_texts)}
    result, texts = class_control(generator, judge, per_class, seed)
    report["class_control"] = {**result, "diversity": diversity(texts, training_texts),
                               "examples": {c: texts[i * per_class: i * per_class + 3]
                                            for i, c in enumerate(generator.classes)}}

    lengths = {}
    for length in LENGTHS:
        texts = generator.generate(n=per_class // 2 or 1, length=length, seed=seed)
        words = [len(generator.vocabulary.tokenize(t)) for t in texts]
        lengths[str(length)] = interval((np.asarray(words) == length).astype(float).tolist())
    report["length_control"] = lengths
    report["infilling"] = infilling(generator, splits[split], per_class, seed)
    report["speed"] = speed(generator, per_class)
    return report


def speed(generator, batch, runs=3):
    """Samples per second of one `generate` call of `batch` samples, unguided
    and class-guided (median of `runs` after a compiling call), same run."""
    out = {}
    for kind, control in (("unguided", None), ("guided", {"section": generator.classes[0]})):
        generator.generate(n=batch, control=control, seed=0)
        seconds = []
        for run in range(runs):
            start = time.perf_counter()
            generator.generate(n=batch, control=control, seed=run + 1)
            seconds.append(time.perf_counter() - start)
        out[f"{kind}_samples_per_s"] = batch / float(np.median(seconds))
    return out


def infilling(generator, rows, count, seed):
    """Synopses of 4-10 words with their middle third hidden (one `___` per
    word); the filled words against the hidden ones."""
    from keras_cgen.evaluation.metrics import score

    vocabulary = generator.vocabulary
    chosen = []
    for row in rows:
        words = vocabulary.tokenize(row["text"])
        if 4 <= len(words) <= min(10, generator.length - 2) and all(w in vocabulary.index for w in words):
            chosen.append(words)
    rng = np.random.default_rng(seed)
    chosen = [chosen[i] for i in rng.choice(len(chosen), min(count, len(chosen)), replace=False)]
    predictions, references, spans, hidden, matches = [], [], [], [], []
    for words in chosen:
        a = len(words) // 3
        b = len(words) - a
        filled = vocabulary.tokenize(generator.infill(" ".join(words[:a] + ["___"] * (b - a) + words[b:]), n=4,
                                                      seed=seed))
        predictions.append(" ".join(filled))
        references.append(" ".join(words))
        spans.append(" ".join(filled[a:b]))
        hidden.append(" ".join(words[a:b]))
        matches += [x == y for x, y in zip(filled[a:b], words[a:b])]
    whole, span = score(predictions, references, "en"), score(spans, hidden, "en")
    # BLEU-4 of the whole synopsis (the hidden spans are 1-4 words: too short for 4-grams of their own)
    return {"count": len(chosen), "bleu": vars(whole["bleu"]), "rougeL": vars(span["rougeL"]),
            "word_accuracy": interval(np.asarray(matches, float).tolist()),
            "examples": list(zip(references[:5], predictions[:5]))}


def pct(values):
    return f"{100 * values[0]:.1f} [{100 * values[1]:.1f}, {100 * values[2]:.1f}]"


def summary(report):
    lines = [f"{report['name']}: judge accuracy {pct(report['judge']['accuracy'])}%",
             f"  class control: {pct(report['class_control']['overall'])}% (lambda {report['sampling']['fluency']})"]
    lines += [f"  lambda {f}: {pct(v['overall'])}%" for f, v in report["sweep"].items()]
    lines += [f"  length {k}: {pct(v)}% exact" for k, v in report["length_control"].items()]
    infill = report["infilling"]
    lines.append(f"  infilling BLEU-4 {100 * infill['bleu']['mean']:.1f}, ROUGE-L {100 * infill['rougeL']['mean']:.1f}")
    lines.append(f"  speed: {report['speed']['unguided_samples_per_s']:.1f} samples/s unguided, "
                 f"{report['speed']['guided_samples_per_s']:.1f} guided")
    return "\n".join(lines)


def write_card(report, directory, command):
    from keras_cgen import zoo

    generator = zoo.load(directory)
    config = generator.config
    classes = generator.classes
    control = markdown_table(["class", "guided, %", "unguided (chance-level control), %"],
                             [[c, pct(report["class_control"]["per_class"][c]), pct(report["unguided"]["per_class"][c])]
                              for c in classes]
                             + [["all", pct(report["class_control"]["overall"]), "-"]])
    div = lambda d: [f"{d['distinct_1']:.3f}", f"{d['distinct_2']:.3f}", f"{d['self_bleu']:.3f}",  # noqa: E731
                     f"{100 * d['copied']:.1f}"]
    diversity_table = markdown_table(["samples", "distinct-1", "distinct-2", "self-BLEU", "copied from training, %"],
                                     [["unguided", *div(report["unguided"]["diversity"])],
                                      ["class-guided", *div(report["class_control"]["diversity"])]])
    sweep = markdown_table(["lambda (fluency)", "class control, %", "distinct-2", "self-BLEU"],
                           [[f, pct(v["overall"]), f"{v['diversity']['distinct_2']:.3f}",
                             f"{v['diversity']['self_bleu']:.3f}"] for f, v in report["sweep"].items()])
    lengths = markdown_table(["words asked", "exact, %"], [[k, pct(v)] for k, v in report["length_control"].items()])
    infill = report["infilling"]
    examples = "\n".join(f"- {c}: " + " | ".join(report["class_control"]["examples"][c]) for c in classes)
    text = f"""# {report['name']}

A Diffusion-LM (Li et al. 2022, "Diffusion-LM Improves Controllable Text Generation"; `DiffusionLM`,
`keras_cgen.decoding.diffusion`) of Debian package synopses: Gaussian noise denoised into word embeddings,
all {generator.length} positions at once, steered at sampling time by plug-and-play controls (a classifier of the
package's Section class on noisy latents, a length loss, a required word, infilling) that never retrain it.

```python
import keras_cgen
gen = keras_cgen.zoo.load("{report['name']}")
gen.generate(n=8, control={{"section": "games"}}, seed=0)   # one of {classes}
gen.generate(n=4, length=6, seed=0)
gen.generate(n=4, content="python", seed=0)
gen.infill("python 3 ___ for ___", n=8, seed=0)
```

## Data and licence
Debian package synopses (the `Translation-en` index) joined with each package's Section (the `Packages` index),
fetched by `cgen data debian-descriptions`; split by package family. Sections grouped into {len(classes)} classes:
{", ".join(f"{c} ({', '.join(s)})" for c, s in config.data.get("sections", {}).items())}.
Debian package descriptions are written by the package maintainers and distributed under the packages' free
licences (DFSG). Weights: trained from scratch (no pretrained weights).

## Training
{training_lines(config)}

![training curve](training_curve.png)

## Evaluation ({report['per_class']} samples per class, seed {report['seed']})
Judge: scikit-learn TF-IDF (word 1-2-grams, character 2-5-grams) + logistic regression, trained on
{report['judge']['trained_on']}; accuracy {pct(report['judge']['accuracy'])}% on the held-out
{report['judge']['scored_on']} synopses of the other test families. It is not the guidance classifier.

### Class control (lambda {report['sampling']['fluency']}, {report['sampling']['steps']} steps)
{control}
Examples (guided): 
{examples}

### Sweep of lambda (the fluency weight), seed {report['seed'] + 1}
{sweep}
### Diversity
{diversity_table}
### Length control
{lengths}
### Infilling ({infill['count']} test synopses, middle third hidden, 4 samples, minimum Bayes risk)
BLEU-4 of the filled synopsis against the original: {100 * infill['bleu']['mean']:.1f}
[{100 * infill['bleu']['low']:.1f}, {100 * infill['bleu']['high']:.1f}]; ROUGE-L of the filled words against the hidden ones:
{100 * infill['rougeL']['mean']:.1f} [{100 * infill['rougeL']['low']:.1f}, {100 * infill['rougeL']['high']:.1f}];
hidden words restored exactly: {pct(infill['word_accuracy'])}%.
Examples (original -> filled): {"; ".join(f"{r} -> {p}" for r, p in infill['examples'])}

### Speed (same run, 2 cores)
{report['speed']['unguided_samples_per_s']:.1f} samples/s unguided, {report['speed']['guided_samples_per_s']:.1f}
samples/s class-guided ({report['sampling']['steps']} steps, batch {report['per_class']}).

Reproduce: `{command}`

## Limitations
Lower-cased words of at most {generator.length - 2} per synopsis; words seen fewer than 5 times in training are
never written (package names are often rare). The judge itself is right about
{100 * report['judge']['accuracy'][0]:.0f}% of the time on real synopses: the classes overlap (a Python library is
both "modules" and "libraries" to a reader).
"""
    finish_card(directory, text, report)
