"""The character-LM family (`char_rnn`): a prompt in, its continuation out.

Prompts are left-padded (a step on padding leaves the LSTM state as it was)
and read from their last `MAX_PROMPT` characters; an empty prompt starts after
a blank line. The same in Python (`prompt_ids`), in the SavedModel graph
(`serving_prepare`) and on an ONNX client (`client_feed`).
"""

import numpy as np

from keras_cgen.zoo.generator import Generator

MAX_PROMPT = 256  # characters of a prompt read (its end): each is one decoder step
# Prompts are left-padded to a multiple of this: the XLA-compiled loop is traced
# once per shape, not once per prompt length (a padding step changes nothing).
LENGTH_BUCKET = 16


def left_pad(rows):
    """Lists of ids -> int32 `[B, W]`, each row at the right end; W is the
    longest row rounded up to the length bucket."""
    width = -(-max(len(row) for row in rows) // LENGTH_BUCKET) * LENGTH_BUCKET
    return np.stack([np.pad(np.asarray(row, "int32"), (width - len(row), 0)) for row in rows]).astype("int32")


def prompt_ids(vocabulary, prompts, max_prompt=MAX_PROMPT):
    """Left-padded ids `[B, P]` of the prompts' last `max_prompt` characters
    (an empty prompt starts after a blank line): `generate`'s and a client's."""
    return left_pad([vocabulary.encode(prompt or "\n")[-max_prompt:] for prompt in prompts])


def beam_options(options):
    """`cgen generate --num-beams K` on a sampling LM: beam search (K > 1) or greedy (K = 1)."""
    return {"num_beams": options["num_beams"], "do_sample": False} if options.get("num_beams") else {}


class CharLMGenerator(Generator):
    """A character-level LSTM LM (`build_char_rnn`): continues prompts."""

    stops_at_end = False  # trained on running text: it writes `max_new_tokens` characters

    def __init__(self, directory, config):
        from keras_cgen.families.char_lm import CharRNNDecoder
        from keras_cgen.families.char_lm import build_char_rnn

        super().__init__(directory, config)
        self.model = self.load_weights(build_char_rnn(len(self.vocabulary), **config.builder))
        self.decoder = CharRNNDecoder(self.model)

    def prompt_ids(self, prompts):
        """Left-padded ids `[B, P]` of the prompts' last `MAX_PROMPT` characters."""
        return prompt_ids(self.vocabulary, prompts)

    def generate(self, prompts=None, n=1, max_new_tokens=None, **kwargs):
        """Continuations of `prompts` (a string or list; None: from a blank
        line), `n` each: a string for one prompt and n=1, else lists.

        Keyword arguments are those of `keras_cgen.decoding.generate`; the
        model's default is sampling at temperature 0.8 (`do_sample=False`
        for greedy).
        """
        prompts, single = self.text_list("" if prompts is None else prompts, "prompts", allow_empty=False)
        settings = self.settings(num_return_sequences=n, max_new_tokens=max_new_tokens, **kwargs)
        out = self.texts_of(self.decoder.generate(self.prompt_ids(prompts), **settings).sequences)
        if n == 1:
            out = [rows[0] for rows in out]
        return out[0] if single else out

    def warmup_inputs(self):
        """A prompt per length bucket."""
        return ["a" * length for length in range(LENGTH_BUCKET, MAX_PROMPT + 1, LENGTH_BUCKET)]

    def decode_ids(self, ids, plan, seed, cache_write="where"):
        """The decode graph on left-padded prompt ids `[B, P]`."""
        return self.decoder.decode(ids, plan, seed, cache_write)

    def serving_prepare(self, strings):
        import tensorflow as tf

        strings = tf.where(tf.equal(strings, ""), "\n", strings)  # as prompt_ids: after a blank line
        ids = self.vocabulary.graph_encode(strings)[:, -MAX_PROMPT:]
        lengths = tf.cast(ids.row_lengths(), tf.int32)
        dense = ids.to_tensor(0)
        width = tf.shape(dense)[1]
        width += -width % LENGTH_BUCKET  # as `left_pad`: the same steps, the same numbers
        positions = tf.range(width)[None, :] - (width - lengths)[:, None]
        return tf.where(positions >= 0, tf.gather(dense, tf.maximum(positions, 0), batch_dims=1), 0)

    def onnx_input(self):
        import tensorflow as tf

        return "prompt_ids", tf.TensorSpec([None, None], tf.int32), "int32 [batch, P], LEFT-padded prompt ids"

    def input_metadata(self):
        return {"max_prompt": MAX_PROMPT}

    @classmethod
    def client_feed(cls, requests, metadata, vocabulary):
        return prompt_ids(vocabulary, requests, metadata["max_prompt"])

    def cli_lines(self, prompts, options):
        samples = self.generate(prompts, n=options.get("n") or 1, seed=options.get("seed"),
                                max_new_tokens=options.get("max_new_tokens"), **beam_options(options))
        return [prompt + sample for prompt, rows in zip(prompts, samples)
                for sample in ([rows] if isinstance(rows, str) else rows)]
