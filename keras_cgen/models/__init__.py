"""Shared builders: the BERT-family transformer and its cached decoder. A
family's own builders live in its package under `keras_cgen.families`."""

from keras_cgen.models.transformer import BertConfig
from keras_cgen.models.transformer import build_transformer
from keras_cgen.models.transformer import config_from_model
from keras_cgen.models.transformer_decoder import TransformerDecoder

__all__ = ["BertConfig", "TransformerDecoder", "build_transformer", "config_from_model"]
