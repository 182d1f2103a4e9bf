"""The base of every model's cached decoder: a subclass writes `init` and
`step`; `decode` (the graph, for exports) and `generate` (compiled once per
settings) are shared."""

from keras_cgen.decoding import engine


class Decoder:
    """Cached decoding of one model through the engine.

    A subclass implements:
    - `check_inputs(inputs)`: the model's inputs as tensors, or a ValueError
      naming what is wrong (called eagerly by `generate`);
    - `init(inputs, max_new_tokens) -> (state, start_ids, shared)`: `state`
      (a nest of `[batch, ...]` tensors) is tiled over beams and reordered by
      the engine; `start_ids` `[batch, P]` start every row (a prompt of P
      tokens is teacher-forced); `shared` is read by every step as it is
      (e.g. the source's key/value cache, the same for all beams of a row);
    - `step(last_token_ids, state, index, shared, cache_write) -> (logits, new_state)`.

    Args:
        model: the trained functional model whose layers the decoder runs.
    """

    def __init__(self, model):
        self.model = model
        self.layer = model.get_layer
        self._compiled = {}

    def check_inputs(self, inputs):
        raise NotImplementedError

    def init(self, inputs, max_new_tokens):
        raise NotImplementedError

    def step(self, last_token_ids, state, index, shared, cache_write):
        raise NotImplementedError

    def write_mode(self, jit_compile):
        """How caches are written: "where" runs everywhere (ONNX, TF Serving)."""
        return "where"

    def decode(self, inputs, settings, seed, cache_write="where"):
        """`init` + the engine's loop; callable inside any `tf.function`
        (`settings` from `engine.make_settings`, `seed` an int32 `[2]` tensor)."""
        state, start_ids, shared = self.init(inputs, settings.max_new_tokens)

        def step(last, loop_state, index):
            return self.step(last, loop_state, index, shared, cache_write)

        return engine.decode(step, settings, state, start_ids, seed)

    def generate(self, inputs, *, max_new_tokens, seed=None, jit_compile=True, **kwargs):
        """`init` then the decode loop, compiled together into one graph.

        Keyword arguments are those of `keras_cgen.decoding.generate`.
        Returns its `GenerateOutput(sequences, scores)`.
        """
        settings = engine.make_settings(max_new_tokens=max_new_tokens, **kwargs)
        inputs = self.check_inputs(inputs)
        write = self.write_mode(jit_compile)
        run = engine.compile_once(self._compiled, (settings, jit_compile),
                                  lambda inputs, seed: self.decode(inputs, settings, seed, write), jit_compile)
        return run(inputs, engine.seed_tensor(seed))
