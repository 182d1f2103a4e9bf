"""`ConditionVocabulary`: the texts a class-conditional model accepts as its
condition, each naming one class ("7", "seven", "Seven", "七" -> class 7).
The image families' vocabulary file (`conditions.json`), shipped beside both
exports so that a client maps text to a class exactly as the model does."""

import json
from pathlib import Path

# Digits by their numeral, English word and Chinese numerals (simple and financial forms).
DIGIT_NAMES = {
    "0": ["zero", "零", "〇"], "1": ["one", "一", "壹"], "2": ["two", "二", "两", "贰"], "3": ["three", "三", "叁"],
    "4": ["four", "四", "肆"], "5": ["five", "五", "伍"], "6": ["six", "六", "陆"], "7": ["seven", "七", "柒"],
    "8": ["eight", "八", "捌"], "9": ["nine", "九", "玖"],
}


class ConditionVocabulary:
    """Classes and the texts that name them. Texts are matched after
    stripping surrounding spaces and lower-casing (so "Seven " is "seven").

    Args:
        classes: class names, in the order of the model's class index.
        aliases: `{class name: [other texts naming it]}`.

    Example:
    >>> vocabulary = ConditionVocabulary.digits()
    >>> [vocabulary.class_id(text) for text in ["7", "Seven", "七"]]
    [7, 7, 7]
    """

    def __init__(self, classes, aliases=None):
        self.classes = [*classes]
        self.aliases = {name: [*texts] for name, texts in (aliases or {}).items()}
        unknown = sorted(set(self.aliases) - set(self.classes))
        if unknown:
            raise ValueError(f"`aliases` names classes {unknown} that are not in `classes` {self.classes}.")
        self.index = {}
        for i, name in enumerate(self.classes):
            for text in [name, *self.aliases.get(name, [])]:
                key = self.normalise(text)
                if self.index.get(key, i) != i:
                    raise ValueError(f"{text!r} names two classes: {self.classes[self.index[key]]!r} and {name!r}.")
                self.index[key] = i

    @classmethod
    def digits(cls):
        return cls([str(d) for d in range(10)], DIGIT_NAMES)

    @staticmethod
    def normalise(text):
        return text.strip().lower()

    def __len__(self):
        return len(self.classes)

    def class_id(self, text, name="condition"):
        """The class that `text` names, or a ValueError naming what is accepted."""
        if not isinstance(text, str):
            raise ValueError(f"`{name}` must be a string naming a class, got {type(text).__name__} {text!r}.")
        key = self.normalise(text)
        if key not in self.index:
            examples = ", ".join(repr(t) for t in [*self.classes[-1:], *self.aliases.get(self.classes[-1], [])])
            raise ValueError(f"`{name}` is {text!r}, which names no class of this model; it knows the classes "
                             f"{self.classes} by their names or aliases (e.g. {examples}).")
        return self.index[key]

    def class_ids(self, texts, name="conditions"):
        return [self.class_id(text, f"{name}[{i}]") for i, text in enumerate(texts)]

    def lookup_table(self):
        """Normalised text -> class (unknown -> -1), a core TensorFlow table; the
        serving graph normalises with `tf.strings` as `normalise` does."""
        import tensorflow as tf

        if getattr(self, "_table", None) is None:
            with tf.init_scope():
                self._table = tf.lookup.StaticHashTable(
                    tf.lookup.KeyValueTensorInitializer(tf.constant(list(self.index)),
                                                        tf.constant(list(self.index.values()), tf.int32)),
                    default_value=-1)
        return self._table

    def graph_class_ids(self, strings):
        """`class_id` on a string tensor `[B]` (unknown -> -1)."""
        import tensorflow as tf

        return self.lookup_table().lookup(tf.strings.lower(tf.strings.strip(strings), encoding="utf-8"))

    def save(self, path):
        Path(path).write_text(json.dumps({"classes": self.classes, "aliases": self.aliases}, ensure_ascii=False,
                                         indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path):
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, dict) or "classes" not in data:
            raise ValueError(f"'{path}' is not a ConditionVocabulary file: expected {{'classes': [...], 'aliases': {{}}}}.")
        return cls(data["classes"], data.get("aliases"))
