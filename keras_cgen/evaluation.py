"""Title quality: ROUGE-1/2/L (rouge-score) and BLEU (sacrebleu) with
bootstrap 95% intervals, and the lead baseline.

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


def lead(body, length, language):
    """The body's first `length` words (characters for Chinese)."""
    if is_chinese(language):
        return "".join(body.split())[:length]
    return " ".join(body.split()[:length])


def title_length(titles, language):
    """Median title length in words (characters for Chinese): the lead's cut."""
    return int(np.median([len("".join(t.split())) if is_chinese(language) else len(t.split()) for t in titles]))


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


def generate_all(generator, texts, batch_size=64, **settings):
    """`generator.generate` over many texts in batches (truncation warnings muted)."""
    from tqdm.auto import tqdm

    titles = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for start in tqdm(range(0, len(texts), batch_size), desc=str(settings), unit="batch", leave=False):
            titles += generator.generate(texts[start: start + batch_size], **settings)
    return titles


def evaluate_title_model(name, split="test", limit=None, compare=None, seed=0, splits=None, resamples=1000):
    """Scores a zoo title model on a split of its corpus: beam 4, greedy, the
    lead baseline and, with `compare={"label": folder}`, other models (e.g. the
    same recipe without the copy prior). `splits` defaults to the cached
    Debian pairs of the model's language. Returns a report dict."""
    import time

    from keras_cgen import zoo
    from keras_cgen.data import load_pairs

    generator = zoo.load(name)
    language = generator.config["language"]
    splits = splits or load_pairs(language)
    pairs = splits[split]
    if limit and limit < len(pairs):  # a seeded sample, not the first families
        pairs = [pairs[i] for i in sorted(np.random.default_rng(seed).choice(len(pairs), limit, replace=False))]
    bodies, references = [p["body"] for p in pairs], [p["title"] for p in pairs]
    cut = title_length([p["title"] for p in splits["train"]], language)
    systems, outputs, seconds = {}, {}, {}
    runs = [("beam 4", generator, {"num_beams": 4}), ("greedy", generator, {"num_beams": 1})]
    runs += [(f"{label} (beam 4)", zoo.load(folder), {"num_beams": 4}) for label, folder in (compare or {}).items()]
    for label, model, settings in runs:
        start = time.time()
        outputs[label] = generate_all(model, bodies, **settings)
        seconds[label] = time.time() - start
        systems[label] = score(outputs[label], references, language, resamples)
    unit = "characters" if is_chinese(language) else "words"
    lead_label = f"lead baseline (first {cut} {unit})"
    leads = [lead(b, cut, language) for b in bodies]
    systems[lead_label] = score(leads, references, language, resamples)
    # Paired bootstrap of the per-example ROUGE-L difference: does beam 4 beat the lead?
    difference = np.subtract(rouge_l(outputs["beam 4"], references, language), rouge_l(leads, references, language))
    beats_lead = Score(*interval(difference, resamples))
    picks = np.random.default_rng(seed + 1).choice(len(pairs), min(6, len(pairs)), replace=False)
    samples = [{"package": pairs[i]["package"], "body": pairs[i]["body"], "reference": references[i],
                "beam 4": outputs["beam 4"][i], "greedy": outputs["greedy"][i]} for i in picks]
    return {"name": generator.directory.name, "language": language, "split": split, "examples": len(pairs),
            "split_sizes": {k: len(v) for k, v in splits.items()}, "systems": systems, "seconds": seconds,
            "lead_label": lead_label, "beats_lead": beats_lead, "samples": samples, "config": generator.config}


def results_table(report):
    header = "| system | ROUGE-1 | ROUGE-2 | ROUGE-L | BLEU |\n|---|---|---|---|---|\n"
    return header + "".join(
        f"| {label} | {s['rouge1']} | {s['rouge2']} | {s['rougeL']} | {s['bleu']} |\n"
        for label, s in report["systems"].items())
