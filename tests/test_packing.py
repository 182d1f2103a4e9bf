"""One packing per family: the rows `train` fits on are the rows `generate`,
the ONNX client and the SavedModel graph read (real excerpt texts, cut at
the model's limits)."""

import numpy as np
import pytest
import tensorflow as tf

from conftest import fixture_pairs
from keras_cgen.families.autotitle.preprocess import lstm_arrays
from keras_cgen.families.autotitle.preprocess import unilm_rows
from keras_cgen.families.conditional_lm.preprocess import lm_row


@pytest.mark.parametrize("name, language", [("autotitle-tiny", "zh_CN"), ("autotitle-tiny-unilm", "en")])
def test_title_sources_are_packed_once(loaded, name, language):
    gen = loaded(name)
    limit, tail = gen.config.max_source_length, gen.config.source_tail
    pairs = [p for p in fixture_pairs(language)["train"] if p["body"].strip()][:6]
    assert any(len(gen.vocabulary.encode(p["body"])) > limit for p in pairs)  # some are cut
    bodies = [p["body"] for p in pairs]
    with pytest.warns(UserWarning):
        generated = [gen.source_ids(body, i) for i, body in enumerate(bodies)]
    client = gen.client_feed(bodies, gen.input_metadata(), gen.vocabulary)
    serving = gen.serving_prepare(tf.constant(bodies)).numpy()
    if gen.config.family == "lstm_seq2seq":
        trained = lstm_arrays(pairs, gen.vocabulary, limit, tail, 5)[0]["source_ids"]
    else:  # the source segment of [CLS] body [SEP] title [SEP], without its [CLS] and [SEP]
        trained = [ids[1: segments.index(1) - 1] for ids, segments in unilm_rows(pairs, gen.vocabulary, limit, tail, 5)]
    for i, ids in enumerate(generated):
        for other in (trained[i], client[i], serving[i]):
            np.testing.assert_array_equal(np.trim_zeros(np.asarray(other), "b"), ids)


def test_unilm_rows_frame_the_source_as_generate_does(loaded):
    gen = loaded("autotitle-tiny-unilm")
    pair = fixture_pairs("en")["train"][0]
    ids, segments = unilm_rows([pair], gen.vocabulary, gen.config.max_source_length, gen.config.source_tail, 5)[0]
    source = gen.source_ids(pair["body"], 0)
    assert ids[: segments.index(1)] == [gen.vocabulary.start_id, *source, gen.vocabulary.end_id]
    assert set(segments[segments.index(1):]) == {1} and ids[-1] == gen.vocabulary.end_id


@pytest.mark.parametrize("name", ["sentiment-tiny", "sentiment-tiny-first"])
def test_conditional_lm_rows_start_where_generate_starts(loaded, name):
    gen = loaded(name)
    for i, label in enumerate(gen.labels):
        row = lm_row(gen.vocabulary, gen.conditioning, "很好", label, 10)
        assert row[0] == gen.first_ids[i] and row[-1] == gen.vocabulary.end_id
    if gen.conditioning == "first_token":
        assert len(set(gen.first_ids.tolist())) == len(gen.labels)  # each label its own first token
