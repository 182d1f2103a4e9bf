import json
import warnings

import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from keras_cgen.checkpoints import CheckpointError
from keras_cgen.checkpoints import load_bert
from keras_cgen.checkpoints import minilm_directory
from keras_cgen.checkpoints import save_tf1_checkpoint
from keras_cgen.models import BertConfig
from keras_cgen.models import build_transformer
from keras_cgen.text import encode_texts
from keras_cgen.text import load_bert_tokenizer

SENTENCES = [
    "A man is playing a guitar.",
    "Someone plays an acoustic guitar on stage.",
    "The stock market fell sharply this morning.",
    "Shares dropped as investors sold off.",
]


@pytest.fixture(scope="module")
def minilm():
    directory = minilm_directory()
    return directory, load_bert(directory), load_bert_tokenizer(directory)


def sentence_embeddings(model, inputs):
    mask = (inputs["token_ids"] != 0)[..., None]
    pooled = (np.asarray(model(inputs)) * mask).sum(1) / mask.sum(1)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def test_minilm_related_sentences_are_closer(minilm):
    _, model, tokenizer = minilm
    assert model.checkpoint_report["missing"] == [] and model.checkpoint_report["format"] == "huggingface"
    e = sentence_embeddings(model, encode_texts(tokenizer, SENTENCES))
    similarity = e @ e.T
    related = [similarity[0, 1], similarity[2, 3]]
    unrelated = [similarity[0, 2], similarity[0, 3], similarity[1, 2], similarity[1, 3]]
    assert min(related) > 0.45 and max(unrelated) < 0.15, similarity


def test_huggingface_to_tf1_checkpoint_and_back(minilm, tmp_path):
    directory, model, tokenizer = minilm
    path = save_tf1_checkpoint(model, tmp_path / "tf1", vocabulary=directory)
    assert sorted(p.name for p in path.iterdir())[:3] == ["bert_config.json", "bert_model.ckpt.data-00000-of-00001",
                                                          "bert_model.ckpt.index"]
    names = dict(tf.train.list_variables(str(path / "bert_model.ckpt")))
    assert names["bert/encoder/layer_5/attention/self/query/kernel"] == [384, 384]
    again = load_bert(path)
    assert again.checkpoint_report["format"] == "google_tf1"
    inputs = encode_texts(tokenizer, SENTENCES)
    np.testing.assert_array_equal(np.asarray(again(inputs)), np.asarray(model(inputs)))
    # The prefix form bert4keras users pass works too.
    np.testing.assert_array_equal(np.asarray(load_bert(path / "bert_model.ckpt")(inputs)), np.asarray(model(inputs)))


def test_matches_keras_hub_on_the_same_directory(minilm, tmp_path):
    directory, model, tokenizer = minilm
    inputs = encode_texts(tokenizer, SENTENCES)
    real = inputs["token_ids"] != 0
    backbone = keras_hub.models.BertBackbone.from_preset(str(directory))
    theirs = np.asarray(backbone({**inputs, "padding_mask": real})["sequence_output"])
    # keras-hub runs the tanh GELU for every BERT; with the same activation we agree.
    ours = load_bert(directory, config_overrides={"hidden_act": "gelu_approximate"})
    np.testing.assert_allclose(np.asarray(ours(inputs))[real], theirs[real], atol=1e-4)
    # The checkpoint's own exact GELU is only slightly different.
    assert np.abs(np.asarray(model(inputs))[real] - theirs[real]).max() < 2e-2
    # And a keras-hub preset directory loads through the keras-hub map.
    backbone.save_to_preset(str(tmp_path / "preset"))
    keras_hub.tokenizers.BertTokenizer.from_preset(str(directory)).save_to_preset(str(tmp_path / "preset"))
    from_preset = load_bert(tmp_path / "preset")
    assert from_preset.checkpoint_report["format"] == "keras_hub"
    np.testing.assert_allclose(np.asarray(from_preset(inputs))[real], theirs[real], atol=1e-4)
    assert np.asarray(load_bert_tokenizer(tmp_path / "preset")("guitar")).tolist() == \
        np.asarray(tokenizer("guitar")).tolist()


def test_keep_tokens_slices_vocabulary_and_tokenizer(minilm):
    directory, model, tokenizer = minilm
    inputs = encode_texts(tokenizer, SENTENCES[:2])
    keep = [0, 100, 101, 102, 103] + sorted(set(inputs["token_ids"].ravel().tolist()) - {0, 100, 101, 102, 103})
    small = load_bert(directory, keep_tokens=keep)
    small_tokenizer = load_bert_tokenizer(directory, keep_tokens=keep)
    assert small.get_layer("Embedding-Token").input_dim == len(keep)
    np.testing.assert_array_equal(np.asarray(small.get_layer("Embedding-Token").embeddings)[5],
                                  np.asarray(model.get_layer("Embedding-Token").embeddings)[keep[5]])
    small_inputs = encode_texts(small_tokenizer, SENTENCES[:2])
    remap = {old: new for new, old in enumerate(keep)}
    np.testing.assert_array_equal(small_inputs["token_ids"], np.vectorize(remap.get)(inputs["token_ids"]))
    np.testing.assert_allclose(np.asarray(small(small_inputs)), np.asarray(model(inputs)), atol=1e-5)
    with pytest.raises(ValueError, match=r"keep_tokens.*\[0, 30522\).*\[40000\]"):
        load_bert(directory, keep_tokens=[0, 40000])


def test_missing_weights_are_listed_never_silent(minilm):
    directory = minilm[0]
    with pytest.warns(UserWarning, match="MLM-Dense/kernel.*MLM-Bias/bias"):
        model = load_bert(directory, application="unilm", condition_size=2)
    report = model.checkpoint_report
    assert set(report["missing"]) == {"MLM-Dense/kernel", "MLM-Dense/bias", "MLM-Norm/gamma", "MLM-Norm/beta",
                                      "MLM-Bias/bias"}
    assert "Transformer-0-FeedForward-Norm/gamma_dense/kernel" in report["zero_init_by_design"]
    with pytest.raises(CheckpointError, match="lacks 5 weights.*MLM-Norm/gamma"):
        load_bert(directory, application="lm", strict=True)


TINY = BertConfig(vocabulary_size=20, hidden_size=8, num_layers=2, num_heads=2, intermediate_size=16, max_position=16)


def doctored_checkpoint(tmp_path, drop=(), reshape=None, config_changes=None):
    """A tiny TF1 checkpoint written by us, then edited the way real files go wrong."""
    source = save_tf1_checkpoint(build_transformer(TINY, "lm"), tmp_path / "source")
    reader = tf.train.load_checkpoint(str(source / "bert_model.ckpt"))
    tensors = {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map() if name not in drop}
    if reshape:
        name, shape = reshape
        tensors[name] = np.zeros(shape, "float32")
    target = tmp_path / "doctored"
    target.mkdir()
    tf.raw_ops.SaveV2(prefix=str(target / "bert_model.ckpt"), tensor_names=list(tensors),
                      shape_and_slices=[""] * len(tensors), tensors=list(tensors.values()))
    config = json.loads((source / "bert_config.json").read_text()) | (config_changes or {})
    (target / "bert_config.json").write_text(json.dumps(config))
    return target


def test_mis_shaped_tensor_names_tensor_shapes_and_file(tmp_path):
    name = "bert/encoder/layer_1/intermediate/dense/kernel"
    path = doctored_checkpoint(tmp_path, reshape=(name, (8, 12)))
    with pytest.raises(CheckpointError) as error:
        load_bert(path, application="lm")
    message = str(error.value)
    assert name in message and "(8, 12)" in message and "(8, 16)" in message and str(path) in message


def test_missing_tensor_is_listed(tmp_path):
    path = doctored_checkpoint(tmp_path, drop=["bert/encoder/layer_0/attention/self/key/bias"])
    with pytest.warns(UserWarning, match="Transformer-0-MultiHeadSelfAttention/key/bias"):
        load_bert(path, application="lm")
    with pytest.raises(CheckpointError, match="key/bias"):
        load_bert(path, application="lm", strict=True)


def test_config_mismatch(tmp_path):
    path = doctored_checkpoint(tmp_path, config_changes={"num_hidden_layers": 1})
    with pytest.raises(CheckpointError, match=r"num_layers=1.*layers \[1\]"):
        load_bert(path)
    path = doctored_checkpoint(tmp_path / "b", config_changes={"hidden_size": 16, "num_attention_heads": 2})
    with pytest.raises(CheckpointError, match=r"word_embeddings.*\(20, 8\).*\(20, 16\)"):
        load_bert(path)


def test_not_a_checkpoint_and_no_overwrite(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a BERT checkpoint"):
        load_bert(tmp_path)
    with pytest.raises(FileNotFoundError, match="No checkpoint"):
        load_bert(tmp_path / "nowhere")
    model = build_transformer(TINY, "encoder")
    (tmp_path / "taken").mkdir()
    with pytest.raises(FileExistsError, match="taken"):
        save_tf1_checkpoint(model, tmp_path / "taken")
    # A save that fails half-way (the vocabulary path is wrong) leaves nothing behind.
    with pytest.raises(FileNotFoundError):
        save_tf1_checkpoint(model, tmp_path / "out", vocabulary=tmp_path / "no-vocab-here")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_unused_tensors_reported(minilm):
    report = minilm[1].checkpoint_report
    assert "pooler.dense.weight" in report["unused"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the encoder application loads without any warning
        load_bert(minilm[0])
