"""The conditional-PixelCNN family (`pixelcnn`): a condition text in, a digit
out, drawn pixel by pixel with the cached sampler (`sample_cached`) from
Gumbel noise, one `[levels]` vector per pixel, guided by the model's own
posterior over classes (`guidance`, 0 samples the model as trained). Its
score is the model's log-probability of the image it drew, log p(x | c) in
nats."""

from keras_cgen.zoo.image_generator import ImageGenerator


class PixelCNNGenerator(ImageGenerator):
    """A gated conditional PixelCNN (`build_conditional_pixelcnn`)."""

    noise_distribution = "gumbel"
    # Grappler's rewrite of the sampler's additions (AddOpsRewrite) made a repeated call fail with
    # "TemporaryVariable ... already exists" in the nested loop (seen at 1,000 digits).
    grappler_options = {"arithmetic_optimization": False}
    score_meaning = "log p(image | condition) under the model, nats"
    draw_options = {"guidance": 0.0}
    option_sweeps = {"guidance": (0.0, 1.0, 2.0, 3.0, 4.0)}

    def __init__(self, directory, config):
        from keras_cgen.models.pixelcnn import build_conditional_pixelcnn

        super().__init__(directory, config)
        self.model = self.load_weights(build_conditional_pixelcnn(**config.builder))
        self.levels = config.builder.get("levels", 256)
        self.noise_shape = (self.image_size * self.image_size, self.levels)

    def draw(self, class_ids, noise, guidance=0.0):
        import tensorflow as tf

        from keras_cgen.decoding.pixelcnn import sample_cached

        values = sample_cached(self.model, class_ids, None, noise=noise, guidance=guidance)
        logits = self.model({"image": values, "label": class_ids}, training=False)
        log_probs = tf.reduce_sum(tf.one_hot(values, self.levels) * tf.nn.log_softmax(logits), axis=[1, 2, 3])
        images = tf.cast(values * (255 // (self.levels - 1)), tf.uint8)
        return images, log_probs

    def onnx_inputs(self):
        raise ValueError(
            "The PixelCNN's cached sampler does not convert to ONNX: its buffers are updated in place with "
            "`keras.ops.slice_update` (TensorFlow's XlaDynamicUpdateSlice), which tf2onnx cannot convert. "
            "Serve it as a SavedModel (`--format saved_model`).")

    def likelihoods(self, pixels, labels, batch_size=100):
        """Per digit (`pixels` 0..levels-1 `[N, H, W]`, `labels` `[N]`), nats:
        the exact NLL, -log p(x | c) (an unconditional twin ignores `labels`),
        and for a conditional model also -log p(x) with the label
        marginalised out, -log (1/K) sum_c p(x | c): an unconditional model
        made from this one, which by construction lies within ln K of it."""
        import numpy as np
        import tensorflow as tf

        from keras_cgen.decoding.pixelcnn import model_inputs

        def nll(x, y):
            logits = self.model(model_inputs(self.model, x, y), training=False)
            return tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(x, logits), axis=[1, 2]).numpy()

        classes = len(self.vocabulary) if "label" in self.model.input else 0
        exact, marginal = [], []
        for start in range(0, len(pixels), batch_size):
            x = tf.constant(pixels[start:start + batch_size], tf.int32)
            exact.append(nll(x, tf.constant(labels[start:start + batch_size], tf.int32)))
            if classes:
                every = np.stack([nll(x, tf.fill([len(x)], c)) for c in range(classes)])  # [K, B]
                low = every.min(0)
                marginal.append(low - np.log(np.exp(-(every - low)).mean(0)))
        out = {"NLL (exact)": np.concatenate(exact)}
        if classes:
            out["NLL, label marginalised (exact)"] = np.concatenate(marginal)
        return out
