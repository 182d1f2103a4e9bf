"""The model zoo: `list()` the models, `load(name)` a ready generator.

Each `zoo/<name>/` holds `config.json`, the vocabulary, the weights,
`MODEL_CARD.md` and `MANIFEST.sha256` (every file's checksum). A missing file
or a wrong checksum is an error naming the file: never a silently random model.
"""

import hashlib
import json
import os
import warnings
from pathlib import Path

from keras_cgen.text import pad_rows

MANIFEST = "MANIFEST.sha256"


def zoo_dir():
    """$KERAS_CGEN_ZOO, else the repository's `zoo/` folder."""
    return Path(os.environ.get("KERAS_CGEN_ZOO") or Path(__file__).resolve().parent.parent / "zoo")


def list():  # noqa: A001  (the zoo's public verb)
    """Names of the models in the zoo."""
    root = zoo_dir()
    return sorted(p.name for p in root.iterdir() if (p / "config.json").is_file()) if root.is_dir() else []


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(directory):
    """Checksums every file of a zoo folder (but the manifest) into MANIFEST.sha256."""
    directory = Path(directory)
    lines = [f"{sha256(p)}  {p.relative_to(directory).as_posix()}"
             for p in sorted(directory.rglob("*")) if p.is_file() and p.name != MANIFEST]
    (directory / MANIFEST).write_text("\n".join(lines) + "\n")


def verify(directory):
    directory = Path(directory)
    manifest = directory / MANIFEST
    if not manifest.is_file():
        raise FileNotFoundError(f"Zoo model '{directory.name}' has no {MANIFEST}: the folder is incomplete.")
    for line in manifest.read_text().splitlines():
        expected, name = line.split(maxsplit=1)
        path = directory / name
        if not path.is_file():
            raise FileNotFoundError(f"Zoo model '{directory.name}' is missing '{path}' (listed in {MANIFEST}).")
        actual = sha256(path)
        if actual != expected:
            raise ValueError(f"Checksum mismatch for '{path}': expected {expected}, got {actual}. "
                             "The file is corrupt or was changed; restore it from the repository.")


def load(name):
    """A ready generator for the zoo model `name`: `gen.generate(["text", ...]) -> [str]`."""
    names = list()
    if name not in names:
        raise ValueError(f"Unknown zoo model {name!r}; available: {', '.join(names) or 'none'}.")
    directory = zoo_dir() / name
    verify(directory)
    config = json.loads((directory / "config.json").read_text())
    if config["family"] == "lstm_seq2seq":
        return Seq2SeqGenerator(directory, config)
    raise ValueError(f"Zoo model {name!r} has unknown family {config['family']!r}.")


class Seq2SeqGenerator:
    """Text in, title out, for the LSTM seq2seq zoo models."""

    def __init__(self, directory, config):
        from keras_cgen.models import LSTMSeq2SeqDecoder
        from keras_cgen.models import build_lstm_seq2seq
        from keras_cgen.text import CharVocabulary

        self.config = config
        self.vocabulary = CharVocabulary.load(Path(directory) / config["vocabulary"])
        self.model = build_lstm_seq2seq(len(self.vocabulary), **config["builder"])
        self.model.load_weights(Path(directory) / config["weights"])
        self.decoder = LSTMSeq2SeqDecoder(self.model)

    def encode(self, texts):
        limit = self.config["max_source_length"]
        rows = []
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"texts[{i}] is empty or whitespace: give the article to title.")
            ids = self.vocabulary.encode(text)
            if len(ids) > limit:
                warnings.warn(f"texts[{i}] has {len(ids)} characters; only the first {limit} are used.", stacklevel=3)
            rows.append(ids[:limit])
        return pad_rows(rows)

    def generate(self, texts, num_beams=4, max_new_tokens=None, **kwargs):
        """Titles for `texts` (a string or a list of strings)."""
        single = isinstance(texts, str)
        texts = [texts] if single else texts
        if not texts:
            return []
        settings = {**self.config.get("generation", {}), "num_beams": num_beams, **kwargs}
        out = self.decoder.generate(self.encode(texts), start_id=self.vocabulary.start_id,
                                    eos_token_id=self.vocabulary.end_id,
                                    max_new_tokens=max_new_tokens or self.config["max_target_length"], **settings)
        titles = [self.vocabulary.decode(row[0]) for row in out.sequences.numpy()]
        return titles[0] if single else titles
