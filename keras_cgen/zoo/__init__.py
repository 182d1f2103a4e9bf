"""The model zoo: `list()` the models, `load(name)` a ready generator.

    store.py        where models are, checksums, fp16 safetensors weights
    config.py       ZooConfig, the typed config.json
    families.py     the family table: family name -> generator, evaluation
    generator.py    Generator, the contract every family fulfils
    autotitle.py, char_lm.py, conditional_lm.py, caption.py: one file per family
"""

from keras_cgen.zoo.config import ZooConfig
from keras_cgen.zoo.families import FAMILIES
from keras_cgen.zoo.families import family
from keras_cgen.zoo.store import find
from keras_cgen.zoo.store import load_weights
from keras_cgen.zoo.store import names
from keras_cgen.zoo.store import save_weights
from keras_cgen.zoo.store import save_zoo_model
from keras_cgen.zoo.store import verify
from keras_cgen.zoo.store import write_manifest
from keras_cgen.zoo.store import write_zoo_folder
from keras_cgen.zoo.store import zoo_dir


def load(name):
    """A ready generator for the zoo model `name`, or for any zoo-format
    folder (a path): checksums verified, weights strictly loaded.
    `gen.generate(...)` then takes what the family reads (texts, prompts,
    labels or images)."""
    directory = find(name)
    verify(directory)
    config = ZooConfig.read(directory)
    return family(config.family).generator_class()(directory, config)


list = names  # noqa: A001  (the zoo's public verb: keras_cgen.zoo.list())

__all__ = ["FAMILIES", "ZooConfig", "family", "find", "list", "load", "load_weights", "names", "save_weights",
           "save_zoo_model", "verify", "write_manifest", "write_zoo_folder", "zoo_dir"]
