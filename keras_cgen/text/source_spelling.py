"""Titles written by an uncased WordPiece model come out lower-cased and
split at punctuation ("gobject introspection bindings for libmalcontent - ui").
`restore_spelling` gives every word the model copied from the source the
source's own spelling and case, and joins words that the source writes
together ("GObject introspection bindings for libmalcontent-ui").

The rule, for each title token (a run of ASCII letters, digits and `_`, or
one other non-space character):
- spelling: the first source token equal to it ignoring ASCII case, else as
  generated;
- spacing: none where the source has the same two tokens side by side with
  no space between them, and none after a punctuation token joined so that
  the source writes inside a word ("multi - lingual" after "multi-page" is
  "multi-lingual"); otherwise the title's own.

`restore_spelling` (Python: `generate`, ONNX clients) and
`graph_restore_spelling` (TensorFlow ops: the SavedModel) follow the same
rule; a test holds them equal.
"""

import re

WORD = "A-Za-z0-9_"
SPACE = r"\t\n\f\r "  # RE2's \s, spelled out: Python's \s knows more spaces
TOKEN = re.compile(f"[{WORD}]+|[^{WORD}{SPACE}]")
WORD_TOKEN = re.compile(f"[{WORD}]+")


def tokens(text):
    """`(token, preceded by a space)` pairs of `text`."""
    out, end = [], 0
    for match in TOKEN.finditer(text):
        out.append((match.group(), match.start() > end))
        end = match.end()
    return out


def ascii_lower(text):
    return "".join(c.lower() if c.isascii() else c for c in text)


def restore_spelling(title, source):
    """`title` with the source's spelling of the words it copied (see the module)."""
    source_tokens = tokens(source)
    lowered = [ascii_lower(token) for token, _ in source_tokens]
    out, previous, glue = [], None, False
    for i, (token, spaced) in enumerate(tokens(title)):
        word = ascii_lower(token)
        matches = [j for j, other in enumerate(lowered) if other == word]
        joined_at = [j for j in matches if j > 0 and lowered[j - 1] == previous and not source_tokens[j][1]]
        joined = glue or bool(joined_at)
        out.append((" " if i and spaced and not joined else "") + (source_tokens[matches[0]][0] if matches else token))
        glue = not WORD_TOKEN.fullmatch(token) and any(
            j + 1 < len(source_tokens) and not source_tokens[j + 1][1] for j in joined_at)
        previous = word
    return "".join(out)


def graph_restore_spelling(titles, sources):
    """`restore_spelling` on string tensors `[B]` (graph ops)."""
    import tensorflow as tf
    import tensorflow_text as tf_text

    def split(texts):
        pieces, starts, ends = tf_text.regex_split_with_offsets(texts, f"[{SPACE}]+|[^{WORD}{SPACE}]",
                                                                f"[^{WORD}{SPACE}]")
        spaced = tf.concat([tf.zeros_like(starts[:, :1], tf.bool), starts[:, 1:] > ends[:, :-1]], axis=1)
        valid = tf.ones_like(starts, tf.bool)
        # one more (invalid) column: no empty axis when a whole batch is blank
        pad = lambda x, value: tf.pad(x.to_tensor(value), [[0, 0], [0, 1]], constant_values=value)  # noqa: E731
        return pad(pieces, ""), pad(spaced, False), pad(valid, False)

    source, source_spaced, source_valid = split(sources)
    title, title_spaced, title_valid = split(titles)
    lower_source, lower_title = tf.strings.lower(source), tf.strings.lower(title)  # ASCII only, as ascii_lower
    equal = tf.logical_and(tf.equal(lower_title[:, :, None], lower_source[:, None, :]),
                           source_valid[:, None, :])  # [B, T, S]
    found = tf.reduce_any(equal, axis=2)
    first = tf.argmax(tf.cast(equal, tf.int32), axis=2, output_type=tf.int32)
    spelled = tf.where(found, tf.gather(source, first, batch_dims=1), title)
    # title token i-1 equal to source token j-1 (shifted one along both axes)
    previous = tf.pad(equal[:, :-1, :-1], [[0, 0], [1, 0], [1, 0]])
    joined_at = equal & previous & ~source_spaced[:, None, :]  # [B, T, S]
    # source token j+1 follows j with no space: j is written inside a word
    inside = tf.pad(source_valid[:, 1:] & ~source_spaced[:, 1:], [[0, 0], [0, 1]])
    punctuation = ~tf.strings.regex_full_match(title, f"[{WORD}]+")
    glue = tf.reduce_any(joined_at & inside[:, None, :], axis=2) & punctuation
    joined = tf.reduce_any(joined_at, axis=2) | tf.pad(glue[:, :-1], [[0, 0], [1, 0]])
    separator = tf.where(title_spaced & ~joined, " ", "")
    return tf.strings.reduce_join(tf.where(title_valid, separator + spelled, ""), axis=1)
