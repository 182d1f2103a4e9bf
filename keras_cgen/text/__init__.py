"""Tokenizers and vocabulary tools."""

from keras_cgen.text.char_vocabulary import CharVocabulary
from keras_cgen.text.wordpiece import encode_texts
from keras_cgen.text.wordpiece import find_vocabulary
from keras_cgen.text.wordpiece import load_bert_tokenizer
from keras_cgen.text.wordpiece import pad_rows
from keras_cgen.text.wordpiece import read_vocabulary

__all__ = ["CharVocabulary", "encode_texts", "find_vocabulary", "load_bert_tokenizer", "pad_rows", "read_vocabulary"]
