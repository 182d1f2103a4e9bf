"""The zoo: loading by name, checksums, and the generator's input handling."""

import json

import keras
import numpy as np
import pytest

from keras_cgen import zoo
from keras_cgen.models import build_lstm_seq2seq
from keras_cgen.text import CharVocabulary


@pytest.fixture
def tiny_zoo(tmp_path, monkeypatch):
    """A zoo with one small LSTM title model, written the way the recipes write them."""
    folder = tmp_path / "autotitle-tiny"
    folder.mkdir()
    vocabulary = CharVocabulary.build(["基于数学的解谜游戏", "一个文本编辑器", "数学游戏"], min_count=1)
    vocabulary.save(folder / "vocab.json")
    builder = dict(embedding_dim=8, hidden_units=8, copy_prior=True, dropout=0.0)
    keras.utils.set_random_seed(0)
    build_lstm_seq2seq(len(vocabulary), **builder).save_weights(folder / "model.weights.h5")
    config = {"family": "lstm_seq2seq", "builder": builder, "vocabulary": "vocab.json",
              "weights": "model.weights.h5", "max_source_length": 12, "max_target_length": 5,
              "generation": {"num_beams": 2}}
    (folder / "config.json").write_text(json.dumps(config))
    zoo.write_manifest(folder)
    monkeypatch.setenv("KERAS_CGEN_ZOO", str(tmp_path))
    return folder


def test_list_load_and_generate(tiny_zoo):
    assert zoo.list() == ["autotitle-tiny"]
    generator = zoo.load("autotitle-tiny")
    titles = generator.generate(["基于数学的解谜游戏", "一个文本编辑器"], num_beams=2)
    assert len(titles) == 2 and all(isinstance(t, str) for t in titles)
    assert generator.generate("数学游戏", num_beams=1) == generator.generate(["数学游戏"], num_beams=1)[0]
    assert generator.generate([]) == []
    # The same weights through the plain engine give the same ids as the generator.
    assert set("".join(titles)) <= set(generator.vocabulary.tokens)


def test_bad_inputs(tiny_zoo):
    generator = zoo.load("autotitle-tiny")
    with pytest.raises(ValueError, match=r"texts\[1\] is empty or whitespace"):
        generator.generate(["数学", "   "])
    with pytest.warns(UserWarning, match=r"texts\[0\] has 30 characters; only the first 12"):
        generator.generate(["数" * 30])
    with pytest.raises(ValueError, match="Unknown zoo model 'nope'.*autotitle-tiny"):
        zoo.load("nope")


def test_checksums_guard_every_file(tiny_zoo):
    weights = tiny_zoo / "model.weights.h5"
    original = weights.read_bytes()
    data = bytearray(original)
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="Checksum mismatch for '.*model.weights.h5'"):
        zoo.load("autotitle-tiny")
    weights.write_bytes(original)
    (tiny_zoo / "vocab.json").unlink()
    with pytest.raises(FileNotFoundError, match="missing '.*vocab.json'"):
        zoo.load("autotitle-tiny")
    (tiny_zoo / "MANIFEST.sha256").unlink()
    with pytest.raises(FileNotFoundError, match="no MANIFEST.sha256"):
        zoo.load("autotitle-tiny")


def test_vocabulary_round_trip(tmp_path):
    vocabulary = CharVocabulary.build(["abc", "abd"], min_count=1)
    vocabulary.save(tmp_path / "v.json")
    again = CharVocabulary.load(tmp_path / "v.json")
    assert again.tokens == vocabulary.tokens
    assert vocabulary.decode(vocabulary.encode("ABD")) == "abd"
    assert vocabulary.encode("xyz").tolist() == [1, 1, 1]
    (tmp_path / "bad.json").write_text(json.dumps(["a", "b"]))
    with pytest.raises(ValueError, match="not a CharVocabulary"):
        CharVocabulary.load(tmp_path / "bad.json")
    assert np.asarray(vocabulary.encode("ab", max_length=1)).tolist() == [vocabulary.index["a"]]
