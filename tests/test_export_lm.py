"""Exports of the language models (character LM, conditional LM) against the
real runtimes: a fresh TensorFlow process and onnxruntime."""

import json
import subprocess
import sys

import numpy as np
import pytest

from keras_cgen import zoo
from keras_cgen.export import export_onnx
from keras_cgen.export import export_saved_model

FRESH = """
import json, sys
import tensorflow as tf
path, name, requests, seed = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])
loaded = tf.saved_model.load(path)
answers = {}
for signature, extra in (("serving_default", {}), ("seeded", {"seed": tf.constant(seed)})):
    if signature in loaded.signatures:
        out = loaded.signatures[signature](**{name: tf.constant(requests)}, **extra)
        answers[signature] = {"text": [t.decode() for t in out["text"].numpy()], "score": out["score"].numpy().tolist()}
print(json.dumps(answers))
"""


def serve(path, name, requests, seed=7):
    result = subprocess.run([sys.executable, "-c", FRESH, str(path), name, json.dumps(requests), str(seed)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_char_lm_saved_model(tiny_lm_zoo, tmp_path):
    generator = zoo.load(tiny_lm_zoo / "charrnn-tiny")
    prompts = ["KING.\n", "Ham.\nTo be", "", "x" * 10_000, "☃ 𝔘𝔫𝔦"]
    greedy = export_saved_model(generator, tmp_path / "greedy", version=1, do_sample=False, max_new_tokens=15)
    served = serve(greedy, "text", prompts)
    assert set(served) == {"serving_default"}  # nothing random: no seeded signature
    assert served["serving_default"]["text"] == generator.generate(prompts, do_sample=False, max_new_tokens=15)

    sampled = export_saved_model(generator, tmp_path / "sampled", version=1, max_new_tokens=15)
    served = serve(sampled, "text", prompts[:2], seed=7)
    want = generator.generate(prompts[:2], max_new_tokens=15, seed=7, jit_compile=False)
    assert served["seeded"]["text"] == want
    assert len(served["serving_default"]["text"]) == 2  # a fresh seed per request


def test_conditional_lm_saved_model(tiny_lm_zoo, tmp_path):
    generator = zoo.load(tiny_lm_zoo / "sentiment-tiny")
    path = export_saved_model(generator, tmp_path / "serving", version=1, max_new_tokens=12)
    metadata = json.loads((path / "assets.extra" / "keras_cgen.json").read_text())
    assert metadata["signature"]["inputs"] == {"condition": "string [None]"} and metadata["labels"] == generator.labels
    served = serve(path, "condition", ["positive", "negative", "", "neutral"], seed=3)
    want = [rows[0] for rows in generator.generate(["positive", "negative"], max_new_tokens=12, seed=3,
                                                   jit_compile=False)]
    assert served["seeded"]["text"][:2] == want
    assert served["seeded"]["text"][2:] == ["", ""] and served["seeded"]["score"][2:] == [0.0, 0.0]


@pytest.mark.parametrize("name", ["charrnn-tiny", "sentiment-tiny"])
def test_lm_onnx_gives_the_keras_ids(tiny_lm_zoo, tmp_path, name):
    import onnxruntime

    generator = zoo.load(tiny_lm_zoo / name)
    out = export_onnx(generator, tmp_path / "onnx", max_new_tokens=10)
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["generation"]["do_sample"] is False  # sampling has no ONNX operator: greedy instead
    session = onnxruntime.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    if name == "charrnn-tiny":
        feed = generator.prompt_ids(["KING.\n", "Ham."])
        want = generator.decoder.generate(feed, **metadata["generation"])
    else:
        feed = np.eye(2, dtype="float32")
        want = generator.decoder.generate(
            {"token_ids": np.full((2, 1), generator.vocabulary.start_id, "int32"), "condition": feed},
            **metadata["generation"])
    sequences, scores = session.run(["sequences", "scores"], {next(iter(metadata["inputs"])): feed})
    np.testing.assert_array_equal(sequences, want.sequences.numpy())
    np.testing.assert_allclose(scores, want.scores.numpy(), rtol=1e-4, atol=1e-4)


def test_cli_exports_and_serve_checks_an_lm(tiny_lm_zoo, tmp_path, capsys):
    from keras_cgen import cli

    folder = str(tiny_lm_zoo / "sentiment-tiny")
    assert cli.main(["export", folder, "--format", "saved_model", "--out", str(tmp_path / "sm")]) == 0
    capsys.readouterr()
    assert cli.main(["serve-check", str(tmp_path / "sm")]) == 0
    assert "answered 4 requests" in capsys.readouterr().out
