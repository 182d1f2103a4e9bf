"""`ZooConfig`: the typed `config.json` of a zoo model, written by every
recipe (`zoo.save_zoo_model`) and read by `zoo.load`."""

import dataclasses
import json
from pathlib import Path

# Older folders named the one output length three ways.
LEGACY_LENGTH_KEYS = ("max_target_length", "max_length")


@dataclasses.dataclass
class ZooConfig:
    """What a zoo model folder says about itself.

    Args:
        family: the model family, a key of `keras_cgen.zoo.families.FAMILIES`.
        vocabulary: the vocabulary file in the folder (`vocab.json`: a
            `CharVocabulary`; `vocab.txt`: WordPiece).
        max_new_tokens: the longest output in tokens, end token included: the
            length the model was trained on and the default of `generate()`.
        generation: default keyword arguments of `generate()` and of the
            exports (those of `keras_cgen.decoding.generate`), e.g.
            `{"num_beams": 4}` or `{"do_sample": True, "top_p": 0.9}`.
        weights: the weights file (fp16 safetensors, `zoo.save_weights`).
        language: the language of the text the model reads or writes.
        builder: keyword arguments of the family's model builder (LSTM models).
        transformer: the `BertConfig` of a transformer model, as a dict.
        encoder: keyword arguments of `build_image_encoder` (captioners).
        condition: the condition projection of a conditional transformer.
        max_source_length, source_tail: a title model reads at most
            `max_source_length` source tokens, the last `source_tail` of them
            from the end of a longer text.
        labels, conditioning: a conditional LM's labels and how it reads
            them ("layer_norm", "first_token" or "none").
        data, training: where the data and the weights came from (for the card;
            `training["note"]` a remark, `training["tried"]` measured attempts
            that were not kept, each with its commands).

    Example:
    >>> config = ZooConfig(family="char_rnn", vocabulary="vocab.json", max_new_tokens=400,
    ...                    generation={"do_sample": True, "temperature": 0.8})
    >>> ZooConfig.from_dict(config.to_dict()) == config
    True
    """

    family: str
    vocabulary: str
    max_new_tokens: int
    generation: dict = dataclasses.field(default_factory=dict)
    weights: str = "model.safetensors"
    language: str = ""
    builder: dict = None
    transformer: dict = None
    encoder: dict = None
    condition: dict = None
    max_source_length: int = None
    source_tail: int = 0
    labels: list = None
    conditioning: str = None
    data: dict = None
    training: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        from keras_cgen.decoding import engine

        if not isinstance(self.max_new_tokens, int) or self.max_new_tokens < 1:
            raise ValueError(f"ZooConfig `max_new_tokens` must be an int >= 1, got {self.max_new_tokens!r}.")
        if not isinstance(self.generation, dict):
            raise ValueError(f"ZooConfig `generation` must be a dict of generate() settings, got {self.generation!r}.")
        from keras_cgen.zoo.families import FAMILIES

        # A family's own sampler options (e.g. the PixelCNN's `guidance`), checked by its sampler.
        own = set(getattr(FAMILIES[self.family].generator_class(), "draw_options", {})) \
            if self.family in FAMILIES else set()
        allowed = {f.name for f in dataclasses.fields(engine.Settings)} | {"eos_token_id"} | own
        unknown = sorted(set(self.generation) - allowed)
        if unknown:
            raise ValueError(f"ZooConfig `generation` has unknown settings {unknown}; allowed: {sorted(allowed)}.")
        engine_settings = {k: v for k, v in self.generation.items() if k not in own}
        engine.make_settings(**{"max_new_tokens": self.max_new_tokens, **engine_settings})  # values valid?
        if self.max_source_length is not None and not 0 <= self.source_tail < self.max_source_length:
            raise ValueError(f"ZooConfig `source_tail` must be in [0, max_source_length={self.max_source_length}), "
                             f"got {self.source_tail!r}.")

    @classmethod
    def from_dict(cls, values, source="config"):
        values = dict(values)
        for key in LEGACY_LENGTH_KEYS:
            if key in values:
                values.setdefault("max_new_tokens", values.pop(key))
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - fields)
        if unknown:
            raise ValueError(f"{source}: unknown keys {unknown}; a zoo config has {sorted(fields)}.")
        missing = sorted(f.name for f in dataclasses.fields(cls)
                         if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
                         and f.name not in values)
        if missing:
            raise ValueError(f"{source}: missing keys {missing}.")
        return cls(**values)

    @classmethod
    def read(cls, directory):
        """The config of the zoo folder `directory`."""
        path = Path(directory) / "config.json"
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")), source=str(path))

    def to_dict(self):
        """The `config.json` content: unset (None) entries left out."""
        return {key: value for key, value in dataclasses.asdict(self).items() if value is not None}

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)
