"""A character vocabulary for character-level models (Chinese titles, char LMs).

keras-hub's `UnicodeCodepointTokenizer` uses raw code points as ids (a table of
every CJK code point); this keeps only the characters a corpus uses. Text is
split into Unicode code points exactly as `tf.strings.unicode_split` does, so
an exported graph can tokenise with core TensorFlow ops only: `graph_encode` /
`graph_decode` are the TensorFlow twins of `encode` / `decode` (tested equal).
"""

import collections
import json
from pathlib import Path

import numpy as np

SPECIALS = ("[PAD]", "[UNK]", "[START]", "[END]")
# What Python's `str.split()` treats as whitespace, as an RE2 class: RE2's \s is
# ASCII only, and Chinese text often holds U+3000 (ideographic space).
WHITESPACE = r"[\s\x{0b}\x{1c}-\x{1f}\x{85}\p{Z}]+"


class CharVocabulary:
    """Characters <-> ids; 0 padding, 1 unknown, 2 start, 3 end.

    Args:
        characters: the characters, most frequent first.
        raw: False (titles): text is lower-cased and its whitespace runs become
            one space. True (character LMs): text is used as it is, case and
            newlines included.

    Example:
    >>> vocab = CharVocabulary.build(["基于数学的解谜游戏", "数学"], min_count=1)
    >>> vocab.encode("数学题").tolist()
    [5, 4, 1]
    >>> vocab.decode([5, 4, 3, 6])
    '数学'
    """

    pad_id, unk_id, start_id, end_id = 0, 1, 2, 3
    unit = "characters"

    def __init__(self, characters, raw=False):
        self.tokens = list(SPECIALS) + [c for c in characters if c not in SPECIALS]
        self.index = {token: i for i, token in enumerate(self.tokens)}
        self.raw = bool(raw)

    def normalise(self, text):
        return str(text) if self.raw else " ".join(str(text).lower().split())

    @classmethod
    def build(cls, texts, min_count=2, max_size=None, raw=False):
        normalise = cls((), raw).normalise
        counts = collections.Counter(c for text in texts for c in normalise(text))
        ranked = sorted((c for c, n in counts.items() if n >= min_count), key=lambda c: (-counts[c], c))
        return cls(ranked[: max_size - len(SPECIALS)] if max_size else ranked, raw)

    def __len__(self):
        return len(self.tokens)

    def encode(self, text, max_length=None):
        ids = [self.index.get(c, self.unk_id) for c in self.normalise(text)]
        return np.asarray(ids[:max_length] if max_length else ids, dtype="int32")

    def decode(self, ids):
        out = []
        for i in np.asarray(ids).tolist():
            if i in (self.end_id, self.pad_id):
                break
            if i >= len(SPECIALS):
                out.append(self.tokens[i])
        return "".join(out)

    # ---- the TensorFlow-graph twins (exports) ---------------------------------
    def lookup_table(self):
        """Character -> id (unknown -> [UNK]), a core TensorFlow lookup table;
        made once, outside any graph being traced (an export tracks it)."""
        import tensorflow as tf

        if getattr(self, "_table", None) is None:
            with tf.init_scope():
                self._table = tf.lookup.StaticHashTable(
                    tf.lookup.KeyValueTensorInitializer(tf.constant(self.tokens[len(SPECIALS):], tf.string),
                                                        tf.range(len(SPECIALS), len(self), dtype=tf.int32)),
                    default_value=self.unk_id)
        return self._table

    def graph_encode(self, text):
        """`encode` on a string tensor `[B]`: a ragged int32 `[B, None]`."""
        import tensorflow as tf

        if not self.raw:
            text = tf.strings.regex_replace(tf.strings.lower(text, encoding="utf-8"), WHITESPACE, " ")
            text = tf.strings.strip(text)
        return tf.ragged.map_flat_values(self.lookup_table().lookup, tf.strings.unicode_split(text, "UTF-8"))

    def graph_decode(self, ids):
        """`decode` on an int tensor `[B, T]`: a string tensor `[B]`."""
        import tensorflow as tf

        ids = tf.cast(ids, tf.int32)
        stops = tf.logical_or(tf.equal(ids, self.end_id), tf.equal(ids, self.pad_id))
        ended = tf.cumsum(tf.cast(stops, tf.int32), axis=1) > 0
        keep = tf.logical_and(tf.logical_not(ended), ids >= len(SPECIALS))
        return tf.strings.reduce_join(tf.ragged.boolean_mask(tf.gather(tf.constant(self.tokens), ids), keep), axis=1)

    def save(self, path):
        """A JSON list of the tokens; raw vocabularies as `{"raw": true, "tokens": [...]}`."""
        data = {"raw": True, "tokens": self.tokens} if self.raw else self.tokens
        Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=0), encoding="utf-8")

    @classmethod
    def load(cls, path):
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        tokens, raw = (data.get("tokens", []), data.get("raw", False)) if isinstance(data, dict) else (data, False)
        if tuple(tokens[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"'{path}' is not a CharVocabulary file: it must start with {SPECIALS}.")
        return cls(tokens[len(SPECIALS):], raw)
