"""The real zoo models give the outputs recorded before the family-contract
refactor (titles and scores, seeded samples, captions and scores).

`python tests/test_zoo_outputs.py --record [NAME...]` rewrites the record (of
those models); do that only when a model's weights or decoding are meant to
change, and say why in the commit.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

RECORD = Path(__file__).parent / "fixtures" / "zoo_outputs.json"
TITLE_TEXTS = {
    "en": ["Atril is a simple multi-page document viewer. It can display and print PostScript (PS), "
           "Encapsulated PostScript (EPS), DJVU, DVI, XPS and Portable Document Format (PDF) files.",
           "This package contains the Python 3 bindings for the GObject introspection library."],
    "zh_CN": ["这是一个允许你从 Shell 创建 X 菜单的简单程序。", "一个基于数学的解谜游戏，玩家需要填满格子。"],
}


def images():
    """Two deterministic 64x64 pictures: a red disc on white and a blue gradient."""
    y, x = np.mgrid[:64, :64]
    disc = np.ones((64, 64, 3), "float32")
    disc[(x - 32) ** 2 + (y - 32) ** 2 < 400] = [0.9, 0.1, 0.1]
    gradient = np.stack([x / 63.0, y / 63.0, np.full((64, 64), 0.8)], axis=-1).astype("float32")
    return [disc, gradient]


def outputs(name):
    """What the record holds for zoo model `name`."""
    import keras_cgen

    generator = keras_cgen.zoo.load(name)
    family = generator.config.family
    if family in ("lstm_seq2seq", "unilm"):
        texts = TITLE_TEXTS[generator.config.language]
        beam, beam_scores = generator.generate(texts, num_beams=4, return_scores=True)
        greedy, greedy_scores = generator.generate(texts, num_beams=1, return_scores=True)
        return {"beam": beam, "beam_scores": beam_scores, "greedy": greedy, "greedy_scores": greedy_scores}
    if family == "char_rnn":
        return {"sampled": generator.generate("KING.\n", max_new_tokens=60, seed=0),
                "greedy": generator.generate("KING.\n", max_new_tokens=60, do_sample=False)}
    if family == "conditional_lm":
        return {"sampled": generator.generate(generator.labels, n=2, max_new_tokens=30, seed=0)}
    if family == "image_caption":
        beam, scores = generator.generate(images(), num_beams=4, return_scores=True)
        return {"beam": beam, "beam_scores": scores}
    raise AssertionError(f"no recorded outputs for family {family!r}")


def recorded():
    return json.loads(RECORD.read_text(encoding="utf-8"))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(recorded()))
def test_zoo_model_outputs_unchanged(name):
    expected, actual = recorded()[name], outputs(name)
    assert set(actual) == set(expected)
    for key, value in expected.items():
        if key.endswith("scores"):
            np.testing.assert_allclose(actual[key], value, atol=2e-3, err_msg=f"{name} {key}")
        else:
            assert actual[key] == value, f"{name} {key}"


if __name__ == "__main__" and sys.argv[1:2] == ["--record"]:
    # `--record` rewrites every recorded model; `--record NAME...` only those
    record = recorded()
    record.update({name: outputs(name) for name in sys.argv[2:] or sorted(record)})
    RECORD.write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(RECORD.read_text(encoding="utf-8"))
