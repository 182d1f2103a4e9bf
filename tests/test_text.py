"""WordPiece tools: corpus vocabulary (keep_tokens), head + tail truncation, the zoo vocabulary interface."""

import numpy as np
import pytest

from keras_cgen.checkpoints import minilm_directory
from keras_cgen.text import WordPieceVocabulary
from keras_cgen.text import read_vocabulary
from keras_cgen.text import simplify_vocabulary
from keras_cgen.text import truncate

CORPUS = ["GObject introspection data for libatrildocument", "MATE document viewer (common files)",
          "Python 3 library for parsing XML", "transitional dummy package"]


@pytest.fixture(scope="module")
def full():
    return WordPieceVocabulary(minilm_directory())


def test_simplified_vocabulary_spells_every_corpus_word(full):
    vocabulary = read_vocabulary(minilm_directory())
    keep = simplify_vocabulary(vocabulary, full.encode_batch(CORPUS), max_size=75)
    assert keep == sorted(keep) and keep[0] == 0 and len(keep) == 75
    assert {vocabulary[i] for i in keep} >= {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "x", "##x"}
    small = WordPieceVocabulary(minilm_directory(), keep_tokens=keep)
    for text in CORPUS:
        ids = small.encode(text)
        assert small.tokens.index("[UNK]") not in ids.tolist()
        assert small.decode(ids) == full.decode(full.encode(text))  # same text, other pieces
    most = simplify_vocabulary(vocabulary, full.encode_batch(CORPUS))
    assert set(most) >= set(keep) and len(most) > len(keep)
    with pytest.raises(ValueError, match="max_size.*=5 is below"):
        simplify_vocabulary(vocabulary, full.encode_batch(CORPUS), max_size=5)


def test_decode_glues_punctuation_and_stops_at_sep(full):
    ids = full.encode("MATE document viewer (common files), C++ API.")
    assert full.decode(ids) == "mate document viewer (common files), c++ api."
    assert full.decode([full.start_id, *ids[:2], full.end_id, *ids[2:]]) == "mate document"


def test_head_and_tail_truncation():
    assert truncate(range(10), 6, tail=2) == [0, 1, 2, 3, 8, 9]
    assert truncate(range(10), 6) == [0, 1, 2, 3, 4, 5]
    assert truncate([1, 2], 6, tail=2) == [1, 2]


def test_vocabulary_file_round_trip(full, tmp_path):
    keep = simplify_vocabulary(read_vocabulary(minilm_directory()), full.encode_batch(CORPUS))
    small = WordPieceVocabulary(minilm_directory(), keep_tokens=keep)
    small.save(tmp_path / "vocab.txt")
    again = WordPieceVocabulary.load(tmp_path / "vocab.txt")
    assert again.tokens == small.tokens and len(again) == len(keep)
    np.testing.assert_array_equal(again.encode(CORPUS[0]), small.encode(CORPUS[0]))
