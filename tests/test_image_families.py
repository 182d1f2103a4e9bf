"""The image families (`cvae`, `cgan`, `pixelcnn`) through the one contract:
condition texts in Python, a PNG grid from the CLI, a SavedModel answering PNG
bytes in a fresh TensorFlow process and an ONNX graph in onnxruntime, each
giving `generate`'s images. Tiny random-weight models; the trained zoo models
are measured by `cgen evaluate`."""

import io
import json

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_cgen import zoo
from keras_cgen.export import export_onnx
from keras_cgen.export import export_saved_model
from keras_cgen.export.check import serve_check
from keras_cgen.families.digits.cgan import ConditionalGAN
from keras_cgen.families.digits.cgan import build_cgan_discriminator
from keras_cgen.families.digits.cgan import build_cgan_generator
from keras_cgen.families.digits.cvae import build_cvae
from keras_cgen.families.digits.pixelcnn import build_conditional_pixelcnn
from keras_cgen.text import ConditionVocabulary
from keras_cgen.zoo.image_generator import ImageGenerator

SIZE = 8
BINARISED = {"binarisation": {"train": "dynamic", "valid_seed": 1, "test_seed": 2}}


def tiny(family):
    """(model, builder, data) of a tiny random-weight model of `family`."""
    if family == "cvae":
        builder = dict(num_classes=10, image_size=SIZE, latent_dim=3, hidden_units=16)
        return build_cvae(**builder), builder, BINARISED
    if family == "cgan":
        builder = dict(num_classes=10, image_size=SIZE, latent_dim=3, filters=4)
        gan = ConditionalGAN(build_cgan_generator(**builder), build_cgan_discriminator(10, SIZE, filters=4, hidden_units=8))
        return gan, {**builder, "discriminator_filters": 4, "discriminator_hidden_units": 8}, {}
    builder = dict(num_classes=10, image_size=SIZE, filters=4, num_blocks=2, head_units=8, levels=2,
                   spatial_condition_channels=2)  # as the zoo model: a learnt map per class
    return build_conditional_pixelcnn(**builder), builder, BINARISED


@pytest.fixture(scope="module")
def image_zoo(tmp_path_factory):
    root = tmp_path_factory.mktemp("image-zoo")
    tf.keras.utils.set_random_seed(0)
    for family in ("cvae", "cgan", "pixelcnn"):
        model, builder, data = tiny(family)
        config = zoo.ZooConfig(family=family, vocabulary="conditions.json", max_new_tokens=SIZE * SIZE,
                               generation={"do_sample": True}, builder=builder, labels=[str(d) for d in range(10)],
                               data=data)
        zoo.save_zoo_model(root / f"{family}-tiny", config, model, ConditionVocabulary.digits())
    return root


@pytest.fixture(scope="module")
def loaded(image_zoo):
    return {family: zoo.load(str(image_zoo / f"{family}-tiny")) for family in ("cvae", "cgan", "pixelcnn")}


def png_pixels(data):
    return np.asarray(Image.open(io.BytesIO(data)))


def test_condition_vocabulary_names_each_digit_three_ways_and_round_trips(tmp_path):
    vocabulary = ConditionVocabulary.digits()
    assert [vocabulary.class_id(t) for t in ["7", "seven", " Seven ", "七", "柒"]] == [7] * 5
    with pytest.raises(ValueError, match="'dog'.*names no class"):
        vocabulary.class_id("dog")
    with pytest.raises(ValueError, match="two classes"):
        ConditionVocabulary(["a", "b"], {"b": ["A"]})
    vocabulary.save(tmp_path / "conditions.json")
    again = ConditionVocabulary.load(tmp_path / "conditions.json")
    assert again.index == vocabulary.index
    ids = again.graph_class_ids(tf.constant(["7", " SEVEN", "七", "dog", ""])).numpy().tolist()
    assert ids == [7, 7, 7, -1, -1]  # the serving graph reads texts as `class_id` does


@pytest.mark.parametrize("family", ["cvae", "cgan", "pixelcnn"])
def test_generate_reads_condition_texts_and_is_seeded(loaded, family):
    gen = loaded[family]
    images = gen.generate(["7", "1"], n=3, seed=5)
    assert len(images) == 2 and images[0].shape == (3, SIZE, SIZE) and images[0].dtype == np.uint8
    for name in ("7", "seven", " Seven", "七"):  # the same class by any name, the same seed: the same images
        np.testing.assert_array_equal(gen.generate([name, "1"], n=3, seed=5)[0], images[0])
    assert not np.array_equal(gen.generate(["1", "1"], n=3, seed=5)[0], images[0])  # the condition changes them
    assert not np.array_equal(gen.generate(["7", "1"], n=3, seed=6)[0], images[0])  # so does the seed
    with pytest.raises(ValueError, match=r"conditions\[1\].*'eleven'"):
        gen.generate(["7", "eleven"])
    with pytest.raises(ValueError, match="`n` must be an int >= 1"):
        gen.generate("7", n=0)


def test_conditioning_changes_the_output_distribution(loaded):
    """Mean images of two digits differ by more than two draws of one digit do."""
    gen = loaded["cvae"]
    a, b = gen.generate(["3", "3"], n=200, seed=0)[0], gen.generate("8", n=200, seed=1)
    again = gen.generate("3", n=200, seed=2)
    between = np.abs(a.mean(0) - b.mean(0)).mean()
    within = np.abs(a.mean(0) - again.mean(0)).mean()
    assert between > 3 * within


def test_save_grid_and_cli_write_a_png(loaded, image_zoo, tmp_path, capsys, monkeypatch):
    from keras_cgen.cli import main

    gen = loaded["cgan"]
    path = gen.save_grid(tmp_path / "grid.png", ["0", "seven"], n=3, seed=4)
    grid = png_pixels(path.read_bytes())
    assert grid.shape == (2 * SIZE + 2, 3 * SIZE + 4)
    np.testing.assert_array_equal(grid[SIZE + 2:, :SIZE], gen.generate(["0", "7"], n=3, seed=4)[1][0])
    with pytest.raises(ValueError, match="must name a .png"):
        gen.save_grid(tmp_path / "grid.jpg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png"]  # nothing partial left

    monkeypatch.setenv("KERAS_CGEN_ZOO", str(image_zoo))
    assert main(["generate", "cgan-tiny", "7", "七", "--n", "4", "--seed", "1", "--out", str(tmp_path / "cli.png")]) == 0
    assert "wrote" in capsys.readouterr().out
    assert png_pixels((tmp_path / "cli.png").read_bytes()).shape == (2 * SIZE + 2, 4 * SIZE + 6)
    assert main(["generate", "cgan-tiny", "7"]) == 2  # no --out: the error names it
    assert "--out" in capsys.readouterr().err
    assert main(["generate", "cgan-tiny", "dog", "--out", str(tmp_path / "dog.png")]) == 2
    assert "'dog'" in capsys.readouterr().err and not (tmp_path / "dog.png").exists()


@pytest.mark.slow  # the suite's time budget: `make test-slow` (CI) runs the three fresh-process checks
@pytest.mark.parametrize("family", ["cvae", "pixelcnn", "cgan"])
def test_saved_model_answers_png_like_generate(loaded, tmp_path, family):
    gen = loaded[family]
    path = export_saved_model(gen, tmp_path / "serving")
    metadata = json.loads((path / "assets.extra/keras_cgen.json").read_text())
    assert metadata["signature"]["outputs"]["image"].startswith("string [None]: PNG")
    answer = serve_check(path)  # a fresh TensorFlow process, serving_default, bad conditions included
    requests = answer["requests"]
    assert requests == ImageGenerator.check_requests(metadata)
    for request, image, score in zip(requests, answer["answer"]["image"], answer["answer"]["score"]):
        known = gen.vocabulary.normalise(request) in gen.vocabulary.index
        assert (len(image) > 0) == known and (score != 0) == known
        if known:
            assert png_pixels(image).shape == (SIZE, SIZE)
    seeded = tf.saved_model.load(str(path)).signatures["seeded"]  # reproduces generate(seed=...)
    out = seeded(condition=tf.constant(["7", "seven", "2"]), seed=tf.constant(9))
    want = gen.generate(["7", "seven", "2"], n=1, seed=9)
    for data, image in zip(out["image"].numpy(), want):
        np.testing.assert_array_equal(png_pixels(data), image[0])


def test_the_pixelcnn_sampler_says_it_has_no_onnx_export(loaded, tmp_path):
    with pytest.raises(ValueError, match="does not convert to ONNX.*XlaDynamicUpdateSlice"):
        export_onnx(loaded["pixelcnn"], tmp_path / "onnx")
    assert not any(tmp_path.iterdir())  # nothing half-written


@pytest.mark.parametrize("family", ["cvae", "cgan"])
def test_onnx_answers_like_the_keras_model_for_the_same_noise(loaded, tmp_path, family):
    gen = loaded[family]
    out = export_onnx(gen, tmp_path / "onnx")
    metadata = json.loads((out / "metadata.json").read_text())
    assert set(metadata["inputs"]) == {"condition", "noise"} and set(metadata["outputs"]) == {"images", "scores"}
    answer = serve_check(out)  # onnxruntime in a fresh process, both graphs
    requests = answer["requests"]
    feed = ImageGenerator.client_feed(requests, metadata, gen.vocabulary)
    ids = tf.constant([max(0, i) for i in gen.vocabulary.graph_class_ids(tf.constant(requests)).numpy()])
    images, scores = gen.draw(ids, tf.constant(feed["noise"]))
    for i, request in enumerate(requests):
        if gen.vocabulary.normalise(request) in gen.vocabulary.index:
            np.testing.assert_array_equal(png_pixels(answer["answer"]["image"][i]), images.numpy()[i])
            np.testing.assert_allclose(answer["answer"]["score"][i], scores.numpy()[i], rtol=1e-4, atol=1e-4)
        else:
            assert answer["answer"]["image"][i] == b"" and answer["answer"]["score"][i] == 0


def test_likelihoods_are_per_digit_nats(loaded):
    pixels = np.random.default_rng(0).integers(0, 2, (6, SIZE, SIZE)).astype("uint8")
    labels = np.arange(6)
    cvae = loaded["cvae"].likelihoods(pixels, labels, samples=50)
    elbo, iwae = cvae["-ELBO"], cvae["NLL (importance-weighted, k=50)"]
    assert elbo.shape == iwae.shape == (6,) and (iwae > 0).all()
    assert iwae.mean() <= elbo.mean() + 0.5  # the importance-weighted bound is the tighter one
    pixelcnn = loaded["pixelcnn"].likelihoods(pixels, labels)
    exact, marginal = pixelcnn["NLL (exact)"], pixelcnn["NLL, label marginalised (exact)"]
    assert exact.shape == marginal.shape == (6,) and (exact > 0).all()
    # the exact NLL is the sum over pixels of -log p(pixel | pixels before, label)
    model = loaded["pixelcnn"].model
    logits = model({"image": pixels.astype("int32"), "label": labels.astype("int32")}).numpy()
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    want = -np.take_along_axis(log_p, pixels[..., None].astype(int), -1).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(exact, want, rtol=1e-4)
    every = []  # -log (1/10) sum_c p(x | c), from the model's outputs for every label
    for c in range(10):
        logits = model({"image": pixels.astype("int32"), "label": np.full(6, c, "int32")}).numpy()
        log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        every.append(np.take_along_axis(log_p, pixels[..., None].astype(int), -1).sum(axis=(1, 2, 3)))
    np.testing.assert_allclose(marginal, -np.log(np.exp(np.array(every, "float64")).mean(0)), rtol=1e-4)


def test_cards_compare_binarised_models_with_binarised_digits_and_check_the_targets():
    from keras_cgen.families.digits.evaluate import as_judged
    from keras_cgen.families.digits.evaluate import real_digits
    from keras_cgen.families.digits.evaluate import targets

    images = np.random.default_rng(0).integers(0, 256, (20, SIZE, SIZE)).astype("uint8")
    splits = {name: (images, np.arange(20) % 10) for name in ("train", "valid", "test")}
    binary = zoo.ZooConfig(family="pixelcnn", vocabulary="conditions.json", max_new_tokens=1, data=BINARISED)
    pixels, _, binarised = real_digits(binary, "test", splits)
    assert binarised and set(np.unique(pixels)) <= {0, 1}
    np.testing.assert_array_equal(pixels, real_digits(binary, "test", splits)[0])  # once-binarised: fixed seed
    assert not np.array_equal(pixels, real_digits(binary, "valid", splits)[0])
    assert set(np.unique(as_judged(pixels, True))) <= {0, 255}
    grey = binary.replace(family="cgan", data={})
    assert real_digits(grey, "test", splits)[0] is images

    def system(accuracy, worst, nll=None):
        per_digit = {str(d): 0.99 for d in range(10)} | {"8": worst}
        return {"label_accuracy": [accuracy], "per_digit_accuracy": per_digit, "worst_digit": "8",
                "frechet": 6.0, "frechet_real_vs_real": 4.0,
                "likelihood": {"NLL (exact)": {"nats": nll}} if nll else {}}

    report = {"family": "pixelcnn", "systems": {"this model": system(0.97, 0.9, 86.0),
                                                 "unconditional": {"likelihood": {"NLL (exact)": {"nats": 90.0}}},
                                                 "cvae": system(0.9, 0.5, 92.0)}}
    verdicts = dict(targets(report))
    assert list(verdicts.values()) == [True, True, False, True]  # a 4-nat gain over the twin is a bug sign
    report["systems"]["this model"] = system(0.94, 0.8, 88.0)
    assert list(dict(targets(report)).values()) == [False, False, True, True]
    report = {"family": "cgan", "systems": {"this model": system(0.97, 0.9)}}
    assert dict(targets(report))["Frechet distance <= 3x real vs real (1.5x)"]


def test_temperature_scales_the_noise_in_python_and_in_the_graph(loaded):
    gen = loaded["cgan"]
    ids = tf.constant([7, 7], tf.int32)
    noise = gen.noise(2, tf.constant([3, 0], tf.int32))
    want = gen.draw(ids, 0.5 * noise)[0].numpy()
    np.testing.assert_array_equal(np.stack(gen.generate("7", n=2, seed=3, temperature=0.5)), want)
    from keras_cgen.decoding import engine

    plan = engine.make_settings(**gen.settings(temperature=0.5))
    np.testing.assert_array_equal(gen.decode_ids(ids, plan, tf.constant([3, 0], tf.int32))["images"].numpy(), want)
    with pytest.raises(ValueError, match="`temperature` must be a number > 0, got 0"):
        gen.generate("7", temperature=0)
    with pytest.raises(ValueError, match="one generation setting, `temperature`; got \\['num_beams'\\]"):
        gen.settings(num_beams=4)


def test_pixelcnn_guidance_option_in_python_the_graph_and_the_cli(loaded, image_zoo, tmp_path, capsys, monkeypatch):
    from keras_cgen.cli import main
    from keras_cgen.decoding import engine

    gen = loaded["pixelcnn"]
    assert gen.options() == {"guidance": 0.0}  # as trained, unless the config says otherwise
    ids = tf.constant([3, 3, 3, 3], tf.int32)
    noise = gen.noise(4, tf.constant([5, 0], tf.int32))
    guided = gen.draw(ids, noise, guidance=3.0)[0].numpy()
    np.testing.assert_array_equal(np.stack(gen.generate("3", n=4, seed=5, guidance=3.0)), guided)
    assert not np.array_equal(np.stack(gen.generate("3", n=4, seed=5)), guided)
    # A config's default reaches the graph the exports build.
    gen.config.generation["guidance"] = 3.0
    try:
        plan = engine.make_settings(**gen.settings())
        np.testing.assert_array_equal(gen.decode_ids(ids, plan, tf.constant([5, 0], tf.int32))["images"].numpy(), guided)
    finally:
        del gen.config.generation["guidance"]
    with pytest.raises(ValueError, match="`guidance` must be a number >= 0, got -2"):
        gen.generate("3", guidance=-2)
    with pytest.raises(ValueError, match="Unknown option\\(s\\) \\['guidance'\\] for a cvae model"):
        loaded["cvae"].generate("3", guidance=1.0)
    monkeypatch.setenv("KERAS_CGEN_ZOO", str(image_zoo))
    assert main(["generate", "pixelcnn-tiny", "3", "--guidance", "3", "--seed", "5", "--n", "4",
                 "--out", str(tmp_path / "g.png")]) == 0
    grid = png_pixels((tmp_path / "g.png").read_bytes())
    np.testing.assert_array_equal(grid[:, :SIZE], guided[0])
    assert main(["generate", "cvae-tiny", "3", "--guidance", "1", "--out", str(tmp_path / "c.png")]) == 2
    assert "guidance" in capsys.readouterr().err and not (tmp_path / "c.png").exists()


def test_option_sweep_judges_each_value_on_its_own_seed(loaded):
    """The card's evidence for a default draw option: each value's samples
    (their own seed) judged overall and per digit."""
    import keras

    from keras_cgen.families.digits.judge import DigitJudge
    from keras_cgen.families.digits.judge import build_digit_judge
    from keras_cgen.families.digits.evaluate import sweep

    keras.utils.set_random_seed(0)
    judge = DigitJudge(build_digit_judge(image_size=SIZE))  # untrained: any classifier will do here
    generator = loaded["pixelcnn"]
    result = sweep(generator, judge, "guidance", (0.0, 2.0), per_digit=3, seed=5)
    assert (result["per_digit"], result["seed"], set(result["values"])) == (3, 5, {"0.0", "2.0"})
    for value, row in result["values"].items():
        samples = np.stack(generator.generate(generator.vocabulary.classes, n=3, seed=5, guidance=float(value)))
        agree = judge.log_probs(samples.reshape(-1, SIZE, SIZE)).argmax(-1).reshape(10, 3) == np.arange(10)[:, None]
        assert row["label_accuracy"] == pytest.approx(agree.mean())
        assert row["worst_accuracy"] == pytest.approx(agree.mean(1).min())
        assert row["worst_digit"] == str(int(np.argmin(agree.mean(1))))
