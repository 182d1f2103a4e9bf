"""The decoding engine against brute force and a plain-Python beam search."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_cgen.decoding import generate

V, HASHES, EOS = 3, 97, 0


def make_model(seed, vocabulary=V, sharp=2.0):
    """A stateful toy LM: logits depend on the whole prefix through a hash
    carried in the state, so beams only work if the engine reorders state."""
    table = np.random.default_rng(seed).normal(size=(HASHES, vocabulary)).astype("float32") * sharp

    def next_hash(h, token):
        return (h * 31 + token + 1) % HASHES

    def step(last, state, index):
        h = next_hash(state["hash"], ops_cast(last))
        return keras.ops.take(table, h, axis=0), {"hash": h}

    def logits_of(prefix):  # the same function, for brute force: prefix starts with the start token
        h = 0
        for token in prefix:
            h = next_hash(h, token)
        return table[h]

    return step, logits_of


def ops_cast(x):
    return keras.ops.cast(x, "int32")


def log_softmax(x):
    x = x - x.max()
    return x - np.log(np.exp(x).sum())


def initial_state(batch):
    return {"hash": np.zeros((batch,), "int32")}


def test_greedy_matches_step_by_step_argmax():
    step, logits_of = make_model(0, vocabulary=7)
    starts = [1, 2, 3, 4, 5]
    out = generate(step, initial_state(5), np.array(starts), max_new_tokens=6, eos_token_id=EOS)
    for row, start in enumerate(starts):
        prefix, expected, score = [start], [], 0.0
        while len(expected) < 6:
            lp = log_softmax(logits_of(prefix))
            token = int(lp.argmax())
            expected.append(token)
            score += lp[token]
            prefix.append(token)
            if token == EOS:
                break
        expected += [0] * (6 - len(expected))
        assert out.sequences[row, 0].numpy().tolist() == expected
        np.testing.assert_allclose(out.scores[row, 0], score, rtol=1e-5)


def all_hypotheses(logits_of, start, max_new, length_penalty):
    """Every finished sequence: ends with EOS before max_new, or reaches max_new."""
    hypotheses = []
    for length in range(1, max_new + 1):
        for tokens in itertools.product(range(V), repeat=length):
            if EOS in tokens[:-1] or (length < max_new and tokens[-1] != EOS):
                continue
            prefix, total = [start], 0.0
            for token in tokens:
                total += log_softmax(logits_of(prefix))[token]
                prefix.append(token)
            hypotheses.append((total / length ** length_penalty, list(tokens) + [0] * (max_new - length)))
    return sorted(hypotheses, key=lambda h: -h[0])


@pytest.mark.parametrize("length_penalty", [0.0, 1.0, 2.0])
def test_wide_beam_search_is_exhaustive_search(length_penalty):
    # With more beams than live candidates and early_stopping="never", beam
    # search explores everything: its best 3 are the brute-force best 3.
    step, logits_of = make_model(1)
    max_new = 4
    out = generate(step, initial_state(2), np.array([1, 2]), max_new_tokens=max_new, num_beams=32,
                   num_return_sequences=3, eos_token_id=EOS, length_penalty=length_penalty, early_stopping="never")
    for row, start in enumerate([1, 2]):
        best = all_hypotheses(logits_of, start, max_new, length_penalty)[:3]
        assert out.sequences[row].numpy().tolist() == [h[1] for h in best]
        np.testing.assert_allclose(out.scores[row].numpy(), [h[0] for h in best], rtol=1e-5)


def reference_beam_search(logits_of, start, beams, max_new, length_penalty, early_stopping, count):
    """Hugging Face's vectorised beam search written as plain per-row Python."""
    keep = 2 * beams
    running = [(0.0, [])]
    finished = []  # (score, tokens)
    open_row = True
    for i in range(max_new):
        candidates = []
        for score, tokens in running:
            lp = log_softmax(logits_of([start] + tokens))
            candidates += [(score + lp[t], tokens + [t]) for t in range(V)]
        candidates.sort(key=lambda c: -c[0])
        candidates = candidates[:keep]
        hits = [c[1][-1] == EOS or i + 1 >= max_new for c in candidates]
        full = early_stopping is True and len(finished) == beams
        for rank, (candidate, hit) in enumerate(zip(candidates, hits)):
            if hit and rank < beams and open_row and not full:
                finished.append((candidate[0] / (i + 1) ** length_penalty, candidate[1]))
        finished = sorted(finished, key=lambda f: -f[0])[:beams]
        running = [c for c, hit in zip(candidates, hits) if not hit][:beams]
        if not running:
            break
        best_length = max_new if early_stopping == "never" and length_penalty > 0 else i + 1
        best_possible = running[0][0] / best_length ** length_penalty
        worst = min(f[0] for f in finished) if len(finished) == beams else -1e9
        open_row = open_row and best_possible > worst
        if not open_row or (early_stopping is True and len(finished) == beams):
            break
    return [(s, t + [0] * (max_new - len(t))) for s, t in finished[:count]]


@pytest.mark.parametrize("early_stopping", [True, False, "never"])
@pytest.mark.parametrize("length_penalty", [1.0, 0.5, -1.0])
def test_beam_search_matches_reference(early_stopping, length_penalty):
    step, logits_of = make_model(2, sharp=1.0)
    starts = [1, 2, 3, 4]
    out = generate(step, initial_state(4), np.array(starts), max_new_tokens=6, num_beams=3, num_return_sequences=2,
                   eos_token_id=EOS, length_penalty=length_penalty, early_stopping=early_stopping)
    for row, start in enumerate(starts):
        expected = reference_beam_search(logits_of, start, 3, 6, length_penalty, early_stopping, 2)
        assert out.sequences[row].numpy().tolist() == [e[1] for e in expected]
        np.testing.assert_allclose(out.scores[row].numpy(), [e[0] for e in expected], rtol=1e-5)


def test_early_stopping_true_stops_at_the_first_full_pool():
    # A start where ending now is likely but a long continuation scores better per token.
    table = np.log(np.array([
        [0.50, 0.30, 0.20],   # after start/0
        [0.02, 0.97, 0.01],   # after 1: keep going with 1
        [0.60, 0.20, 0.20],   # after 2
    ], "float32"))
    step = lambda last, state, index: (keras.ops.take(table, last, axis=0), state)  # noqa: E731
    kwargs = dict(max_new_tokens=6, num_beams=2, eos_token_id=EOS, length_penalty=1.0)
    eager = generate(step, {}, np.array([0]), early_stopping=True, num_return_sequences=2, **kwargs)
    never = generate(step, {}, np.array([0]), early_stopping="never", **kwargs)
    # Step 1 finishes [0]; step 2 finishes [2, 0]: the pool of 2 is full, stop.
    assert eager.sequences[0].numpy().tolist() == [[0, 0, 0, 0, 0, 0], [2, 0, 0, 0, 0, 0]]
    np.testing.assert_allclose(eager.scores[0], [np.log(0.5), (np.log(0.2) + np.log(0.6)) / 2], rtol=1e-5)
    assert never.sequences[0, 0].numpy().tolist() == [1, 1, 1, 1, 1, 1]
    assert never.scores[0, 0] > eager.scores[0, 0]


def test_sampling_is_seeded_and_follows_the_probabilities():
    probs = np.array([0.5, 0.3, 0.15, 0.05], "float32")
    step = lambda last, state, index: (keras.ops.log(keras.ops.tile(probs[None], (keras.ops.shape(last)[0], 1))), state)  # noqa: E731
    starts = np.zeros((2000,), "int32")
    a = generate(step, {}, starts, max_new_tokens=3, do_sample=True, seed=7)
    b = generate(step, {}, starts, max_new_tokens=3, do_sample=True, seed=7)
    c = generate(step, {}, starts, max_new_tokens=3, do_sample=True, seed=8)
    np.testing.assert_array_equal(a.sequences, b.sequences)
    assert (a.sequences.numpy() != c.sequences.numpy()).any()
    counts = np.bincount(a.sequences.numpy().ravel(), minlength=4)
    expected = probs * counts.sum()
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 16.27  # p = 0.001 for 3 degrees of freedom
    # temperature, top-k and top-p change the distribution as they should
    hot = generate(step, {}, starts, max_new_tokens=1, do_sample=True, seed=1, temperature=0.25).sequences.numpy()
    assert (hot == 0).mean() > 0.8
    top2 = generate(step, {}, starts, max_new_tokens=2, do_sample=True, seed=1, top_k=2).sequences.numpy()
    assert set(np.unique(top2)) == {0, 1}
    nucleus = generate(step, {}, starts, max_new_tokens=2, do_sample=True, seed=1, top_p=0.79).sequences.numpy()
    assert set(np.unique(nucleus)) == {0, 1}   # 0.5 + 0.3 >= 0.79: the smallest set
    nucleus = generate(step, {}, starts, max_new_tokens=2, do_sample=True, seed=1, top_p=0.81).sequences.numpy()
    assert set(np.unique(nucleus)) == {0, 1, 2}


def test_num_return_sequences_for_sampling():
    step, _ = make_model(3)
    out = generate(step, initial_state(2), np.array([1, 2]), max_new_tokens=5, do_sample=True, seed=0,
                   num_return_sequences=4)
    assert out.sequences.shape == (2, 4, 5) and out.scores.shape == (2, 4)


def uniform_step(vocabulary=6):
    def step(last, state, index):
        return keras.ops.zeros((keras.ops.shape(last)[0], vocabulary)) + keras.ops.arange(vocabulary, dtype="float32")[None] * 1e-3, state
    return step


def test_min_new_tokens_and_eos_padding():
    table = np.log(np.array([[0.1, 0.9, 0.0 + 1e-9], [0.9, 0.05, 0.05], [0.9, 0.05, 0.05]], "float32"))
    step = lambda last, state, index: (keras.ops.take(table, last, axis=0), state)  # noqa: E731
    plain = generate(step, {}, np.array([0]), max_new_tokens=5, eos_token_id=0)
    assert plain.sequences[0, 0].numpy().tolist() == [1, 0, 0, 0, 0]
    forced = generate(step, {}, np.array([0]), max_new_tokens=5, eos_token_id=0, min_new_tokens=3, pad_token_id=9)
    assert forced.sequences[0, 0].numpy().tolist() == [1, 1, 1, 0, 9]


def test_repetition_penalty_no_repeat_ngram_and_bad_words():
    step = uniform_step()  # prefers the highest id, 5, every time
    out = generate(step, {}, np.array([[2, 5]]), max_new_tokens=4)
    assert out.sequences[0, 0].numpy().tolist() == [5, 5, 5, 5]
    out = generate(step, {}, np.array([[2, 5]]), max_new_tokens=4, repetition_penalty=2.0)
    # logits 0.005 (id 5) .. 0.001 (id 1), halved once seen: 5 (prompt) -> .0025 so 4 wins;
    # then 4 -> .002 so 3 wins; then 3 -> .0015 and 5 is the best again.
    assert out.sequences[0, 0].numpy().tolist() == [4, 3, 5, 5]
    out = generate(step, {}, np.array([[5, 5]]), max_new_tokens=3, no_repeat_ngram_size=2)
    assert out.sequences[0, 0].numpy().tolist() == [4, 5, 3]     # "5 5" and "5 4" already seen; then "4 5" -> next
    out = generate(step, {}, np.array([[1]]), max_new_tokens=3, bad_words_ids=[[5], [4, 3]])
    assert out.sequences[0, 0].numpy().tolist() == [4, 4, 4]
    out = generate(step, {}, np.array([[1]]), max_new_tokens=3, bad_words_ids=[[4, 4], [5]])
    assert out.sequences[0, 0].numpy().tolist() == [4, 3, 4]


def test_prompt_is_fed_through_the_state():
    step, logits_of = make_model(4, vocabulary=5)
    out = generate(step, initial_state(1), np.array([[3, 1, 4]]), max_new_tokens=3)
    prefix, expected = [3, 1, 4], []
    for _ in range(3):
        expected.append(int(logits_of(prefix).argmax()))
        prefix.append(expected[-1])
    assert out.sequences[0, 0].numpy().tolist() == expected


def test_compiles_with_xla_inside_a_user_function():
    step, _ = make_model(5)

    @tf.function(jit_compile=True)
    def run(starts):
        return generate(step, {"hash": tf.zeros_like(starts)}, starts, max_new_tokens=4, num_beams=2)

    out = run(tf.constant([1, 2, 1], tf.int32))
    eager = generate(step, initial_state(3), np.array([1, 2, 1]), max_new_tokens=4, num_beams=2, jit_compile=False)
    np.testing.assert_array_equal(out.sequences, eager.sequences)
    np.testing.assert_array_equal(out.sequences[0], out.sequences[2])  # the same input, the same answer


@pytest.mark.parametrize("kwargs, match", [
    (dict(max_new_tokens=0), r"max_new_tokens.*>= 1.*0"),
    (dict(max_new_tokens=3, num_beams=2, num_return_sequences=3), r"num_return_sequences.*<= num_beams \(2\)"),
    (dict(max_new_tokens=3, top_p=0.0, do_sample=True), r"top_p.*\(0, 1\]"),
    (dict(max_new_tokens=3, top_p=1.5, do_sample=True), r"top_p.*\(0, 1\]"),
    (dict(max_new_tokens=3, temperature=0.0, do_sample=True), r"temperature.*> 0"),
    (dict(max_new_tokens=3, do_sample=True, num_beams=2), r"num_beams.*do_sample"),
    (dict(max_new_tokens=3, top_k=-1), r"top_k"),
    (dict(max_new_tokens=3, min_new_tokens=5, eos_token_id=0), r"min_new_tokens.*\[0, max_new_tokens=3\]"),
    (dict(max_new_tokens=3, early_stopping="sometimes"), r"early_stopping"),
    (dict(max_new_tokens=3, repetition_penalty=0.0), r"repetition_penalty"),
    (dict(max_new_tokens=3, bad_words_ids=[[]]), r"bad_words_ids"),
    (dict(max_new_tokens=3, num_return_sequences=2), r"num_return_sequences.*greedy"),
    (dict(max_new_tokens=3, seed="x"), r"seed"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        generate(uniform_step(), {}, np.array([1]), **kwargs)


def test_empty_start_ids():
    with pytest.raises(ValueError, match=r"start_ids.*\(0,"):
        generate(uniform_step(), {}, np.zeros((0,), "int32"), max_new_tokens=2)
    with pytest.raises(ValueError, match=r"start_ids.*\(2, 0\)"):
        generate(uniform_step(), {}, np.zeros((2, 0), "int32"), max_new_tokens=2)
