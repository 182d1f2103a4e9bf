"""A continuous Diffusion-LM steered by plug-and-play classifiers (`diffusion_lm`),
and the FUDGE baseline it is measured against."""

from keras_cgen.families.diffusion_lm.generator import DiffusionLMGenerator
from keras_cgen.families.diffusion_lm.model import DiffusionLM
from keras_cgen.families.diffusion_lm.model import build_diffusion_denoiser
from keras_cgen.families.diffusion_lm.model import build_latent_classifier
from keras_cgen.families.diffusion_lm.train import train
from keras_cgen.families.diffusion_lm.train import train_prefix_classifier

__all__ = ["DiffusionLM", "DiffusionLMGenerator", "build_diffusion_denoiser", "build_latent_classifier", "train",
           "train_prefix_classifier"]
