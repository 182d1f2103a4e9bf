import keras
import numpy as np
import pytest
from PIL import Image

from conftest import CAPTION_SIZE
from conftest import roundtrip_keras_file
from keras_cgen import zoo
from keras_cgen.data.emoji import load_emoji
from keras_cgen.images import read_image
from keras_cgen.families.caption import build_image_encoder

SIZE = CAPTION_SIZE


@pytest.fixture
def captioner(loaded, emoji):
    return loaded("caption-tiny"), [r for rows in emoji[1].values() for r in rows]


def test_emoji_rasterised_and_split(emoji):
    root, splits = emoji
    rows = [r for rows in splits.values() for r in rows]
    assert len(rows) == 16 and {r["zh"] for r in rows} >= {"狗脸", "旗: 中国"}
    assert all(r["en"] for r in rows)  # OpenMoji's English annotation
    image = Image.open(rows[0]["image"])
    assert image.size == (SIZE, SIZE) and image.mode == "RGB"
    assert np.asarray(image)[0, 0].tolist() == [255, 255, 255]  # transparent corners are white
    assert load_emoji(root, size=SIZE) == splits  # deterministic, and cached


def test_read_image_accepts_paths_pil_and_arrays(emoji, tmp_path):
    path = emoji[1]["train"][0]["image"]
    from_path = read_image(path, SIZE)
    assert from_path.shape == (SIZE, SIZE, 3) and from_path.dtype == np.float32 and 0 <= from_path.min()
    np.testing.assert_allclose(read_image(Image.open(path), SIZE), from_path)
    np.testing.assert_allclose(read_image((from_path * 255).round().astype("uint8"), SIZE), from_path, atol=1e-6)
    assert read_image(np.zeros((SIZE, SIZE)), SIZE).shape == (SIZE, SIZE, 3)
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(ValueError, match="not a readable image"):
        read_image(tmp_path / "notes.txt", SIZE)
    with pytest.raises(ValueError, match=r"\[height, width, 3\].*\(2, 3, 4, 5\)"):
        read_image(np.zeros((2, 3, 4, 5)), SIZE)


def test_model_shapes_and_keras_file(captioner, tmp_path):
    generator, _ = captioner
    inputs = {"image": np.random.default_rng(0).random((2, SIZE, SIZE, 3), "float32"),
              "token_ids": np.array([[2, 5, 6], [2, 7, 0]], "int32"), "segment_ids": np.zeros((2, 3), "int32")}
    assert tuple(generator.model(inputs).shape) == (2, 3, len(generator.vocabulary))
    roundtrip_keras_file(generator.model, tmp_path, inputs)


def test_backbone_needs_a_real_weights_file(tmp_path):
    with pytest.raises(ValueError, match="existing safetensors file"):
        build_image_encoder(32, backbone="MobileNetV2", backbone_weights=tmp_path / "missing.safetensors")
    with pytest.raises(ValueError, match="'MobileNetV2'.*got 'NoSuchNet'"):
        build_image_encoder(32, backbone="NoSuchNet")


def test_imagenet_encoder_reads_pixels_in_0_1():
    """The encoder normalises [0, 1] pixels as torchvision does, then pools
    the ImageNet MobileNetV2's features."""
    pytest.importorskip("torch", reason="converting the ImageNet weights needs torch")
    from keras_cgen.checkpoints import build_mobilenet_v2
    from keras_cgen.checkpoints import load_mobilenet_v2
    from keras_cgen.checkpoints import mobilenet_v2_weights
    from keras_cgen.checkpoints.mobilenet import imagenet_normalise

    encoder = build_image_encoder(64, backbone="MobileNetV2", backbone_weights=mobilenet_v2_weights())
    net = load_mobilenet_v2(build_mobilenet_v2(64), mobilenet_v2_weights())
    images = np.random.default_rng(0).random((2, 64, 64, 3), dtype="float32")
    np.testing.assert_allclose(np.asarray(encoder(images)), np.asarray(net(imagenet_normalise(images))), atol=1e-5)


def test_generator_inputs_and_errors(captioner, tmp_path):
    generator, rows = captioner
    paths = [r["image"] for r in rows[:3]]
    captions = generator.generate(paths, num_beams=2)
    assert len(captions) == 3 and all(isinstance(c, str) for c in captions)
    assert generator.generate(paths[0], num_beams=2) == captions[0]
    assert generator.generate(Image.open(paths[1]), num_beams=2) == captions[1]
    assert generator.generate(read_image(paths[2], SIZE), num_beams=2) == captions[2]
    assert generator.generate(np.stack([read_image(p, SIZE) for p in paths]), num_beams=2) == captions
    assert generator.generate([]) == []
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="notes.txt"):
        generator.generate([paths[0], str(tmp_path / "notes.txt")])


def test_the_image_conditions_the_caption(captioner):
    """At initialisation the conditional LayerNorms ignore the image (zero-
    initialised projections); after training two images to two captions,
    each image's first character is its own caption's."""
    generator, rows = captioner
    keras.utils.set_random_seed(0)  # before cloning: the clone's dropout layers draw their seeds when made
    model = keras.models.clone_model(generator.model)
    model.set_weights(generator.model.get_weights())
    vocabulary = generator.vocabulary
    first = [vocabulary.index["狗"], vocabulary.index["猫"]]
    dog, cat = (next(r for r in rows if r["zh"] == label)["image"] for label in ("狗脸", "猫脸"))
    images = np.stack([read_image(dog, SIZE), read_image(cat, SIZE)])
    start = {"image": images, "token_ids": np.full((2, 1), vocabulary.start_id, "int32"),
             "segment_ids": np.zeros((2, 1), "int32")}
    before = np.asarray(model(start, training=False))
    np.testing.assert_allclose(before[0], before[1], atol=1e-5)

    ids = np.array([[vocabulary.start_id, first[0], vocabulary.index["脸"], vocabulary.end_id],
                    [vocabulary.start_id, first[1], vocabulary.index["脸"], vocabulary.end_id]] * 8, "int32")
    keras.utils.set_random_seed(0)
    model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit({"image": np.tile(images, (8, 1, 1, 1)), "token_ids": ids[:, :-1], "segment_ids": np.zeros_like(ids[:, :-1])},
              ids[:, 1:], epochs=30, batch_size=2, shuffle=False, verbose=0)  # each batch: one of each (batch norm)
    after = np.asarray(model(start, training=False))[:, 0]
    assert after[0, first[0]] > after[0, first[1]] and after[1, first[1]] > after[1, first[0]]


def test_card_from_a_measured_report(captioner, emoji, monkeypatch):
    from keras_cgen.families.caption.evaluate import evaluate
    from keras_cgen.families.caption.evaluate import write_card

    monkeypatch.setenv("KERAS_CGEN_CACHE", str(emoji[0]))
    if not (emoji[0] / "checkpoints").is_dir() or not any((emoji[0] / "checkpoints").iterdir()):
        pytest.skip("the MobileNetV2 baseline needs torch to convert its weights")
    generator, _ = captioner
    report = evaluate(str(generator.directory), split="train")
    assert set(report["systems"]) == {"beam 4", "greedy", "nearest neighbour (pixels)",
                                      "nearest neighbour (MobileNetV2 features)"}
    # The nearest training image of a training image is itself: the baseline is exact on "train".
    assert report["systems"]["nearest neighbour (pixels)"]["exact"][0] == 1.0
    write_card(report, generator.directory, "cgen evaluate caption-tiny --write-card")
    assert (generator.directory / "samples.png").is_file()
    assert "nearest neighbour (MobileNetV2 features)" in (generator.directory / "MODEL_CARD.md").read_text()
    zoo.verify(generator.directory)
