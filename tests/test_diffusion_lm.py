"""Diffusion-LM: schedule, loss, sampler and controls on tiny models."""

import numpy as np
import pytest
import tensorflow as tf

import keras
from keras_cgen.families.diffusion_lm import sampling as diffusion
from keras_cgen.families.diffusion_lm.model import DiffusionLM
from keras_cgen.families.diffusion_lm.model import build_diffusion_denoiser
from keras_cgen.families.diffusion_lm.model import build_latent_classifier
from keras_cgen.families.diffusion_lm.model import respaced_schedule
from keras_cgen.families.diffusion_lm.model import sqrt_schedule

LENGTH, DIM, VOCAB = 8, 8, 12  # ids: 0 pad, 1 start, 2 end, 3 unk, 4.. words


def toy_sequences(count, rng):
    """[START] w1..wn [END] [PAD].. with 2..5 words, each from one of two halves of the words (the class)."""
    ids = np.zeros((count, LENGTH), "int32")
    classes = rng.integers(0, 2, count).astype("int32")
    for row, label in zip(ids, classes):
        n = rng.integers(2, 6)
        words = rng.integers(4, 8, n) + 4 * label
        row[: n + 2] = [1, *words, 2]
    return ids, classes


@pytest.fixture(scope="module")
def trained():
    """A tiny diffusion LM trained for a few seconds on toy sequences, and a classifier of their class."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    ids, classes = toy_sequences(2048, rng)
    lm = DiffusionLM(build_diffusion_denoiser(LENGTH, DIM, 32, 1, 2, dropout=0.0), VOCAB, seed=0)
    lm.compile(keras.optimizers.Adam(3e-3), jit_compile=False, steps_per_execution=32)
    lm.fit(ids, batch_size=64, epochs=12, verbose=0)
    classifier = build_latent_classifier(2, LENGTH, DIM, width=16, num_layers=1, num_heads=2, num_steps=20,
                                         dropout=0.0)
    classifier.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                       steps_per_execution=32)
    table = lm.embedding.embeddings.numpy()
    steps = rng.integers(0, 21, len(ids))
    alpha_bar = np.append(respaced_schedule(20)["alpha_bar"], 1.0)[steps][:, None, None]
    latents = np.sqrt(alpha_bar) * table[ids] + np.sqrt(1 - alpha_bar) * rng.standard_normal(table[ids].shape)
    classifier.fit({"latents": latents.astype("float32"), "step": steps.astype("int32")}, classes, batch_size=64,
                   epochs=8, verbose=0)
    return lm, classifier


def test_sqrt_schedule_follows_its_formula():
    steps = 2000
    alpha = lambda s: 1 - np.sqrt(s + 1e-4)  # noqa: E731
    expected, product = [], 1.0
    for i in range(steps):
        product *= 1 - min(1 - alpha((i + 1) / steps) / alpha(i / steps), 0.999)
        expected.append(product)
    np.testing.assert_allclose(sqrt_schedule(steps), expected, rtol=1e-10)
    assert abs(sqrt_schedule()[0] - 0.98536) < 1e-4  # x_0 itself carries noise of std ~0.12


def test_respaced_schedule_and_its_posterior():
    schedule = respaced_schedule(200, 2000)
    np.testing.assert_array_equal(schedule["timesteps"][:4], [0, 10, 20, 30])
    assert schedule["timesteps"][-1] == 1999 and len(schedule["timesteps"]) == 200
    np.testing.assert_allclose(schedule["alpha_bar"], sqrt_schedule()[schedule["timesteps"]])
    # q(x_{k-1} | x_k, x_0) by Bayes' rule on 1-D Gaussians, against the closed form the sampler uses
    ab, prev, beta = schedule["alpha_bar"], schedule["alpha_bar_prev"], schedule["betas"]
    k = np.arange(1, 200)
    precision = 1 / (1 - prev[k]) + (1 - beta[k]) / beta[k]
    np.testing.assert_allclose(1 / precision, np.exp(schedule["log_variance"][k]), rtol=1e-6)
    np.testing.assert_allclose(np.sqrt(prev[k]) / (1 - prev[k]) / precision, schedule["coef_x0"][k], rtol=1e-6)
    np.testing.assert_allclose(np.sqrt(1 - beta[k]) / beta[k] / precision, schedule["coef_xt"][k], rtol=1e-6)
    np.testing.assert_allclose(np.cumprod(1 - beta), ab, rtol=1e-9)
    with pytest.raises(ValueError, match="`steps` must be an int in 2..2000"):
        respaced_schedule(1)


def test_loss_terms_against_numpy():
    keras.utils.set_random_seed(1)
    lm = DiffusionLM(build_diffusion_denoiser(LENGTH, DIM, 16, 1, 2), VOCAB)
    rng = np.random.default_rng(1)
    ids, _ = toy_sequences(4, rng)
    noise, noise_t = rng.standard_normal((2, 4, LENGTH, DIM)).astype("float32")
    t = np.array([0, 5, 999, 1999], "int32")
    terms = {k: float(v) for k, v in lm.losses_of(ids, False, (noise, t, noise_t)).items()}

    table = lm.embedding.embeddings.numpy().astype("float64")
    bias = lm.rounding_bias.bias.numpy()
    ab = sqrt_schedule()
    embeddings = table[ids]
    x_start = embeddings + np.sqrt(1 - ab[0]) * noise
    x_t = np.sqrt(ab[t])[:, None, None] * x_start + np.sqrt(1 - ab[t])[:, None, None] * noise_t
    predicted = lm.denoiser({"latents": x_t.astype("float32"), "timestep": t * 0.5}).numpy()
    target = np.where((t == 0)[:, None, None], embeddings, x_start)
    logits = x_start @ table.T + bias
    log_probs = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True)) \
        - logits.max(-1, keepdims=True)
    nll = -np.take_along_axis(log_probs, ids[..., None], -1).mean()
    np.testing.assert_allclose(terms["mse"], ((predicted - target) ** 2).mean(), rtol=1e-4)
    np.testing.assert_allclose(terms["nll"], nll, rtol=1e-4)
    np.testing.assert_allclose(terms["prior"], (ab[-1] * x_start ** 2).mean(), rtol=1e-4)


def test_training_lowers_the_loss_and_round_trips(tmp_path):
    keras.utils.set_random_seed(2)
    rng = np.random.default_rng(2)
    ids, _ = toy_sequences(256, rng)
    lm = DiffusionLM(build_diffusion_denoiser(LENGTH, DIM, 16, 1, 2, dropout=0.0), VOCAB, seed=0)
    draws = (rng.standard_normal((256, LENGTH, DIM)).astype("float32"), rng.integers(0, 2000, 256).astype("int32"),
             rng.standard_normal((256, LENGTH, DIM)).astype("float32"))
    loss = lambda: sum(float(v) for v in lm.losses_of(ids, False, draws).values())  # noqa: E731
    before = loss()
    lm.compile(keras.optimizers.Adam(3e-3))
    lm.fit(ids, batch_size=32, epochs=3, verbose=0)
    assert loss() < 0.8 * before
    lm.save(tmp_path / "lm.keras")
    again = keras.saving.load_model(tmp_path / "lm.keras")
    np.testing.assert_allclose(sum(float(v) for v in again.losses_of(ids, False, draws).values()), loss(), rtol=1e-5)


def test_clamping_snaps_to_the_nearest_allowed_embedding(trained):
    lm, _ = trained
    table = lm.embedding.embeddings.numpy()
    latents = np.random.default_rng(3).standard_normal((2, LENGTH, DIM)).astype("float32")
    distances = ((latents[..., None, :] - table) ** 2).sum(-1)
    snapped = diffusion.nearest_embedding(lm, tf.constant(latents)).numpy()
    np.testing.assert_allclose(snapped, table[distances.argmin(-1)], atol=1e-6)
    allowed = np.ones(VOCAB, bool)
    allowed[distances.argmin(-1).ravel()] = False  # forbid every first choice
    snapped = diffusion.nearest_embedding(lm, tf.constant(latents), tf.constant(allowed)).numpy()
    np.testing.assert_allclose(snapped, table[np.where(allowed, distances, np.inf).argmin(-1)], atol=1e-6)


def test_samples_are_seeded_and_read_like_the_data(trained):
    lm, _ = trained
    ids, _ = diffusion.sample(lm, 16, tf.constant([0, 0]), steps=20)
    again, _ = diffusion.sample(lm, 16, tf.constant([0, 0]), steps=20)
    other, _ = diffusion.sample(lm, 16, tf.constant([1, 0]), steps=20)
    np.testing.assert_array_equal(ids, again)
    assert not np.array_equal(ids, other)
    assert (ids.numpy()[:, 0] == 1).mean() >= 0.8  # [START] first, as in every training sequence


def test_guidance_raises_the_classifiers_probability(trained):
    lm, classifier = trained
    target = tf.fill([32], 1)
    plain, plain_x = diffusion.sample(lm, 32, tf.constant([4, 0]), steps=20)
    guided, guided_x = diffusion.sample(lm, 32, tf.constant([4, 0]), steps=20, min_guided_step=2,
                                        energies=[diffusion.classifier_energy(classifier, target, 20)])

    def probability(latents):
        logits = classifier({"latents": latents, "step": tf.fill([32], 20)})
        return tf.nn.softmax(logits)[:, 1].numpy().mean()

    assert probability(guided_x) > probability(plain_x) + 0.2
    words = lambda ids: ids.numpy()[(ids.numpy() >= 4)]  # noqa: E731
    assert (words(guided) >= 8).mean() > (words(plain) >= 8).mean()  # class 1 writes the upper words


def test_infilling_keeps_the_known_words(trained):
    lm, _ = trained
    known_ids = np.tile([1, 5, 0, 6, 0, 2, 0, 0], (8, 1)).astype("int32")
    mask = np.tile([1, 1, 0, 1, 0, 1, 1, 1], (8, 1)).astype(bool)
    ids, latents = diffusion.sample(lm, 8, tf.constant([5, 0]), steps=20, known_ids=known_ids, known_mask=mask)
    np.testing.assert_allclose(latents.numpy()[mask], lm.embedding.embeddings.numpy()[known_ids[mask]], atol=1e-6)
    np.testing.assert_array_equal(ids.numpy()[mask], known_ids[mask])
    assert (ids.numpy()[~mask] >= 4).mean() > 0.8  # words where the words are missing


def test_length_control_puts_end_where_asked(trained):
    lm, _ = trained
    lengths = tf.constant([2, 3, 4, 5] * 4)
    ids, _ = diffusion.sample(lm, 16, tf.constant([6, 0]), steps=20, min_guided_step=2, fluency=0.001,
                              energies=[diffusion.length_energy(lm, lengths, 20)])
    ends = [list(row).index(2) if 2 in row else -1 for row in ids.numpy()]
    assert np.mean(np.array(ends) == lengths.numpy() + 1) >= 0.75


@pytest.fixture(scope="module")
def zoo_model(trained, tmp_path_factory):
    """The tiny trained model as a zoo folder of the `diffusion_lm` family."""
    from keras_cgen import zoo
    from keras_cgen.text import WordVocabulary

    lm, classifier = trained
    out = tmp_path_factory.mktemp("zoo") / "tiny-diffusion"
    builder = dict(sequence_length=LENGTH, embedding_dim=DIM, width=32, num_layers=1, num_heads=2, dropout=0.0)
    config = zoo.ZooConfig(family="diffusion_lm", vocabulary="words.json", max_new_tokens=LENGTH,
                           generation={"do_sample": True}, labels=["low", "high"],
                           builder={**builder, "sampling": {"steps": 20, "fluency": 0.01},
                                    "classifier": dict(num_classes=2, sequence_length=LENGTH, embedding_dim=DIM,
                                                       width=16, num_layers=1, num_heads=2, num_steps=20,
                                                       dropout=0.0)})
    words = WordVocabulary([f"w{i}" for i in range(4, VOCAB)])
    zoo.save_zoo_model(out, config, lm, words,
                       files={"classifier.safetensors": lambda path: zoo.save_weights(classifier, path)})
    return out


def test_zoo_generator_controls_and_bad_inputs(zoo_model):
    from keras_cgen import zoo

    gen = zoo.load(zoo_model)
    high = gen.generate(n=8, control={"section": "high"}, seed=0)
    assert high == gen.generate(n=8, control={"section": "high"}, seed=0)
    upper = lambda texts: np.mean([int(w[1:]) >= 8 for t in texts for w in t.split()])  # noqa: E731
    assert upper(high) > upper(gen.generate(n=8, control={"section": "low"}, seed=0))
    filled = gen.infill("w5 ___ w6", n=4, seed=0, choose=False)
    assert all(t.split()[0] == "w5" and t.split()[2] == "w6" and len(t.split()) == 3 for t in filled)
    for bad, message in [(dict(control={"section": "middle"}), r"control\['section'\] must be one of \['low', 'high'\]"),
                         (dict(length=7), r"`length` must be an int in 1..6"),
                         (dict(content="w99"), "`content` must be one word of the vocabulary"),
                         (dict(steps=1), "`steps` must be an int in 2..2000")]:
        with pytest.raises(ValueError, match=message):
            gen.generate(**bad)
    for template in ["", "w5 w6", "___ " * 7]:
        with pytest.raises(ValueError, match="`template`"):
            gen.infill(template)


def test_saved_model_runs_the_guided_loop_as_generate(zoo_model, tmp_path):
    from keras_cgen import zoo
    from keras_cgen.export import export_saved_model

    gen = zoo.load(zoo_model)
    target = export_saved_model(gen, tmp_path / "export")
    served = tf.saved_model.load(str(target)).signatures["seeded"](section=tf.constant(["high", "high", "no such"]),
                                                                  seed=tf.constant(5))
    expected = gen.generate(n=3, control={"section": "high"}, seed=5)
    assert [t.decode() for t in served["text"].numpy()] == [*expected[:2], ""]
    assert served["score"].numpy()[2] == 0.0 and served["score"].numpy()[0] < 0.0


def test_onnx_infills_like_the_keras_sampler_for_the_same_noise(zoo_model, tmp_path):
    import json

    from keras_cgen import zoo
    from keras_cgen.export import export_onnx
    from keras_cgen.export.check import serve_check
    from keras_cgen.families.diffusion_lm.generator import DiffusionLMGenerator

    gen = zoo.load(zoo_model)
    out = export_onnx(gen, tmp_path / "onnx")
    metadata = json.loads((out / "metadata.json").read_text())
    requests = ["w5 ___ w6", "", "___ w7"]
    answer = serve_check(out, requests)["answer"]["text"]  # onnxruntime in a fresh process
    feed = DiffusionLMGenerator.client_feed(requests, metadata, gen.vocabulary)
    ids, _ = diffusion.sample(gen.model, 3, None, steps=20, allowed=tf.constant(gen.allowed), noise=feed["noise"],
                              known_ids=feed["known_ids"], known_mask=feed["known_mask"] > 0.5)
    assert answer == [gen.vocabulary.decode(row) for row in ids.numpy()]
    assert answer[0].split()[0] == "w5" and answer[0].split()[2] == "w6" and answer[2].split()[1] == "w7"


def test_timestep_embedding_against_numpy_and_round_trip(tmp_path):
    from keras_cgen.layers import TimestepEmbedding

    t = np.array([0.0, 1.0, 499.5], "float32")
    half = 4
    freqs = np.exp(-np.log(10000.0) * np.arange(half) / half)
    expected = np.concatenate([np.cos(t[:, None] * freqs), np.sin(t[:, None] * freqs)], axis=-1)
    layer = TimestepEmbedding(8)
    np.testing.assert_allclose(layer(t).numpy(), expected, rtol=1e-5, atol=1e-5)
    inputs = keras.Input(())
    model = keras.Model(inputs, keras.layers.Dense(2)(TimestepEmbedding(8)(inputs)))
    model.compile("adam", "mse")
    model.fit(t, np.zeros((3, 2)), verbose=0)
    model.save(tmp_path / "m.keras")
    np.testing.assert_allclose(keras.saving.load_model(tmp_path / "m.keras")(t), model(t), rtol=1e-6)
    with pytest.raises(ValueError, match="`dim` must be an even int"):
        TimestepEmbedding(7)
