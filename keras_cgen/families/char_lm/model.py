"""A character-level LSTM language model (Karpathy's char-rnn, the seed
lesson on character-level generation with temperature).

    Embedding -> LSTM-1 -> ... -> LSTM-n -> Output-Logits

Generation carries each layer's (h, c) through the decoding engine, one
character per step: no re-run of the prefix.
"""

import keras
from keras import ops

from keras_cgen.decoding import engine
from keras_cgen.decoding.decoder import Decoder


def build_char_rnn(vocabulary_size, embedding_dim=64, hidden_units=512, num_layers=2, dropout=0.0):
    """Builds the training model: `token_ids [B, T]` -> float32 logits `[B, T, V]`
    of each next character.

    Args:
        vocabulary_size: characters, id 0 = padding.
        embedding_dim: size of the character embedding.
        hidden_units: units of each LSTM layer.
        num_layers: stacked LSTM layers.
        dropout: dropout after each LSTM layer (training only).

    Example:
    >>> model = build_char_rnn(50, embedding_dim=8, hidden_units=16)
    >>> tuple(model(keras.ops.ones((2, 7), "int32")).shape)
    (2, 7, 50)
    """
    if num_layers < 1:
        raise ValueError(f"`num_layers` must be >= 1, got {num_layers}.")
    token_ids = keras.Input((None,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(vocabulary_size, embedding_dim, name="Embedding")(token_ids)
    for i in range(1, num_layers + 1):
        x = keras.layers.LSTM(hidden_units, return_sequences=True, name=f"LSTM-{i}")(x)
        x = keras.layers.Dropout(dropout, name=f"LSTM-{i}-Dropout")(x)
    logits = keras.layers.Dense(vocabulary_size, dtype="float32", name="Output-Logits")(x)
    return keras.Model(token_ids, logits, name="char_rnn")


class CharRNNDecoder(Decoder):
    """The cached decoder of `build_char_rnn`: each step feeds one character
    through the LSTM cells, carrying each layer's (h, c).

    Prompts are *left*-padded with 0: a step on id 0 leaves the state as it
    was, so every row's prompt ends in the last column and the engine
    teacher-forces all prompts together.

    Example:
    >>> decoder = CharRNNDecoder(model)                             # doctest: +SKIP
    >>> decoder.generate(prompt_ids, max_new_tokens=200, do_sample=True,
    ...                  temperature=0.8, seed=0)                   # doctest: +SKIP
    """

    def __init__(self, model):
        super().__init__(model)
        self.num_layers = sum(1 for layer in model.layers if layer.name.startswith("LSTM-") and
                              not layer.name.endswith("Dropout"))

    def check_inputs(self, prompt_ids):
        return engine.check_batch_ids("prompt_ids", prompt_ids)

    def init(self, prompt_ids, max_new_tokens):
        prompt_ids = ops.cast(prompt_ids, "int32")
        zeros = ops.zeros((ops.shape(prompt_ids)[0], self.layer("LSTM-1").units), dtype=self.model.compute_dtype)
        state = {f"{kind}{i}": zeros for i in range(1, self.num_layers + 1) for kind in "hc"}
        return state, prompt_ids, {}

    def step(self, last_token_ids, state, index, shared, cache_write):
        x = self.layer("Embedding")(last_token_ids)
        new = {}
        keep = ops.equal(last_token_ids, 0)[:, None]  # left padding: no state change
        for i in range(1, self.num_layers + 1):
            x, (h, c) = self.layer(f"LSTM-{i}").cell(x, [state[f"h{i}"], state[f"c{i}"]])
            new[f"h{i}"] = ops.where(keep, state[f"h{i}"], h)
            new[f"c{i}"] = ops.where(keep, state[f"c{i}"], c)
        return self.layer("Output-Logits")(x), new
