"""The model zoo: `list()` the models, `load(name)` a ready generator.

Each `zoo/<name>/` holds `config.json`, the vocabulary, the weights,
`MODEL_CARD.md` and `MANIFEST.sha256` (every file's checksum). A missing file
or a wrong checksum is an error naming the file: never a silently random model.
"""

import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np

from keras_cgen.text import pad_rows

MANIFEST = "MANIFEST.sha256"


def zoo_dir():
    """$KERAS_CGEN_ZOO, else the repository's `zoo/` folder."""
    return Path(os.environ.get("KERAS_CGEN_ZOO") or Path(__file__).resolve().parent.parent / "zoo")


def list():  # noqa: A001  (the zoo's public verb)
    """Names of the models in the zoo."""
    root = zoo_dir()
    return sorted(p.name for p in root.iterdir() if (p / "config.json").is_file()) if root.is_dir() else []


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(directory):
    """Checksums every file of a zoo folder (but the manifest) into MANIFEST.sha256."""
    directory = Path(directory)
    lines = [f"{sha256(p)}  {p.relative_to(directory).as_posix()}"
             for p in sorted(directory.rglob("*")) if p.is_file() and p.name != MANIFEST]
    (directory / MANIFEST).write_text("\n".join(lines) + "\n")


def verify(directory):
    directory = Path(directory)
    manifest = directory / MANIFEST
    if not manifest.is_file():
        raise FileNotFoundError(f"Zoo model '{directory.name}' has no {MANIFEST}: the folder is incomplete.")
    for line in manifest.read_text().splitlines():
        expected, name = line.split(maxsplit=1)
        path = directory / name
        if not path.is_file():
            raise FileNotFoundError(f"Zoo model '{directory.name}' is missing '{path}' (listed in {MANIFEST}).")
        actual = sha256(path)
        if actual != expected:
            raise ValueError(f"Checksum mismatch for '{path}': expected {expected}, got {actual}. "
                             "The file is corrupt or was changed; restore it from the repository.")


def named_weights(model):
    """`{"<layer name>/<index>/<variable name>": variable}`: stable keys (the
    layer names are the builders'), unlike variable paths, which carry
    auto-numbered names of nested layers (`forward_lstm_2`)."""
    named, seen = {}, set()
    for layer in model.layers:
        for i, variable in enumerate(layer.weights):
            if id(variable) not in seen:
                seen.add(id(variable))
                named[f"{layer.name}/{i}/{variable.name}"] = variable
    return named


def save_weights(model, path, dtype="float16"):
    """Writes every variable of `model` into a safetensors file, in `dtype`
    (float16 halves a zoo model; inference runs in float32)."""
    from safetensors.numpy import save_file

    save_file({key: np.asarray(v.numpy(), dtype=dtype) for key, v in named_weights(model).items()}, str(path))


def load_weights(model, path, new_layers=()):
    """Assigns a `save_weights` file to `model`; every variable must be there
    with its shape (no silent random init) and nothing may be left over,
    except the variables of `new_layers` (names of layers the file's model did
    not have, which keep their initial values: say so to the user)."""
    from safetensors.numpy import load_file

    tensors = load_file(str(path))
    variables = named_weights(model)
    fresh = {key for key in variables if key.split("/")[0] in new_layers}
    missing = sorted(set(variables) - set(tensors) - fresh)
    unused = sorted(set(tensors) - set(variables))
    if missing or unused:
        raise ValueError(f"'{path}' does not fit model `{model.name}`: missing {missing[:5]}, unused {unused[:5]}.")
    for key, variable in variables.items():
        if key in fresh and key not in tensors:
            continue
        value = tensors[key]
        if tuple(value.shape) != tuple(variable.shape):
            raise ValueError(f"'{path}': {key!r} has shape {value.shape}, the model wants {tuple(variable.shape)}.")
        variable.assign(value.astype(variable.dtype))


def find(name):
    """The folder of zoo model `name` (or `name` itself if it is a model folder)."""
    if Path(name).is_dir() and (Path(name) / "config.json").is_file():
        return Path(name)
    names = list()
    if name not in names:
        raise ValueError(f"Unknown zoo model {name!r}; available: {', '.join(names) or 'none'}.")
    return zoo_dir() / name


def load(name):
    """A ready generator for the zoo model `name` (or a zoo-format folder):
    `gen.generate(["text", ...]) -> [str]`."""
    directory = find(name)
    verify(directory)
    config = json.loads((directory / "config.json").read_text())
    families = {"lstm_seq2seq": LSTMTitleGenerator, "unilm": UniLMTitleGenerator, "char_rnn": CharLMGenerator,
                "conditional_lm": ConditionalLMGenerator, "image_caption": CaptionGenerator}
    if config.get("family") not in families:
        raise ValueError(f"Zoo model {name!r} has unknown family {config.get('family')!r}; "
                         f"known: {', '.join(families)}.")
    return families[config["family"]](directory, config)


def load_vocabulary(path):
    """`vocab.json` is a `CharVocabulary`, `vocab.txt` a WordPiece vocabulary."""
    from keras_cgen.text import CharVocabulary
    from keras_cgen.text import WordPieceVocabulary

    return CharVocabulary.load(path) if Path(path).suffix == ".json" else WordPieceVocabulary.load(path)


def load_model_weights(model, path):
    """Zoo weights: fp16 safetensors (`save_weights`) or a Keras `.weights.h5`."""
    if Path(path).suffix == ".safetensors":
        load_weights(model, path)
    else:
        model.load_weights(path)


class Generator:
    """A zoo model: its folder, config and vocabulary; subclasses build
    `self.model` and say what `generate` takes."""

    def __init__(self, directory, config):
        self.directory = Path(directory)
        self.config = config
        self.vocabulary = load_vocabulary(self.directory / config["vocabulary"])
        self.max_new_tokens = config.get("max_target_length") or config.get("max_new_tokens") or config["max_length"]

    def settings(self, overrides):
        """The model's own generation settings, then the caller's."""
        return {**self.config.get("generation", {}), **overrides}


class TitleGenerator(Generator):
    """Text in, title out. Subclasses build `self.model` and implement
    `decode(source_rows, **settings)`."""

    # Sources are padded to a multiple of this: the XLA-compiled decode loop is
    # traced once per input shape, and a new length per request would pay a
    # compile (~1-4 s) on nearly every batch-1 call. Padding is masked.
    length_bucket = 16

    def source_ids(self, text, index):
        """The ids the model reads for one text (the body, cut to the limit)."""
        from keras_cgen.text import CharVocabulary
        from keras_cgen.text import truncate

        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"texts[{index}] is empty or whitespace: give the article to title.")
        ids = self.vocabulary.encode(text)
        limit, tail = self.config["max_source_length"], self.config.get("source_tail", 0)
        if len(ids) > limit:
            unit = "characters" if isinstance(self.vocabulary, CharVocabulary) else "tokens"
            kept = f"the first {limit}" if not tail else f"{limit} (the first {limit - tail} and the last {tail})"
            warnings.warn(f"texts[{index}] has {len(ids)} {unit}; only {kept} are used.", stacklevel=4)
        return truncate(ids, limit, tail)

    def generate(self, texts, num_beams=4, max_new_tokens=None, return_scores=False, **kwargs):
        """Titles for `texts` (a string or a list of strings).

        Keyword arguments are those of `keras_cgen.decoding.generate`
        (`num_beams`, `length_penalty`, `do_sample`, `top_p`, `seed`, ...).
        With `return_scores`, also the sequence scores (log-probabilities).
        """
        single = isinstance(texts, str)
        texts = [texts] if single else texts
        if len(texts) == 0:
            return ([], []) if return_scores else []
        rows = [self.source_ids(text, i) for i, text in enumerate(texts)]
        settings = self.settings({"num_beams": num_beams, **kwargs,
                                  "max_new_tokens": max_new_tokens or self.max_new_tokens})
        out = self.decode(rows, **settings)
        titles = [self.vocabulary.decode(row[0]) for row in out.sequences.numpy()]
        scores = out.scores.numpy()[:, 0].tolist()
        if single:
            titles, scores = titles[0], scores[0]
        return (titles, scores) if return_scores else titles


class LSTMTitleGenerator(TitleGenerator):
    """The LSTM seq2seq + attention + copy prior title models."""

    def __init__(self, directory, config):
        from keras_cgen.models import LSTMSeq2SeqDecoder
        from keras_cgen.models import build_lstm_seq2seq

        super().__init__(directory, config)
        self.model = build_lstm_seq2seq(len(self.vocabulary), **config["builder"])
        load_model_weights(self.model, self.directory / config["weights"])
        self.decoder = LSTMSeq2SeqDecoder(self.model)

    def decode(self, rows, **settings):
        settings = {"eos_token_id": self.vocabulary.end_id, **settings}
        return self.decoder.generate(pad_rows(rows, multiple=self.length_bucket), start_id=self.vocabulary.start_id,
                                     **settings)

    def decode_ids(self, ids, plan, seed, cache_write="where"):
        """The decode graph on source ids `[B, S]` (for exports); `plan` from
        `engine.make_settings`."""
        return self.decoder.decode(ids, plan, seed, self.vocabulary.start_id)


class UniLMTitleGenerator(TitleGenerator):
    """UniLM title models: `[CLS] body [SEP]` in, the title segment out."""

    def __init__(self, directory, config):
        from keras_cgen.models import BertConfig
        from keras_cgen.models import TransformerDecoder
        from keras_cgen.models import build_transformer

        super().__init__(directory, config)
        self.model = build_transformer(BertConfig(**config["transformer"]), "unilm")
        load_model_weights(self.model, self.directory / config["weights"])
        self.decoder = TransformerDecoder(self.model)

    def decode(self, rows, **settings):
        start, end = self.vocabulary.start_id, self.vocabulary.end_id
        token_ids = pad_rows([[start, *row, end] for row in rows], multiple=self.length_bucket)
        return self.decoder.generate({"token_ids": token_ids}, **{"eos_token_id": end, **settings})

    def decode_ids(self, ids, plan, seed, cache_write="where"):
        """The decode graph on body ids `[B, S]` (0-padded, no [CLS]/[SEP]):
        adds `[CLS] ... [SEP]` per row (for exports)."""
        from keras import ops

        ids = ops.cast(ids, "int32")
        lengths = ops.sum(ops.cast(ids != 0, "int32"), axis=1)
        ids = ops.pad(ids, ((0, 0), (1, 1)))
        positions = ops.arange(ops.shape(ids)[1], dtype="int32")[None, :]
        ids = ops.where(positions == 0, self.vocabulary.start_id, ids)
        ids = ops.where(positions == lengths[:, None] + 1, self.vocabulary.end_id, ids)
        return self.decoder.decode({"token_ids": ids}, plan, seed, cache_write)


def texts_of(generator, sequences):
    """`[B, K, T]` generated ids -> B lists of K texts."""
    return [[generator.vocabulary.decode(row) for row in rows] for rows in np.asarray(sequences)]


class CharLMGenerator(Generator):
    """A character-level LSTM LM (`build_char_rnn`): continues prompts."""

    MAX_PROMPT = 256  # characters of a prompt read (its end): each is one decoder step

    def __init__(self, directory, config):
        from keras_cgen.models import CharRNNDecoder
        from keras_cgen.models import build_char_rnn

        super().__init__(directory, config)
        self.model = build_char_rnn(len(self.vocabulary), **config["builder"])
        load_model_weights(self.model, self.directory / config["weights"])
        self.decoder = CharRNNDecoder(self.model)

    def prompt_ids(self, prompts):
        """Left-padded ids; an empty prompt starts after a blank line."""
        rows = [self.vocabulary.encode(prompt or "\n")[-self.MAX_PROMPT:] for prompt in prompts]
        width = max(len(row) for row in rows)
        return np.stack([np.pad(row, (width - len(row), 0)) for row in rows]).astype("int32")

    def generate(self, prompts=None, n=1, max_new_tokens=None, **kwargs):
        """Continuations of `prompts` (a string or list; None: from a blank
        line), `n` each: a string for one prompt and n=1, else lists.

        Keyword arguments are those of `keras_cgen.decoding.generate`; the
        model's default is sampling at temperature 0.8 (`do_sample=False`
        for greedy).
        """
        single = prompts is None or isinstance(prompts, str)
        prompts = [prompts or ""] if single else [*prompts]
        if not prompts or not all(isinstance(p, str) for p in prompts):
            raise ValueError(f"`prompts` must be a string or a non-empty list of strings, got {prompts!r}.")
        settings = self.settings({"num_return_sequences": n, **kwargs,
                                  "max_new_tokens": max_new_tokens or self.max_new_tokens})
        out = texts_of(self, self.decoder.generate(self.prompt_ids(prompts), **settings).sequences)
        if n == 1:
            out = [rows[0] for rows in out]
        return out[0] if single else out

    def decode_ids(self, ids, plan, seed, cache_write="where"):
        """The decode graph on left-padded prompt ids `[B, P]` (for exports)."""
        return self.decoder.decode(ids, plan, seed)


def decode_from_start(generator, condition, plan, seed, cache_write):
    """The decode graph of a conditioned LM from its start token: every row
    starts at [START], `condition` `[B, C]` conditions its LayerNorms."""
    from keras import ops

    start = ops.full((ops.shape(condition)[0], 1), generator.vocabulary.start_id, dtype="int32")
    return generator.decoder.decode({"token_ids": start, "condition": condition}, plan, seed, cache_write)


def label_token(label):
    """The vocabulary token of a label, for models that read it as their first token."""
    return f"<{label}>"


def lm_row(vocabulary, conditioning, text, label, max_characters):
    """Token ids of one LM sequence: the start token (the label's token when
    `conditioning` is "first_token"), up to `max_characters` of `text`, [END]."""
    first = vocabulary.index[label_token(label)] if conditioning == "first_token" else vocabulary.start_id
    return [first, *vocabulary.encode(text)[:max_characters].tolist(), vocabulary.end_id]


class ConditionalLMGenerator(Generator):
    """A label-conditioned LM (`build_transformer(..., "lm", ...)`).

    `config["conditioning"]`: "layer_norm" (every LayerNorm conditioned on the
    label's one-hot vector, the zoo model), "first_token" (the label token
    starts the sequence: the baseline) or "none" (unconditional: the fluency
    reference).
    """

    def __init__(self, directory, config):
        from keras_cgen.models import BertConfig
        from keras_cgen.models import TransformerDecoder
        from keras_cgen.models import build_transformer

        super().__init__(directory, config)
        self.labels = [*config["labels"]]
        self.conditioning = config.get("conditioning", "layer_norm")
        extra = {}
        if self.conditioning == "layer_norm":
            extra = {"condition_size": len(self.labels), **config.get("condition", {})}
        self.model = build_transformer(BertConfig(**config["transformer"]), "lm", **extra)
        load_model_weights(self.model, self.directory / config["weights"])
        self.decoder = TransformerDecoder(self.model)

    def check(self, conditions):
        if self.conditioning == "none":
            return
        for i, label in enumerate(conditions):
            if label not in self.labels:
                raise ValueError(f"conditions[{i}] is {label!r}; this model knows {self.labels}.")

    def row(self, text, label=None):
        return lm_row(self.vocabulary, self.conditioning, text, label, self.config["max_length"] - 1)

    def inputs(self, rows, conditions):
        token_ids = pad_rows(rows)
        inputs = {"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids)}
        if self.conditioning == "layer_norm":
            inputs["condition"] = np.eye(len(self.labels), dtype="float32")[[self.labels.index(c) for c in conditions]]
        return inputs

    def generate(self, conditions, n=1, max_new_tokens=None, **kwargs):
        """`n` texts for each label in `conditions` (a label or a list of labels):
        a list of n texts per label (one list for a single label).

        Keyword arguments are those of `keras_cgen.decoding.generate`; the
        model's default is top-p sampling (p = 0.9).
        """
        single = isinstance(conditions, str)
        conditions = [conditions] if single else [*conditions]
        if not conditions:
            raise ValueError(f"`conditions` is empty: give at least one label, e.g. {self.labels[-1]!r}.")
        self.check(conditions)
        settings = self.settings({"num_return_sequences": n, **kwargs,
                                  "max_new_tokens": max_new_tokens or self.max_new_tokens})
        inputs = self.inputs([self.row("", c)[:1] for c in conditions], conditions)
        inputs.pop("segment_ids")
        out = self.decoder.generate(inputs, **{"eos_token_id": self.vocabulary.end_id, **settings})
        out = texts_of(self, out.sequences)
        return out[0] if single else out

    def nats(self, texts, conditions=None, batch_size=64):
        """Per text: (sum of -log p of its characters and the end token, count)."""
        from keras import ops

        conditions = conditions or [self.labels[0]] * len(texts)
        self.check(conditions)
        totals = []
        for start in range(0, len(texts), batch_size):
            chunk = slice(start, start + batch_size)
            rows = [self.row(t, c) for t, c in zip(texts[chunk], conditions[chunk])]
            inputs = self.inputs(rows, conditions[chunk])
            logits = self.model(inputs, training=False)
            targets = inputs["token_ids"][:, 1:]
            log_probs = ops.take_along_axis(ops.log_softmax(logits[:, :-1], axis=-1), targets[..., None], axis=-1)
            weights = (targets != 0).astype("float32")
            nats = -np.sum(np.asarray(log_probs)[..., 0] * weights, axis=1)
            totals += [*zip(nats.tolist(), weights.sum(axis=1).astype(int).tolist())]
        return totals

    def decode_ids(self, condition, plan, seed, cache_write="where"):
        """The decode graph on one-hot conditions `[B, labels]` (for exports)."""
        return decode_from_start(self, condition, plan, seed, cache_write)


class CaptionGenerator(Generator):
    """An image captioner (`build_image_captioner`): images in, captions out."""

    def __init__(self, directory, config):
        from keras_cgen.models import BertConfig
        from keras_cgen.models import TransformerDecoder
        from keras_cgen.models import build_image_captioner
        from keras_cgen.models import build_image_encoder

        super().__init__(directory, config)
        encoder = build_image_encoder(**config["encoder"])
        self.model = build_image_captioner(BertConfig(**config["transformer"]), encoder, **config.get("condition", {}))
        load_model_weights(self.model, self.directory / config["weights"])
        self.image_size = config["encoder"]["image_size"]
        self.encoder = self.model.get_layer("Image-Encoder")
        self.decoder = TransformerDecoder(self.model.get_layer("Caption-LM"))

    def images(self, images):
        """Paths, PIL images or arrays -> float32 `[B, size, size, 3]` in [0, 1]."""
        from keras_cgen.data.emoji import read_image

        return np.stack([read_image(image, self.image_size) for image in images])

    def generate(self, images, num_beams=4, max_new_tokens=None, return_scores=False, **kwargs):
        """Captions for `images`: a path, a PIL image, an `[H, W, 3]` array, or a
        list of them (an `[N, H, W, 3]` array is N images).

        Keyword arguments are those of `keras_cgen.decoding.generate`.
        """
        single = isinstance(images, (str, Path)) or hasattr(images, "convert") or (
            isinstance(images, np.ndarray) and images.ndim in (2, 3))
        images = [images] if single else [*images]
        if not images:
            return ([], []) if return_scores else []
        pixels = self.images(images)
        settings = self.settings({"num_beams": num_beams, **kwargs,
                                  "max_new_tokens": max_new_tokens or self.max_new_tokens})
        inputs = {"token_ids": np.full((len(images), 1), self.vocabulary.start_id, "int32"),
                  "condition": self.encoder(pixels, training=False)}
        out = self.decoder.generate(inputs, **{"eos_token_id": self.vocabulary.end_id, **settings})
        captions = [rows[0] for rows in texts_of(self, out.sequences)]
        scores = out.scores.numpy()[:, 0].tolist()
        if single:
            captions, scores = captions[0], scores[0]
        return (captions, scores) if return_scores else captions

    def decode_ids(self, images, plan, seed, cache_write="where"):
        """The decode graph on float images `[B, size, size, 3]` in [0, 1] (for exports)."""
        return decode_from_start(self, self.encoder(images, training=False), plan, seed, cache_write)
