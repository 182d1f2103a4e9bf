"""Functional model builders, one family per file."""

from keras_cgen.models.char_rnn import CharRNNDecoder
from keras_cgen.models.char_rnn import build_char_rnn
from keras_cgen.models.cvae import build_cvae
from keras_cgen.models.image_caption import build_image_captioner
from keras_cgen.models.image_caption import build_image_encoder
from keras_cgen.models.lstm_seq2seq import LSTMSeq2SeqDecoder
from keras_cgen.models.lstm_seq2seq import attention_map
from keras_cgen.models.lstm_seq2seq import build_lstm_seq2seq
from keras_cgen.models.pixelcnn import build_conditional_pixelcnn
from keras_cgen.models.transformer import BertConfig
from keras_cgen.models.transformer import build_transformer
from keras_cgen.models.transformer import config_from_model
from keras_cgen.models.transformer_decoder import TransformerDecoder

__all__ = [
    "BertConfig",
    "CharRNNDecoder",
    "LSTMSeq2SeqDecoder",
    "TransformerDecoder",
    "attention_map",
    "build_char_rnn",
    "build_conditional_pixelcnn",
    "build_cvae",
    "build_image_captioner",
    "build_image_encoder",
    "build_lstm_seq2seq",
    "build_transformer",
    "config_from_model",
]
