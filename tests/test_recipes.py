"""Every recipe under examples/ runs: a one-step smoke of each, with tiny
sizes, on the committed data excerpts. Each writes a zoo folder that
`zoo.load` reads and that generates; the recipe script is the real one
(argument parsing, data loading, the family's `train`, the zoo folder)."""

import importlib.util
import json
from pathlib import Path

import pytest

from keras_cgen import zoo
from keras_cgen.data.debian import load_pairs
from keras_cgen.data.debian import load_synopses

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_recipe(name, *argv, **replaced):
    """Runs `examples/<name>.py`'s main with `argv`; `replaced` swaps names of
    the script's module (a data loader) before it runs."""
    spec = importlib.util.spec_from_file_location(f"recipe_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    vars(module).update(replaced)
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


def valid_from_test(loader):
    """`loader` with its (empty, in the committed excerpts) valid split replaced by its test split."""
    def load(*args, **kwargs):
        splits = loader(*args, **kwargs)
        return {**splits, "valid": splits["test"]}
    return load


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
    packages = (fixtures / "Packages.sample").read_bytes()
    (lists / "mirror_dists_main_binary-amd64_Packages.lz4").write_bytes(lz4.frame.compress(packages))
    monkeypatch.setenv("KERAS_CGEN_CACHE", str(tmp_path / "cache"))


def test_seq2seq_autotitle_unilm(debian_cache, tmp_path):
    out = run_recipe("task_seq2seq_autotitle", "--out", tmp_path / "m", "--copy-pretraining-epochs", 1,
                     "--copy-steps-per-epoch", 1, "--epochs", 1, "--steps-per-epoch", 1, "--batch-size", 2,
                     "--max-source", 16, "--source-tail", 4, "--max-target", 6, "--valid-size", 4,
                     "--no-jit-compile", "--work", tmp_path / "work",  # the default mixed_bfloat16
                     load_pairs=valid_from_test(load_pairs))
    gen = zoo.load(out)
    assert (tmp_path / "work" / "unilm-copy" / "finished.json").is_file()  # the copy stage ran, then the pairs
    assert gen.config.family == "unilm" and gen.config.training["checkpoint"]
    assert isinstance(gen.generate("Atril is a simple multi-page document viewer.", max_new_tokens=3), str)


@pytest.mark.parametrize("language", ["zh_CN", "en"])
def test_seq2seq_lstm_copy(debian_cache, tmp_path, language):
    out = run_recipe("task_seq2seq_lstm_copy", "--language", language, "--out", tmp_path / "m", "--epochs", 1,
                     "--batch-size", 4, "--embedding-dim", 4, "--hidden-units", 4, "--max-source", 12,
                     "--max-target", 5, "--vocabulary-size", 300, "--pointer", "--no-jit-compile",
                     load_pairs=valid_from_test(load_pairs))
    gen = zoo.load(out)
    assert gen.config.family == "lstm_seq2seq" and gen.config.builder["pointer"]
    command = gen.config.training["command"]
    assert command.startswith(f"python examples/task_seq2seq_lstm_copy.py --language {language} --vocabulary-size 300")
    assert isinstance(gen.generate("一个文本编辑器" if language == "zh_CN" else "A text editor.", max_new_tokens=3), str)


def test_image_caption(emoji, tmp_path):
    from keras_cgen.data.emoji import load_emoji

    def excerpt(size):  # the committed excerpt has no valid emoji: its test ones stand in
        splits = load_emoji(emoji[0], size=size)
        return {**splits, "valid": splits["test"]}

    out = run_recipe("task_image_caption", "--out", tmp_path / "m", "--epochs", 1, "--batch-size", 4,
                     "--image-size", 32, "--hidden-size", 16, "--num-layers", 1, "--max-length", 6,
                     "--encoder-pretraining-epochs", 1, "--token-dropout", 0.3, "--token-dropout-copies", 2,
                     "--no-jit-compile", load_emoji=excerpt)
    gen = zoo.load(out)
    assert gen.config.family == "image_caption" and gen.config.language == "zh"
    assert "--token-dropout 0.3" in gen.config.training["command"]
    image = next(r for rows in emoji[1].values() for r in rows)["image"]
    assert isinstance(gen.generate(image, max_new_tokens=3), str)


def test_diffusion_lm(debian_cache, tmp_path):
    out = run_recipe("task_diffusion_lm", "--out", tmp_path / "m", "--sequence-length", 8, "--embedding-dim", 4,
                     "--width", 8, "--num-layers", 1, "--num-heads", 2, "--min-count", 1, "--batch-size", 4,
                     "--warmup", 1, "--steps", 1, "--steps-per-epoch", 1, "--classifier-steps", 1,
                     load_synopses=valid_from_test(load_synopses))
    gen = zoo.load(out)
    assert (out / "classifier.safetensors").is_file() and gen.config.labels
    assert gen.config.data["dataset"].startswith("Debian package synopses")
    assert len(gen.generate(n=2, seed=0, steps=4)) == 2


def test_fudge_over_the_synopsis_lm(debian_cache, tmp_path):
    lm = run_recipe("task_conditional_language_model", "--data", "synopses", "--conditioning", "none",
                    "--out", tmp_path / "ar", "--epochs", 1, "--steps-per-epoch", 1, "--batch-size", 2,
                    "--hidden-size", 8, "--num-layers", 1, "--num-heads", 2, "--no-jit-compile",
                    load_synopses=valid_from_test(load_synopses))
    assert zoo.load(lm).config.vocabulary == "words.json"
    out = run_recipe("task_fudge", "--lm", lm, "--out", tmp_path / "fudge", "--epochs", 1, "--batch-size", 8,
                     "--embedding-dim", 4, "--units", 4, load_synopses=valid_from_test(load_synopses))
    written = json.loads((out / "prefix_classifier.json").read_text())
    assert written["lm"] == "ar" and written["training"]["command"].startswith("python examples/task_fudge.py")
