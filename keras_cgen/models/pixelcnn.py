"""A gated conditional PixelCNN (van den Oord et al. 2016, "Conditional Image
Generation with PixelCNN Decoders") for 8-bit grey images: p(x | c) as a
product over pixels in raster order of 256-way softmaxes, each pixel seeing
only the pixels before it (vertical + horizontal stacks, no blind spot) and
the condition as a per-channel bias in every gate."""

import keras
from keras import ops

from keras_cgen.layers.gated_pixelcnn_block import GatedPixelCNNBlock

LEVELS = 256


def scale_pixels(values):
    """8-bit pixel values (any shape) -> the network's float inputs in [-1, 1]."""
    return ops.cast(values, "float32") * (2.0 / (LEVELS - 1)) - 1.0


def build_conditional_pixelcnn(num_classes=10, image_size=28, filters=64, num_blocks=5, kernel_size=3,
                               first_kernel_size=7, head_units=128):
    """Inputs `image` int32 `[B, H, W]` (0..255) and, when `num_classes` is
    set, `label` int32 `[B]`; output: logits `[B, H, W, 256]` of each pixel
    given the pixels before it (and the label). `num_classes=None` builds the
    unconditional twin (same network, no condition)."""
    image = keras.Input((image_size, image_size), dtype="int32", name="image")
    inputs = {"image": image}
    x = ops.expand_dims(scale_pixels(image), -1)
    condition = []
    if num_classes:
        inputs["label"] = keras.Input((), dtype="int32", name="label")
        condition = [ops.one_hot(inputs["label"], num_classes)]
    vertical = horizontal = x
    for i in range(num_blocks):
        vertical, horizontal = GatedPixelCNNBlock(
            filters, first_kernel_size if i == 0 else kernel_size, "A" if i == 0 else "B",
            name=f"PixelCNN-Block-{i}")([vertical, horizontal, *condition])
    hidden = keras.layers.Dense(head_units, activation="relu", name="PixelCNN-Head")(ops.relu(horizontal))
    logits = keras.layers.Dense(LEVELS, name="PixelCNN-Logits")(hidden)
    return keras.Model(inputs, logits, name="conditional_pixelcnn" if num_classes else "pixelcnn")
