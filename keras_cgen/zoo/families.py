"""The family table: what `config.json`'s "family" names, where its generator
and its evaluation live. Export, the CLI and the model cards read a family
only through this table and the `Generator` contract.

Adding a family = its generator file under `keras_cgen/zoo/`, its evaluation
module under `keras_cgen/evaluation/`, and one line here.
"""

import dataclasses
import importlib


@dataclasses.dataclass(frozen=True)
class Family:
    """`generator`: "module:Class" of its `Generator` subclass; `evaluation`: the
    module with `evaluate(name, split, limit, compare)`, `summary(report)`,
    `write_card(report, directory, command)` and `requests(generator, count)`
    (held-out inputs a user would send, for the serving benchmark)."""

    generator: str
    evaluation: str

    def generator_class(self):
        module, name = self.generator.split(":")
        return getattr(importlib.import_module(module), name)

    def evaluation_module(self):
        return importlib.import_module(self.evaluation)


FAMILIES = {
    "lstm_seq2seq": Family("keras_cgen.zoo.autotitle:LSTMTitleGenerator", "keras_cgen.evaluation.autotitle"),
    "unilm": Family("keras_cgen.zoo.autotitle:UniLMTitleGenerator", "keras_cgen.evaluation.autotitle"),
    "char_rnn": Family("keras_cgen.zoo.char_lm:CharLMGenerator", "keras_cgen.evaluation.char_lm"),
    "conditional_lm": Family("keras_cgen.zoo.conditional_lm:ConditionalLMGenerator",
                             "keras_cgen.evaluation.conditional_lm"),
    "image_caption": Family("keras_cgen.zoo.caption:CaptionGenerator", "keras_cgen.evaluation.caption"),
    "cvae": Family("keras_cgen.zoo.cvae:CVAEGenerator", "keras_cgen.evaluation.digits"),
    "cgan": Family("keras_cgen.zoo.cgan:CGANGenerator", "keras_cgen.evaluation.digits"),
    "pixelcnn": Family("keras_cgen.zoo.pixelcnn:PixelCNNGenerator", "keras_cgen.evaluation.digits"),
    "diffusion_lm": Family("keras_cgen.zoo.diffusion_lm:DiffusionLMGenerator", "keras_cgen.evaluation.diffusion_lm"),
}


def family(name):
    """The table's entry for family `name`, or a ValueError listing the known ones."""
    if name not in FAMILIES:
        raise ValueError(f"Unknown model family {name!r}; known: {', '.join(FAMILIES)}.")
    return FAMILIES[name]
