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
    "lstm_seq2seq": Family("keras_cgen.families.autotitle.generator:LSTMTitleGenerator", "keras_cgen.families.autotitle.evaluate"),
    "unilm": Family("keras_cgen.families.autotitle.generator:UniLMTitleGenerator", "keras_cgen.families.autotitle.evaluate"),
    "char_rnn": Family("keras_cgen.families.char_lm.generator:CharLMGenerator", "keras_cgen.families.char_lm.evaluate"),
    "conditional_lm": Family("keras_cgen.families.conditional_lm.generator:ConditionalLMGenerator",
                             "keras_cgen.families.conditional_lm.evaluate"),
    "image_caption": Family("keras_cgen.families.caption.generator:CaptionGenerator", "keras_cgen.families.caption.evaluate"),
    "cvae": Family("keras_cgen.families.digits.generator:CVAEGenerator", "keras_cgen.families.digits.evaluate"),
    "cgan": Family("keras_cgen.families.digits.generator:CGANGenerator", "keras_cgen.families.digits.evaluate"),
    "pixelcnn": Family("keras_cgen.families.digits.generator:PixelCNNGenerator", "keras_cgen.families.digits.evaluate"),
    "diffusion_lm": Family("keras_cgen.families.diffusion_lm.generator:DiffusionLMGenerator", "keras_cgen.families.diffusion_lm.evaluate"),
}


def family(name):
    """The table's entry for family `name`, or a ValueError listing the known ones."""
    if name not in FAMILIES:
        raise ValueError(f"Unknown model family {name!r}; known: {', '.join(FAMILIES)}.")
    return FAMILIES[name]
