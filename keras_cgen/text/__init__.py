"""Tokenizers and vocabulary tools."""

from keras_cgen.text.char_vocabulary import CharVocabulary
from keras_cgen.text.condition_vocabulary import ConditionVocabulary
from keras_cgen.text.word_vocabulary import WordVocabulary
from keras_cgen.text.wordpiece import WordPieceVocabulary
from keras_cgen.text.wordpiece import encode_texts
from keras_cgen.text.wordpiece import find_vocabulary
from keras_cgen.text.wordpiece import load_bert_tokenizer
from keras_cgen.text.wordpiece import load_vocabulary
from keras_cgen.text.wordpiece import pad_rows
from keras_cgen.text.wordpiece import read_vocabulary
from keras_cgen.text.wordpiece import simplify_vocabulary
from keras_cgen.text.wordpiece import truncate

__all__ = ["CharVocabulary", "ConditionVocabulary", "WordPieceVocabulary", "WordVocabulary", "encode_texts", "find_vocabulary", "load_bert_tokenizer",
           "load_vocabulary", "pad_rows", "read_vocabulary", "simplify_vocabulary", "truncate"]
