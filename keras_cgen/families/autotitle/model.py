"""The LSTM seq2seq title model of the seed text "玩转Keras之seq2seq自动生成标题".

Shared embedding; a 2-layer bidirectional LSTM encoder; a 2-layer LSTM
decoder; multiplicative attention from each decoder state over the encoder
outputs; logits from [decoder state; attention context]; a `CopyPrior` (bag of
source tokens) averaged into the logits; optionally a `PointerGenerator` that
copies source tokens through the attention (for small corpora).

    Embedding (shared) -> Encoder-BiLSTM-1 -> Encoder-BiLSTM-2 ------------+
    Embedding (shared) -> Decoder-LSTM-1 -> Decoder-LSTM-2 -> Attention <--+
    [decoder; context] -> Output-Hidden -> Output-Logits -> Copy-Prior [-> Pointer]
"""

import keras
from keras import ops

from keras_cgen.decoding import engine
from keras_cgen.decoding.decoder import Decoder
from keras_cgen.layers import CopyPrior
from keras_cgen.layers import PointerGenerator


def attend(query, keys, source_mask):
    """Multiplicative (Luong dot) attention: query [B, T, U], keys [B, S, U]."""
    scores = ops.einsum("btu,bsu->bts", query, keys) / ops.sqrt(ops.cast(ops.shape(keys)[-1], query.dtype))
    scores = ops.where(source_mask[:, None, :], ops.cast(scores, "float32"), -1e9)
    weights = ops.cast(ops.softmax(scores, axis=-1), query.dtype)
    return ops.einsum("bts,bsu->btu", weights, keys), weights


def build_lstm_seq2seq(vocabulary_size, embedding_dim=128, hidden_units=128, copy_prior=True, dropout=0.0,
                       pointer=False):
    """Builds the functional training model.

    Args:
        vocabulary_size: shared source/target vocabulary (id 0 = padding).
        embedding_dim: size of the shared embedding.
        hidden_units: LSTM units (each direction of the encoder gets half).
        copy_prior: add the `CopyPrior` on the logits.
        dropout: dropout on the embeddings.
        pointer: mix in copying through the attention (`PointerGenerator`,
            gate "Pointer-Gate" on [decoder state; context]); the output is
            then a log-probability (still read as logits).

    Inputs `{"source_ids": [B, S], "target_ids": [B, T]}` (target = start token
    then the title, teacher-forced); output float32 logits `[B, T, V]`.

    Example:
    >>> model = build_lstm_seq2seq(100, embedding_dim=16, hidden_units=16)
    >>> tuple(model({"source_ids": keras.ops.ones((2, 7), "int32"),
    ...              "target_ids": keras.ops.ones((2, 4), "int32")}).shape)
    (2, 4, 100)
    """
    if hidden_units % 2:
        raise ValueError(f"`hidden_units` must be even (the encoder is bidirectional), got {hidden_units}.")
    source_ids = keras.Input((None,), dtype="int32", name="source_ids")
    target_ids = keras.Input((None,), dtype="int32", name="target_ids")
    layers = {layer.name: layer for layer in [
        keras.layers.Embedding(vocabulary_size, embedding_dim, name="Embedding"),
        keras.layers.Dropout(dropout, name="Encoder-Dropout"),
        *(keras.layers.Bidirectional(keras.layers.LSTM(hidden_units // 2, return_sequences=True),
                                     name=f"Encoder-BiLSTM-{i}") for i in (1, 2)),
        keras.layers.Dropout(dropout, name="Decoder-Dropout"),
        *(keras.layers.LSTM(hidden_units, return_sequences=True, name=f"Decoder-LSTM-{i}") for i in (1, 2)),
        keras.layers.Dense(embedding_dim, activation="leaky_relu", name="Output-Hidden"),
        keras.layers.Dense(vocabulary_size, dtype="float32", name="Output-Logits"),
        *([CopyPrior(vocabulary_size, dtype="float32", name="Copy-Prior")] if copy_prior else []),
        *([keras.layers.Dense(1, dtype="float32", name="Pointer-Gate"),
           PointerGenerator(vocabulary_size, dtype="float32", name="Pointer")] if pointer else []),
    ]}
    encoded, source_mask = encode(layers.get, source_ids)
    y = decoder_states(layers.get, target_ids)
    context, weights = attend(y, encoded, source_mask)
    logits = output_head(layers, y, context, weights, source_ids)
    return keras.Model({"source_ids": source_ids, "target_ids": target_ids}, logits, name="lstm_seq2seq")


def encode(layer, source_ids):
    """The encoder (`layer(name)` gives each named layer): `[B, S]` ids ->
    `[B, S, units]` states and the `[B, S]` source mask. The training model,
    the cached decoder and `attention_map` all run this."""
    mask = ops.not_equal(source_ids, 0)
    x = layer("Encoder-Dropout")(layer("Embedding")(source_ids))
    for i in (1, 2):
        x = layer(f"Encoder-BiLSTM-{i}")(x, mask=mask)
    return x, mask


def decoder_states(layer, target_ids):
    """The decoder LSTMs over a whole teacher-forced target `[B, T]` (the cached
    decoder runs their cells one token at a time instead)."""
    y = layer("Decoder-Dropout")(layer("Embedding")(target_ids))
    for i in (1, 2):
        y = layer(f"Decoder-LSTM-{i}")(y)
    return y


def output_head(layers, y, context, weights, source_ids):
    """Decoder states `y` and attention `context` / `weights` -> logits; the
    same layers serve the training model (`[B, T, .]`) and one step (`[B, .]`)."""
    both = ops.concatenate([y, context], axis=-1)
    logits = layers["Output-Logits"](layers["Output-Hidden"](both))
    if "Copy-Prior" in layers:
        logits = layers["Copy-Prior"]([logits, source_ids])
    if "Pointer" in layers:
        logits = layers["Pointer"]([logits, weights, source_ids, layers["Pointer-Gate"](both)])
    return logits


class LSTMSeq2SeqDecoder(Decoder):
    """The cached decoder of `build_lstm_seq2seq`: the encoder runs once, each
    step feeds one token through the two LSTM cells, carrying (h, c).

    Args:
        model: from `build_lstm_seq2seq`.
        start_id: the token every title starts from.

    Example:
    >>> decoder = LSTMSeq2SeqDecoder(model, start_id=2)               # doctest: +SKIP
    >>> decoder.generate(source_ids, max_new_tokens=20, num_beams=4)  # doctest: +SKIP
    """

    HEAD = ("Output-Hidden", "Output-Logits", "Copy-Prior", "Pointer-Gate", "Pointer")

    def __init__(self, model, start_id):
        super().__init__(model)
        self.start_id = int(start_id)
        self.head = {layer.name: layer for layer in model.layers if layer.name in self.HEAD}

    def check_inputs(self, source_ids):
        return engine.check_batch_ids("source_ids", source_ids)

    def init(self, source_ids, max_new_tokens):
        source_ids = ops.cast(source_ids, "int32")
        encoded, mask = encode(self.layer, source_ids)
        batch = ops.shape(source_ids)[0]
        zeros = ops.zeros((batch, self.layer("Decoder-LSTM-1").units), dtype=encoded.dtype)
        state = {"encoded": encoded, "source_mask": mask, "source_ids": source_ids,
                 "h1": zeros, "c1": zeros, "h2": zeros, "c2": zeros}
        return state, ops.full((batch, 1), self.start_id, dtype="int32"), {}

    def step(self, last_token_ids, state, index, shared, cache_write):
        y = self.layer("Embedding")(last_token_ids)
        new = dict(state)
        for i in (1, 2):
            y, (h, c) = self.layer(f"Decoder-LSTM-{i}").cell(y, [state[f"h{i}"], state[f"c{i}"]])
            new[f"h{i}"], new[f"c{i}"] = h, c
        context, weights = attend(y[:, None, :], state["encoded"], state["source_mask"])
        return output_head(self.head, y, context[:, 0], weights[:, 0], state["source_ids"]), new


def attention_map(model, source_ids, target_ids):
    """The decoder's attention over the source, `[B, T, S]`, for teacher-forced
    `target_ids` (start token + title): what the model looks at for each token."""
    source_ids, target_ids = ops.cast(source_ids, "int32"), ops.cast(target_ids, "int32")
    encoded, mask = encode(model.get_layer, source_ids)
    return attend(decoder_states(model.get_layer, target_ids), encoded, mask)[1]
