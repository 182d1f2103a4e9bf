"""One export round trip per family, against the real runtimes: the
SavedModel in a fresh TensorFlow process (which imports neither keras-cgen nor
keras-hub) and the ONNX decode graph in onnxruntime, each giving `generate`'s
outputs. Both go through the same family-agnostic exporters and `serve_check`;
the test-only bigram family shows a new family needs no change there."""

import base64
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
from keras_cgen.export.check import serve_check

BAD_TEXTS = ["", "   ", "x" * 10_000, "☃ ∮ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ☃"]
FAMILY_MODELS = ["autotitle-tiny-pointer", "autotitle-tiny-unilm", "charrnn-tiny", "sentiment-tiny", "caption-tiny",
                 "bigram-tiny"]

FRESH = """
import base64, json, sys
import tensorflow as tf
path, requests, seed = sys.argv[1], [base64.b64decode(r) for r in json.loads(sys.argv[2])], int(sys.argv[3])
meta = json.load(open(path + "/assets.extra/keras_cgen.json"))
if "tensorflow-text" in meta["requires"]:
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops)
loaded = tf.saved_model.load(path)
name = next(iter(meta["signature"]["inputs"]))
answers = {}
for signature, extra in (("serving_default", {}), ("seeded", {"seed": tf.constant(seed)})):
    if signature in loaded.signatures:
        out = loaded.signatures[signature](**{name: tf.constant(requests)}, **extra)
        answers[signature] = {"text": [t.decode() for t in out["text"].numpy()], "score": out["score"].numpy().tolist()}
answers["modules"] = sorted(m for m in sys.modules if m.split(".")[0] in ("keras_cgen", "keras_hub"))
print(json.dumps(answers))
"""


def requests_and_expected(name, generator, emoji, **settings):
    """Requests (good ones first), and what `generate` answers for the good ones."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        if generator.config.family in ("lstm_seq2seq", "unilm"):
            good = [p["body"] for p in fixture_pairs(generator.config.language)["test"][:3]] + BAD_TEXTS[2:]
            return good + BAD_TEXTS[:2], generator.generate(good, return_scores=True, **settings)
        if generator.config.family == "image_caption":
            good = [r["image"] for r in emoji[1]["test"][:3]]
            return good + ["not an image"], generator.generate(good, return_scores=True, **settings)
        if generator.config.family == "conditional_lm":
            labels = generator.labels
            return labels + ["", "neutral"], ([rows[0] for rows in generator.generate(labels, **settings)], None)
        prompts = ["KING.\n", "Ham.\nTo be", "", "x" * 10_000, "☃ 𝔘𝔫𝔦"]
        return prompts, (generator.generate(prompts, **settings), None)


@pytest.mark.parametrize("name", FAMILY_MODELS)
def test_saved_model_answers_like_generate_in_a_fresh_process(loaded, emoji, tmp_path, name):
    generator = loaded(name)
    sampling = generator.config.generation.get("do_sample", False)
    # Untrained tiny models make near-ties: compare with generate's loop run as the SavedModel runs it (no XLA).
    settings = {"jit_compile": False, **({"seed": 7} if sampling else {})}
    path = export_saved_model(generator, tmp_path / "serving", version=1)
    requests, (texts, scores) = requests_and_expected(name, generator, emoji, **settings)
    payload = [base64.b64encode(data).decode() for data in generator.request_bytes(requests)]
    result = subprocess.run([sys.executable, "-c", FRESH, str(path), json.dumps(payload), "7"], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    served = json.loads(result.stdout.strip().splitlines()[-1])
    assert served["modules"] == []  # TensorFlow alone serves it: no keras-cgen, no keras-hub
    answer = served["seeded" if sampling else "serving_default"]
    assert set(served) == {"modules", "serving_default"} | ({"seeded"} if sampling else set())
    assert answer["text"][: len(texts)] == texts
    if scores is not None:
        np.testing.assert_allclose(answer["score"][: len(texts)], scores, rtol=1e-4, atol=1e-4)
    assert len(answer["text"]) == len(requests) and all(np.isfinite(answer["score"]))  # every bad row answered
    if generator.config.family in ("conditional_lm", "image_caption"):  # unreadable rows: blank, score 0
        assert answer["text"][len(texts):] == [""] * (len(requests) - len(texts))
        assert answer["score"][len(texts):] == [0.0] * (len(requests) - len(texts))
    metadata = json.loads((path / "assets.extra" / "keras_cgen.json").read_text())
    assert metadata["generation"] == generator.settings()  # the config's defaults, as generate's
    assert metadata["requires"] == (["tensorflow", "tensorflow-text"] if name.endswith("unilm") else ["tensorflow"])


@pytest.mark.parametrize("name", FAMILY_MODELS)
def test_onnx_decode_loop_answers_like_generate(loaded, emoji, tmp_path, name):
    import onnx

    generator = loaded(name)
    out = export_onnx(generator, tmp_path / "onnx")
    proto = onnx.load(out / "model.onnx")
    assert "Loop" in {node.op_type for node in proto.graph.node}  # the decode loop is inside the graph
    assert {o.domain or "ai.onnx": o.version for o in proto.opset_import}["ai.onnx"] == 17
    for loop in [node for node in proto.graph.node if node.op_type == "Loop"]:  # weights are read, not carried
        body = loop.attribute[0].g
        assert not [i for i in body.input[2:] if i.name in {o.name for o in body.output}]
    assert (out / generator.config.vocabulary).is_file()
    generation = json.loads((out / "metadata.json").read_text())["generation"]
    assert generation["do_sample"] is False if generator.config.generation.get("do_sample") else True
    requests, (texts, scores) = requests_and_expected(name, generator, emoji, jit_compile=False, **generation)
    answer = serve_check(out, requests)  # onnxruntime in a fresh process, inputs from the family's client_feed
    assert answer["requires"] == ["onnxruntime"]
    assert answer["graphs"] == ["model.ort.onnx", "model.onnx"]  # the optimised graph, checked against the standard one
    assert answer["answer"]["text"][: len(texts)] == texts
    if scores is not None:
        np.testing.assert_allclose(answer["answer"]["score"][: len(texts)], scores, rtol=1e-4, atol=1e-4)


def test_config_generation_defaults_reach_generate_and_the_export(loaded, tmp_path):
    """The tiny title model's config says beam 2 (not the engine's or the zoo's 4)."""
    generator = zoo.load(loaded("autotitle-tiny").directory)
    assert generator.config.generation == {"num_beams": 2}
    seen = []
    run = generator.decoder.generate
    generator.decoder.generate = lambda ids, **settings: seen.append(settings) or run(ids, **settings)
    generator.generate("一个文本编辑器")
    assert seen[-1]["num_beams"] == 2 and seen[-1]["max_new_tokens"] == generator.config.max_new_tokens
    generator.generate("一个文本编辑器", do_sample=True, seed=0)  # the caller's sampling replaces the default beams
    assert seen[-1]["num_beams"] == 1 and seen[-1]["do_sample"] is True
    # Both exporters take settings() (what the SavedModel records is checked against it above).
    assert generator.settings()["num_beams"] == 2


@pytest.mark.slow
def test_saved_model_cli_show_and_run(loaded, tmp_path):
    generator = loaded("autotitle-tiny")
    path = export_saved_model(generator, tmp_path / "serving", version=3, num_beams=1)
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
    title = generator.generate("一个文本编辑器", num_beams=1)
    assert "Result for output key text" in ran.stdout and repr(title.encode()) in ran.stdout


def test_versions_are_never_overwritten_or_left_half_written(loaded, tmp_path, monkeypatch):
    generator = loaded("bigram-tiny")
    export_saved_model(generator, tmp_path / "serving", version=1)
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
    with pytest.raises(FileExistsError, match="never overwritten"):
        export_onnx(generator, tmp_path / "serving")


def test_cli_generate_evaluate_export_and_serve_check_a_new_family(zoo_env, tmp_path, capsys):
    """The test-only bigram family: one line in the family table, and the CLI
    and both exporters serve it."""
    from keras_cgen import cli

    generator = zoo.load("bigram-tiny")
    assert cli.main(["generate", "bigram-tiny", "ab", "--max-new-tokens", "4"]) == 0
    assert capsys.readouterr().out.strip() == "ab" + generator.generate("ab", max_new_tokens=4)
    assert cli.main(["evaluate", "bigram-tiny", "--write-card"]) == 0
    assert "wrote" in capsys.readouterr().out and (zoo_env / "bigram-tiny" / "MODEL_CARD.md").is_file()
    base = tmp_path / "serving"
    assert cli.main(["export", "bigram-tiny", "--format", "saved_model", "--out", str(base)]) == 0
    assert cli.main(["export", "bigram-tiny", "--format", "onnx", "--out", str(tmp_path / "onnx")]) == 0
    capsys.readouterr()
    for folder in (base, tmp_path / "onnx"):
        assert cli.main(["serve-check", str(folder)]) == 0
        out = capsys.readouterr().out
        assert "answered 6 requests" in out and len(out.strip().splitlines()) == 7
    assert cli.main(["export", "bigram-tiny", "--format", "saved_model", "--out", str(base)]) == 2
    assert "exists" in capsys.readouterr().err
    assert cli.main(["serve-check", str(tmp_path)]) == 1
    assert "is not an export" in capsys.readouterr().err


def test_hoisting_loop_invariants_keeps_a_loop_s_answer():
    import onnx
    import onnxruntime
    from onnx import TensorProto
    from onnx import helper

    from keras_cgen.export.onnx import hoist_loop_invariants

    # for 3 iterations: h = tanh(h @ w); w and the unused `k` are carried unchanged
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("MatMul", ["h_in", "w_in"], ["hw"]),
         helper.make_node("Tanh", ["hw"], ["h_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("h_in", TensorProto.FLOAT, [1, 4]),
         helper.make_tensor_value_info("w_in", TensorProto.FLOAT, [4, 4]),
         helper.make_tensor_value_info("k_in", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("h_out", TensorProto.FLOAT, [1, 4]),
         helper.make_tensor_value_info("w_in", TensorProto.FLOAT, [4, 4]),
         helper.make_tensor_value_info("k_in", TensorProto.FLOAT, [2])])
    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 4)).astype("float32")
    graph = helper.make_graph(
        [helper.make_node("Loop", ["trips", "cond", "h0", "w", "k"], ["h", "w_final", "k_final"], body=body),
         helper.make_node("Add", ["w_final", "w_final"], ["w2"])],
        "loop",
        [helper.make_tensor_value_info("h0", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("h", TensorProto.FLOAT, [1, 4]),
         helper.make_tensor_value_info("w2", TensorProto.FLOAT, [4, 4]),
         helper.make_tensor_value_info("k_final", TensorProto.FLOAT, [2])],
        [onnx.numpy_helper.from_array(np.array(3, "int64"), "trips"),
         onnx.numpy_helper.from_array(np.array(True), "cond"),
         onnx.numpy_helper.from_array(w, "w"),
         onnx.numpy_helper.from_array(np.array([1.0, 2.0], "float32"), "k")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    h0 = rng.normal(size=(1, 4)).astype("float32")

    def run(m):
        return onnxruntime.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(
            None, {"h0": h0})

    before = run(model)
    assert hoist_loop_invariants(model.graph) == 1  # w; k stays: its final value is a graph output
    onnx.checker.check_model(model)
    loop = model.graph.node[0]
    assert list(loop.input) == ["trips", "cond", "h0", "k"] and list(loop.output) == ["h", "k_final"]
    assert list(model.graph.node[1].input) == ["w", "w"]
    after = run(model)
    for x, y in zip(before, after):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
    expected = h0
    for _ in range(3):
        expected = np.tanh(expected @ w)
    np.testing.assert_allclose(after[0], expected, rtol=1e-5, atol=1e-6)
