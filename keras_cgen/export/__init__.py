"""Exports of zoo generators: a TF Serving SavedModel and an ONNX decode graph."""

from keras_cgen.export.onnx import export_onnx
from keras_cgen.export.saved_model import export_saved_model

__all__ = ["export_onnx", "export_saved_model"]
