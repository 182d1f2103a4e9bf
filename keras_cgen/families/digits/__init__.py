"""Conditional digit generators on MNIST: a conditional VAE (`cvae`), a
conditional GAN (`cgan`) and a gated conditional PixelCNN (`pixelcnn`)."""

from keras_cgen.families.digits.cgan import ConditionalGAN
from keras_cgen.families.digits.cgan import build_cgan_discriminator
from keras_cgen.families.digits.cgan import build_cgan_generator
from keras_cgen.families.digits.cvae import build_cvae
from keras_cgen.families.digits.generator import CGANGenerator
from keras_cgen.families.digits.generator import CVAEGenerator
from keras_cgen.families.digits.generator import PixelCNNGenerator
from keras_cgen.families.digits.pixelcnn import build_conditional_pixelcnn
from keras_cgen.families.digits.train import train

__all__ = ["CGANGenerator", "CVAEGenerator", "ConditionalGAN", "PixelCNNGenerator", "build_cgan_discriminator",
           "build_cgan_generator", "build_conditional_pixelcnn", "build_cvae", "train"]
