"""The auto-title families: text in, title out. `lstm_seq2seq` (the seed
text's LSTM seq2seq with attention, copy prior and pointer) and `unilm`
(UniLM on a BERT) read and write the same way; only the model differs.

A source is cut to `max_source_length` tokens (the head, and the last
`source_tail` when cut) the same way in Python (`source_ids`), in the
SavedModel graph (`serving_prepare`) and on an ONNX client (`client_feed`).
"""

import warnings

from keras_cgen.families.autotitle.preprocess import cut_positions
from keras_cgen.families.autotitle.preprocess import source_ids
from keras_cgen.families.autotitle.preprocess import unilm_source
from keras_cgen.text import pad_rows
from keras_cgen.text.source_spelling import graph_restore_spelling
from keras_cgen.text.source_spelling import restore_spelling
from keras_cgen.text import truncate
from keras_cgen.zoo.generator import Generator


class TitleGenerator(Generator):
    """Text in, title out. Subclasses build `self.model` and `self.decoder`,
    and say how source rows become the decoder's input (`decode`, `decode_ids`)."""

    # Sources are padded to a multiple of this: the XLA-compiled decode loop is
    # traced once per input shape, and a new length per request would pay a
    # compile (~1-4 s) on nearly every batch-1 call. Padding is masked.
    length_bucket = 16

    def source_ids(self, text, index):
        """The ids the model reads for one text (the body, cut to the limit)."""
        if not text.strip():
            raise ValueError(f"texts[{index}] is empty or whitespace: give the article to title.")
        ids = self.vocabulary.encode(text)
        limit, tail = self.config.max_source_length, self.config.source_tail
        if len(ids) > limit:
            kept = f"the first {limit}" if not tail else f"{limit} (the first {limit - tail} and the last {tail})"
            warnings.warn(f"texts[{index}] has {len(ids)} {self.vocabulary.unit}; only {kept} are used.", stacklevel=4)
        return truncate(ids, limit, tail)

    def generate(self, texts, num_beams=None, max_new_tokens=None, return_scores=False, spelling=True, **kwargs):
        """Titles for `texts` (a string or a list of strings).

        Keyword arguments are those of `keras_cgen.decoding.generate`
        (`num_beams`, `length_penalty`, `do_sample`, `top_p`, `seed`,
        `no_repeat_ngram_size`, ...); the model's `config.generation` gives
        the defaults (beam 4 for the zoo's). With `return_scores`, also the
        sequence scores (log-probabilities). A lower-casing vocabulary's titles
        get the source's spelling of the words they copy (`restore_spelling`)
        unless `spelling=False`.
        """
        texts, single = self.text_list(texts, "texts")
        if not texts:
            return ([], []) if return_scores else []
        rows = [self.source_ids(text, i) for i, text in enumerate(texts)]
        out = self.decode(rows, **self.settings(num_beams=num_beams, max_new_tokens=max_new_tokens, **kwargs))
        titles = [self.vocabulary.decode(row[0]) for row in out.sequences.numpy()]
        if spelling:
            titles = [self.spell(self.vocabulary, title, text) for title, text in zip(titles, texts)]
        scores = out.scores.numpy()[:, 0].tolist()
        if single:
            titles, scores = titles[0], scores[0]
        return (titles, scores) if return_scores else titles

    @staticmethod
    def respells(vocabulary):
        """Whether titles of this vocabulary get the source's spelling back: it lower-cases (WordPiece, uncased)."""
        return getattr(vocabulary, "lowercase", False)

    @classmethod
    def spell(cls, vocabulary, title, source):
        """A lower-casing vocabulary's title gets the source's spelling of the
        words it copied (`restore_spelling`); others are kept as written."""
        return restore_spelling(title, source) if cls.respells(vocabulary) else title

    def serving_finish(self, strings, out):
        finished = super().serving_finish(strings, out)
        if self.respells(self.vocabulary):
            finished["text"] = graph_restore_spelling(finished["text"], strings)
        return finished

    @classmethod
    def client_answer(cls, outputs, vocabulary, requests=None):
        answer = super().client_answer(outputs, vocabulary, requests)
        answer["text"] = [cls.spell(vocabulary, title, source) for title, source in zip(answer["text"], requests)]
        return answer

    # Tokens a title model adds around the source (UniLM: [CLS] and [SEP]).
    added_tokens = 0

    def warmup_inputs(self):
        """A text per length bucket: one vocabulary word repeated."""
        word = next(t for t in self.vocabulary.tokens
                    if t.isalpha() and t == t.lower() and len(self.vocabulary.encode(t)) == 1)
        joiner = "" if self.vocabulary.unit == "characters" else " "
        texts, widths = [], set()
        for length in range(1, self.config.max_source_length + 1):
            width = -(-(length + self.added_tokens) // self.length_bucket)
            if width not in widths:
                widths.add(width)
                texts.append(joiner.join([word] * length))
        return texts

    def serving_prepare(self, strings):
        import tensorflow as tf

        ids = self.vocabulary.graph_encode(strings)
        positions = cut_positions(tf.cast(ids.row_lengths(), tf.int32), self.config.max_source_length,
                                  self.config.source_tail)
        ids = tf.gather(ids, positions, batch_dims=1).to_tensor(0)
        width = tf.shape(ids)[1]  # padded to the length bucket, as `generate` pads: the same numbers
        return tf.pad(ids, [[0, 0], [0, -width % self.length_bucket]])

    def onnx_input(self):
        import tensorflow as tf

        return ("source_ids", tf.TensorSpec([None, None], tf.int32),
                "int32 [batch, source_length], 0-padded body token ids, no specials")

    def input_metadata(self):
        return {"max_source_length": self.config.max_source_length, "source_tail": self.config.source_tail,
                "length_bucket": self.length_bucket}

    @classmethod
    def client_feed(cls, requests, metadata, vocabulary):
        rows = [source_ids(vocabulary, text, metadata["max_source_length"], metadata["source_tail"])
                if text.strip() else [] for text in requests]
        return pad_rows([row or [0] for row in rows], multiple=metadata["length_bucket"])

    def cli_lines(self, texts, options):
        titles, scores = self.generate(texts, num_beams=options.get("num_beams"), return_scores=True,
                                       max_new_tokens=options.get("max_new_tokens"))
        return [f"{title}\t{score:.3f}" if options.get("scores") else title for title, score in zip(titles, scores)]


class LSTMTitleGenerator(TitleGenerator):
    """The LSTM seq2seq + attention + copy prior (+ pointer) title models."""

    def __init__(self, directory, config):
        from keras_cgen.families.autotitle import LSTMSeq2SeqDecoder
        from keras_cgen.families.autotitle import build_lstm_seq2seq

        super().__init__(directory, config)
        self.model = self.load_weights(build_lstm_seq2seq(len(self.vocabulary), **config.builder))
        self.decoder = LSTMSeq2SeqDecoder(self.model, start_id=self.vocabulary.start_id)

    def decode(self, rows, **settings):
        """The decoder on source rows (lists of ids), padded to the length bucket."""
        return self.decoder.generate(pad_rows(rows, multiple=self.length_bucket), **settings)

    def decode_ids(self, ids, plan, seed, cache_write="where"):
        """The decode graph on source ids `[B, S]`."""
        return self.decoder.decode(ids, plan, seed, cache_write)


class UniLMTitleGenerator(TitleGenerator):
    """UniLM title models: `[CLS] body [SEP]` in, the title segment out."""

    added_tokens = 2

    def __init__(self, directory, config):
        from keras_cgen.models import BertConfig
        from keras_cgen.models import TransformerDecoder
        from keras_cgen.models import build_transformer

        super().__init__(directory, config)
        self.model = self.load_weights(build_transformer(BertConfig(**config.transformer), "unilm"))
        self.decoder = TransformerDecoder(self.model)

    def max_new_tokens_limit(self):
        # Positions [CLS] body [SEP] title must fit the position table.
        return self.config.transformer["max_position"] - self.config.max_source_length - 1

    def decode(self, rows, **settings):
        token_ids = pad_rows([unilm_source(self.vocabulary, row) for row in rows], multiple=self.length_bucket)
        return self.decoder.generate({"token_ids": token_ids}, **settings)

    def decode_ids(self, ids, plan, seed, cache_write="where"):
        """The decode graph on body ids `[B, S]` (0-padded, no [CLS]/[SEP]):
        adds `[CLS] ... [SEP]` per row."""
        from keras import ops

        ids = ops.cast(ids, "int32")
        lengths = ops.sum(ops.cast(ids != 0, "int32"), axis=1)
        ids = ops.pad(ids, ((0, 0), (1, 1)))
        positions = ops.arange(ops.shape(ids)[1], dtype="int32")[None, :]
        ids = ops.where(positions == 0, self.vocabulary.start_id, ids)
        ids = ops.where(positions == lengths[:, None] + 1, self.vocabulary.end_id, ids)
        return self.decoder.decode({"token_ids": ids}, plan, seed, cache_write)

