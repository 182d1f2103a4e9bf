"""FUDGE: the future-discriminator logits processor, against numpy and inside the engine."""

import keras
import numpy as np
import pytest

from keras_cgen.decoding import generate
from keras_cgen.families.diffusion_lm.fudge import FudgeProcessor
from keras_cgen.families.diffusion_lm.fudge import build_prefix_classifier


def test_processor_rescores_the_top_k_against_numpy():
    keras.utils.set_random_seed(0)
    classifier = build_prefix_classifier(10, 3, embedding_dim=4, units=8)
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((2, 10)).astype("float32")
    context = rng.integers(0, 10, (2, 6)).astype("int32")
    out = FudgeProcessor(classifier, class_id=2, top_k=4)(logits, context, 3).numpy()
    for row in range(2):
        top = np.argsort(-logits[row])[:4]
        for token in range(10):
            if token not in top:
                assert out[row, token] == -np.inf
                continue
            sequence = context[row].copy()
            sequence[3] = token
            log_probs = keras.ops.log_softmax(classifier(sequence[None]), axis=-1).numpy()[0, 3]
            np.testing.assert_allclose(out[row, token], logits[row, token] + log_probs[2], rtol=1e-5)
    with pytest.raises(ValueError, match="`class_id` must be an int in 0..2"):
        FudgeProcessor(classifier, class_id=3)


def test_engine_samples_more_of_what_the_classifier_wants():
    # a bigram table as the LM; a "classifier" that reads only the newest token and likes token 2 for class 1
    table = np.log(np.array([[.1, .6, .3], [.1, .1, .8], [.7, .2, .1]], "float32"))
    step = lambda last, state, index: (keras.ops.take(table, last, axis=0), state)  # noqa: E731
    token_ids = keras.Input((None,), dtype="int32")
    embedding = keras.layers.Embedding(3, 2)
    classifier = keras.Model(token_ids, embedding(token_ids))
    embedding.set_weights([np.array([[0, -3], [0, -3], [0, 3]], "float32")])

    def share_of_twos(processors):
        out = generate(step, {}, np.zeros([200], "int32"), max_new_tokens=6, do_sample=True, seed=1,
                       logits_processors=processors)
        return (out.sequences.numpy() == 2).mean()

    plain, steered = share_of_twos(()), share_of_twos((FudgeProcessor(classifier, class_id=1, top_k=3),))
    assert steered > plain + 0.3


def test_prefix_classifier_folder_round_trip(tmp_path):
    from keras_cgen import zoo
    from keras_cgen.families.diffusion_lm.fudge import load_prefix_classifier

    keras.utils.set_random_seed(0)
    builder = {"vocabulary_size": 12, "num_classes": 3, "embedding_dim": 4, "units": 8}
    classifier = build_prefix_classifier(**builder)
    zoo.write_zoo_folder(tmp_path / "fudge", {
        "prefix_classifier.json": {"builder": builder, "labels": ["a", "b", "c"]},
        "prefix_classifier.safetensors": lambda path: zoo.save_weights(classifier, path)})
    loaded, labels = load_prefix_classifier(tmp_path / "fudge")
    ids = np.arange(10, dtype="int32").reshape(2, 5)
    assert labels == ["a", "b", "c"]
    np.testing.assert_allclose(loaded(ids), classifier(ids), atol=2e-3)  # fp16 weights
    (tmp_path / "fudge" / "prefix_classifier.json").write_text("{}")
    with pytest.raises(ValueError, match="Checksum mismatch"):
        load_prefix_classifier(tmp_path / "fudge")
