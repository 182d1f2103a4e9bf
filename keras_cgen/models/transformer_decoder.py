"""Cached incremental decoding for `build_transformer`'s "lm" and "unilm" models.

`init` encodes the source (UniLM) or prompt (LM) once into every layer's
source key/value cache; `step` then feeds one token per call. Each row's
source may have its own length (right padding): positions are per row.

Step 0 re-feeds each row's last source token (the `[SEP]` of a UniLM source)
as a query, to get the logits of the first new token. Its keys/values land in
slot 0 of the generated cache, which stays masked (they are already in the
source cache); step k >= 1 writes the k-th new token into slot k.

The source cache is the same for every beam of a row, so `generate` keeps it
out of the loop state: beams never copy or reorder it.
"""

from keras import ops

from keras_cgen.decoding import engine
from keras_cgen.decoding.decoder import Decoder
from keras_cgen.models.transformer import config_from_model
from keras_cgen.models.transformer import forward
from keras_cgen.models.transformer import mlm_logits


class TransformerDecoder(Decoder):
    """The cached decoder of an "lm" or "unilm" transformer.

    Args:
        model: a model from `build_transformer(..., application="lm"|"unilm")`,
            trained or loaded with `load_bert`.
        use_cache: False re-runs the whole model on the whole sequence at every
            step (the bert4keras way): the reference for tests and benchmarks.
        cache_write: `"where"` (exportable to ONNX / any TF Serving) or
            `"slice_update"` (in-place under XLA). Default `"auto"`: slice
            updates inside the XLA-compiled `generate`, `where` elsewhere.

    Example:
    >>> decoder = TransformerDecoder(model)                       # doctest: +SKIP
    >>> out = decoder.generate({"token_ids": ids}, max_new_tokens=16, num_beams=4,
    ...                        eos_token_id=sep_id)               # doctest: +SKIP
    """

    def __init__(self, model, use_cache=True, cache_write="auto"):
        super().__init__(model)
        self.config = config_from_model(model)
        self.layer_names = {layer.name for layer in model.layers}
        if "MLM-Bias" not in self.layer_names:
            raise ValueError(f"Model `{model.name}` has no MLM head: build it with application='lm' or 'unilm'.")
        if cache_write not in ("auto", "where", "slice_update"):
            raise ValueError(f"`cache_write` must be 'auto', 'where' or 'slice_update', got {cache_write!r}.")
        self.unilm = model.get_layer("Attention-Mask").mode == "unilm"
        self.conditional = "condition" in model.input
        self.use_cache = use_cache
        self.cache_write = cache_write

    def check_inputs(self, inputs):
        inputs = {k: ops.convert_to_tensor(v) for k, v in inputs.items()}
        inputs["token_ids"] = engine.check_batch_ids("token_ids", inputs["token_ids"])
        return inputs

    def write_mode(self, jit_compile):
        """The cache write to use: "auto" means in place only inside XLA."""
        if self.cache_write != "auto":
            return self.cache_write
        return "slice_update" if jit_compile else "where"

    # ---- cached -------------------------------------------------------------
    def init(self, inputs, max_new_tokens):
        """Encodes `inputs["token_ids"]` `[B, S]` (right-padded with 0; for UniLM
        `[CLS] source [SEP]`) into the source cache (`shared`); the loop state
        holds each row's length, the condition and the generated-token caches."""
        token_ids = ops.cast(inputs["token_ids"], "int32")
        condition = inputs.get("condition") if self.conditional else None
        if self.conditional and condition is None:
            raise ValueError("This model is conditional: `inputs` needs a 'condition' entry.")
        batch, length = ops.shape(token_ids)[0], ops.shape(token_ids)[1]
        source_mask = ops.not_equal(token_ids, 0)
        lengths = ops.sum(ops.cast(source_mask, "int32"), axis=1)
        start_ids = ops.take_along_axis(token_ids, ops.maximum(lengths - 1, 0)[:, None], axis=1)
        state = {"lengths": lengths}
        if condition is not None:
            condition = ops.cast(condition, "float32")
            if self.use_cache and "Condition-Projection" in self.layer_names:  # shared by every LayerNorm
                condition = self.layer("Condition-Projection")(condition)
            state["condition"] = condition
        if not self.use_cache:
            state["tokens"] = ops.pad(token_ids, ((0, 0), (0, max_new_tokens)))
            state["segments"] = ops.zeros_like(state["tokens"])
            return state, start_ids, {}

        positions = ops.repeat(ops.arange(length, dtype="int32")[None, :], batch, axis=0)
        if self.unilm:  # the whole source sees the whole source
            mask = ops.repeat(source_mask[:, None, :], length, axis=1)
        else:
            causal = ops.arange(length)[:, None] >= ops.arange(length)[None, :]
            mask = ops.logical_and(causal[None], source_mask[:, None, :])
        heads, head_size = self.config.num_heads, self.config.head_size
        empty = ops.zeros((batch, heads, length, head_size), dtype=self.model.compute_dtype)
        _, source_caches = forward(self.layer, self.config.num_layers, token_ids, ops.zeros_like(token_ids), mask,
                                   state.get("condition"), positions=positions,
                                   caches=[(empty, empty)] * self.config.num_layers)
        generated = ops.zeros((batch, heads, max_new_tokens, head_size), dtype=self.model.compute_dtype)
        state["caches"] = [(generated, generated)] * self.config.num_layers
        # For one-row steps (see `step`); XLA drops it when unused.
        head_kernel = ops.transpose(self.layer("Embedding-Token").embeddings)
        return state, start_ids, (source_caches, source_mask, head_kernel)

    def step(self, last_token_ids, state, index, shared, cache_write):
        """Feeds one token per row; returns `(logits [N, V], new_state)`."""
        if not self.use_cache:
            return self.rerun_step(last_token_ids, state, index)
        positions = (state["lengths"] - 1 + index)[:, None]
        segment = 1 if self.unilm else 0
        segments = ops.where(index == 0, 0, segment) * ops.ones_like(positions)
        slots = ops.arange(ops.shape(state["caches"][0][0])[2], dtype="int32")
        mask = ops.logical_and(slots >= 1, slots <= index)[None, None, :]
        hidden, caches = forward(self.layer, self.config.num_layers, last_token_ids[:, None], segments, mask,
                                 state.get("condition"), positions=positions, caches=state["caches"],
                                 cache_index=index, shared=shared[:2], cache_write=cache_write)
        # With one row, XLA fuses the head's product with its bias into a
        # vector-matrix kernel that wants the embedding transposed, and copies
        # the whole matrix every step (half of a batch-1 step); the copy made
        # once in `init` avoids it. With more rows the untransposed embedding
        # is faster (`benchmarks/decode_profile.py`).
        one_row = last_token_ids.shape[0] == 1
        logits = mlm_logits(self.layer, hidden[:, 0], state.get("condition"), kernel=shared[2] if one_row else None)
        return logits, {**state, "caches": caches}

    # ---- uncached reference ------------------------------------------------
    def rerun_step(self, last_token_ids, state, index):
        """Writes the token after the row's sequence and re-runs the whole model."""
        tokens, segments = state["tokens"], state["segments"]
        position = state["lengths"] - 1 + index
        at = ops.equal(ops.arange(ops.shape(tokens)[1], dtype="int32")[None, :], position[:, None])
        write = ops.logical_and(at, index > 0)
        tokens = ops.where(write, last_token_ids[:, None], tokens)
        segments = ops.where(write, 1 if self.unilm else 0, segments)
        inputs = {"token_ids": tokens, "segment_ids": segments}
        if self.conditional:
            inputs["condition"] = state["condition"]
        logits = self.model(inputs)
        logits = ops.take_along_axis(logits, position[:, None, None], axis=1)[:, 0]
        return logits, {**state, "tokens": tokens, "segments": segments}
