"""Auto-title: text in, title out. `lstm_seq2seq` (the seed text's LSTM
seq2seq with attention, copy prior and pointer) and `unilm` (UniLM on a BERT)."""

from keras_cgen.families.autotitle.generator import LSTMTitleGenerator
from keras_cgen.families.autotitle.generator import TitleGenerator
from keras_cgen.families.autotitle.generator import UniLMTitleGenerator
from keras_cgen.families.autotitle.model import LSTMSeq2SeqDecoder
from keras_cgen.families.autotitle.model import attention_map
from keras_cgen.families.autotitle.model import build_lstm_seq2seq
from keras_cgen.families.autotitle.train import train

__all__ = ["LSTMSeq2SeqDecoder", "LSTMTitleGenerator", "TitleGenerator", "UniLMTitleGenerator", "attention_map",
           "build_lstm_seq2seq", "train"]
