"""Titles get the source's spelling back: the rule on real cases, and the
SavedModel's graph twin equal to the Python one."""

import numpy as np
import tensorflow as tf

from keras_cgen.text.source_spelling import graph_restore_spelling
from keras_cgen.text.source_spelling import restore_spelling

CASES = [  # (generated title, source, expected)
    ("gobject introspection bindings for libmalcontent - ui",
     "GObject introspection bindings for libmalcontent-ui, the parental controls library.",
     "GObject introspection bindings for libmalcontent-ui"),
    ("qt model support library", "The Qt 6 model support library (QT apps)", "Qt model support library"),
    ("c + + library for json", "A C++ library for JSON", "C++ library for JSON"),
    ("new words stay as written", "Nothing in common", "new words stay as written"),
    ("a - b", "a - b", "a - b"),  # spaced in the source: spaced in the title
    ("x. org driver", "X.Org driver for ATI cards", "X.Org driver"),
    ("multi - lingual viewer", "A simple multi-page viewer", "multi-lingual viewer"),  # "-" inside a word
    ("ends. next", "It ends. Next comes", "ends. Next"),  # "." ends the source's sentence: not inside a word
    ("", "A source", ""),
    ("title", "", "title"),
]


def test_restore_spelling_cases():
    for title, source, expected in CASES:
        assert restore_spelling(title, source) == expected, (title, source)


def test_graph_twin_equals_python():
    rng = np.random.default_rng(0)
    words = ["Qt", "qt", "QT", "lib", "-", "ui", "C", "+", ".", "(", ")", "café", "É", "x_y", "2.0", "GNU/Linux",
             "multi-page"]
    titles, sources = [t for t, _, _ in CASES], [s for _, s, _ in CASES]
    for _ in range(200):
        source = "".join(rng.choice(words) + rng.choice(["", " ", "  "]) for _ in range(rng.integers(0, 12)))
        title = " ".join(w.lower() for w in rng.choice(words, rng.integers(0, 8)))
        titles.append(title)
        sources.append(source)
    graph = [t.decode("utf-8") for t in graph_restore_spelling(tf.constant(titles), tf.constant(sources)).numpy()]
    assert graph == [restore_spelling(t, s) for t, s in zip(titles, sources)]
    assert graph_restore_spelling(tf.constant([""]), tf.constant([""])).numpy().tolist() == [b""]
