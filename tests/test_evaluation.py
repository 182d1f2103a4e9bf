"""Title metrics: rouge-score / sacrebleu wiring, Chinese per character, bootstrap intervals, lead baseline."""

import numpy as np
import pytest

from keras_cgen import evaluation
from keras_cgen.families.autotitle import evaluate as autotitle


def test_identical_and_disjoint_titles():
    refs = ["python library for parsing xml", "text editor"]
    same = evaluation.score(refs, refs, "en", resamples=100)
    for name in ("rouge1", "rouge2", "rougeL", "bleu"):
        assert same[name].mean == pytest.approx(1.0)
    other = evaluation.score(["games", "fonts"], refs, "en", resamples=100)
    assert other["rougeL"].mean == 0.0 and other["bleu"].mean == 0.0


def test_rouge_values_match_a_hand_count():
    # LCS("a b c d", "a c d e") = 3 -> P = R = 3/4 -> F = 0.75; bigrams: {cd} shared of 3 -> 1/3.
    result = evaluation.score(["a c d e"], ["a b c d"], "en", resamples=10)
    assert result["rougeL"].mean == pytest.approx(0.75)
    assert result["rouge2"].mean == pytest.approx(1 / 3)


def test_chinese_is_scored_per_character():
    # rouge-score's own tokenizer keeps only [a-z0-9]: Chinese would score 0 against itself.
    result = evaluation.score(["命令行软件包管理"], ["命令行软件包管理器"], "zh_CN", resamples=10)
    assert result["rougeL"].mean == pytest.approx(2 * 8 / 17)
    assert result["bleu"].mean > 0.5


def test_bootstrap_interval_brackets_the_mean():
    values = np.random.default_rng(0).uniform(size=500)
    mean, low, high = evaluation.interval(values)
    assert low < mean < high and high - low < 0.1
    assert evaluation.interval(np.ones(50)) == (1.0, 1.0, 1.0)


def test_lead_baseline():
    assert autotitle.lead("Atril is a simple  multi-page viewer.", 3, "en") == "Atril is a"
    assert autotitle.lead("这是 一个简单程序", 4, "zh_CN") == "这是一个"
    assert autotitle.title_length(["a b c", "a", "a b c d e"], "en") == 3
    assert autotitle.title_length(["数学 游戏", "编辑器"], "zh_CN") == 3


def test_mismatched_lengths_are_an_error():
    with pytest.raises(ValueError, match="as many predictions as references"):
        evaluation.score(["a"], ["a", "b"], "en")


def test_title_form_counts_repeats_and_keeps_case():
    titles = ["qt qt qt model support library", "Qt model support library", "Qt model - model support"]
    form = autotitle.title_form(titles, ["Qt model support library"] * 3, "en", resamples=10)
    assert form["repeated_bigram"].mean == pytest.approx(1 / 3)  # "qt qt" twice; "model support" once each
    cased = autotitle.title_form(["qt model support library"], ["Qt model support library"], "en", resamples=10)
    assert cased["rougeL_cased"].mean == pytest.approx(2 * 3 / 8)  # "qt" != "Qt"
    assert evaluation.score(["qt model support library"], ["Qt model support library"], "en")["rougeL"].mean == 1.0
    assert "rougeL_cased" not in autotitle.title_form(["命令行"], ["命令行"], "zh_CN", resamples=10)


def test_training_lines_list_what_was_tried():
    from keras_cgen.evaluation.cards import training_lines
    from keras_cgen.zoo import ZooConfig

    trained = {"minutes": 3.5, "hardware": "2 cores", "finished": "2026-12-01", "command": "python a.py",
               "tried": ["a bigger backbone (`python a.py --big`): 61% vs 80%", "guidance 4: 86%"]}
    lines = training_lines(ZooConfig(family="unilm", vocabulary="vocab.txt", max_new_tokens=8, training=trained))
    assert lines.splitlines() == ["- Command: `python a.py`", "- Time: 3.5 minutes on 2 cores, 2026-12-01.",
                                  "- Tried, not kept: a bigger backbone (`python a.py --big`): 61% vs 80%",
                                  "- Tried, not kept: guidance 4: 86%"]
    assert "Tried" not in training_lines(ZooConfig(family="unilm", vocabulary="vocab.txt", max_new_tokens=8))
