"""Sampling images pixel by pixel from `build_conditional_pixelcnn`, two ways:

- `sample_naive`: re-runs the whole network on the whole image for every
  pixel (H * W full passes), the reference;
- `sample_cached` (Ramachandran et al. 2017, "Fast Generation for
  Convolutional Autoregressive Models"): keeps every block's activations and
  computes only what a new pixel changes. A pixel's horizontal-stack outputs
  depend on pixels to its left in its row and on the vertical stack of the rows
  above, so each new pixel costs one position per block; each finished row
  costs one row of the vertical stack per block.

Both draw pixel t of row-major order as argmax(logits + Gumbel noise) with the
noise from `[seed, t]`: the same seed gives the same image, whichever sampler.
Both can guide a conditional model by its own posterior over classes
(`guidance`, see `sample_cached`).
Each is one compiled loop (nested `while_loop`s for the cached one).
"""

import tensorflow as tf
from keras import ops

from keras_cgen.families.digits.pixelcnn import LEVELS
from keras_cgen.families.digits.pixelcnn import scale_pixels


def pixel_noise(seed, step, batch, levels=LEVELS):
    """Gumbel noise `[batch, levels]` for pixel `step`, from the int32 `[2]` `seed`."""
    uniform = tf.random.stateless_uniform([batch, levels], seed=tf.stack([seed[0], seed[1] + step]),
                                          minval=1e-20, maxval=1.0)
    return -tf.math.log(-tf.math.log(uniform))


def model_inputs(model, images, labels):
    return {"image": images, "label": labels} if "label" in model.input else {"image": images}


def condition_classes(model):
    """K for a model conditioned on K classes, 0 for an unconditional twin."""
    block = model.get_layer("PixelCNN-Block-0")
    return block.vertical_condition.shape[0] if block.conditional else 0


def check_guidance(guidance, classes, model):
    if isinstance(guidance, bool) or not isinstance(guidance, (int, float)) or guidance < 0:
        raise ValueError(f"`guidance` must be a number >= 0, got {guidance!r}.")
    if guidance and not classes:
        raise ValueError(f"`guidance` needs a conditional model; {model.name!r} has no condition (got "
                         f"guidance={guidance!r}, allowed: 0).")


def guided_logits(log_probs, log_likelihood, labels, guidance):
    """Guided logits `[B, levels]` of one pixel from its log-probabilities under
    every class, `[B, K, levels]`, and each class's log-likelihood of the pixels
    before it, `[B, K]` (see `sample_cached`)."""
    posterior = ops.log_softmax(log_likelihood, axis=-1)[..., None]
    unconditional = ops.logsumexp(posterior + log_probs, axis=1)
    conditional = ops.take_along_axis(log_probs, labels[:, None, None], axis=1)[:, 0]
    return conditional + guidance * (conditional - unconditional)


def sample_naive(model, labels, seed, batch=None, guidance=0.0):
    """int32 `[B, H, W]` images, re-running `model` on the whole image per pixel.
    `labels` int32 `[B]` (ignored by an unconditional model, which then needs `batch`);
    `guidance` as in `sample_cached` (the model then runs on every image once per class)."""
    labels = ops.cast(labels, "int32")
    batch = batch or ops.shape(labels)[0]
    height, width = model.input["image"].shape[1:]
    levels = model.output.shape[-1]
    classes = condition_classes(model)
    check_guidance(guidance, classes, model)

    def body(t, images):
        row, column = t // width, t % width
        if guidance:
            every = ops.repeat(images, classes, axis=0)
            log_probs = ops.log_softmax(model(model_inputs(model, every, ops.tile(ops.arange(classes), (batch,)))))
            log_probs = ops.reshape(log_probs, (batch, classes, height * width, levels))
            drawn = ops.reshape(ops.one_hot(images, levels), (batch, 1, height * width, levels))
            before = ops.reshape(ops.arange(height * width) < t, (1, 1, -1))
            log_likelihood = ops.sum(ops.where(before, ops.sum(drawn * log_probs, axis=-1), 0.0), axis=-1)
            logits = guided_logits(log_probs[:, :, t], log_likelihood, labels, guidance)
        else:
            logits = model(model_inputs(model, images, labels))[:, row, column]
        value = ops.cast(ops.argmax(logits + pixel_noise(seed, t, batch, levels), axis=-1), "int32")
        return t + 1, ops.slice_update(images, (0, row, column), ops.reshape(value, (-1, 1, 1)))

    images = ops.zeros((batch, height, width), "int32")
    return ops.while_loop(lambda t, _: t < height * width, body, (ops.array(0, "int32"), images))[1]


def sample_cached(model, labels, seed, batch=None, noise=None, guidance=0.0):
    """The same images as `sample_naive` (same seed), computing each block only
    where the new pixel changes it. `noise` (float32 `[B, H * W, levels]`
    Gumbel noise, pixel t's at `[:, t]`) replaces the seeded noise: an ONNX
    graph, which has no seeded random op, reads it as an input.

    `guidance` (a Python float >= 0; conditional models only) draws each pixel
    from p(x_t | x_<t, c)^(1 + w) / p(x_t | x_<t)^w, where the unconditional
    p(x_t | x_<t) = sum_k p(k | x_<t) p(x_t | x_<t, k) is the model's own
    mixture over its K classes, weighted by its posterior over the pixels
    drawn so far (uniform prior). It is classifier-free guidance with the
    model as its own unconditional twin: no second network, K times the work
    (every image runs once per class). 0 samples the model as trained."""
    labels = ops.cast(labels, "int32")
    batch = batch or ops.shape(labels if noise is None else noise)[0]
    height, width = model.input["image"].shape[1:]
    blocks = [layer for layer in model.layers if layer.name.startswith("PixelCNN-Block-")]
    head, logits_layer = model.get_layer("PixelCNN-Head"), model.get_layer("PixelCNN-Logits")
    levels = logits_layer.units
    classes = condition_classes(model)
    check_guidance(guidance, classes, model)
    # Guided, row b * K + k runs image b under class k; every row of an image gets the same pixels.
    copies = classes if guidance else 1
    rows = batch * copies
    if not classes:
        condition = None
    elif guidance:
        condition = ops.tile(ops.eye(classes), (batch, 1))
    else:
        condition = ops.one_hot(labels, classes)
    spatial = None  # the class maps `[rows, H, W, S]` of a model with location-dependent conditioning
    if condition is not None and blocks[0].spatial:
        maps = model.get_layer("PixelCNN-Spatial-Condition")
        spatial = ops.reshape(maps(ops.argmax(condition, axis=-1)), (rows, height, width, -1))

    weights = []
    for block in blocks:
        c = block.kernel_size // 2
        w = {"c": c, "block": block,
             "vertical": (block.vertical_kernel * block.vertical_mask[:, :, None, None])[: c + 1],  # rows it sees
             "horizontal": block.horizontal_kernel * block.horizontal_mask[:, :, None, None],
             "v_bias": block.vertical_bias, "h_bias": block.horizontal_bias}
        if condition is not None:
            w["v_bias"] = w["v_bias"] + ops.matmul(condition, block.vertical_condition)  # [B, 2p]
            w["h_bias"] = w["h_bias"] + ops.matmul(condition, block.horizontal_condition)
        weights.append(w)

    # Buffers, zero-padded as the "same" convolutions pad: vertical inputs with c rows on
    # top and c columns each side; horizontal inputs, the current row only (a pixel's
    # horizontal stack sees its own row), with c columns each side. A buffer written per
    # pixel is copied per pixel outside XLA: one row instead of the image is H times less.
    channels = [1] + [block.filters for block in blocks[:-1]]
    state = {
        "images": ops.zeros((batch, height, width), "int32"),
        "v_in": [ops.zeros((rows, height + w["c"], width + 2 * w["c"], ch), "float32")
                 for w, ch in zip(weights, channels)],
        "h_in": [ops.zeros((rows, width + 2 * w["c"], ch), "float32") for w, ch in zip(weights, channels)],
        "v_pre": [ops.zeros((rows, width, 2 * w["block"].filters), "float32") for w in weights],  # row above
        "log_likelihood": ops.zeros((batch, copies), "float32"),  # log p(pixels so far | class), guided
    }

    def vertical_row(state, row):
        """The vertical stack's row `row` (every column) in every block, from the rows up to `row`."""
        v_in, v_pre = list(state["v_in"]), list(state["v_pre"])
        for i, w in enumerate(weights):
            c = w["c"]
            strip = ops.slice(v_in[i], (0, row, 0, 0), (-1, c + 1, -1, -1))
            pre = ops.conv(strip, w["vertical"], padding="valid")[:, 0] + w["v_bias"][..., None, :]
            if spatial is not None:
                pre = pre + ops.matmul(ops.take(spatial, row, axis=1), w["block"].vertical_spatial)
            v_pre[i] = pre
            if i + 1 < len(weights):
                nxt = weights[i + 1]["c"]
                v_in[i + 1] = ops.slice_update(v_in[i + 1], (0, row + nxt, nxt, 0), w["block"].gate(pre)[:, None])
        return {**state, "v_in": v_in, "v_pre": v_pre}

    def pixel(state, row, column, t):
        """Blocks at (row, column) only, then the pixel's value."""
        h_in = list(state["h_in"])
        for i, w in enumerate(weights):
            c, block = w["c"], w["block"]
            window = ops.slice(h_in[i], (0, column, 0), (-1, 2 * c + 1, -1))
            pre = ops.einsum("bwc,wco->bo", window, w["horizontal"][0]) + w["h_bias"]
            if spatial is not None:
                here = ops.take(ops.take(spatial, row, axis=1), column, axis=1)  # [rows, S]
                pre = pre + ops.matmul(here, block.horizontal_spatial)
            above = ops.take(state["v_pre"][i], column, axis=1)  # the row above (zeros for row 0)
            pre = pre + ops.matmul(above, block.vertical_to_horizontal)
            out = ops.matmul(block.gate(pre), block.output_kernel) + block.output_bias
            if block.residual:
                out = out + window[:, c]
            if i + 1 < len(weights):
                nxt = weights[i + 1]["c"]
                h_in[i + 1] = ops.slice_update(h_in[i + 1], (0, column + nxt, 0), out[:, None])
        logits = logits_layer(head(ops.relu(out)))
        gumbel = pixel_noise(seed, t, batch, levels) if noise is None else ops.take(noise, t, axis=1)
        log_likelihood = state["log_likelihood"]
        if guidance:
            log_probs = ops.reshape(ops.log_softmax(logits, axis=-1), (batch, copies, levels))
            logits = guided_logits(log_probs, log_likelihood, labels, guidance)
        value = ops.cast(ops.argmax(logits + gumbel, axis=-1), "int32")
        images = ops.slice_update(state["images"], (0, row, column), ops.reshape(value, (-1, 1, 1)))
        if guidance:
            chosen = ops.take_along_axis(log_probs, ops.tile(value[:, None, None], (1, copies, 1)), axis=2)
            log_likelihood = log_likelihood + chosen[..., 0]
            value = ops.reshape(ops.tile(value[:, None], (1, copies)), (-1,))
        x = ops.reshape(scale_pixels(value, levels), (-1, 1, 1, 1))
        c0 = weights[0]["c"]
        h_in[0] = ops.slice_update(h_in[0], (0, column + c0, 0), x[:, 0])
        v_in = [ops.slice_update(state["v_in"][0], (0, row + c0, column + c0, 0), x), *state["v_in"][1:]]
        return {**state, "images": images, "h_in": h_in, "v_in": v_in, "log_likelihood": log_likelihood}

    def row_body(row, state):
        state = ops.cond(row > 0, lambda: vertical_row(state, row - 1), lambda: state)
        state = {**state, "h_in": [ops.zeros_like(h) for h in state["h_in"]]}  # a new row
        _, state = tf.while_loop(lambda column, s: column < width,
                                 lambda column, s: (column + 1, pixel(s, row, column, row * width + column)),
                                 (tf.constant(0, tf.int32), state), parallel_iterations=1)
        return row + 1, state

    # One iteration at a time (each needs the last one's pixel anyway): with parallel iterations,
    # grappler's rewritten additions in the inner body can collide ("TemporaryVariable ... already exists").
    return tf.while_loop(lambda row, s: row < height, row_body, (tf.constant(0, tf.int32), state),
                         parallel_iterations=1)[1]["images"]
