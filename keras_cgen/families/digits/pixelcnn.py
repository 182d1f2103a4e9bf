"""A gated conditional PixelCNN (van den Oord et al. 2016, "Conditional Image
Generation with PixelCNN Decoders") for grey images: p(x | c) as a product
over pixels in raster order of `levels`-way softmaxes (256 for 8-bit images,
2 for binarised ones), each pixel seeing only the pixels before it (vertical +
horizontal stacks, no blind spot) and the condition as a per-channel bias in
every gate, optionally also as a learned map per class (a bias per position)."""

import keras
from keras import ops

from keras_cgen.layers.gated_pixelcnn_block import GatedPixelCNNBlock

LEVELS = 256


def scale_pixels(values, levels=LEVELS):
    """Pixel values 0..levels-1 (any shape) -> the network's float inputs in [-1, 1]."""
    return ops.cast(values, "float32") * (2.0 / (levels - 1)) - 1.0


def build_conditional_pixelcnn(num_classes=10, image_size=28, filters=64, num_blocks=5, kernel_size=3,
                               first_kernel_size=7, head_units=128, levels=LEVELS, spatial_condition_channels=0):
    """Inputs `image` int32 `[B, H, W]` (0..levels-1) and, when `num_classes` is
    set, `label` int32 `[B]`; output: logits `[B, H, W, levels]` of each pixel
    given the pixels before it (and the label). `num_classes=None` builds the
    unconditional twin (same network, no condition).

    `spatial_condition_channels` S > 0 also learns a map `[H, W, S]` per class
    (`PixelCNN-Spatial-Condition`), read by every block as a bias per position
    (the paper's location-dependent conditioning): where a digit of this class
    tends to have ink, which a per-channel bias cannot say."""
    if not isinstance(levels, int) or levels < 2:
        raise ValueError(f"`levels` must be an int >= 2 (pixel values per pixel), got {levels!r}.")
    if not isinstance(spatial_condition_channels, int) or spatial_condition_channels < 0:
        raise ValueError(f"`spatial_condition_channels` must be an int >= 0, got {spatial_condition_channels!r}.")
    image = keras.Input((image_size, image_size), dtype="int32", name="image")
    inputs = {"image": image}
    x = ops.expand_dims(scale_pixels(image, levels), -1)
    condition = []
    if num_classes:
        inputs["label"] = keras.Input((), dtype="int32", name="label")
        condition = [ops.one_hot(inputs["label"], num_classes)]
        if spatial_condition_channels:
            maps = keras.layers.Embedding(num_classes, image_size * image_size * spatial_condition_channels,
                                          name="PixelCNN-Spatial-Condition")(inputs["label"])
            condition.append(ops.reshape(maps, (-1, image_size, image_size, spatial_condition_channels)))
    vertical = horizontal = x
    for i in range(num_blocks):
        vertical, horizontal = GatedPixelCNNBlock(
            filters, first_kernel_size if i == 0 else kernel_size, "A" if i == 0 else "B",
            name=f"PixelCNN-Block-{i}")([vertical, horizontal, *condition])
    hidden = keras.layers.Dense(head_units, activation="relu", name="PixelCNN-Head")(ops.relu(horizontal))
    logits = keras.layers.Dense(levels, name="PixelCNN-Logits")(hidden)
    return keras.Model(inputs, logits, name="conditional_pixelcnn" if num_classes else "pixelcnn")
