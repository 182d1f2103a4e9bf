"""A word vocabulary for short English texts (the Diffusion-LM's synopses).

Text is lower-cased and split into runs of letters/digits and single other
characters (a word that the texts the vocabulary was built from always
write one way is written back that way: "regional indicator J", "flag:
Japan"; one written several ways comes back lower-cased); a dash between
spaces ("broker - server") is its own token, kept apart from a hyphen
inside a word ("command-line"), so `decode` can write both back.
`graph_decode` is the TensorFlow twin of `decode` (tested equal), so an
exported graph returns text with core ops only.
"""

import collections
import json
import re
from pathlib import Path

import numpy as np

SPECIALS = ("[PAD]", "[START]", "[END]", "[UNK]")
DASH = "\u2014"  # what a spaced " - " becomes, so that it differs from a hyphen
TOKEN = re.compile(r"[^\W_]+|[^\s]", re.UNICODE)
# Decoding joins tokens with spaces, then: no space around these (they join words) ...
GLUE = r" ?([-/+.'_]) ?"
# ... none before closing punctuation, none after an opening bracket.
BEFORE = r" ([,:;!?%)\]])"
AFTER = r"([(\[]) "


class WordVocabulary:
    """Words <-> ids; 0 padding, 1 start, 2 end, 3 unknown.

    A text of n tokens is encoded as `[START] w1 .. wn [END] [PAD] ..`.

    Args:
        words: the words, most frequent first.
        spellings: how each word is written back (default: as it is).

    Example:
    >>> vocab = WordVocabulary.build(["Python 3 library", "Python - docs"], min_count=1)
    >>> ids = vocab.sequence("python library", 6)
    >>> ids.tolist()
    [1, 4, 7, 2, 0, 0]
    >>> vocab.decode(ids)
    'Python library'
    """

    pad_id, start_id, end_id, unk_id = 0, 1, 2, 3
    unit = "words"

    def __init__(self, words, spellings=None):
        words = [w for w in words if w not in SPECIALS]
        spellings = dict(zip(words, spellings)) if spellings is not None else {}
        self.tokens = list(SPECIALS) + words
        self.spellings = list(SPECIALS) + [spellings.get(w, w) for w in words]
        self.index = {token: i for i, token in enumerate(self.tokens)}

    @staticmethod
    def tokenize(text, lower=True):
        text = re.sub(r"\s+-+\s+", f" {DASH} ", str(text).lower() if lower else str(text))
        return TOKEN.findall(text)

    @classmethod
    def build(cls, texts, min_count=5):
        texts = list(texts)
        counts = collections.Counter(w for text in texts for w in cls.tokenize(text))
        forms = collections.defaultdict(collections.Counter)
        for text in texts:
            words, written = cls.tokenize(text), cls.tokenize(text, lower=False)
            if len(words) == len(written):  # lower-casing may change a token's length (rare letters)
                for word, form in zip(words, written):
                    forms[word][form] += 1
        words = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
        # a word always written one way keeps that spelling; one written several ways ("a" / "A") is lower-cased
        return cls(words, [next(iter(forms[w])) if len(forms[w]) == 1 else w for w in words])

    def __len__(self):
        return len(self.tokens)

    def encode(self, text, max_length=None):
        """int32 ids of the text's words (no special tokens), at most `max_length`
        (as `CharVocabulary.encode`, so the autoregressive LMs read either)."""
        ids = [self.index.get(w, self.unk_id) for w in self.tokenize(text)]
        return np.asarray(ids[:max_length] if max_length else ids, "int32")

    def sequence(self, text, length):
        """int32 `[length]`: `[START] words [END]` then padding, the fixed-length
        sequence a Diffusion-LM denoises. Raises if the text does not fit (`fits`)."""
        words = self.encode(text).tolist()
        if len(words) + 2 > length:
            raise ValueError(f"`text` {text!r} has {len(words)} words; at most {length - 2} fit in {length} positions.")
        ids = [self.start_id, *words, self.end_id]
        return np.asarray(ids + [self.pad_id] * (length - len(ids)), "int32")

    def fits(self, text, length):
        return len(self.tokenize(text)) + 2 <= length

    def decode(self, ids):
        """Text of the ids up to the first [END] ([START] and padding skipped; an
        unknown word is written [UNK])."""
        words = []
        for i in np.asarray(ids).tolist():
            if i == self.end_id:
                break
            if i not in (self.start_id, self.pad_id):
                words.append(self.spellings[i])
        return self.detokenize(words)

    @staticmethod
    def detokenize(words):
        text = re.sub(GLUE, r"\1", " ".join(words))
        text = re.sub(AFTER, r"\1", re.sub(BEFORE, r"\1", text))
        return text.replace(DASH, "-")

    # ---- the TensorFlow-graph twin (exports) ---------------------------------------
    def graph_decode(self, ids):
        """`decode` on an int tensor `[B, T]`: a string tensor `[B]`."""
        import tensorflow as tf

        ids = tf.cast(ids, tf.int32)
        ended = tf.cumsum(tf.cast(tf.equal(ids, self.end_id), tf.int32), axis=1) > 0
        keep = tf.logical_and(tf.logical_not(ended), tf.logical_and(ids != self.start_id, ids != self.pad_id))
        words = tf.ragged.boolean_mask(tf.gather(tf.constant(self.spellings), ids), keep)
        text = tf.strings.regex_replace(tf.strings.reduce_join(words, axis=1, separator=" "), GLUE, r"\1")
        text = tf.strings.regex_replace(tf.strings.regex_replace(text, BEFORE, r"\1"), AFTER, r"\1")
        return tf.strings.regex_replace(text, DASH, "-")

    def save(self, path):
        data = {"kind": "words", "tokens": self.tokens}
        if self.spellings != self.tokens:
            data["spellings"] = self.spellings
        Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=0), encoding="utf-8")

    @classmethod
    def load(cls, path):
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("kind") != "words" or tuple(data["tokens"][:4]) != SPECIALS:
            raise ValueError(f"'{path}' is not a WordVocabulary file: a JSON object with kind 'words' and tokens "
                             f"starting with {SPECIALS}.")
        spellings = data.get("spellings", data["tokens"])
        if len(spellings) != len(data["tokens"]):
            raise ValueError(f"'{path}': {len(spellings)} spellings for {len(data['tokens'])} tokens.")
        return cls(data["tokens"][len(SPECIALS):], spellings[len(SPECIALS):])
