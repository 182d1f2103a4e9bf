"""A character-level LSTM language model (`char_rnn`)."""

from keras_cgen.families.char_lm.generator import CharLMGenerator
from keras_cgen.families.char_lm.model import CharRNNDecoder
from keras_cgen.families.char_lm.model import build_char_rnn
from keras_cgen.families.char_lm.train import train

__all__ = ["CharLMGenerator", "CharRNNDecoder", "build_char_rnn", "train"]
