"""Measuring zoo models and writing their cards: shared metrics and card
parts, then one module per family (reached through `keras_cgen.zoo.FAMILIES`),
each with `evaluate(name, split, limit, compare)`, `summary(report)` and
`write_card(report, directory, command)`."""

from keras_cgen.evaluation.metrics import Score
from keras_cgen.evaluation.metrics import distinct_n
from keras_cgen.evaluation.metrics import interval
from keras_cgen.evaluation.metrics import markdown_table
from keras_cgen.evaluation.metrics import rouge_l
from keras_cgen.evaluation.metrics import score

__all__ = ["Score", "distinct_n", "interval", "markdown_table", "rouge_l", "score"]
