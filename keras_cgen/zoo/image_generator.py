"""`ImageGenerator`: the `Generator` contract for models whose output is a
picture (a condition text in, an 8-bit grey image out). The image families
(`cvae`, `cgan`, `pixelcnn`) say only how they turn class ids and noise into
images; the rest of the contract is here, once:

- Python: `generate(conditions, n, seed)` -> uint8 arrays (or PIL images),
  `save_grid(path, ...)`;
- SavedModel: `condition` string in, `image` (PNG bytes) and `score` out, a
  fresh draw per request and a `seeded` signature;
- ONNX: the one-hot condition and the noise in (a client draws the noise, as
  `client_feed` does), `images` uint8 and `scores` out;
- `cgen generate NAME 7 seven --n 16 --out grid.png`.

A family subclass defines `noise_shape` (per image), `noise_distribution`
("normal" or "gumbel": how `noise` and a client draw it), `draw(class_ids,
noise, **options)` (graph ops -> images uint8 `[B, H, W]`, scores float32
`[B]`), `score_meaning` (what its score is, for the signature and the cards)
and optionally `draw_options` (settings its sampler reads besides the noise).
"""

import numpy as np

from keras_cgen.zoo.generator import Generator
from keras_cgen.zoo.generator import blank_unread

CHECK_CONDITIONS = ["7", "seven", "七", " Three ", "", "dog", "10"]


def draw_noise(distribution, shape, rng):
    """Client-side noise (numpy) of `distribution` ("normal" or "gumbel")."""
    if distribution == "normal":
        return rng.standard_normal(shape).astype("float32")
    if distribution == "gumbel":
        return (-np.log(-np.log(rng.uniform(1e-20, 1.0, shape)))).astype("float32")
    raise ValueError(f"Unknown noise distribution {distribution!r}; known: 'normal', 'gumbel'.")


class ImageGenerator(Generator):
    """A class-conditional image model of the zoo (its folder and `ZooConfig`)."""

    serving_input = ("condition", "string [None]: a class by name, e.g. '7', 'seven' or '七'")
    stops_at_end = False
    writes_files = True  # `cgen generate ... --out grid.png`
    onnx_noise_input = True  # the client sends the noise
    noise_shape = ()
    noise_distribution = "normal"
    score_meaning = ""
    # Grappler options while `generate`'s function is built (tf.config.optimizer names).
    grappler_options = {}
    # Settings `draw` reads besides the noise, name -> the value that samples the model as
    # trained (e.g. the PixelCNN's `guidance`): Python values, fixed when a graph is built; the
    # config's `generation` holds the model's defaults, which the exports serve.
    draw_options = {}
    option_sweeps = {}  # option -> the values the card's evaluation tries (the evidence for the default)

    def __init__(self, directory, config):
        super().__init__(directory, config)
        self.image_size = config.builder["image_size"]
        self.serving_outputs = {"image": "string [None]: PNG bytes (8-bit grey); empty for an unknown condition",
                                "score": f"float32 [None]: {self.score_meaning}; 0 for an unknown condition"}
        self.onnx_outputs = {"images": f"uint8 [batch, {self.image_size}, {self.image_size}]",
                             "scores": f"float32 [batch]: {self.score_meaning}"}

    # ---- what a family defines --------------------------------------------------
    def draw(self, class_ids, noise, **options):
        """Graph ops: class ids int32 `[B]` and noise `[B, *noise_shape]` ->
        (images uint8 `[B, H, W]`, scores float32 `[B]`); `options`: the
        family's `draw_options`."""
        raise NotImplementedError

    # ---- Python ------------------------------------------------------------------
    def settings(self, **given):
        """The config's `generation` defaults updated by `given`: an image model
        reads one setting, `temperature` (> 0), which scales its noise (the
        latent draw of the CVAE and the CGAN; for the PixelCNN's Gumbel noise
        the same as dividing its logits by it). Below 1 trades variety for
        typical images (as Glow and NVAE sample)."""
        given = {key: value for key, value in given.items() if value is not None}
        unknown = sorted(set(given) - {"temperature"})
        if unknown:
            raise ValueError(f"An image model reads one generation setting, `temperature`; got {unknown}.")
        defaults = {k: v for k, v in self.config.generation.items() if k not in self.draw_options}
        settings = {**defaults, **given, "max_new_tokens": self.config.max_new_tokens}
        temperature = settings.setdefault("temperature", 1.0)
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
            raise ValueError(f"`temperature` must be a number > 0, got {temperature!r}.")
        return settings

    def options(self, **given):
        """The family's `draw_options`: the model's defaults (its config's
        `generation`, else the as-trained value) updated by `given` (None
        keeps the default). The sampler checks the values."""
        given = {key: value for key, value in given.items() if value is not None}
        unknown = sorted(set(given) - set(self.draw_options))
        if unknown:
            allowed = ", ".join(f"`{name}`" for name in self.draw_options) or "none"
            raise ValueError(f"Unknown option(s) {unknown} for a {self.config.family} model; its options: {allowed} "
                             "(and `temperature`).")
        return {**{k: self.config.generation.get(k, v) for k, v in self.draw_options.items()}, **given}

    def noise(self, batch, seed):
        """Noise `[batch, *noise_shape]` from the int32 `[2]` `seed` (graph ops)."""
        import tensorflow as tf

        shape = tf.concat([[batch], tf.constant(self.noise_shape, tf.int32)], 0)
        if self.noise_distribution == "normal":
            return tf.random.stateless_normal(shape, seed=seed)
        uniform = tf.random.stateless_uniform(shape, seed=seed, minval=1e-20, maxval=1.0)
        return -tf.math.log(-tf.math.log(uniform))

    def generate(self, conditions, n=1, seed=None, temperature=None, return_scores=False, as_pil=False, **options):
        """`n` images for each condition in `conditions` (a string such as "7",
        "seven" or "七", or a list of them): uint8 `[n, H, W]` per condition
        (one array for a single condition; PIL images with `as_pil`). The same
        `seed` gives the same images; None draws a fresh one. `temperature`:
        see `settings` (default: the model's, else 1); `options`: the
        family's `draw_options` (e.g. `guidance=` for the PixelCNN)."""
        conditions, single = self.text_list(conditions, "conditions", allow_empty=False)
        temperature = self.settings(temperature=temperature)["temperature"]
        options = self.options(**options)
        class_ids = self.vocabulary.class_ids(conditions)
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"`n` must be an int >= 1 (images per condition), got {n!r}.")
        if seed is None:
            seed = int(np.random.default_rng().integers(2**31 - 1))
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise ValueError(f"`seed` must be an int, got {seed!r}.")
        import tensorflow as tf

        ids = tf.constant(np.repeat(class_ids, n), tf.int32)
        images, scores = self._draw_seeded(ids, tf.constant([int(seed) % (2**31 - 1), 0], tf.int32),
                                           tf.constant(temperature, tf.float32), options)
        images = images.numpy().reshape(len(conditions), n, self.image_size, self.image_size)
        scores = scores.numpy().reshape(len(conditions), n)
        if as_pil:
            from PIL import Image

            images = [[Image.fromarray(image) for image in group] for group in images]
        else:
            images = [*images]
        if single:
            images, scores = images[0], scores[0]
        return (images, scores) if return_scores else images

    def _draw_seeded(self, class_ids, seed, temperature, options):
        import tensorflow as tf

        key = tuple(sorted(options.items()))
        compiled = self.__dict__.setdefault("_compiled", {})
        if key not in compiled:
            compiled[key] = tf.function(
                lambda ids, s, t: self.draw(ids, t * self.noise(tf.shape(ids)[0], s), **options),
                reduce_retracing=True)
        if not self.grappler_options:
            return compiled[key](class_ids, seed, temperature)
        # Grappler optimises a function when it is first run for a shape: set the options
        # around the call, then restore the process's own (unset ones are on by default).
        before = tf.config.optimizer.get_experimental_options()
        tf.config.optimizer.set_experimental_options(self.grappler_options)
        try:
            return compiled[key](class_ids, seed, temperature)
        finally:
            tf.config.optimizer.set_experimental_options({key: before.get(key, True) for key in self.grappler_options})

    def save_grid(self, path, conditions=None, n=10, seed=0, temperature=None, **options):
        """Writes a PNG grid: one row per condition (default: every class),
        `n` images per row, drawn with `seed`. Written beside `path` and renamed:
        a failed call leaves no partial file. Returns the path."""
        from pathlib import Path

        from PIL import Image

        conditions = self.vocabulary.classes if conditions is None else conditions
        rows = self.generate(conditions if not isinstance(conditions, str) else [conditions], n=n, seed=seed,
                             temperature=temperature, **options)
        size, gap = self.image_size, 2
        grid = np.full((len(rows) * (size + gap) - gap, n * (size + gap) - gap), 128, "uint8")
        for r, row in enumerate(rows):
            for c, image in enumerate(row):
                grid[r * (size + gap): r * (size + gap) + size, c * (size + gap): c * (size + gap) + size] = image
        path = Path(path)
        if path.suffix.lower() != ".png":
            raise ValueError(f"`path` must name a .png file, got '{path}'.")
        partial = path.with_name(f".{path.name}.partial")
        Image.fromarray(grid).save(partial, format="PNG")
        partial.rename(path)
        return path

    def warmup_inputs(self):
        return self.vocabulary.classes[:1]

    # ---- the graph: SavedModel and ONNX ---------------------------------------------
    def decode_ids(self, inputs, plan, seed, cache_write="where"):
        """Serving: class ids `[B]` (-1 for unknown text), noise from `seed`.
        ONNX: `{"condition": one-hot [B, classes], "noise": [B, *noise_shape]}`.
        Either way the noise is scaled by the export's temperature."""
        import tensorflow as tf

        if isinstance(inputs, dict):
            ids = tf.cast(tf.argmax(inputs["condition"], axis=-1), tf.int32)
            noise = inputs["noise"]
        else:
            ids = inputs
            noise = self.noise(tf.shape(ids)[0], seed)
        images, scores = self.draw(tf.maximum(ids, 0), plan.temperature * noise, **self.options())
        return {"images": images, "scores": scores}

    def serving_resources(self):
        return [self.vocabulary.lookup_table()]

    def serving_prepare(self, strings):
        return self.vocabulary.graph_class_ids(strings)

    def serving_finish(self, strings, out):
        import tensorflow as tf

        png = tf.map_fn(lambda image: tf.io.encode_png(image[..., None]), out["images"],
                        fn_output_signature=tf.TensorSpec([], tf.string))
        return blank_unread({"image": png, "score": out["scores"]}, self.vocabulary.graph_class_ids(strings) >= 0)

    def onnx_inputs(self):
        import tensorflow as tf

        classes = len(self.vocabulary)
        shape = [None, *self.noise_shape]
        return [("condition", tf.TensorSpec([None, classes], tf.float32),
                 f"float32 [batch, {classes}], one-hot over classes {self.vocabulary.classes}"),
                ("noise", tf.TensorSpec(shape, tf.float32),
                 f"float32 [batch, {', '.join(map(str, self.noise_shape))}], {self.noise_distribution} noise "
                 "that the client draws (the same noise gives the same image)")]

    def onnx_answer(self, out):
        return out

    def vocabulary_metadata(self):
        return {}

    def input_metadata(self):
        return {"classes": self.vocabulary.classes, "image_size": self.image_size,
                "noise": {"shape": [*self.noise_shape], "distribution": self.noise_distribution}}

    @classmethod
    def client_feed(cls, requests, metadata, vocabulary, seed=0):
        """Condition texts -> `{"condition": one-hot (all zeros when unknown), "noise"}`."""
        classes = len(metadata["classes"])
        one_hot = np.zeros((len(requests), classes), "float32")
        for i, text in enumerate(requests):
            key = vocabulary.normalise(text)
            if key in vocabulary.index:
                one_hot[i, vocabulary.index[key]] = 1.0
        noise = draw_noise(metadata["noise"]["distribution"], (len(requests), *metadata["noise"]["shape"]),
                           np.random.default_rng(seed))
        return {"condition": one_hot, "noise": noise}

    @classmethod
    def client_answer(cls, outputs, vocabulary, requests=None):
        """ONNX outputs -> `{"image": PNG bytes, "score"}`; an unknown condition
        (all-zero one-hot) gets b"" and 0, as the SavedModel answers."""
        import io

        from PIL import Image

        known = [vocabulary.normalise(r) in vocabulary.index for r in requests] if requests is not None \
            else [True] * len(outputs["images"])
        images, scores = [], []
        for image, score, ok in zip(outputs["images"], outputs["scores"], known):
            buffer = io.BytesIO()
            if ok:
                Image.fromarray(np.asarray(image, "uint8")).save(buffer, format="PNG")
            images.append(buffer.getvalue())
            scores.append(float(score) if ok else 0.0)
        return {"image": images, "score": scores}

    @classmethod
    def check_requests(cls, metadata):
        return CHECK_CONDITIONS

    # ---- the command line -------------------------------------------------------------
    def cli_lines(self, conditions, options):
        out = options.get("out")
        if not out:
            raise ValueError("an image model writes a PNG grid: give `--out FILE.png` "
                             f"(e.g. cgen generate {self.directory.name} 7 --n 16 --out grid.png).")
        n = options.get("n") or 1
        self.vocabulary.class_ids(conditions)
        seed = options.get("seed")
        seed = int(np.random.default_rng().integers(2**31 - 1)) if seed is None else seed
        path = self.save_grid(out, conditions, n=n, seed=seed, temperature=options.get("temperature"),
                              **options.get("draw_options", {}))
        return [f"wrote {path}: {len(conditions)} row(s) ({', '.join(conditions)}) x {n} image(s), seed {seed}"]
