"""Every recipe under examples/ runs: a one-step smoke of each, with tiny
sizes, on the committed data excerpts. Each writes a zoo folder that
`zoo.load` reads and that generates; the recipe script is the real one
(argument parsing, data loading, the family's `train`, the zoo folder)."""

import importlib.util
import json
from pathlib import Path

import pytest

from keras_cgen import zoo

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_recipe(name, *argv):
    spec = importlib.util.spec_from_file_location(f"recipe_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main([str(a) for a in argv])


def test_char_rnn(fixture_cache, tmp_path):
    out = run_recipe("task_char_rnn", "--out", tmp_path / "m", "--steps", 1, "--steps-per-epoch", 1,
                     "--batch-size", 2, "--sequence-length", 16, "--embedding-dim", 4, "--hidden-units", 8,
                     "--num-layers", 1, "--no-jit-compile")
    gen = zoo.load(out)
    config = json.loads((out / "config.json").read_text())
    assert config["training"]["command"].startswith("python examples/task_char_rnn.py --steps 1")
    assert config["data"]["valid"] and config["data"]["train_characters"] > 1000
    assert isinstance(gen.generate("KING.\n", max_new_tokens=5, seed=0), str)


def test_conditional_language_model(fixture_cache, tmp_path):
    out = run_recipe("task_conditional_language_model", "--out", tmp_path / "m", "--epochs", 1, "--steps-per-epoch", 1,
                     "--batch-size", 2, "--hidden-size", 8, "--num-layers", 1, "--num-heads", 2, "--max-length", 20,
                     "--no-jit-compile")
    gen = zoo.load(out)
    assert len(gen.config.labels) == 2
    assert json.loads((out / "config.json").read_text())["training"]["command"].startswith(
        "python examples/task_conditional_language_model.py --data reviews --conditioning layer_norm --epochs 1")
    assert len(gen.generate(conditions=gen.config.labels, max_new_tokens=4, seed=0)) == 2


@pytest.fixture
def mnist_cache(tmp_path, monkeypatch):
    """The committed 20-digit excerpt as the cache's MNIST splits (12 / 4 / 4)."""
    import numpy as np

    from keras_cgen.data.mnist import VERSION
    from keras_cgen.data.mnist import read_digits

    images, labels = read_digits(Path(__file__).parent / "fixtures" / "mnist")
    parts = {"train": slice(0, 20), "valid": slice(0, 20, 5), "test": slice(1, 20, 5)}
    folder = tmp_path / "cache" / "mnist"
    folder.mkdir(parents=True)
    np.savez_compressed(folder / f"splits-{VERSION}.npz", **{f"{name}_{part}": array[cut] for name, cut in parts.items()
                                                             for part, array in (("images", images), ("labels", labels))})
    monkeypatch.setenv("KERAS_CGEN_CACHE", str(tmp_path / "cache"))


@pytest.mark.parametrize("recipe, options", [
    ("task_cvae", ["--latent-dim", 2, "--hidden-units", 8, "--epochs", 1, "--batch-size", 10]),
    ("task_cgan", ["--latent-dim", 2, "--filters", 4, "--discriminator-hidden-units", 8, "--epochs", 1,
                   "--batch-size", 10]),
    ("task_pixelcnn", ["--filters", 4, "--num-blocks", 1, "--head-units", 4, "--spatial-condition-channels", 2,
                       "--guidance", 1.0, "--epochs", 1, "--batch-size", 10, "--no-jit-compile"]),
])
def test_digit_recipes(mnist_cache, tmp_path, recipe, options):
    out = run_recipe(recipe, "--out", tmp_path / "m", *options)
    gen = zoo.load(out)
    config = json.loads((out / "config.json").read_text())
    assert config["training"]["command"].startswith(f"python examples/{recipe}.py")
    assert config["data"]["dataset"].startswith("mnist@")
    images = gen.generate(["3", "7"], seed=0)
    assert len(images) == 2


@pytest.fixture
def debian_cache(tmp_path, monkeypatch):
    """The committed Translation excerpts as apt's lists in a scratch cache."""
    import lz4.frame

    lists = tmp_path / "cache" / "debian-descriptions" / "lists"
    lists.mkdir(parents=True)
    fixtures = Path(__file__).parent / "fixtures"
    for language, name in (("en", "en"), ("zh_CN", "zh%5fCN")):
        text = (fixtures / f"Translation-{language}.sample").read_bytes()
        (lists / f"mirror_dists_main_i18n_Translation-{name}.lz4").write_bytes(lz4.frame.compress(text))
    monkeypatch.setenv("KERAS_CGEN_CACHE", str(tmp_path / "cache"))


def test_seq2seq_autotitle_unilm(debian_cache, tmp_path):
    out = run_recipe("task_seq2seq_autotitle", "--out", tmp_path / "m", "--copy-pretraining-epochs", 1,
                     "--copy-steps-per-epoch", 1, "--epochs", 1, "--steps-per-epoch", 1, "--batch-size", 2,
                     "--max-source", 16, "--source-tail", 4, "--max-target", 6, "--valid-size", 4,
                     "--precision", "float32", "--no-jit-compile", "--work", tmp_path / "work")
    gen = zoo.load(out)
    assert (tmp_path / "work" / "unilm-copy" / "finished.json").is_file()  # the copy stage ran, then the pairs
    assert gen.config.family == "unilm" and gen.config.training["checkpoint"]
    assert isinstance(gen.generate("Atril is a simple multi-page document viewer.", max_new_tokens=3), str)


@pytest.mark.parametrize("language", ["zh_CN", "en"])
def test_seq2seq_lstm_copy(debian_cache, tmp_path, language):
    out = run_recipe("task_seq2seq_lstm_copy", "--language", language, "--out", tmp_path / "m", "--epochs", 1,
                     "--batch-size", 4, "--embedding-dim", 4, "--hidden-units", 4, "--max-source", 12,
                     "--max-target", 5, "--vocabulary-size", 300, "--pointer", "--no-jit-compile")
    gen = zoo.load(out)
    assert gen.config.family == "lstm_seq2seq" and gen.config.builder["pointer"]
    command = gen.config.training["command"]
    assert command.startswith(f"python examples/task_seq2seq_lstm_copy.py --language {language} --vocabulary-size 300")
    assert isinstance(gen.generate("一个文本编辑器" if language == "zh_CN" else "A text editor.", max_new_tokens=3), str)
