"""The one packing of caption examples: an image read the way `generate`
reads it (`keras_cgen.images.read_image`, the serving graph's
`decode_images` twin) and its caption as `[START] tokens [END]`."""

import numpy as np

from keras_cgen.images import read_image


def caption_arrays(rows, vocabulary, caption_key, image_size, max_length):
    """Images, teacher-forced caption ids, next-token labels and their weights
    (`rows`: dicts with "image" and the caption under `caption_key`)."""
    images = np.stack([read_image(row["image"], image_size) for row in rows])
    ids = np.zeros((len(rows), max_length + 2), "int32")
    for i, row in enumerate(rows):
        caption = [vocabulary.start_id, *vocabulary.encode(row[caption_key])[:max_length].tolist(), vocabulary.end_id]
        ids[i, : len(caption)] = caption
    labels = ids[:, 1:]
    inputs = {"image": images, "token_ids": ids[:, :-1], "segment_ids": np.zeros_like(ids[:, :-1])}
    return inputs, labels, (labels != 0).astype("float32")
