"""Reading images for inference and serving, in Python and as TensorFlow graph
ops (the SavedModel's twin of `read_image`): RGB floats in [0, 1],
transparency composited on white, resized to the model's size.
"""

import numpy as np
import tensorflow as tf


def read_image(path_or_image, size=64):
    """A PNG/JPEG path, a PIL image or an array -> float32 `[size, size, 3]` in
    [0, 1]. Anything else, or an image that is not RGB/RGBA/grey, is an error."""
    from PIL import Image
    from PIL import UnidentifiedImageError

    image = path_or_image
    if isinstance(image, (str, bytes)) or hasattr(image, "__fspath__"):
        try:
            image = Image.open(image)
            image.load()
        except (UnidentifiedImageError, OSError) as error:
            raise ValueError(f"images: {path_or_image!r} is not a readable image file ({error}).") from None
    if isinstance(image, Image.Image):
        if image.mode in ("RGBA", "LA", "P"):
            white = Image.new("RGBA", image.size, (255, 255, 255, 255))
            image = Image.alpha_composite(white, image.convert("RGBA"))
        image = np.asarray(image.convert("RGB").resize((size, size), Image.BILINEAR), "float32") / 255.0
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] != 3:
        raise ValueError(f"images: an array must be [height, width, 3] (or [height, width]), got shape {array.shape}.")
    if array.dtype == np.uint8:
        array = array.astype("float32") / 255.0
    if array.shape[:2] != (size, size):
        array = np.asarray(Image.fromarray((np.clip(array, 0, 1) * 255).astype("uint8")).resize((size, size)),
                           "float32") / 255.0
    return array.astype("float32")


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def is_image(data):
    """Whether encoded bytes `[B]` (or one string) are PNG or JPEG."""
    return tf.logical_or(tf.equal(tf.strings.substr(data, 0, 8), PNG_SIGNATURE), tf.io.is_jpeg(data))


def decode_images(data, size):
    """Encoded PNG/JPEG bytes `[B]` -> pixels `[B, size, size, 3]` in [0, 1],
    transparency composited on white as `read_image` does. Bytes that are
    neither PNG nor JPEG become a white image (`blank_unread` blanks their answer)."""
    def one(encoded):
        is_png = tf.equal(tf.strings.substr(encoded, 0, 8), PNG_SIGNATURE)
        white = tf.ones([size, size, 4], tf.float32)

        def png():
            return tf.image.convert_image_dtype(tf.io.decode_png(encoded, channels=4), tf.float32)

        def jpeg():
            rgb = tf.image.convert_image_dtype(tf.io.decode_jpeg(encoded, channels=3), tf.float32)
            return tf.concat([rgb, tf.ones_like(rgb[..., :1])], axis=-1)

        rgba = tf.cond(is_png, png, lambda: tf.cond(tf.io.is_jpeg(encoded), jpeg, lambda: white))
        rgb = rgba[..., :3] * rgba[..., 3:] + (1.0 - rgba[..., 3:])
        return tf.image.resize(rgb, [size, size])

    return tf.map_fn(one, data, fn_output_signature=tf.TensorSpec([size, size, 3], tf.float32))
