"""The decoding engine and its logits processors."""

from keras_cgen.decoding.engine import GenerateOutput
from keras_cgen.decoding.engine import decode
from keras_cgen.decoding.engine import generate

__all__ = ["GenerateOutput", "decode", "generate"]
