"""The gated PixelCNN block and model: masks against numpy, what each output
sees (no pixel sees itself or a later pixel; no blind spot), the condition's
effect, a training step, serialisation."""

import keras
import numpy as np
import pytest
from conftest import assert_from_config_equal
from conftest import roundtrip_keras_file

from keras_cgen.families.digits.pixelcnn_sampling import sample_cached
from keras_cgen.families.digits.pixelcnn_sampling import sample_naive
from keras_cgen.layers import GatedPixelCNNBlock
from keras_cgen.layers import pixelcnn_masks
from keras_cgen.families.digits import build_conditional_pixelcnn


def tiny(num_classes=10, size=8, spatial=0):
    keras.utils.set_random_seed(0)
    return build_conditional_pixelcnn(num_classes, image_size=size, filters=8, num_blocks=3, kernel_size=3,
                                      first_kernel_size=3, head_units=8, spatial_condition_channels=spatial)


def test_masks():
    vertical, horizontal = pixelcnn_masks(5, "A")
    np.testing.assert_array_equal(vertical, np.array([[1] * 5] * 3 + [[0] * 5] * 2, "float32"))
    np.testing.assert_array_equal(horizontal, np.array([[1, 1, 0, 0, 0]], "float32"))
    np.testing.assert_array_equal(pixelcnn_masks(5, "B")[1], np.array([[1, 1, 1, 0, 0]], "float32"))
    with pytest.raises(ValueError, match="`kernel_size` must be an odd positive int, got 4"):
        pixelcnn_masks(4, "A")
    with pytest.raises(ValueError, match="`mask_type` must be 'A' or 'B', got 'C'"):
        GatedPixelCNNBlock(8, 3, "C")


@pytest.mark.parametrize("spatial", [False, True])
def test_block_against_numpy(rng, spatial):
    """One conditional block (with or without a spatial condition), computed
    with explicit loops over the masked kernels."""
    x = rng.normal(size=(2, 5, 5, 2)).astype("float32")
    condition = np.eye(3, dtype="float32")[[0, 2]]
    maps = [rng.normal(size=(2, 5, 5, 3)).astype("float32")] if spatial else []
    block = GatedPixelCNNBlock(4, 3, "B")
    block([x, x[..., :1].repeat(4, -1), condition, *maps])
    for w in block.weights:
        w.assign(rng.normal(size=w.shape, scale=0.5))
    h_in = rng.normal(size=(2, 5, 5, 4)).astype("float32")
    v_out, h_out = (np.asarray(t) for t in block([x, h_in, condition, *maps]))

    def conv(inputs, kernel, mask):  # "same" padding, cross-correlation, explicit loops
        kh, kw = mask.shape
        padded = np.pad(inputs, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
        out = np.zeros(inputs.shape[:3] + (kernel.shape[-1],), "float64")
        for i in range(inputs.shape[1]):
            for j in range(inputs.shape[2]):
                window = padded[:, i:i + kh, j:j + kw, :]
                out[:, i, j] = np.einsum("bhwc,hwco->bo", window, kernel * mask[:, :, None, None])
        return out

    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    gate = lambda z: np.tanh(z[..., :4]) * sigmoid(z[..., 4:])  # noqa: E731
    w = {v.name: np.asarray(v) for v in block.weights}
    vertical_mask, horizontal_mask = pixelcnn_masks(3, "B")
    v = conv(x, w["vertical_kernel"], vertical_mask) + w["vertical_bias"] + (condition @ w["vertical_condition"])[:, None, None]
    h = (conv(h_in, w["horizontal_kernel"], horizontal_mask) + w["horizontal_bias"]
         + (condition @ w["horizontal_condition"])[:, None, None])
    if spatial:  # a bias per position; the vertical one reaches the horizontal stack one row down, with v
        v = v + maps[0] @ w["vertical_spatial"]
        h = h + maps[0] @ w["horizontal_spatial"]
    above = np.concatenate([np.zeros_like(v[:, :1]), v[:, :-1]], axis=1)
    h = h + above @ w["vertical_to_horizontal"]
    np.testing.assert_allclose(v_out, gate(v), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(h_out, gate(h) @ w["output_kernel"] + w["output_bias"] + h_in, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("spatial", [0, 2])
def test_each_pixel_sees_exactly_the_pixels_before_it(rng, spatial):
    """Perturbing pixel p changes no output at or before p in raster order, and
    the 3-block receptive field has no blind spot (the pixel up and to the right)."""
    model = tiny(size=6, spatial=spatial)
    image = rng.integers(0, 256, (1, 6, 6)).astype("int32")
    label = np.array([3], "int32")
    base = np.asarray(model({"image": image, "label": label}))
    # Every single-pixel perturbation in one batch.
    batch = np.repeat(image, 36, 0)
    batch[np.arange(36), np.arange(36) // 6, np.arange(36) % 6] ^= 128
    changed = np.abs(np.asarray(model({"image": batch, "label": np.repeat(label, 36)})) - base).max(-1) > 1e-6
    sees = changed.reshape(36, 36).T  # sees[q, p]: output q depends on pixel p
    assert not np.triu(sees).any()  # never itself, never later
    q = 3 * 6 + 3
    assert sees[q, 2 * 6 + 4] and sees[q, 2 * 6 + 2] and sees[q, 3 * 6 + 2]  # above right, above left, left
    assert sees[q, :3 * 6].sum() >= 2 * 6  # the rows above: no blind spot


def test_condition_changes_the_distribution_and_twin_has_no_condition(rng):
    model = tiny()
    image = rng.integers(0, 256, (2, 8, 8)).astype("int32")
    logits = np.asarray(model({"image": image, "label": np.array([1, 7], "int32")}))
    swapped = np.asarray(model({"image": image, "label": np.array([7, 1], "int32")}))
    assert np.abs(logits - swapped).max() > 1e-3
    twin = tiny(num_classes=None)
    assert set(twin.input) == {"image"} and twin.count_params() < model.count_params()


@pytest.mark.parametrize("spatial", [0, 2])
def test_training_step_lowers_the_nll_and_round_trips(rng, tmp_path, spatial):
    model = tiny(spatial=spatial)
    images = np.tile(np.arange(8, dtype="int32")[None, None, :] * 30, (16, 8, 1))  # a learnable gradient
    x = {"image": images, "label": np.arange(16, dtype="int32") % 10}
    model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=False)
    before = model.evaluate(x, images, verbose=0)
    model.fit({k: np.concatenate([v] * 15) for k, v in x.items()}, np.concatenate([images] * 15), batch_size=16,
              shuffle=False, verbose=0)  # 15 steps in one epoch
    assert model.evaluate(x, images, verbose=0) < 0.5 * before
    roundtrip_keras_file(model, tmp_path, x)
    block = model.get_layer("PixelCNN-Block-1")
    maps = [rng.normal(size=(2, 8, 8, spatial)).astype("float32")] if spatial else []
    assert_from_config_equal(block, [np.zeros((2, 8, 8, 8), "float32")] * 2 + [np.eye(10, dtype="float32")[:2], *maps])
    with pytest.raises(ValueError, match="`spatial_condition_channels` must be an int >= 0, got -1"):
        tiny(spatial=-1)


def random_weights(model, seed=0):
    rng = np.random.default_rng(seed)
    for v in model.weights:  # large random weights: peaked, image-dependent distributions
        v.assign(rng.normal(size=v.shape, scale=0.3).astype("float32"))
    return model


@pytest.mark.parametrize("num_classes, spatial", [(10, 0), (None, 0), (10, 2)])
def test_cached_sampling_draws_the_naive_samples(num_classes, spatial):
    import tensorflow as tf

    model = random_weights(tiny(num_classes, size=6, spatial=spatial))
    labels = tf.constant([0, 3, 9], tf.int32)
    seed = tf.constant([7, 0], tf.int32)
    naive = tf.function(lambda: sample_naive(model, labels, seed, batch=3))()
    cached = tf.function(lambda: sample_cached(model, labels, seed, batch=3))()
    np.testing.assert_array_equal(cached, naive)
    assert naive.shape == (3, 6, 6) and len(np.unique(naive)) > 10  # real draws, not a constant image
    again = tf.function(lambda: sample_cached(model, labels, tf.constant([8, 0], tf.int32), batch=3))()
    assert np.mean(np.asarray(again) != np.asarray(cached)) > 0.5  # another seed, other images
    if spatial:  # guided: every image runs under every class, each with its own class map
        naive = tf.function(lambda: sample_naive(model, labels, seed, batch=3, guidance=2.0))()
        np.testing.assert_array_equal(tf.function(lambda: sample_cached(model, labels, seed, guidance=2.0))(), naive)


def test_guided_sampling_cached_equals_naive_and_favours_the_label():
    """Guidance mixes in the model's own posterior over classes: the cached
    and the naive sampler (which computes that posterior from whole-image
    passes) draw the same images, and the drawn images are likelier under
    the requested label relative to the others than unguided draws."""
    import tensorflow as tf

    model = random_weights(tiny(10, size=6), seed=1)
    labels = tf.constant([0, 3, 9, 5], tf.int32)
    seed = tf.constant([5, 0], tf.int32)
    naive = tf.function(lambda: sample_naive(model, labels, seed, batch=4, guidance=2.0))()
    cached = tf.function(lambda: sample_cached(model, labels, seed, batch=4, guidance=2.0))()
    np.testing.assert_array_equal(cached, naive)
    plain = tf.function(lambda: sample_cached(model, labels, seed, batch=4))()
    assert np.any(np.asarray(plain) != np.asarray(cached))

    def label_posterior(images, labels):  # log p(label | x) under the model, uniform prior, numpy
        every = np.stack([model({"image": np.asarray(images), "label": np.full(len(images), k, "int32")}).numpy()
                          for k in range(10)])  # [K, B, H, W, L]
        log_probs = every - np.log(np.exp(every).sum(-1, keepdims=True))
        log_likelihood = np.take_along_axis(log_probs, np.asarray(images)[None, ..., None], -1).sum((2, 3, 4))
        log_posterior = log_likelihood - np.logaddexp.reduce(log_likelihood, axis=0)
        return log_posterior[np.asarray(labels), np.arange(len(images))]

    many = tf.constant(np.repeat(np.arange(10), 3), tf.int32)
    guided = tf.function(lambda: sample_cached(model, many, seed, batch=30, guidance=3.0))()
    unguided = tf.function(lambda: sample_cached(model, many, seed, batch=30))()
    assert label_posterior(guided, many).mean() > label_posterior(unguided, many).mean() + 0.2  # 0.34 measured


def test_guidance_is_checked():
    model = tiny(None, size=6)
    with pytest.raises(ValueError, match="needs a conditional model"):
        sample_cached(model, np.zeros(2, "int32"), np.zeros(2, "int32"), batch=2, guidance=1.0)
    with pytest.raises(ValueError, match="`guidance` must be a number >= 0, got -1"):
        sample_cached(tiny(10, size=6), np.zeros(2, "int32"), np.zeros(2, "int32"), guidance=-1)
