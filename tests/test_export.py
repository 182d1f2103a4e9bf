"""Exports against the real runtimes: the SavedModel in a fresh TensorFlow
process and through `saved_model_cli`, the ONNX decode graph in onnxruntime."""

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import tensorflow as tf

from conftest import fixture_pairs
from keras_cgen import zoo
from keras_cgen.export import export_onnx
from keras_cgen.export import export_saved_model
from keras_cgen.text import pad_rows

BAD = ["", "   ", "x" * 10_000, "☃ ∮ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ☃"]
LANGUAGE = {"autotitle-tiny": "zh_CN", "autotitle-tiny-pointer": "zh_CN", "autotitle-tiny-unilm": "en"}

FRESH = """
import json, sys
import tensorflow as tf
meta = json.load(open(sys.argv[1] + "/assets.extra/keras_cgen.json"))
if "tensorflow-text" in meta["requires"]:
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops)
served = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
out = served(text=tf.constant(json.loads(sys.argv[2])))
print(json.dumps({"text": [t.decode() for t in out["text"].numpy()], "score": out["score"].numpy().tolist(),
                  "modules": sorted(m for m in sys.modules if m.split(".")[0] in ("keras_cgen", "keras_hub"))}))
"""


def held_out(name, n=4):
    return [p["body"] for p in fixture_pairs(LANGUAGE[name])["test"][:n]]


@pytest.mark.parametrize("name", ["autotitle-tiny", "autotitle-tiny-pointer", "autotitle-tiny-unilm"])
def test_saved_model_answers_like_generate_in_a_fresh_process(zoo_env, tmp_path, name):
    generator = zoo.load(name)
    path = export_saved_model(generator, tmp_path / "serving", version=1, num_beams=2)
    good = held_out(name) + BAD[2:]  # generate() refuses only empty texts
    texts = good + BAD[:2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        titles, scores = generator.generate(good, num_beams=2, return_scores=True)
    result = subprocess.run([sys.executable, "-c", FRESH, str(path), json.dumps(texts)], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    served = json.loads(result.stdout.strip().splitlines()[-1])
    assert served["modules"] == []  # TensorFlow alone serves it: no keras-cgen, no keras-hub
    assert served["text"][: len(good)] == titles  # held-out, 10,000 characters, outside the vocabulary
    np.testing.assert_allclose(served["score"][: len(good)], scores, rtol=1e-4, atol=1e-4)
    assert len(served["text"]) == len(texts) and all(np.isfinite(served["score"]))  # every bad row answered
    metadata = json.loads((path / "assets.extra" / "keras_cgen.json").read_text())
    assert metadata["generation"]["num_beams"] == 2
    assert metadata["requires"] == (["tensorflow", "tensorflow-text"] if name.endswith("unilm") else ["tensorflow"])


def test_saved_model_cli_show_and_run(zoo_env, tmp_path):
    path = export_saved_model(zoo.load("autotitle-tiny"), tmp_path / "serving", version=3, num_beams=1)
    cli = [os.path.join(os.path.dirname(sys.executable), "saved_model_cli")]  # shipped with tensorflow
    shown = subprocess.run(cli + ["show", "--dir", str(path), "--tag_set", "serve", "--signature_def",
                                  "serving_default"], capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "inputs['text'] tensor_info:\n      dtype: DT_STRING" in shown.stdout
    assert "outputs['score'] tensor_info:\n      dtype: DT_FLOAT" in shown.stdout
    ran = subprocess.run(cli + ["run", "--dir", str(path), "--tag_set", "serve", "--signature_def",
                                "serving_default", "--input_exprs", 'text=["一个文本编辑器", ""]'],
                         capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr[-2000:]
    title = zoo.load("autotitle-tiny").generate("一个文本编辑器", num_beams=1)
    assert "Result for output key text" in ran.stdout and repr(title.encode()) in ran.stdout


def test_versions_are_never_overwritten_or_left_half_written(zoo_env, tmp_path, monkeypatch):
    generator = zoo.load("autotitle-tiny")
    export_saved_model(generator, tmp_path / "serving", version=1, num_beams=1)
    before = sorted(p.name for p in (tmp_path / "serving" / "1").rglob("*"))
    with pytest.raises(FileExistsError, match="never overwritten"):
        export_saved_model(generator, tmp_path / "serving", version=1)
    assert sorted(p.name for p in (tmp_path / "serving" / "1").rglob("*")) == before

    def disk_full(trackable, directory, **kwargs):  # fails after writing part of the export
        open(os.path.join(directory, "saved_model.pb"), "w").write("partial")
        raise OSError("No space left on device")

    monkeypatch.setattr(tf.saved_model, "save", disk_full)
    with pytest.raises(OSError, match="No space left"):
        export_saved_model(generator, tmp_path / "serving", version=2)
    assert sorted(p.name for p in (tmp_path / "serving").iterdir()) == ["1"]
    with pytest.raises(ValueError, match="`version` must be a positive int"):
        export_saved_model(generator, tmp_path / "serving", version=0)


@pytest.mark.parametrize("name", ["autotitle-tiny", "autotitle-tiny-pointer", "autotitle-tiny-unilm"])
def test_onnx_decode_loop_gives_the_keras_ids(zoo_env, tmp_path, name):
    import onnx
    import onnxruntime

    generator = zoo.load(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ids = pad_rows([generator.source_ids(text, i) for i, text in enumerate(held_out(name) + BAD[2:])])
    for beams in (1, 4):
        out = export_onnx(generator, tmp_path / f"onnx-{beams}", num_beams=beams)
        proto = onnx.load(out / "model.onnx")
        assert "Loop" in {node.op_type for node in proto.graph.node}
        assert {o.domain or "ai.onnx": o.version for o in proto.opset_import}["ai.onnx"] == 17
        session = onnxruntime.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
        got = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"source_ids": ids})))
        want = generator.decode([row[row != 0] for row in ids], **json.loads((out / "metadata.json").read_text())[
            "generation"])
        np.testing.assert_array_equal(got["sequences"], want.sequences.numpy())
        np.testing.assert_allclose(got["scores"], want.scores.numpy(), rtol=1e-4, atol=1e-4)
    assert (out / generator.config["vocabulary"]).is_file()


def test_cli_export_and_serve_check(zoo_env, tmp_path, capsys):
    from keras_cgen import cli

    base = tmp_path / "serving"
    assert cli.main(["export", "autotitle-tiny", "--format", "saved_model", "--out", str(base), "--num-beams", "1"]) == 0
    assert cli.main(["export", "autotitle-tiny", "--format", "onnx", "--out", str(tmp_path / "onnx")]) == 0
    capsys.readouterr()
    for folder in (base, tmp_path / "onnx"):
        assert cli.main(["serve-check", str(folder)]) == 0
        out = capsys.readouterr().out
        assert "answered 6 requests" in out and len(out.strip().splitlines()) == 7
    assert cli.main(["export", "autotitle-tiny", "--format", "saved_model", "--out", str(base)]) == 2
    assert "exists" in capsys.readouterr().err
    assert cli.main(["serve-check", str(tmp_path)]) == 1
    assert "is not an export" in capsys.readouterr().err
