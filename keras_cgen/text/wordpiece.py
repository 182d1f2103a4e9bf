"""WordPiece tokenizers that match a BERT checkpoint (keras-hub / tensorflow-text)."""

import json
import re
from pathlib import Path

import keras_hub
import numpy as np

# Where each checkpoint format keeps its vocabulary, relative to its directory.
# A Hugging Face `tokenizer.json` (a WordPiece model's vocab) serves where there is no vocab.txt.
VOCABULARY_FILES = ("vocab.txt", "assets/tokenizer/vocabulary.txt", "tokenizer.json")


def find_vocabulary(path):
    """Path of the WordPiece vocabulary of a checkpoint directory (or the file itself)."""
    path = Path(path)
    if path.is_file():
        return path
    for name in VOCABULARY_FILES:
        if (path / name).is_file():
            return path / name
    raise FileNotFoundError(
        f"No WordPiece vocabulary in '{path}': looked for {', '.join(VOCABULARY_FILES)}."
    )


def read_vocabulary(path):
    """The token list (id order) of a vocab.txt, or of a `tokenizer.json`'s WordPiece model."""
    path = find_vocabulary(path)
    if path.suffix == ".json":
        model = json.loads(path.read_text(encoding="utf-8")).get("model", {})
        if model.get("type") != "WordPiece":
            raise ValueError(f"'{path}' is not a WordPiece tokenizer (model type {model.get('type')!r}).")
        tokens = sorted(model["vocab"], key=model["vocab"].get)
        if [model["vocab"][t] for t in tokens] != list(range(len(tokens))):
            raise ValueError(f"'{path}': the WordPiece ids are not 0..{len(tokens) - 1}.")
        return tokens
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def load_bert_tokenizer(path, keep_tokens=None, lowercase=None):
    """A `keras_hub.tokenizers.BertTokenizer` for a checkpoint directory.

    Args:
        path: a checkpoint directory (Hugging Face, Google TF1 or keras-hub
            preset) or a `vocab.txt`.
        keep_tokens: optional list of original token ids to keep, in order: the
            same list given to `load_bert`, so token id k of the tokenizer is row
            k of the sliced embedding.
        lowercase: force lower-casing on or off; by default read from
            `tokenizer_config.json` (`do_lower_case`) or, failing that, guessed
            from the vocabulary (an uncased vocabulary has no upper-case word).

    Example:
    >>> tokenizer = load_bert_tokenizer("path/to/bert")   # doctest: +SKIP
    >>> tokenizer("Hello world")                          # doctest: +SKIP
    """
    vocabulary = read_vocabulary(path)
    if keep_tokens is not None:
        bad = [i for i in keep_tokens if not 0 <= int(i) < len(vocabulary)]
        if bad:
            raise ValueError(
                f"`keep_tokens` has ids outside [0, {len(vocabulary)}) of '{find_vocabulary(path)}': {bad[:10]}."
            )
        vocabulary = [vocabulary[int(i)] for i in keep_tokens]
    if lowercase is None:
        config = Path(path) / "tokenizer_config.json"
        if Path(path).is_dir() and config.is_file():
            lowercase = bool(json.loads(config.read_text()).get("do_lower_case", True))
        else:
            lowercase = not any(token.isalpha() and token != token.lower() for token in vocabulary
                                if not token.startswith("["))
    return keras_hub.tokenizers.BertTokenizer(vocabulary=vocabulary, lowercase=lowercase)


def encode_texts(tokenizer, texts):
    """`[CLS] text [SEP]` per text, right-padded with 0 into the builder's inputs:
    `{"token_ids": int32 [batch, T], "segment_ids": zeros}`."""
    ids = pad_rows([[tokenizer.cls_token_id] + np.asarray(tokenizer(t)).tolist() + [tokenizer.sep_token_id]
                    for t in texts])
    return {"token_ids": ids, "segment_ids": np.zeros_like(ids)}


def pad_rows(rows, pad_id=0, multiple=1):
    """Lists of ids -> one int32 `[len(rows), longest]` array, right-padded;
    the length rounded up to a `multiple` (fewer shapes for a compiled graph)."""
    ids = np.full((len(rows), -(-max(map(len, rows)) // multiple) * multiple), pad_id, "int32")
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
    return ids


SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
# Pieces joined with spaces -> text: drop "##" joins, glue back the punctuation
# WordPiece split off. Applied in order, by `re.sub` here and by
# `tf.strings.regex_replace` in the SavedModel export (same RE2-compatible syntax).
# A Chinese character or full-width punctuation mark: no space beside it
# (literal characters, so Python's re and TensorFlow's RE2 read the same class).
CJK = "[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]"
DETOKENIZE_RULES = ((r" ##", ""), (r" ([.,;:!?)\]])", r"\1"), (r"([(\[]) ", r"\1"), (r" ?\+ \+", "++"),
                    (f"({CJK}) ", r"\1"), (f" ({CJK})", r"\1"))


def simplify_vocabulary(vocabulary, token_ids, max_size=None, min_count=1):
    """bert4keras's "simplified vocabulary": the original ids worth keeping for a corpus.

    Keeps the special tokens, every character (and its `##` form) the corpus
    uses, so any word still splits into known pieces, then the most frequent
    other pieces up to `max_size`. Returns sorted original ids: pass them as
    `keep_tokens` to `load_bert` and `load_bert_tokenizer` (`[PAD]` stays 0).

    Args:
        vocabulary: the checkpoint's token list (`read_vocabulary`).
        token_ids: the corpus tokenised with the full vocabulary (lists of ids).
        max_size: the most tokens to keep, or None for all with `min_count`.
        min_count: pieces seen fewer times are dropped.
    """
    counts = np.bincount(np.concatenate([np.asarray(row, "int64") for row in token_ids if len(row)]),
                         minlength=len(vocabulary))
    index = {token: i for i, token in enumerate(vocabulary)}
    characters = {c for i in np.flatnonzero(counts) for c in vocabulary[i].removeprefix("##")}
    required = {index[t] for t in SPECIAL_TOKENS if t in index}
    # BERT's tokenizer splits every Chinese character off as a word: it never needs "##" + c.
    required |= {index[t] for c in characters for t in (c, "##" + c)
                 if t in index and not (t.startswith("##") and re.fullmatch(CJK, c))}
    ranked = [int(i) for i in np.argsort(-counts, kind="stable") if counts[i] >= min_count and i not in required]
    room = len(ranked) if max_size is None else max_size - len(required)
    if room < 0:
        raise ValueError(f"`max_size`={max_size} is below the {len(required)} special and character tokens "
                         "the corpus needs.")
    return sorted(required | set(ranked[:room]))


def truncate(ids, max_length, tail=0):
    """At most `max_length` ids: the head, plus the last `tail` ids when cut
    (a Debian description names what sets a package apart at its end)."""
    ids = list(ids)
    if len(ids) <= max_length:
        return ids
    return ids[: max_length - tail] + (ids[len(ids) - tail:] if tail else [])


class WordPieceVocabulary:
    """A BERT WordPiece tokenizer with the `CharVocabulary` interface the zoo
    generators use: `encode(text)`, `decode(ids)`, `start_id` (`[CLS]`) and
    `end_id` (`[SEP]`); 0 is `[PAD]`.

    Args:
        path: a `vocab.txt` or a checkpoint directory.
        keep_tokens: optional original ids to keep (see `simplify_vocabulary`).
    """

    unit = "tokens"

    def __init__(self, path, keep_tokens=None, lowercase=None):
        self.tokenizer = load_bert_tokenizer(path, keep_tokens=keep_tokens, lowercase=lowercase)
        self.tokens = self.tokenizer.get_vocabulary()
        self.index = {token: i for i, token in enumerate(self.tokens)}
        self.lowercase = bool(self.tokenizer.lowercase)  # titles then get the source's spelling back
        self.pad_id = self.tokenizer.pad_token_id
        self.start_id = self.tokenizer.cls_token_id
        self.end_id = self.tokenizer.sep_token_id
        if self.pad_id != 0:
            raise ValueError(f"'{path}': [PAD] must be token 0 (models pad with 0), it is {self.pad_id}.")

    def __len__(self):
        return len(self.tokens)

    def encode(self, text, max_length=None):
        ids = np.asarray(self.tokenizer(text), "int32")
        return ids[:max_length] if max_length else ids

    def encode_batch(self, texts):
        """Lists of ids, one per text (one tensorflow-text call for the batch)."""
        return [np.asarray(row, "int32") for row in self.tokenizer(list(texts))]

    def decode(self, ids):
        ids = np.asarray(ids).tolist()
        ids = ids[: ids.index(self.end_id)] if self.end_id in ids else ids
        pieces = [self.tokens[i] for i in ids if i not in (self.pad_id, self.start_id)]
        text = " ".join(pieces)
        for pattern, replacement in DETOKENIZE_RULES:
            text = re.sub(pattern, replacement, text)
        return text

    # ---- the TensorFlow-graph twins (exports; tensorflow-text's tokenizer op) ----
    def lookup_table(self):
        """None: the tokenizer op carries its vocabulary (nothing to track)."""
        return None

    def graph_encode(self, text):
        """`encode` on a string tensor `[B]`: a ragged int32 `[B, None]`."""
        import tensorflow as tf

        ids = self.tokenizer(text)
        if isinstance(ids, list):  # keras-hub hands eager results back as lists
            return tf.ragged.constant(ids, dtype=tf.int32, ragged_rank=1, inner_shape=())
        return tf.cast(ids, tf.int32)

    def graph_decode(self, ids):
        """`decode` on an int tensor `[B, T]`: a string tensor `[B]`."""
        import tensorflow as tf

        ids = tf.cast(ids, tf.int32)
        ended = tf.cumsum(tf.cast(tf.equal(ids, self.end_id), tf.int32), axis=1) > 0
        keep = tf.logical_and(tf.logical_not(ended), tf.logical_and(ids != self.pad_id, ids != self.start_id))
        pieces = tf.ragged.boolean_mask(tf.gather(tf.constant(self.tokens), ids), keep)
        text = tf.strings.reduce_join(pieces, axis=1, separator=" ")
        for pattern, replacement in DETOKENIZE_RULES:
            text = tf.strings.regex_replace(text, pattern, replacement)
        return text

    def save(self, path):
        Path(path).write_text("\n".join(self.tokens) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path):
        return cls(path, lowercase=True)


def load_vocabulary(path):
    """A vocabulary file of a zoo model or an export: `conditions.json` is a
    `ConditionVocabulary` (the image models' condition texts), another `.json`
    a `CharVocabulary`, `vocab.txt` a WordPiece vocabulary. `words.json` is a
    `WordVocabulary`, another `.json` a `CharVocabulary`."""
    from keras_cgen.text.char_vocabulary import CharVocabulary
    from keras_cgen.text.condition_vocabulary import ConditionVocabulary
    from keras_cgen.text.word_vocabulary import WordVocabulary

    if Path(path).name == "conditions.json":
        return ConditionVocabulary.load(path)
    if Path(path).name == "words.json":
        return WordVocabulary.load(path)
    return CharVocabulary.load(path) if Path(path).suffix == ".json" else WordPieceVocabulary.load(path)
