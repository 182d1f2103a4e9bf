import keras
import numpy as np
import pytest

from conftest import roundtrip_keras_file
from keras_cgen import zoo
from keras_cgen.data.shakespeare import VALID_PLAYS, TEST_PLAYS, load_works
from keras_cgen.families.char_lm.evaluate import char_lm_loss
from keras_cgen.families.char_lm import CharRNNDecoder
from keras_cgen.families.char_lm import build_char_rnn
from keras_cgen.text import CharVocabulary


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(3)
    return build_char_rnn(30, embedding_dim=8, hidden_units=12, num_layers=2)


def test_works_split_by_play(fixture_cache):
    splits = load_works()
    assert set(splits["valid"]) == set(VALID_PLAYS) and set(splits["test"]) == set(TEST_PLAYS)
    assert set(splits["train"]) == {"lear", "tempest", "sonnets"}  # the First Folio copy (_gut_f) is left out
    text = splits["valid"]["hamlet"]
    assert "\r" not in text and "\n\n\n" not in text and text.startswith("HAMLET")


def test_raw_vocabulary_keeps_case_and_newlines(tmp_path):
    vocabulary = CharVocabulary.build(["Who's there?\nNay, answer me"], min_count=1, raw=True)
    text = "Who's there?\nNay"
    assert vocabulary.decode(vocabulary.encode(text)) == text
    vocabulary.save(tmp_path / "v.json")
    restored = CharVocabulary.load(tmp_path / "v.json")
    assert restored.raw and restored.tokens == vocabulary.tokens
    assert CharVocabulary.build(["AB  c"], min_count=1).decode(CharVocabulary.build(["AB  c"], min_count=1)
                                                                  .encode("AB  c")) == "ab c"


def test_shapes_and_keras_file(model, tmp_path):
    ids = np.array([[1, 2, 3, 4], [5, 6, 7, 8]], "int32")
    assert tuple(model(ids).shape) == (2, 4, 30)
    roundtrip_keras_file(model, tmp_path, ids)


def test_steps_equal_the_full_model(model):
    """Feeding one character per step through the cells gives the logits of the
    whole-sequence model at every position."""
    ids = np.array([[4, 9, 2, 7, 7, 1], [3, 3, 8, 2, 5, 6]], "int32")
    full = np.asarray(model(ids))
    decoder = CharRNNDecoder(model)
    state, _, shared = decoder.init(ids, max_new_tokens=1)
    for t in range(ids.shape[1]):
        logits, state = decoder.step(ids[:, t], state, t, shared, "where")
        np.testing.assert_allclose(np.asarray(logits), full[:, t], atol=1e-5)


def test_left_padding_does_not_change_generation(model):
    decoder = CharRNNDecoder(model)
    alone = decoder.generate(np.array([[5, 6, 7]]), max_new_tokens=8).sequences.numpy()
    padded = decoder.generate(np.array([[0, 0, 5, 6, 7], [1, 2, 3, 4, 5]]), max_new_tokens=8).sequences.numpy()
    np.testing.assert_array_equal(alone[0], padded[0])


def test_one_training_step_lowers_the_loss(model):
    keras.utils.set_random_seed(0)
    fresh = build_char_rnn(30, embedding_dim=8, hidden_units=12)
    fresh.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=True)
    x = np.tile(np.arange(1, 11, dtype="int32"), (8, 3))
    before = fresh.evaluate(x[:, :-1], x[:, 1:], verbose=0)
    fresh.fit(x[:, :-1], x[:, 1:], epochs=5, verbose=0)
    assert fresh.evaluate(x[:, :-1], x[:, 1:], verbose=0) < before


def test_zoo_generator(loaded, fixture_cache):
    generator = loaded("charrnn-tiny")
    one = generator.generate("KING.\n", max_new_tokens=12, seed=1)
    assert isinstance(one, str) and 0 < len(one) <= 12
    assert one == generator.generate("KING.\n", max_new_tokens=12, seed=1)
    many = generator.generate(["KING.\n", "Ham"], n=3, max_new_tokens=5, seed=2)
    assert len(many) == 2 and all(len(rows) == 3 for rows in many)
    greedy = generator.generate(None, do_sample=False, max_new_tokens=6)
    assert greedy == generator.generate("", do_sample=False, max_new_tokens=6)
    with pytest.raises(ValueError, match="prompts"):
        generator.generate([])
    with pytest.raises(ValueError, match="temperature"):
        generator.generate("a", temperature=0)


def test_loss_of_a_uniform_model_is_log_vocabulary(tiny_zoo, fixture_cache):
    generator = zoo.load(tiny_zoo / "charrnn-tiny")
    for variable in generator.model.get_layer("Output-Logits").weights:
        variable.assign(np.zeros(variable.shape, "float32"))
    text = load_works()["valid"]["hamlet"]
    np.testing.assert_allclose(char_lm_loss(generator, text, window=64), np.log(len(generator.vocabulary)),
                               rtol=1e-5)


def test_card_from_a_measured_report(tiny_zoo, fixture_cache):
    from keras_cgen.families.char_lm.evaluate import evaluate
    from keras_cgen.families.char_lm.evaluate import write_card

    folder = tiny_zoo / "charrnn-tiny"
    report = evaluate(str(folder), runs=1)
    assert report["loss"]["valid"] > 0 and set(report["samples"]) == {"0.5", "1.0", "1.2"}
    assert all(speed > 0 for speed in report["tokens_per_second"].values())
    write_card(report, folder, "cgen evaluate charrnn-tiny --write-card")
    card = (folder / "MODEL_CARD.md").read_text()
    assert f"| valid | {report['loss']['valid']:.3f} |" in card and "hamlet" in card
    zoo.verify(folder)  # the manifest covers the new files
