"""The label-conditioned LM family (`conditional_lm`): a label in, a text
out. `config.conditioning` says how the model reads the label: "layer_norm"
(its one-hot vector conditions every LayerNorm: the zoo model), "first_token"
(the label's token starts the sequence: the baseline) or "none"
(unconditional: the fluency reference).

Serving reads the label as a string; ONNX and the decode graph read its
one-hot vector (an unknown label is all zeros, and its answer is blank).
"""

import numpy as np

from keras_cgen.families.char_lm.generator import beam_options
from keras_cgen.families.conditional_lm.preprocess import lm_row
from keras_cgen.text import pad_rows
from keras_cgen.zoo.generator import Generator
from keras_cgen.zoo.generator import blank_unread


def decode_from_start(generator, first_ids, condition, plan, seed, cache_write):
    """The decode graph of an LM conditioned on `condition` `[B, C]` (its
    LayerNorms), every row starting from its token of `first_ids` `[B]`."""
    from keras import ops

    inputs = {"token_ids": ops.cast(first_ids, "int32")[:, None], "condition": condition}
    return generator.decoder.decode(inputs, plan, seed, cache_write)


class ConditionalLMGenerator(Generator):
    """A label-conditioned LM (`build_transformer(..., "lm", ...)`)."""

    serving_input = ("condition", "string [None]: a label")

    def __init__(self, directory, config):
        from keras_cgen.models import BertConfig
        from keras_cgen.models import TransformerDecoder
        from keras_cgen.models import build_transformer

        super().__init__(directory, config)
        self.labels = [*config.labels]
        self.conditioning = config.conditioning or "layer_norm"
        extra = {}
        if self.conditioning == "layer_norm":
            extra = {"condition_size": len(self.labels), **(config.condition or {})}
        self.model = self.load_weights(build_transformer(BertConfig(**config.transformer), "lm", **extra))
        self.decoder = TransformerDecoder(self.model)
        # The token each label's text starts from.
        self.first_ids = np.array([lm_row(self.vocabulary, self.conditioning, "", label, 0)[0]
                                   for label in self.labels], "int32")

    def max_new_tokens_limit(self):
        return self.config.transformer["max_position"]  # positions 0 ([START]) .. max_new_tokens - 1

    def check(self, conditions):
        if self.conditioning == "none":
            return
        for i, label in enumerate(conditions):
            if label not in self.labels:
                raise ValueError(f"conditions[{i}] is {label!r}; this model knows {self.labels}.")

    def row(self, text, label=None):
        return lm_row(self.vocabulary, self.conditioning, text, label, self.config.max_new_tokens - 1)

    def one_hot(self, conditions):
        return np.eye(len(self.labels), dtype="float32")[[self.labels.index(c) for c in conditions]]

    def inputs(self, rows, conditions):
        token_ids = pad_rows(rows)
        inputs = {"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids)}
        if self.conditioning == "layer_norm":
            inputs["condition"] = self.one_hot(conditions)
        return inputs

    def generate(self, conditions, n=1, max_new_tokens=None, **kwargs):
        """`n` texts for each label in `conditions` (a label or a list of labels):
        a list of n texts per label (one list for a single label).

        Keyword arguments are those of `keras_cgen.decoding.generate`; the
        model's default is top-p sampling (p = 0.9).
        """
        conditions, single = self.text_list(conditions, "conditions")
        if not conditions:
            raise ValueError(f"`conditions` is empty: give at least one label, e.g. {self.labels[-1]!r}.")
        self.check(conditions)
        settings = self.settings(num_return_sequences=n, max_new_tokens=max_new_tokens, **kwargs)
        inputs = self.inputs([self.row("", c)[:1] for c in conditions], conditions)
        inputs.pop("segment_ids")
        out = self.texts_of(self.decoder.generate(inputs, **settings).sequences)
        return out[0] if single else out

    def warmup_inputs(self):
        return self.labels[:1]  # every request starts from one token: one shape per batch size

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
        """The decode graph on one-hot conditions `[B, labels]`."""
        from keras import ops

        condition = ops.cast(condition, "float32")
        if self.conditioning == "first_token":  # one-hot @ ids: each row's label token (no argmax: ONNX-friendly)
            first = ops.cast(ops.matmul(condition, ops.cast(self.first_ids, "float32")[:, None])[:, 0], "int32")
        else:
            first = ops.full((ops.shape(condition)[0],), self.vocabulary.start_id, dtype="int32")
        return decode_from_start(self, first, condition, plan, seed, cache_write)

    def serving_resources(self):
        import tensorflow as tf

        self.label_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(self.labels), tf.range(len(self.labels), dtype=tf.int32)),
            default_value=-1)
        return [self.label_table]

    def serving_prepare(self, labels):
        import tensorflow as tf

        return tf.one_hot(self.label_table.lookup(labels), len(self.labels))  # an unknown label: all zeros

    def serving_finish(self, labels, out):
        return blank_unread(super().serving_finish(labels, out), self.label_table.lookup(labels) >= 0)

    def onnx_input(self):
        import tensorflow as tf

        return ("condition", tf.TensorSpec([None, len(self.labels)], tf.float32),
                f"float32 [batch, {len(self.labels)}], one-hot over labels {self.labels}")

    def input_metadata(self):
        return {"labels": self.labels}

    @classmethod
    def client_feed(cls, requests, metadata, vocabulary):
        return np.array([[float(request == label) for label in metadata["labels"]] for request in requests], "float32")

    @classmethod
    def check_requests(cls, metadata):
        return [*metadata["labels"], "", "neutral"]

    def cli_lines(self, labels, options):
        samples = self.generate(labels, n=options.get("n") or 1, seed=options.get("seed"),
                                max_new_tokens=options.get("max_new_tokens"), **beam_options(options))
        return [f"{label}\t{text!r}" for label, texts in zip(labels, samples) for text in texts]
