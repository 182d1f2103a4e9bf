"""A label-conditioned transformer LM (`conditional_lm`): the label conditions
every LayerNorm (CLN), or is the first token, or is absent (the baselines)."""

from keras_cgen.families.conditional_lm.generator import ConditionalLMGenerator
from keras_cgen.families.conditional_lm.preprocess import label_token
from keras_cgen.families.conditional_lm.preprocess import lm_row
from keras_cgen.families.conditional_lm.train import train

__all__ = ["ConditionalLMGenerator", "label_token", "lm_row", "train"]
