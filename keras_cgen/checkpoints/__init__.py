"""Weight loaders: a declarative name map per checkpoint format."""

from keras_cgen.checkpoints.bert import CheckpointError
from keras_cgen.checkpoints.bert import load_bert
from keras_cgen.checkpoints.bert import minilm_directory
from keras_cgen.checkpoints.bert import open_checkpoint
from keras_cgen.checkpoints.bert import save_tf1_checkpoint

__all__ = ["CheckpointError", "load_bert", "minilm_directory", "open_checkpoint", "save_tf1_checkpoint"]
