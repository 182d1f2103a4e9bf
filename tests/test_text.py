"""WordPiece tools: corpus vocabulary (keep_tokens), head + tail truncation, the zoo vocabulary interface."""

import json

import numpy as np
import pytest

from keras_cgen.checkpoints import minilm_directory
from keras_cgen.text import CharVocabulary
from keras_cgen.text import WordPieceVocabulary
from keras_cgen.text import pad_rows
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


TWIN_TEXTS = ["基于数学的解谜游戏", "", "  A\u3000B\xa0 c\t\n d  ", "Ünïcödé ÄÖÜ ẞ", "☃ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "x" * 3000,
              "Atril is a simple multi-page document viewer (PDF, PS).", "C++ and ##hash"]


@pytest.mark.parametrize("raw", [False, True])
def test_char_vocabulary_graph_twins_equal_python(raw):
    """`graph_encode` / `graph_decode` (core TensorFlow ops, in the SavedModel)
    give what `encode` / `decode` give: unicode, empty, over-long, whitespace
    of every kind, and characters the vocabulary does not know."""
    import tensorflow as tf

    vocabulary = CharVocabulary.build(TWIN_TEXTS[:4], min_count=1, raw=raw)  # the rest is partly unknown
    encode = tf.function(vocabulary.graph_encode)
    graph = encode(tf.constant(TWIN_TEXTS)).to_list()
    assert graph == [vocabulary.encode(text).tolist() for text in TWIN_TEXTS]
    assert any(vocabulary.unk_id in row for row in graph)
    ids = [vocabulary.encode(text).tolist() for text in TWIN_TEXTS]
    rows = tf.constant(pad_rows([[*row, vocabulary.end_id, 7] if row else [0] for row in ids]))
    decoded = [t.decode() for t in tf.function(vocabulary.graph_decode)(rows).numpy()]
    assert decoded == [vocabulary.decode(row) for row in rows.numpy()]


def test_wordpiece_graph_twins_equal_python(full):
    import tensorflow as tf

    graph = tf.function(full.graph_encode)(tf.constant(TWIN_TEXTS)).to_list()
    assert graph == [full.encode(text).tolist() for text in TWIN_TEXTS]
    rows = pad_rows([[full.start_id, *row[:40], full.end_id, 1037] for row in graph])
    decoded = [t.decode() for t in tf.function(full.graph_decode)(tf.constant(rows)).numpy()]
    assert decoded == [full.decode(row) for row in rows] and decoded[6].startswith("atril is a simple")


def test_word_vocabulary_round_trip_and_graph_twin(tmp_path):
    from keras_cgen.text import WordVocabulary
    from keras_cgen.text import load_vocabulary

    texts = ["Web browser - WebDriver support (development files)", "command-line tool for C++, v2.0",
             "Python 3 library: parse/format", "A button, a key"]
    vocab = WordVocabulary.build(texts * 5)
    ids = np.stack([vocab.sequence(t, 20) for t in texts])
    assert ids[0, 0] == vocab.start_id and vocab.end_id in ids[0]
    decoded = [vocab.decode(row) for row in ids]
    # spacing of dashes, hyphens and punctuation restored, and the spelling of words always written one way
    assert decoded == [*texts[:3], "a button, a key"]
    assert [t.decode() for t in vocab.graph_decode(ids).numpy()] == decoded
    assert vocab.decode(vocab.sequence("PYTHON 3 gizmo", 6)) == "Python 3 [UNK]"
    vocab.save(tmp_path / "words.json")
    loaded = load_vocabulary(tmp_path / "words.json")
    assert loaded.tokens == vocab.tokens and loaded.decode(ids[2]) == texts[2]
    # a file without spellings (written before they were kept) decodes lower-cased, as it did
    data = json.loads((tmp_path / "words.json").read_text())
    del data["spellings"]
    (tmp_path / "old.json").write_text(json.dumps(data))
    (tmp_path / "old.json").rename(tmp_path / "words.json")
    assert load_vocabulary(tmp_path / "words.json").decode(ids[2]) == texts[2].lower()
    with pytest.raises(ValueError, match="at most 3 fit"):
        vocab.sequence(texts[0], 5)
