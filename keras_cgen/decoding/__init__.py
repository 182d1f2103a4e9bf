"""The decoding engine and its logits processors."""

from keras_cgen.decoding.decoder import Decoder
from keras_cgen.decoding.engine import GenerateOutput
from keras_cgen.decoding.engine import decode
from keras_cgen.decoding.engine import generate
from keras_cgen.decoding.engine import make_settings
from keras_cgen.decoding.engine import seed_tensor

__all__ = ["Decoder", "GenerateOutput", "decode", "generate", "make_settings", "seed_tensor"]
