"""The one packing of auto-title examples, shared by `train`, `generate`, the
ONNX client and (as graph ops) the SavedModel: a source is cut to
`max_source` tokens (the head, and the last `source_tail` when cut); a UniLM
row is `[CLS] body [SEP] title [SEP]` with segments 0 / 1; an LSTM row is the
body and `[START] title [END]`."""

import numpy as np
import tensorflow as tf

from keras_cgen.text import truncate


def source_ids(vocabulary, text, max_source, source_tail):
    """The ids a title model reads for one source text."""
    return truncate(vocabulary.encode(text), max_source, source_tail)


def unilm_source(vocabulary, body_ids):
    """`[CLS] body [SEP]`: the UniLM model's source segment."""
    return [vocabulary.start_id, *body_ids, vocabulary.end_id]


def cut_positions(lengths, limit, tail):
    """Per row, the positions kept by `truncate`: `[0, head)` and, when a row
    is longer than `limit`, `[length - tail, length)` (ragged, graph ops)."""
    cut = lengths > limit
    head = tf.where(cut, limit - tail, lengths)
    return tf.concat([tf.ragged.range(head), tf.ragged.range(tf.where(cut, lengths - tail, lengths), lengths)], axis=1)


def lstm_arrays(pairs, vocabulary, max_source, source_tail, max_target):
    """LSTM training arrays: padded `source_ids`, teacher-forced `target_ids`, labels and weights."""
    source = np.zeros((len(pairs), max_source), "int32")
    target = np.zeros((len(pairs), max_target + 1), "int32")
    for i, pair in enumerate(pairs):
        ids = source_ids(vocabulary, pair["body"], max_source, source_tail)
        source[i, : len(ids)] = ids
        title = [vocabulary.start_id] + list(vocabulary.encode(pair["title"])[: max_target - 1]) + [vocabulary.end_id]
        target[i, : len(title)] = title
    labels = target[:, 1:]
    return {"source_ids": source, "target_ids": target[:, :-1]}, labels, (labels != 0).astype("float32")


def unilm_rows(pairs, vocabulary, max_source, source_tail, max_target):
    """`[CLS] body [SEP] title [SEP]` ids and segment ids, one row per pair."""
    bodies = vocabulary.encode_batch(p["body"] for p in pairs)
    titles = vocabulary.encode_batch(p["title"] for p in pairs)
    rows = []
    for body, title in zip(bodies, titles):
        source = unilm_source(vocabulary, truncate(body, max_source, source_tail))
        target = list(title[: max_target - 1]) + [vocabulary.end_id]
        rows.append((source + target, [0] * len(source) + [1] * len(target)))
    return rows


def visible(row):
    """Whether a copy row's title is in its (truncated) source: the copy stage
    must not ask for a sentence the model cannot see."""
    ids, segments = row
    source, title = ids[: segments.index(1)], ids[segments.index(1):-1]
    return any(source[i: i + len(title)] == title for i in range(len(source) - len(title) + 1))


def unilm_dataset(rows, batch_size, training_set, longest):
    """Batches bucketed by length (few padded shapes); labels are the next
    token, weighted by whether it belongs to the title."""
    spec = tf.TensorSpec([None], tf.int32)
    data = tf.data.Dataset.from_generator(lambda: iter(rows), output_signature=(spec, spec))
    if training_set:
        data = data.shuffle(len(rows), seed=0, reshuffle_each_iteration=True).repeat()
    boundaries = [*(b for b in (49, 81, 129) if b <= longest), longest + 1]  # `longest`: a whole row
    data = data.bucket_by_sequence_length(lambda i, s: tf.shape(i)[0], boundaries, [batch_size] * (len(boundaries) + 1),
                                          pad_to_bucket_boundary=True, drop_remainder=training_set)

    def split(i, s):
        following = lambda t: tf.pad(t[:, 1:], [[0, 0], [0, 1]])  # noqa: E731
        return {"token_ids": i, "segment_ids": s}, following(i), tf.cast(following(s), "float32")
    return data.map(split).prefetch(2)
