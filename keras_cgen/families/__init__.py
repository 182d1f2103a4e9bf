"""One package per model family: its builders (`model.py`), the one packing of
raw examples (`preprocess.py`), its `Generator` (`generator.py`), its recipe as
library code (`train.py`) and its measurement and card (`evaluate.py`).

The zoo reaches a family only through `keras_cgen.zoo.families.FAMILIES`,
which names these modules and imports them when asked for; nothing below this
package imports from it.
"""
