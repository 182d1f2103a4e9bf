"""The Diffusion-LM family (`diffusion_lm`, Li et al. 2022): short texts
denoised from Gaussian noise, all words at once, steered at sampling time by
plug-and-play controls that never retrain the diffusion model:

    gen = keras_cgen.zoo.load("diffusion-lm-debian-en")
    gen.generate(n=8, control={"section": "games"}, seed=0)   # a classifier on noisy latents
    gen.generate(n=4, length=6, seed=0)                         # END placed after 6 words
    gen.generate(n=4, content="python", seed=0)                  # the word appears somewhere
    gen.infill("python 3 ___ for ___", n=8, seed=0)              # known words kept, ___ filled

The zoo folder holds the diffusion LM (`model.safetensors`), the guidance
classifier (`classifier.safetensors`, trained afterwards on the frozen
embeddings) and the word vocabulary (`words.json`).
"""

import numpy as np

from keras_cgen.zoo.generator import Generator
from keras_cgen.zoo.generator import blank_unread
from keras_cgen.zoo.store import load_model_weights

MASK = "___"  # one unknown word in an `infill` template
CLASSIFIER_WEIGHTS = "classifier.safetensors"
DEFAULTS = {"steps": 200, "fluency": 0.01, "guidance_steps": 3, "learning_rate": 0.1}


def template_ids(vocabulary, template, length):
    """An infilling template -> (ids int32 `[length]`, known bool `[length]`):
    `[START]`, its words (each `___` unknown), `[END]`, padding, all known but the `___`."""
    words = vocabulary.tokenize(template.replace(MASK, " \x00 "))
    if len(words) + 2 > length:
        raise ValueError(f"`template` has {len(words)} words; at most {length - 2} fit.")
    ids = np.full([length], vocabulary.pad_id, "int32")
    known = np.ones([length], bool)
    for i, word in enumerate(words, start=1):
        if word == "\x00":
            known[i] = False
        else:
            ids[i] = vocabulary.index.get(word, vocabulary.unk_id)
    ids[0], ids[len(words) + 1] = vocabulary.start_id, vocabulary.end_id
    return ids, known


class DiffusionLMGenerator(Generator):
    """A Diffusion-LM of the zoo and its guidance classifier."""

    serving_input = ("section", "string [None]: the class to steer towards (one of the model's labels)")
    onnx_outputs = {"ids": "int32 [batch, sequence_length]: [START] words [END] padding"}
    onnx_noise_input = True

    def __init__(self, directory, config):
        from keras_cgen.families.diffusion_lm.model import DiffusionLM
        from keras_cgen.families.diffusion_lm.model import build_diffusion_denoiser
        from keras_cgen.families.diffusion_lm.model import build_latent_classifier

        super().__init__(directory, config)
        builder = dict(config.builder)
        classifier_args = builder.pop("classifier", None)
        self.defaults = {**DEFAULTS, **builder.pop("sampling", {})}
        self.model = self.load_weights(DiffusionLM(build_diffusion_denoiser(**builder), len(self.vocabulary)))
        self.classifier = None
        if classifier_args:
            self.classifier = build_latent_classifier(**classifier_args)
            load_model_weights(self.classifier, self.directory / CLASSIFIER_WEIGHTS)
        self.classes = list(config.labels or [])
        self.length = builder["sequence_length"]
        allowed = np.ones(len(self.vocabulary), bool)
        allowed[self.vocabulary.unk_id] = False  # a sample never writes [UNK]
        self.allowed = allowed
        self._functions = {}

    def sampling(self, **given):
        """The config's sampling defaults (`DEFAULTS`) updated by `given` (None = not given)."""
        settings = {**self.defaults, **{k: v for k, v in given.items() if v is not None}}
        if not isinstance(settings["steps"], int) or isinstance(settings["steps"], bool) or not 2 <= settings["steps"] <= 2000:
            raise ValueError(f"`steps` must be an int in 2..2000, got {settings['steps']!r}.")
        if not isinstance(settings["fluency"], (int, float)) or settings["fluency"] < 0:
            raise ValueError(f"`fluency` must be a number >= 0, got {settings['fluency']!r}.")
        value = settings["guidance_steps"]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"`guidance_steps` must be an int >= 1, got {value!r}.")
        if not isinstance(settings["learning_rate"], (int, float)) or not settings["learning_rate"] > 0:
            raise ValueError(f"`learning_rate` must be a number > 0, got {settings['learning_rate']!r}.")
        return settings

    # ---- the controls, as arrays of one batch -----------------------------------------
    def class_id(self, name):
        if self.classifier is None:
            raise ValueError(f"{self.directory.name} has no guidance classifier: `control` is not available.")
        if name not in self.classes:
            raise ValueError(f"control['section'] must be one of {self.classes}, got {name!r}.")
        return self.classes.index(name)

    def check_length(self, length):
        most = self.length - 2
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or not 1 <= length <= most:
            raise ValueError(f"`length` must be an int in 1..{most} (words; the model writes at most {most}), "
                             f"got {length!r}.")
        return int(length)

    def word_id(self, word):
        words = self.vocabulary.tokenize(word) if isinstance(word, str) else None
        if not words or len(words) != 1 or words[0] not in self.vocabulary.index:
            raise ValueError(f"`content` must be one word of the vocabulary ({len(self.vocabulary)} words), "
                             f"got {word!r}.")
        return self.vocabulary.index[words[0]]

    # ---- Python ------------------------------------------------------------------------
    def generate(self, n=1, control=None, length=None, content=None, seed=None, steps=None, fluency=None,
                 guidance_steps=None, learning_rate=None):
        """`n` texts. `control={"section": name}` steers towards a class with
        the guidance classifier, `length` fixes the number of words, `content`
        requires a word; any of them together. `seed` gives the same texts;
        `steps` (default 200), `fluency` (lambda, the weight that keeps
        guided latents near the model's proposal), `guidance_steps` and
        `learning_rate` (the Adagrad steps on the latents after each
        denoising step, default 3 at 0.1) are the sampler's."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"`n` must be an int >= 1, got {n!r}.")
        if control is not None and (not isinstance(control, dict) or set(control) != {"section"}):
            raise ValueError(f"`control` must be a dict {{'section': name}}, got {control!r}.")
        settings = self.sampling(steps=steps, fluency=fluency, guidance_steps=guidance_steps,
                                 learning_rate=learning_rate)
        inputs = {"class_ids": np.full([n], self.class_id(control["section"]) if control else -1, "int32"),
                  "lengths": np.full([n], self.check_length(length) if length is not None else -1, "int32"),
                  "word_ids": np.full([n], self.word_id(content) if content is not None else -1, "int32")}
        kinds = (control is not None, length is not None, content is not None)
        ids = self.run(kinds, inputs, seed, settings)
        return [self.vocabulary.decode(row) for row in ids]

    def infill(self, template, n=4, seed=None, steps=None, choose=True):
        """Fills each `___` of `template` with one word, keeping the other words
        (and the length) fixed: `n` samples, then (with `choose`) the one
        that agrees most with the others (minimum Bayes risk by sentence BLEU);
        without `choose`, all `n`."""
        from sacrebleu.metrics import BLEU

        if not isinstance(template, str) or MASK not in template:
            raise ValueError(f"`template` must be a string with at least one {MASK!r} (one unknown word each), "
                             f"got {template!r}.")
        ids, known = template_ids(self.vocabulary, template, self.length)
        settings = self.sampling(steps=steps)
        out = self.run("infill", {"known_ids": np.tile(ids, (n, 1)), "known_mask": np.tile(known, (n, 1))},
                       seed, settings)
        texts = [self.vocabulary.decode(row) for row in out]
        if not choose:
            return texts
        bleu = BLEU(effective_order=True)
        agreement = [np.mean([bleu.sentence_score(text, [other]).score for j, other in enumerate(texts) if j != i])
                     if n > 1 else 0.0 for i, text in enumerate(texts)]
        return texts[int(np.argmax(agreement))]

    def run(self, kind, inputs, seed, settings):
        """The compiled sampler for `kind` (which controls, or "infill") and these settings."""
        import tensorflow as tf

        key = (kind, settings["steps"], settings["fluency"], settings["guidance_steps"], settings["learning_rate"])
        if key not in self._functions:
            self._functions[key] = tf.function(lambda inputs, seed: self.sample(kind, inputs, seed, settings),
                                               jit_compile=False, reduce_retracing=True)
        seed = np.random.default_rng().integers(2**31 - 1) if seed is None else seed
        seed = tf.constant([int(seed) % (2**31 - 1), 0], tf.int32)
        return self._functions[key]({k: tf.constant(v) for k, v in inputs.items()}, seed).numpy()

    def sample(self, kind, inputs, seed, settings, with_latents=False, noise=None):
        """Graph ops: token ids `[B, L]` of one sampler call (and the final
        latents); `noise` in place of the seeded draws (infilling only)."""
        import tensorflow as tf

        from keras_cgen.families.diffusion_lm import sampling as diffusion

        allowed = tf.constant(self.allowed)
        sampler = dict(steps=settings["steps"], allowed=allowed)
        if kind == "infill":
            sampler["noise"] = noise
            out = diffusion.sample(self.model, tf.shape(inputs["known_ids"])[0], seed, known_ids=inputs["known_ids"],
                                   known_mask=inputs["known_mask"], **sampler)
            return out if with_latents else out[0]
        use_class, use_length, use_content = kind
        energies = []
        if use_class:
            energies.append(diffusion.classifier_energy(self.classifier, inputs["class_ids"], settings["steps"]))
        if use_length:
            energies.append(diffusion.length_energy(self.model, inputs["lengths"], settings["steps"],
                                                    self.vocabulary.pad_id, self.vocabulary.end_id))
        if use_content:
            energies.append(diffusion.content_energy(self.model, inputs["word_ids"], settings["steps"]))
        out = diffusion.sample(self.model, tf.shape(inputs["class_ids"])[0], seed, energies=energies,
                               fluency=settings["fluency"], guidance_steps=settings["guidance_steps"],
                               learning_rate=settings["learning_rate"], **sampler)
        return out if with_latents else out[0]

    # ---- the SavedModel: a class name in, a guided sample out ---------------------------------
    def class_table(self):
        """Class name -> id (unknown -> -1), a lookup table made outside any traced graph."""
        import tensorflow as tf

        if getattr(self, "_class_table", None) is None:
            with tf.init_scope():
                self._class_table = tf.lookup.StaticHashTable(
                    tf.lookup.KeyValueTensorInitializer(tf.constant(self.classes, tf.string),
                                                        tf.range(len(self.classes), dtype=tf.int32)), default_value=-1)
        return self._class_table

    def serving_resources(self):
        return [self.class_table(), self.classifier]

    def serving_prepare(self, strings):
        import tensorflow as tf

        return self.class_table().lookup(tf.strings.strip(strings))

    def decode_ids(self, inputs, plan, seed, cache_write="where"):
        """Serving: class ids `[B]` (-1: unknown, sampled as class 0 and
        blanked) -> the guided sample's ids and the classifier's
        log-probability of the class. ONNX: `{"known_ids", "known_mask",
        "noise"}` -> the infilling (or, with nothing known, unguided) sample's
        ids: no gradient steps, and the client's noise."""
        import tensorflow as tf

        if isinstance(inputs, dict):
            known = {"known_ids": inputs["known_ids"], "known_mask": inputs["known_mask"] > 0.5}
            return {"ids": self.sample("infill", known, seed, self.sampling(), noise=inputs["noise"])}
        class_ids = tf.maximum(inputs, 0)
        ids, latents = self.sample((True, False, False), {"class_ids": class_ids}, seed, self.sampling(),
                                   with_latents=True)
        clean = tf.fill([tf.shape(ids)[0]], self.sampling()["steps"])
        log_probs = tf.nn.log_softmax(self.classifier({"latents": latents, "step": clean}, training=False))
        return {"ids": ids, "scores": tf.gather(log_probs, class_ids, axis=1, batch_dims=1)}

    def serving_finish(self, strings, out):
        return blank_unread({"text": self.vocabulary.graph_decode(out["ids"]), "score": out["scores"]},
                            self.serving_prepare(strings) >= 0)

    # ---- ONNX: infilling and unguided sampling (no gradients), the client's noise ---------------
    def onnx_inputs(self):
        import tensorflow as tf

        length, steps = self.length, self.sampling()["steps"]
        return [("known_ids", tf.TensorSpec([None, length], tf.int32), f"int32 [batch, {length}]: the known words' ids"),
                ("known_mask", tf.TensorSpec([None, length], tf.float32),
                 f"float32 [batch, {length}]: 1 where the word is known, 0 where the model writes"),
                ("noise", tf.TensorSpec([steps + 1, None, length, self.model.embedding_dim], tf.float32),
                 f"float32 [{steps + 1}, batch, {length}, {self.model.embedding_dim}]: standard normal noise, "
                 "[steps] is x_T (the same noise gives the same text)")]

    def onnx_answer(self, out):
        return out

    def input_metadata(self):
        return {"classes": self.classes, "sequence_length": self.length, "steps": self.sampling()["steps"],
                "embedding_dim": self.model.embedding_dim, "mask_token": MASK}

    @classmethod
    def client_feed(cls, requests, metadata, vocabulary, seed=0):
        """Infilling templates ("" = nothing known) -> the ONNX graph's inputs."""
        length = metadata["sequence_length"]
        ids, known = np.zeros([len(requests), length], "int32"), np.zeros([len(requests), length], "float32")
        for i, template in enumerate(requests):
            if template.strip():
                row_ids, row_known = template_ids(vocabulary, template, length)
                ids[i], known[i] = row_ids, row_known
        noise = np.random.default_rng(seed).standard_normal(
            (metadata["steps"] + 1, len(requests), length, metadata["embedding_dim"])).astype("float32")
        return {"known_ids": ids, "known_mask": known, "noise": noise}

    @classmethod
    def client_answer(cls, outputs, vocabulary, requests=None):
        return {"text": [vocabulary.decode(row) for row in outputs["ids"]]}

    @classmethod
    def check_requests(cls, metadata):
        if "noise" in metadata.get("inputs", {}):  # the ONNX graph: templates
            return ["python 3 ___ for ___", "___ ___ ___", "", "library for ___ files"]
        return ["games", "science", " networking ", "", "no such class"]

    def cli_lines(self, inputs, options):
        n = options.get("n") or 1
        lines = []
        for name in inputs or [None]:
            control = None if name in (None, "", "none") else {"section": name}
            texts = self.generate(n=n, control=control, seed=options.get("seed"))
            lines += [f"[{name or 'unguided'}] {text}" for text in texts]
        return lines
