"""FUDGE (Yang & Klein 2021, "FUDGE: Controlled Text Generation With Future
Discriminators"): an unconditional autoregressive LM steered by a classifier
that predicts, from a prefix, whether the finished text will have an
attribute. At each step the LM's top-k next tokens are re-scored by

    log p(next | prefix) + log p(attribute | prefix + next)

and every other token is dropped. The LM is not retrained; the classifier is
small and reads prefixes only.

    processor = FudgeProcessor(classifier, class_id=4, top_k=20)
    generator.generate(labels, do_sample=True, logits_processors=(processor,))
"""

import keras
from keras import ops

NEG_INF = float("-inf")


def build_prefix_classifier(vocabulary_size, num_classes, embedding_dim=64, units=128):
    """p(attribute | x_1..x_i) for every prefix at once: token ids `[B, T]` ->
    logits `[B, T, num_classes]` (position i reads tokens 0..i: a
    left-to-right LSTM). Train it on whole sequences with the text's
    attribute at every real position."""
    token_ids = keras.Input((None,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(vocabulary_size, embedding_dim, name="Prefix-Embedding")(token_ids)
    x = keras.layers.LSTM(units, return_sequences=True, name="Prefix-LSTM")(x)
    logits = keras.layers.Dense(num_classes, name="Prefix-Logits")(x)
    return keras.Model(token_ids, logits, name="prefix_classifier")


class FudgeProcessor:
    """A logits processor for `keras_cgen.decoding.generate`
    (`logits_processors=(FudgeProcessor(...),)`).

    Args:
        classifier: a `build_prefix_classifier` model over the LM's token ids.
        class_id: the attribute to steer towards.
        top_k: candidates re-scored per step (FUDGE: 20).
        weight: the classifier's log-probability is multiplied by it (1: Bayes' rule).

    Called as `processor(logits [N, V], context [N, T], length)` where
    `context[:, :length]` is the prompt and the tokens so far; returns the
    re-scored logits (-inf outside the top k).
    """

    def __init__(self, classifier, class_id, top_k=20, weight=1.0):
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"`top_k` must be an int >= 1, got {top_k!r}.")
        num_classes = classifier.output.shape[-1]
        if isinstance(class_id, bool) or not isinstance(class_id, int) or not 0 <= class_id < num_classes:
            raise ValueError(f"`class_id` must be an int in 0..{num_classes - 1}, got {class_id!r}.")
        self.classifier, self.class_id, self.top_k, self.weight = classifier, class_id, top_k, float(weight)

    def __call__(self, logits, context, length):
        vocabulary = ops.shape(logits)[-1]
        values, candidates = ops.top_k(logits, min(self.top_k, logits.shape[-1]))  # [N, k]
        k = ops.shape(candidates)[1]
        total = ops.shape(context)[1]
        # Each candidate written at column `length` of its own copy of the context.
        at_next = ops.arange(total)[None, None, :] == length
        sequences = ops.where(at_next, candidates[:, :, None], ops.repeat(context[:, None, :], k, axis=1))
        log_probs = ops.log_softmax(self.classifier(ops.reshape(sequences, (-1, total)), training=False), axis=-1)
        attribute = ops.reshape(ops.take(log_probs[..., self.class_id], length, axis=1), ops.shape(candidates))
        scores = ops.maximum(values + self.weight * attribute, -1e9)  # [N, k]; finite, so 0 * score is 0
        chosen = ops.one_hot(candidates, vocabulary, dtype=logits.dtype)  # [N, k, V]
        rescored = ops.sum(chosen * scores[:, :, None], axis=1)
        return ops.where(ops.sum(chosen, axis=1) > 0, rescored, NEG_INF)


def load_prefix_classifier(directory):
    """`(classifier, labels)` from a folder written by `examples/task_fudge.py`
    (`prefix_classifier.json` + fp16 safetensors, checked against its manifest)."""
    import json
    from pathlib import Path

    from keras_cgen.zoo.store import load_weights
    from keras_cgen.zoo.store import verify

    directory = Path(directory)
    verify(directory)
    spec = json.loads((directory / "prefix_classifier.json").read_text())
    classifier = build_prefix_classifier(**spec["builder"])
    load_weights(classifier, directory / "prefix_classifier.safetensors")
    return classifier, spec["labels"]
