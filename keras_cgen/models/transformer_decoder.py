"""Cached incremental decoding for `build_transformer`'s "lm" and "unilm" models.

`init` encodes the source (UniLM) or prompt (LM) once, writing every layer's
keys/values into a cache; `step` then feeds one token per call. Each row's
source may have its own length (right padding): positions are per row, cache
slots are shared.

Cache slots: `[0, S)` hold the padded source. Step 0 re-feeds each row's last
source token (the `[SEP]` of a UniLM source) as a query, to get the logits of
the first new token; its keys go to slot S, which stays masked, since that
token's keys are already in the cache. Step k >= 1 feeds the k-th new token
into slot S + k.
"""

import tensorflow as tf
from keras import ops

from keras_cgen.decoding import engine
from keras_cgen.models.transformer import config_from_model


class TransformerDecoder:
    """The `init` / `step` pair of an "lm" or "unilm" transformer.

    Args:
        model: a model from `build_transformer(..., application="lm"|"unilm")`,
            trained or loaded with `load_bert`.
        use_cache: False re-runs the whole model on the whole sequence at every
            step (the bert4keras way): the reference for tests and benchmarks.

    Example:
    >>> decoder = TransformerDecoder(model)                       # doctest: +SKIP
    >>> out = decoder.generate({"token_ids": ids}, max_new_tokens=16, num_beams=4,
    ...                        eos_token_id=sep_id)               # doctest: +SKIP
    """

    def __init__(self, model, use_cache=True):
        self.model = model
        self.config = config_from_model(model)
        self.layer_names = {layer.name for layer in model.layers}
        if "MLM-Bias" not in self.layer_names:
            raise ValueError(f"Model `{model.name}` has no MLM head: build it with application='lm' or 'unilm'.")
        self.unilm = model.get_layer("Attention-Mask").mode == "unilm"
        self.conditional = "condition" in model.input
        self.use_cache = use_cache
        self.layer = model.get_layer
        self._compiled = {}

    # ---- cached -------------------------------------------------------------
    def init(self, inputs, max_new_tokens):
        """Encodes `inputs["token_ids"]` `[B, S]` (right-padded with 0; for UniLM
        `[CLS] source [SEP]`) and returns `(state, start_ids)` for `step`."""
        token_ids = ops.cast(inputs["token_ids"], "int32")
        condition = inputs.get("condition") if self.conditional else None
        if self.conditional and condition is None:
            raise ValueError("This model is conditional: `inputs` needs a 'condition' entry.")
        batch, length = ops.shape(token_ids)[0], ops.shape(token_ids)[1]
        source_mask = ops.not_equal(token_ids, 0)
        lengths = ops.sum(ops.cast(source_mask, "int32"), axis=1)
        start_ids = ops.take_along_axis(token_ids, ops.maximum(lengths - 1, 0)[:, None], axis=1)[:, 0]
        state = {"lengths": lengths, "start_slot": ops.full((batch,), length, dtype="int32")}
        if condition is not None:
            condition = ops.cast(condition, "float32")
            if not self.use_cache:
                state["condition"] = condition
            elif "Condition-Projection" in self.layer_names:  # shared by every LayerNorm: project once
                condition = self.layer("Condition-Projection")(condition)
            state["condition"] = condition
        if not self.use_cache:
            total = length + max_new_tokens
            state["tokens"] = ops.pad(token_ids, ((0, 0), (0, max_new_tokens)))
            state["segments"] = ops.zeros_like(state["tokens"])
            return state, start_ids
        total = length + max_new_tokens + 1
        state["key_mask"] = ops.pad(source_mask, ((0, 0), (0, max_new_tokens + 1)))
        heads, head_size = self.config.num_heads, self.config.head_size
        empty = ops.zeros((batch, 2, total, heads, head_size), dtype=self.model.compute_dtype)
        caches = [empty] * self.config.num_layers
        positions = ops.repeat(ops.arange(length, dtype="int32")[None, :], batch, axis=0)
        if self.unilm:  # the whole source sees the whole source
            mask = ops.repeat(source_mask[:, None, :], length, axis=1)
        else:
            causal = ops.arange(length)[:, None] >= ops.arange(length)[None, :]
            mask = ops.logical_and(causal[None], source_mask[:, None, :])
        mask = ops.pad(mask, ((0, 0), (0, 0), (0, total - length)))
        _, state["caches"] = self.forward(token_ids, ops.zeros_like(token_ids), positions, mask, caches, 0,
                                          state.get("condition"))
        return state, start_ids

    def step(self, last_token_ids, state, index):
        """Feeds one token per row; returns `(logits [N, V], new_state)`."""
        if not self.use_cache:
            return self.rerun_step(last_token_ids, state, index)
        positions = (state["lengths"] - 1 + index)[:, None]
        segment = 1 if self.unilm else 0
        segments = ops.where(index == 0, 0, segment) * ops.ones_like(positions)
        slot = state["start_slot"][0] + index
        slots = ops.arange(ops.shape(state["key_mask"])[1], dtype="int32")[None, :]
        generated = ops.logical_and(slots > state["start_slot"][:, None], slots <= slot)
        mask = ops.logical_or(state["key_mask"], generated)[:, None, :]
        hidden, caches = self.forward(last_token_ids[:, None], segments, positions, mask, state["caches"], slot,
                                      state.get("condition"))
        return self.logits(hidden[:, 0], state.get("condition")), {**state, "caches": caches}

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

    # ---- the layers, by name ------------------------------------------------
    def norm(self, name, x, condition):
        layer = self.layer(name)
        return layer([x, condition]) if self.conditional else layer(x)

    def forward(self, token_ids, segment_ids, positions, mask, caches, cache_index, condition):
        config = self.config
        x = self.layer("Embedding-Token")(token_ids)
        x = x + self.layer("Embedding-Segment")(segment_ids)
        x = x + ops.take(self.layer("Embedding-Position").position_embeddings, positions, axis=0)
        x = self.norm("Embedding-Norm", x, condition)
        new_caches = []
        for i in range(config.num_layers):
            name = f"Transformer-{i}-MultiHeadSelfAttention"
            y, cache = self.layer(name)(x, attention_mask=mask, cache=caches[i], cache_update_index=cache_index)
            new_caches.append(cache)
            x = self.norm(f"{name}-Norm", x + y, condition)
            name = f"Transformer-{i}-FeedForward"
            y = self.layer(f"{name}-Output")(self.layer(f"{name}-Intermediate")(x))
            x = self.norm(f"{name}-Norm", x + y, condition)
        return x, new_caches

    def logits(self, hidden, condition):
        x = self.norm("MLM-Norm", self.layer("MLM-Dense")(hidden), condition)
        x = self.layer("Embedding-Token")(x, reverse=True)
        return self.layer("MLM-Bias")(x)

    # ---- one compiled graph: init + the whole decode loop ------------------
    def generate(self, inputs, *, max_new_tokens, seed=None, jit_compile=True, **kwargs):
        """`init` then `keras_cgen.decoding.generate`, compiled together.

        Keyword arguments are those of `keras_cgen.decoding.generate`.
        Returns its `GenerateOutput(sequences, scores)`.
        """
        settings = engine.make_settings(max_new_tokens=max_new_tokens, **kwargs)
        inputs = {k: ops.convert_to_tensor(v) for k, v in inputs.items()}
        if len(inputs["token_ids"].shape) != 2 or 0 in tuple(inputs["token_ids"].shape):
            raise ValueError(f"`token_ids` must be a non-empty [batch, S] array, got shape "
                             f"{tuple(inputs['token_ids'].shape)}.")
        key = (settings, jit_compile)
        if key not in self._compiled:
            def run(inputs, seed):
                state, start_ids = self.init(inputs, settings.max_new_tokens)
                return engine.decode(self.step, settings, state, start_ids[:, None], seed)
            self._compiled[key] = tf.function(run, jit_compile=jit_compile, reduce_retracing=True)
        return self._compiled[key](inputs, engine.seed_tensor(seed))
