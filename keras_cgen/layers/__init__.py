"""Custom Keras 3 layers for conditional generation, one per file."""

from keras_cgen.layers.attention_mask import AttentionMask
from keras_cgen.layers.attention_mask import causal_attention_mask
from keras_cgen.layers.attention_mask import unilm_attention_mask
from keras_cgen.layers.bias_add import BiasAdd
from keras_cgen.layers.cached_multi_head_attention import CachedMultiHeadAttention
from keras_cgen.layers.conditional_layer_norm import ConditionalLayerNormalization
from keras_cgen.layers.copy_prior import CopyPrior
from keras_cgen.layers.gated_pixelcnn_block import GatedPixelCNNBlock
from keras_cgen.layers.gated_pixelcnn_block import pixelcnn_masks
from keras_cgen.layers.pointer_generator import PointerGenerator
from keras_cgen.layers.timestep_embedding import TimestepEmbedding
from keras_cgen.layers.variational_sample import VariationalSample

__all__ = [
    "AttentionMask",
    "BiasAdd",
    "CachedMultiHeadAttention",
    "ConditionalLayerNormalization",
    "CopyPrior",
    "GatedPixelCNNBlock",
    "PointerGenerator",
    "TimestepEmbedding",
    "VariationalSample",
    "causal_attention_mask",
    "pixelcnn_masks",
    "unilm_attention_mask",
]
