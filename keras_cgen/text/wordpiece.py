"""WordPiece tokenizers that match a BERT checkpoint (keras-hub / tensorflow-text)."""

import json
from pathlib import Path

import keras_hub
import numpy as np

# Where each checkpoint format keeps its vocabulary, relative to its directory.
VOCABULARY_FILES = ("vocab.txt", "assets/tokenizer/vocabulary.txt")


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
    with open(find_vocabulary(path), encoding="utf-8") as f:
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


def pad_rows(rows, pad_id=0):
    """Lists of ids -> one int32 `[len(rows), longest]` array, right-padded."""
    ids = np.full((len(rows), max(map(len, rows))), pad_id, "int32")
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
    return ids
