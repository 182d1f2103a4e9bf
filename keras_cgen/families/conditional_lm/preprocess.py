"""The one packing of the conditional LM's examples: a (label, text) pair ->
token ids, used by `train`, `generate` (the prompt's first token) and the tests."""


def label_token(label):
    """The vocabulary token of a label, for models that read it as their first token."""
    return f"<{label}>"


def lm_row(vocabulary, conditioning, text, label, max_characters):
    """Token ids of one LM sequence: the start token (the label's token when
    `conditioning` is "first_token"), up to `max_characters` of `text`, [END]."""
    first = vocabulary.index[label_token(label)] if conditioning == "first_token" else vocabulary.start_id
    return [first, *vocabulary.encode(text)[:max_characters].tolist(), vocabulary.end_id]
