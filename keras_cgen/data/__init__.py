"""Readers and fetchers for the real corpora."""

from keras_cgen.data.debian import copy_pairs
from keras_cgen.data.debian import family_of
from keras_cgen.data.debian import fetch_translations
from keras_cgen.data.debian import load_pairs
from keras_cgen.data.debian import parse_records
from keras_cgen.data.debian import split_pairs

__all__ = ["copy_pairs", "family_of", "fetch_translations", "load_pairs", "parse_records", "split_pairs"]
