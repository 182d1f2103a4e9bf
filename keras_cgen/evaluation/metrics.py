"""Metrics every family's evaluation shares: ROUGE (rouge-score) and BLEU
(sacrebleu) with bootstrap 95% intervals, distinct-n, markdown tables.

Chinese is scored per character (rouge-score's default tokenizer drops every
non-ASCII character, so it would score Chinese as empty), BLEU with
sacrebleu's "zh" tokenizer; English with rouge-score's tokenizer and "13a".
"""

import dataclasses
import warnings

import numpy as np

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")


class CharTokenizer:
    """rouge-score tokenizer for Chinese: one token per non-space character."""

    def tokenize(self, text):
        return [c for c in text.lower() if not c.isspace()]


def is_chinese(language):
    return language.startswith("zh")


def interval(values, resamples=1000, seed=0):
    """Mean and the bootstrap 95% interval of a per-example score."""
    values = np.asarray(values, "float64")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (resamples, len(values)))].mean(axis=1)
    return float(values.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


@dataclasses.dataclass
class Score:
    mean: float
    low: float
    high: float

    def __str__(self):
        return f"{100 * self.mean:.1f} [{100 * self.low:.1f}, {100 * self.high:.1f}]"


def rouge_l(predictions, references, language):
    """Per-example ROUGE-L F1."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=CharTokenizer() if is_chinese(language) else None)
    return [scorer.score(r, p)["rougeL"].fmeasure for p, r in zip(predictions, references)]


def score(predictions, references, language, resamples=1000):
    """{"rouge1", "rouge2", "rougeL", "bleu" (BLEU-4), "bleu1"} -> `Score` (F1 /
    BLEU in [0, 1], 95% bootstrap interval over the examples)."""
    from rouge_score import rouge_scorer
    from sacrebleu.metrics import BLEU

    if len(predictions) != len(references) or not predictions:
        raise ValueError(f"Need as many predictions as references (got {len(predictions)} and {len(references)}).")
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), tokenizer=CharTokenizer() if is_chinese(language) else None)
    per_example = {name: [] for name in ROUGE_TYPES}
    for prediction, reference in zip(predictions, references):
        scores = scorer.score(reference, prediction)
        for name in ROUGE_TYPES:
            per_example[name].append(scores[name].fmeasure)
    result = {name: Score(*interval(values, resamples)) for name, values in per_example.items()}
    for name, order in (("bleu", 4), ("bleu1", 1)):
        bleu = BLEU(tokenize="zh" if is_chinese(language) else "13a", lowercase=True, max_ngram_order=order)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            corpus = bleu.corpus_score(predictions, [references], n_bootstrap=resamples)
        mean, half = corpus._mean / 100, corpus._ci / 100
        result[name] = Score(corpus.score / 100, mean - half, mean + half)
    return result


class TextJudge:
    """A scikit-learn text classifier as an independent judge: subclasses set
    `self.pipeline` (vectoriser + classifier) in `__init__`."""

    def fit(self, texts, labels):
        self.pipeline.fit(texts, labels)
        return self

    def predict(self, texts):
        return self.pipeline.predict(texts).tolist()


def distinct_n(texts, n=2):
    """Distinct n-grams (characters) over all n-grams of `texts`: diversity."""
    grams = [text[i: i + n] for text in texts for i in range(len(text) - n + 1)]
    return len(set(grams)) / max(1, len(grams))


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]) + "\n"
