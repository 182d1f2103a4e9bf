"""The image-captioner family (`image_caption`): a picture in, its caption
out. Python reads paths, PIL images or arrays (`keras_cgen.images.read_image`);
the SavedModel reads PNG/JPEG bytes (`decode_images`, its graph twin); ONNX
reads float pixels, which a client makes with `read_image`.
"""

import tempfile
from pathlib import Path

import numpy as np

from keras_cgen.images import decode_images
from keras_cgen.images import is_image
from keras_cgen.images import read_image
from keras_cgen.families.conditional_lm.generator import decode_from_start
from keras_cgen.zoo.generator import Generator
from keras_cgen.zoo.generator import blank_unread


class CaptionGenerator(Generator):
    """An image captioner (`build_image_captioner`): images in, captions out."""

    serving_input = ("image", "string [None]: encoded PNG or JPEG bytes")

    def __init__(self, directory, config):
        import tensorflow as tf

        from keras_cgen.models import BertConfig
        from keras_cgen.models import TransformerDecoder
        from keras_cgen.families.caption import build_image_captioner
        from keras_cgen.families.caption import build_image_encoder

        super().__init__(directory, config)
        encoder = build_image_encoder(**config.encoder)
        self.model = self.load_weights(
            build_image_captioner(BertConfig(**config.transformer), encoder, **(config.condition or {})))
        self.image_size = config.encoder["image_size"]
        self.encoder = self.model.get_layer("Image-Encoder")
        self.decoder = TransformerDecoder(self.model.get_layer("Caption-LM"))
        # Float images [B, size, size, 3] -> features, as one graph: op by op,
        # MobileNetV2 took ~0.5 s per request.
        self.encode_images = tf.function(lambda x: self.encoder(x, training=False), reduce_retracing=True)

    def max_new_tokens_limit(self):
        return self.config.transformer["max_position"]  # positions 0 ([START]) .. max_new_tokens - 1

    def images(self, images):
        """Paths, PIL images or arrays -> float32 `[B, size, size, 3]` in [0, 1]."""
        return np.stack([read_image(image, self.image_size) for image in images])

    def generate(self, images, num_beams=None, max_new_tokens=None, return_scores=False, **kwargs):
        """Captions for `images`: a path, a PIL image, an `[H, W, 3]` array, or a
        list of them (an `[N, H, W, 3]` array is N images).

        Keyword arguments are those of `keras_cgen.decoding.generate`.
        """
        if images is None:
            raise ValueError("`images` must be a path, a PIL image, an array or a list of them, got None.")
        single = isinstance(images, (str, Path)) or hasattr(images, "convert") or (
            isinstance(images, np.ndarray) and images.ndim in (2, 3))
        images = [images] if single else [*images]
        if not images:
            return ([], []) if return_scores else []
        settings = self.settings(num_beams=num_beams, max_new_tokens=max_new_tokens, **kwargs)
        inputs = {"token_ids": np.full((len(images), 1), self.vocabulary.start_id, "int32"),
                  "condition": self.encode_images(self.images(images))}
        out = self.decoder.generate(inputs, **settings)
        captions = [rows[0] for rows in self.texts_of(out.sequences)]
        scores = out.scores.numpy()[:, 0].tolist()
        if single:
            captions, scores = captions[0], scores[0]
        return (captions, scores) if return_scores else captions

    def warmup_inputs(self):
        return [np.ones((self.image_size, self.image_size, 3), "float32")]  # images are resized: one shape

    def decode_ids(self, images, plan, seed, cache_write="where"):
        """The decode graph on float images `[B, size, size, 3]` in [0, 1]."""
        from keras import ops

        start = ops.full((ops.shape(images)[0],), self.vocabulary.start_id, dtype="int32")
        return decode_from_start(self, start, self.encoder(images, training=False), plan, seed, cache_write)

    def serving_resources(self):
        return []

    def serving_prepare(self, data):
        return decode_images(data, self.image_size)

    def serving_finish(self, data, out):
        return blank_unread(super().serving_finish(data, out), is_image(data))

    def onnx_input(self):
        import tensorflow as tf

        size = self.image_size
        return ("image", tf.TensorSpec([None, size, size, 3], tf.float32),
                f"float32 [batch, {size}, {size}, 3], RGB in [0, 1] (transparency on white)")

    def input_metadata(self):
        return {"image_size": self.image_size}

    @classmethod
    def client_feed(cls, requests, metadata, vocabulary):
        """Image files, read as `generate` reads them (an unreadable one: white)."""
        size = metadata["image_size"]

        def pixels(path):
            try:
                return read_image(path, size)
            except ValueError:
                return np.ones((size, size, 3), "float32")

        return np.stack([pixels(path) for path in requests])

    @classmethod
    def check_requests(cls, metadata):
        """Image files: a PNG with transparency, a JPEG, a larger PNG (resized)
        and a file that is not an image."""
        from PIL import Image
        from PIL import ImageDraw

        size = metadata["image_size"]
        folder = Path(tempfile.mkdtemp(prefix="cgen-serve-check-"))
        face = Image.new("RGBA", (size, size), (0, 0, 0, 0))
        ImageDraw.Draw(face).ellipse([4, 4, size - 4, size - 4], fill=(250, 200, 40, 255), outline=(0, 0, 0, 255))
        face.save(folder / "face.png")
        face.convert("RGB").save(folder / "face.jpg")
        face.resize((3 * size, 3 * size)).save(folder / "large.png")
        (folder / "notes.txt").write_text("not an image")
        return [str(folder / name) for name in ("face.png", "face.jpg", "large.png", "notes.txt")]

    @classmethod
    def request_bytes(cls, requests):
        """Image files -> their bytes (anything else is sent as its text)."""
        return [Path(r).read_bytes() if Path(r).is_file() else r.encode("utf-8") for r in requests]

    def cli_lines(self, images, options):
        captions, scores = self.generate(images, num_beams=options.get("num_beams"), return_scores=True,
                                         max_new_tokens=options.get("max_new_tokens"))
        return [f"{image}\t{caption}" + (f"\t{score:.3f}" if options.get("scores") else "")
                for image, caption, score in zip(images, captions, scores)]
