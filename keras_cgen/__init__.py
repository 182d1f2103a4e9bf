"""keras-cgen: conditional text generation for Keras 3.

TensorFlow is the backend the project is built and tested on (tensorflow-text,
tf2onnx and TF Serving need it), so it is the default when the user has not
chosen one. The layers themselves are written with `keras.ops`.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# TensorFlow prints C++ start-up chatter (CUDA probes, CPU flags) at level 0.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_cgen import layers  # noqa: E402
from keras_cgen import models  # noqa: E402
from keras_cgen import checkpoints  # noqa: E402
from keras_cgen import text  # noqa: E402
from keras_cgen import zoo  # noqa: E402

__version__ = "0.1.0"
__all__ = ["layers", "models", "checkpoints", "text", "zoo", "__version__"]
