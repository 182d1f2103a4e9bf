"""`Generator`: the contract between a model family and the rest of the
library. Export, serve-check, the serving benchmark, the CLI and the model
cards use a zoo model only through it (and the family table), never by
asking which family they hold.

A family subclasses `Generator` in one file under `keras_cgen/zoo/` and says:
- in Python: `__init__` builds `self.model` (and its decoder), `generate(...)`;
- as a graph: `decode_ids(inputs, plan, seed, cache_write)`, the decode loop on
  prepared inputs (the exports call it inside their `tf.function`);
- for the SavedModel: `serving_input`, `serving_outputs`,
  `serving_resources()`, `serving_prepare(strings)` and
  `serving_finish(strings, out)` (graph-side, strings in and out);
- for ONNX: `onnx_inputs()`, the graph's inputs (one, `onnx_input()`, for
  the text families), `onnx_outputs` and `onnx_answer(out)`, its outputs; and,
  as class methods that need only the export folder,
  `client_feed(requests, metadata, vocabulary)` and
  `client_answer(outputs, vocabulary, requests)`: the client-side preparation
  that `serve-check` and the serving benchmark share;
- `check_requests(metadata)` (serve-check's default requests, bad ones
  included) and `request_bytes(requests)` (what a SavedModel client sends);
- `cli_lines(inputs, options)`: what `cgen generate` prints (`writes_files`:
  whether it writes `--out`).

Families whose output is a picture subclass `ImageGenerator`
(`image_generator.py`), which fulfils the contract once for all of them.
"""

from pathlib import Path

import numpy as np

from keras_cgen.text import load_vocabulary
from keras_cgen.zoo.store import load_model_weights

TEXT_REQUESTS = ["Atril is a simple multi-page document viewer. It can display and print PostScript and PDF files.",
                 "这是一个允许你从 Shell 创建 X 菜单的简单程序。", "", "   ", "x" * 10_000, "☃ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢"]


class Generator:
    """A zoo model ready to use: its folder, `ZooConfig`, vocabulary and model.

    Args:
        directory: the model's zoo folder.
        config: its `ZooConfig`.
    """

    # The exports' signature: the input's name and kind, the outputs' kinds.
    serving_input = ("text", "string [None]")
    serving_outputs = {"text": "string [None]", "score": "float32 [None]"}
    onnx_outputs = {"sequences": "int32 [batch, returns, max_new_tokens]", "scores": "float32 [batch, returns]"}
    # Whether generation stops at the vocabulary's end token (a character LM
    # trained on running text never writes one).
    stops_at_end = True
    # Whether `cli_lines` writes the file `cgen generate --out` names.
    writes_files = False
    # Whether the ONNX graph takes its noise as an input (the client draws
    # it), so a sampling default stays sampling there; else the export
    # decodes greedily or by beam search (ONNX has no operator for
    # TensorFlow's stateless sampling).
    onnx_noise_input = False

    def __init__(self, directory, config):
        self.directory = Path(directory)
        self.config = config
        self.vocabulary = load_vocabulary(self.directory / config.vocabulary)

    def load_weights(self, model):
        load_model_weights(model, self.directory / self.config.weights)
        return model

    # ---- generation settings -------------------------------------------------
    def settings(self, **given):
        """The settings of one `generate` call or export: the config's
        `generation` defaults, then what the caller gave (None = not given).
        A caller's `do_sample=True` replaces a default beam search (and
        `num_beams` > 1 a default sampling) instead of clashing with it."""
        given = {key: value for key, value in given.items() if value is not None}
        settings = {**self.config.generation, **given}
        if given.get("do_sample") and "num_beams" not in given:
            settings["num_beams"] = 1
        if isinstance(given.get("num_beams"), int) and given["num_beams"] > 1 and "do_sample" not in given:
            settings["do_sample"] = False
        settings.setdefault("max_new_tokens", self.config.max_new_tokens)
        if self.stops_at_end:
            settings.setdefault("eos_token_id", self.vocabulary.end_id)
        limit = self.max_new_tokens_limit()
        value = settings["max_new_tokens"]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1 or (limit and value > limit):
            allowed = f"an int in [1, {limit}] for this model" if limit else "an int >= 1"
            raise ValueError(f"`max_new_tokens` must be {allowed}, got {value!r}.")
        return settings

    def warmup(self, batch_sizes=(1,), **settings):
        """Runs `generate` once for every input shape a request can have
        (each length bucket, at each batch size) with these settings (default:
        the model's own), so that no later request pays an XLA compile.
        Shows a progress bar; returns the seconds spent."""
        import time
        import warnings

        from tqdm.auto import tqdm

        jobs = [(size, example) for size in batch_sizes for example in self.warmup_inputs()]
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            for size, example in tqdm(jobs, desc=f"warming up {self.directory.name}", unit=" shapes"):
                self.generate([example] * size, **settings)
        return time.perf_counter() - start

    def warmup_inputs(self):
        """One input per shape class that `generate` compiles for (see `warmup`)."""
        raise NotImplementedError

    def max_new_tokens_limit(self):
        """The most tokens the model can write (None: no limit of its own)."""
        return None

    @staticmethod
    def text_list(values, name, allow_empty=True):
        """`values` (a string or a list of strings) as `(list, single)`, or a
        ValueError naming the argument and what is wrong."""
        if isinstance(values, str):
            return [values], True
        if values is None or isinstance(values, (bytes, dict)) or not hasattr(values, "__iter__"):
            raise ValueError(f"`{name}` must be a string or a list of strings, got {values!r}.")
        values = [*values]
        for i, value in enumerate(values):
            if not isinstance(value, str):
                raise ValueError(f"{name}[{i}] must be a string, got {type(value).__name__} {value!r}.")
        if not values and not allow_empty:
            raise ValueError(f"`{name}` is empty: give at least one.")
        return values, False

    def texts_of(self, sequences):
        """`[B, K, T]` generated ids -> B lists of K texts."""
        return [[self.vocabulary.decode(row) for row in rows] for rows in np.asarray(sequences)]

    # ---- the decode graph and the exports --------------------------------------
    def decode_ids(self, inputs, plan, seed, cache_write="where"):
        """The decode loop on prepared inputs (`onnx_input`'s tensor)."""
        raise NotImplementedError

    def serving_resources(self):
        """TensorFlow resources the serving graph uses (lookup tables) for the export to track."""
        table = self.vocabulary.lookup_table()
        return [table] if table is not None else []

    def serving_prepare(self, strings):
        """The serving input `[B]` string -> `decode_ids`' input (graph ops)."""
        raise NotImplementedError

    def serving_finish(self, strings, out):
        """`decode_ids`' output -> the signature's outputs (graph ops)."""
        return {"text": self.vocabulary.graph_decode(out.sequences[:, 0]), "score": out.scores[:, 0]}

    def onnx_input(self):
        """(name, `tf.TensorSpec`, description) of the ONNX graph's input."""
        raise NotImplementedError

    def onnx_inputs(self):
        """The ONNX graph's inputs, a list of `onnx_input`'s triples; with more
        than one, `decode_ids` gets them as a dict by name."""
        return [self.onnx_input()]

    def onnx_answer(self, out):
        """`decode_ids`' output -> the ONNX graph's outputs (`onnx_outputs`' names)."""
        return {"sequences": out.sequences, "scores": out.scores}

    def vocabulary_metadata(self):
        """The vocabulary's special ids, written beside the ONNX graph."""
        vocabulary = self.vocabulary
        return {"pad_id": vocabulary.pad_id, "start_id": vocabulary.start_id, "end_id": vocabulary.end_id}

    def input_metadata(self):
        """What a client needs to prepare inputs (written beside both exports)."""
        return {}

    @classmethod
    def client_feed(cls, requests, metadata, vocabulary):
        """Requests -> the ONNX graph's input array, as a client does it."""
        raise NotImplementedError

    @classmethod
    def client_answer(cls, outputs, vocabulary, requests=None):
        """The ONNX graph's outputs (a dict by name) for `requests` -> `{"text": [...], "score": [...]}`."""
        return {"text": [vocabulary.decode(row[0]) for row in outputs["sequences"]],
                "score": np.asarray(outputs["scores"])[:, 0].tolist()}

    @classmethod
    def check_requests(cls, metadata):
        """`cgen serve-check`'s default requests for this family, bad ones included."""
        return TEXT_REQUESTS

    @classmethod
    def request_bytes(cls, requests):
        """Requests -> the bytes a SavedModel client sends (one per request)."""
        return [request.encode("utf-8") for request in requests]

    # ---- the command line ---------------------------------------------------------
    def cli_lines(self, inputs, options):
        """`cgen generate NAME INPUTS...`: the lines to print. `options` holds
        `num_beams`, `n`, `seed`, `max_new_tokens` and `scores` (None: not given)."""
        raise NotImplementedError


def blank_unread(answer, read):
    """Rows the serving graph could not read (an unknown label, bytes that are
    not an image) get empty outputs (an empty text or image, score 0): the
    batch never fails."""
    import tensorflow as tf

    return {key: tf.where(read, value, tf.zeros_like(value)) for key, value in answer.items()}
