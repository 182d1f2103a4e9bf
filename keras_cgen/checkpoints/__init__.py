"""Weight loaders: a declarative name map per checkpoint format."""

from keras_cgen.checkpoints.bert import CheckpointError
from keras_cgen.checkpoints.bert import load_bert
from keras_cgen.checkpoints.bert import m3e_small_directory
from keras_cgen.checkpoints.bert import minilm_directory
from keras_cgen.checkpoints.bert import named_checkpoint
from keras_cgen.checkpoints.bert import open_checkpoint
from keras_cgen.checkpoints.bert import save_tf1_checkpoint
from keras_cgen.checkpoints.mobilenet import build_mobilenet_v2
from keras_cgen.checkpoints.mobilenet import load_mobilenet_v2
from keras_cgen.checkpoints.mobilenet import mobilenet_v2_weights
from keras_cgen.checkpoints.torch_files import convert_torch_checkpoint

__all__ = ["CheckpointError", "build_mobilenet_v2", "convert_torch_checkpoint", "load_bert", "load_mobilenet_v2",
           "m3e_small_directory", "minilm_directory", "mobilenet_v2_weights", "named_checkpoint", "open_checkpoint", "save_tf1_checkpoint"]
