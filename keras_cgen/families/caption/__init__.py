"""Image captioning (`image_caption`): an image encoder -> a CLN caption LM."""

from keras_cgen.families.caption.generator import CaptionGenerator
from keras_cgen.families.caption.model import build_image_captioner
from keras_cgen.families.caption.model import build_image_encoder
from keras_cgen.families.caption.train import train

__all__ = ["CaptionGenerator", "build_image_captioner", "build_image_encoder", "train"]
