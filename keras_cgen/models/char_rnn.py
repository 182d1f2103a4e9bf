"""A character-level LSTM language model (Karpathy's char-rnn, the seed
lesson on character-level generation with temperature).

    Embedding -> LSTM-1 -> ... -> LSTM-n -> Output-Logits

Generation carries each layer's (h, c) through the decoding engine, one
character per step: no re-run of the prefix.
"""

import keras
from keras import ops

from keras_cgen.decoding import engine


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


class CharRNNDecoder:
    """The `init` / `step` pair of `build_char_rnn` for the decoding engine.

    Prompts are *left*-padded with 0: a step on id 0 leaves the state as it
    was, so every row's prompt ends in the last column and the engine
    teacher-forces all prompts together.

    Example:
    >>> decoder = CharRNNDecoder(model)                             # doctest: +SKIP
    >>> decoder.generate(prompt_ids, max_new_tokens=200, do_sample=True,
    ...                  temperature=0.8, seed=0)                   # doctest: +SKIP
    """

    def __init__(self, model):
        self.model = model
        self.num_layers = sum(1 for layer in model.layers if layer.name.startswith("LSTM-") and
                              not layer.name.endswith("Dropout"))
        self.layer = model.get_layer
        self._compiled = {}

    def init(self, batch):
        units = self.layer("LSTM-1").units
        zeros = ops.zeros((batch, units), dtype=self.model.compute_dtype)
        return {f"{kind}{i}": zeros for i in range(1, self.num_layers + 1) for kind in "hc"}

    def step(self, last_token_ids, state, index):
        x = self.layer("Embedding")(last_token_ids)
        new = {}
        keep = ops.equal(last_token_ids, 0)[:, None]  # left padding: no state change
        for i in range(1, self.num_layers + 1):
            x, (h, c) = self.layer(f"LSTM-{i}").cell(x, [state[f"h{i}"], state[f"c{i}"]])
            new[f"h{i}"] = ops.where(keep, state[f"h{i}"], h)
            new[f"c{i}"] = ops.where(keep, state[f"c{i}"], c)
        return self.layer("Output-Logits")(x), new

    def decode(self, prompt_ids, settings, seed):
        """The engine's loop from zero states over left-padded `prompt_ids`
        `[B, P]`. Callable inside any `tf.function`."""
        prompt_ids = ops.cast(prompt_ids, "int32")
        return engine.decode(self.step, settings, self.init(ops.shape(prompt_ids)[0]), prompt_ids, seed)

    def generate(self, prompt_ids, *, max_new_tokens, seed=None, jit_compile=True, **kwargs):
        """Continues each left-padded prompt row; keyword arguments are those
        of `keras_cgen.decoding.generate` (`do_sample`, `temperature`, ...)."""
        settings = engine.make_settings(max_new_tokens=max_new_tokens, **kwargs)
        prompt_ids = engine.check_batch_ids("prompt_ids", prompt_ids)
        run = engine.compile_once(self._compiled, (settings, jit_compile),
                                  lambda ids, seed: self.decode(ids, settings, seed), jit_compile)
        return run(prompt_ids, engine.seed_tensor(seed))
