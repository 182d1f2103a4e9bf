"""A family that exists only in the tests: a character bigram LM (the next
character depends on the last one). It shows what adding a family takes: this
file (its generator and its evaluation) and one line in the family table
(`FAMILIES["bigram"] = Family("bigram_family:BigramGenerator", "bigram_family")`);
zoo.load, the CLI, both exports and serve-check then work unchanged."""

import keras
import numpy as np
from keras import ops

from keras_cgen.decoding import engine
from keras_cgen.decoding.decoder import Decoder
from keras_cgen.evaluation.cards import finish_card
from keras_cgen.evaluation.cards import training_lines
from keras_cgen.zoo.generator import Generator


def build_bigram(vocabulary_size):
    token_ids = keras.Input((None,), dtype="int32", name="token_ids")
    logits = keras.layers.Embedding(vocabulary_size, vocabulary_size, name="Bigram")(token_ids)
    return keras.Model(token_ids, logits, name="bigram")


class BigramDecoder(Decoder):
    def check_inputs(self, last_ids):
        return engine.check_batch_ids("last_ids", last_ids)

    def init(self, last_ids, max_new_tokens):
        return {}, ops.cast(last_ids, "int32"), {}

    def step(self, last_token_ids, state, index, shared, cache_write):
        return self.layer("Bigram")(last_token_ids), state


class BigramGenerator(Generator):
    """Text in: its last character starts a continuation."""

    def __init__(self, directory, config):
        super().__init__(directory, config)
        self.model = self.load_weights(build_bigram(len(self.vocabulary)))
        self.decoder = BigramDecoder(self.model)

    def last_ids(self, texts):
        return np.array([[(self.vocabulary.encode(t)[-1:].tolist() or [self.vocabulary.start_id])[0]] for t in texts],
                        "int32")

    def generate(self, texts, max_new_tokens=None, **kwargs):
        texts, single = self.text_list(texts, "texts")
        out = self.decoder.generate(self.last_ids(texts), **self.settings(max_new_tokens=max_new_tokens, **kwargs))
        texts = [rows[0] for rows in self.texts_of(out.sequences)]
        return texts[0] if single else texts

    def decode_ids(self, ids, plan, seed, cache_write="where"):
        return self.decoder.decode(ids, plan, seed, cache_write)

    def serving_prepare(self, strings):
        import tensorflow as tf

        ids = self.vocabulary.graph_encode(strings)[:, -1:].to_tensor(0, shape=[None, 1])
        return tf.where(ids == 0, self.vocabulary.start_id, ids)

    def onnx_input(self):
        import tensorflow as tf

        return "last_ids", tf.TensorSpec([None, 1], tf.int32), "int32 [batch, 1]: each text's last character"

    @classmethod
    def client_feed(cls, requests, metadata, vocabulary):
        return np.array([[(vocabulary.encode(t)[-1:].tolist() or [vocabulary.start_id])[0]] for t in requests], "int32")

    def cli_lines(self, texts, options):
        return [text + out for text, out in zip(texts, self.generate(texts, max_new_tokens=options["max_new_tokens"]))]


# ---- its evaluation: the family table's second column --------------------------------
def evaluate(name, split="test", limit=None, compare=None):
    from keras_cgen import zoo

    generator = zoo.load(name)
    return {"name": generator.directory.name, "samples": generator.generate(["a", "b"], max_new_tokens=5)}


def summary(report):
    return " / ".join(report["samples"])


def requests(generator, count):
    return ["abc"[i % 3] for i in range(count)]


def write_card(report, directory, command):
    from keras_cgen import zoo

    config = zoo.load(directory).config
    finish_card(directory, f"# {report['name']}\n\n{training_lines(config)}\n\nReproduce: `{command}`\n", report)
