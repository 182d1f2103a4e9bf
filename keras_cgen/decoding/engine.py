"""One decoding engine: greedy, beam search and sampling in one `while_loop`.

The model is a step function `step_fn(last_token_ids[N], state, index) ->
(logits[N, V], new_state)`; `state` is any nest of tensors with leading
dimension N, which the engine tiles over beams/samples and reorders by each
beam's parent. Shapes are fixed, so the loop compiles with XLA, and it uses
only ops tf2onnx converts (Loop, TopK, Gather, Where, ScatterND).
"""

import collections
import dataclasses
import random

import keras
import tensorflow as tf
from keras import ops

from keras_cgen.decoding import processors

GenerateOutput = collections.namedtuple("GenerateOutput", ["sequences", "scores"])
NEG = -1.0e9  # Hugging Face's "very large negative" for beam bookkeeping


@dataclasses.dataclass(frozen=True)
class Settings:
    max_new_tokens: int
    num_beams: int = 1
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    min_new_tokens: int = 0
    eos_token_ids: tuple = ()
    pad_token_id: int = 0
    length_penalty: float = 1.0
    early_stopping: object = False
    num_return_sequences: int = 1
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    bad_words_ids: tuple = ()
    logits_processors: tuple = ()

    def __post_init__(self):
        def fail(name, value, allowed):
            raise ValueError(f"`{name}` must be {allowed}, got {value!r}.")

        def is_int(value):
            return isinstance(value, int) and not isinstance(value, bool)

        if not is_int(self.max_new_tokens) or self.max_new_tokens <= 0:
            fail("max_new_tokens", self.max_new_tokens, "an int >= 1")
        if not is_int(self.num_beams) or self.num_beams < 1:
            fail("num_beams", self.num_beams, "an int >= 1")
        if self.do_sample and self.num_beams > 1:
            fail("num_beams", self.num_beams, "1 when do_sample=True (sampling and beam search do not mix)")
        if not is_int(self.num_return_sequences) or self.num_return_sequences < 1:
            fail("num_return_sequences", self.num_return_sequences, "an int >= 1")
        if self.num_beams > 1 and self.num_return_sequences > self.num_beams:
            fail("num_return_sequences", self.num_return_sequences, f"<= num_beams ({self.num_beams})")
        if self.num_beams == 1 and not self.do_sample and self.num_return_sequences != 1:
            fail("num_return_sequences", self.num_return_sequences, "1 for greedy search (use beams or sampling)")
        if not self.temperature > 0:
            fail("temperature", self.temperature, "a float > 0")
        if not is_int(self.top_k) or self.top_k < 0:
            fail("top_k", self.top_k, "an int >= 0 (0 = off)")
        if not 0.0 < self.top_p <= 1.0:
            fail("top_p", self.top_p, "in (0, 1]")
        if not is_int(self.min_new_tokens) or not 0 <= self.min_new_tokens <= self.max_new_tokens:
            fail("min_new_tokens", self.min_new_tokens, f"an int in [0, max_new_tokens={self.max_new_tokens}]")
        if self.min_new_tokens and not self.eos_token_ids:
            fail("min_new_tokens", self.min_new_tokens, "0 when no eos_token_id is given")
        if not self.repetition_penalty > 0:
            fail("repetition_penalty", self.repetition_penalty, "a float > 0 (1.0 = off)")
        if not is_int(self.no_repeat_ngram_size) or self.no_repeat_ngram_size < 0:
            fail("no_repeat_ngram_size", self.no_repeat_ngram_size, "an int >= 0 (0 = off)")
        if self.early_stopping not in (True, False, "never"):
            fail("early_stopping", self.early_stopping, 'True, False or "never"')
        if not is_int(self.pad_token_id) or self.pad_token_id < 0:
            fail("pad_token_id", self.pad_token_id, "an int >= 0")
        for word in self.bad_words_ids:
            if not word or not all(is_int(t) and t >= 0 for t in word):
                fail("bad_words_ids", [list(w) for w in self.bad_words_ids], "a list of non-empty lists of token ids")
        for processor in self.logits_processors:
            if not callable(processor):
                fail("logits_processors", processor, "a list of callables (logits, context, length) -> logits")

    @property
    def needs_context(self):
        return (self.repetition_penalty != 1.0 or self.no_repeat_ngram_size > 0 or bool(self.bad_words_ids)
                or bool(self.logits_processors))

    def process(self, scores, prompt, generated, step):
        """Hugging Face's processor order: penalties and bans first. The
        processors that look back see `prompt` then the `step` tokens of
        `generated` so far (built only when one of them is on)."""
        if self.needs_context:
            context = ops.concatenate([prompt, generated], axis=1)
            length = ops.shape(prompt)[1] + step
        if self.repetition_penalty != 1.0:
            scores = processors.repetition_penalty(scores, context, length, self.repetition_penalty)
        if self.no_repeat_ngram_size:
            scores = processors.no_repeat_ngram(scores, context, length, self.no_repeat_ngram_size)
        if self.bad_words_ids:
            scores = processors.bad_words(scores, context, length, self.bad_words_ids)
        if self.min_new_tokens:
            scores = processors.suppress_tokens(scores, self.eos_token_ids, step < self.min_new_tokens)
        for processor in self.logits_processors:  # the caller's own (e.g. FUDGE), last
            scores = processor(scores, context, length)
        return scores

    def warp(self, logits):
        """Then the sampling warpers: temperature, top-k, top-p."""
        if self.temperature != 1.0:
            logits = logits / self.temperature
        if self.top_k:
            logits = processors.top_k_filter(logits, self.top_k)
        if self.top_p < 1.0:
            logits = processors.top_p_filter(logits, self.top_p)
        return logits


def generate(
    step_fn, state, start_ids, *, max_new_tokens, num_beams=1, do_sample=False, temperature=1.0,
    top_k=0, top_p=1.0, seed=None, min_new_tokens=0, eos_token_id=None, pad_token_id=0,
    length_penalty=1.0, early_stopping=False, num_return_sequences=1, repetition_penalty=1.0,
    no_repeat_ngram_size=0, bad_words_ids=None, logits_processors=(), jit_compile=True,
):
    """Generates tokens from a step function: greedy, beam search or sampling.

    Args:
        step_fn: `step_fn(last_token_ids[N], state, index) -> (logits[N, V],
            new_state)`. `index` is the position of `last_token_ids` in the
            sequence (0 for the first start token).
        state: nest of tensors with leading dimension `batch` (e.g. a KV cache).
        start_ids: `[batch]` start token ids, or `[batch, P]` prompts; the
            first P-1 prompt tokens are fed through `step_fn` before decoding.
        max_new_tokens: number of tokens to generate.
        num_beams: beams per row (1 = greedy or sampling).
        do_sample, temperature, top_k, top_p, seed: sampling; `seed` makes
            it reproducible.
        min_new_tokens: the end token is banned before this many tokens.
        eos_token_id: an id or list of ids that end a sequence.
        pad_token_id: fills the sequence after its end token.
        length_penalty: beam score = sum of log-probs / length ** length_penalty.
        early_stopping: True, False or "never", as in Hugging Face transformers.
        num_return_sequences: best beams (or samples) returned per row.
        repetition_penalty, no_repeat_ngram_size, bad_words_ids: processors.
        logits_processors: callables `(logits [N, V], context [N, T], length)
            -> logits`, applied after the built-in processors (`context[:,
            :length]` is the prompt and the tokens so far), e.g.
            `keras_cgen.families.diffusion_lm.fudge.FudgeProcessor`.
        jit_compile: when called eagerly, compile the loop with XLA.

    Returns:
        `GenerateOutput(sequences, scores)`: int32 `[batch,
        num_return_sequences, max_new_tokens]` and float32 `[batch,
        num_return_sequences]` (beam: length-penalised; greedy/sampling: sum of
        the log-probs of the chosen tokens under the processed distribution).

    Example (a fixed bigram table as the "model"):
    >>> import numpy as np
    >>> table = np.log(np.array([[.1, .6, .3], [.1, .1, .8], [.7, .2, .1]], "float32"))
    >>> step = lambda last, state, index: (keras.ops.take(table, last, axis=0), state)
    >>> out = generate(step, {}, np.array([0]), max_new_tokens=4)
    >>> out.sequences.numpy().tolist()
    [[[1, 2, 0, 1]]]
    """
    settings = make_settings(
        max_new_tokens=max_new_tokens, num_beams=num_beams, do_sample=do_sample, temperature=temperature,
        top_k=top_k, top_p=top_p, min_new_tokens=min_new_tokens, eos_token_id=eos_token_id,
        pad_token_id=pad_token_id, length_penalty=length_penalty, early_stopping=early_stopping,
        num_return_sequences=num_return_sequences, repetition_penalty=repetition_penalty,
        no_repeat_ngram_size=no_repeat_ngram_size, bad_words_ids=bad_words_ids,
        logits_processors=tuple(logits_processors or ()),
    )
    start_ids = check_start_ids(start_ids)
    seed = seed_tensor(seed)
    if jit_compile and tf.executing_eagerly():
        return compiled(step_fn, settings)(state, start_ids, seed)
    return decode(step_fn, settings, state, start_ids, seed)


def make_settings(*, max_new_tokens, eos_token_id=None, bad_words_ids=None, **kwargs):
    """Validated, hashable generation settings (the keyword arguments of `generate`)."""
    if eos_token_id is None:
        eos = ()
    elif isinstance(eos_token_id, int):
        eos = (eos_token_id,)
    else:
        eos = tuple(int(t) for t in eos_token_id)
    for name in ("temperature", "top_p", "length_penalty", "repetition_penalty"):
        if name in kwargs:
            kwargs[name] = float(kwargs[name])
    if "do_sample" in kwargs:
        kwargs["do_sample"] = bool(kwargs["do_sample"])
    if "logits_processors" in kwargs:
        kwargs["logits_processors"] = tuple(kwargs["logits_processors"] or ())
    return Settings(max_new_tokens=max_new_tokens, eos_token_ids=eos,
                    bad_words_ids=tuple(tuple(w) for w in (bad_words_ids or ())), **kwargs)


def check_start_ids(start_ids):
    start_ids = ops.convert_to_tensor(start_ids)
    if len(start_ids.shape) == 1:
        start_ids = start_ids[:, None]
    if len(start_ids.shape) != 2 or 0 in tuple(start_ids.shape):
        raise ValueError(
            f"`start_ids` must be a non-empty [batch] or [batch, P] tensor of ids, got shape {tuple(start_ids.shape)}."
        )
    return ops.cast(start_ids, "int32")


def seed_tensor(seed):
    """`[seed, 0]` as a tensor, so a compiled loop is not retraced per seed."""
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise ValueError(f"`seed` must be an int or None, got {seed!r}.")
    return tf.constant([random.randrange(2**31) if seed is None else seed, 0], tf.int32)


def check_batch_ids(name, ids):
    """`ids` as a non-empty int32 `[batch, S]` tensor, or a ValueError naming `name`."""
    ids = ops.convert_to_tensor(ids)
    if len(ids.shape) != 2 or 0 in tuple(ids.shape):
        raise ValueError(f"`{name}` must be a non-empty [batch, S] array, got shape {tuple(ids.shape)}.")
    return ops.cast(ids, "int32")


def compile_once(store, key, fn, jit_compile=True):
    """The `tf.function` of `fn` kept in `store[key]`, made on first use."""
    if key not in store:
        store[key] = tf.function(fn, jit_compile=jit_compile, reduce_retracing=True)
    return store[key]


_COMPILED = collections.OrderedDict()


def compiled(step_fn, settings):
    """One XLA-compiled `decode` per (step function, settings), most recent 16 kept."""
    key = (step_fn, settings)
    function = compile_once(_COMPILED, key, lambda state, start_ids, seed: decode(step_fn, settings, state, start_ids, seed))
    _COMPILED.move_to_end(key)
    while len(_COMPILED) > 16:
        _COMPILED.popitem(last=False)
    return function


def tile(state, times):
    """Repeats every row `times` times in place: [a, b] -> [a, a, b, b]."""
    return keras.tree.map_structure(lambda x: ops.repeat(x, times, axis=0), state)


def write_column(buffer, column, values):
    """buffer[..., column] = values, as a `where` (no dynamic update slice)."""
    hit = ops.equal(ops.arange(ops.shape(buffer)[-1], dtype="int32"), column)
    return ops.where(hit, ops.expand_dims(values, -1), buffer)


def decode(step_fn, settings, state, start_ids, seed):
    """The graph behind `generate` (callable inside any `tf.function`)."""
    prompt_length = ops.shape(start_ids)[1]
    # Teacher-force the first P-1 prompt tokens into the state.
    def feed(i, state):
        _, state = step_fn(ops.take(start_ids, i, axis=1), state, i)
        return i + 1, state

    _, state = ops.while_loop(lambda i, s: i < prompt_length - 1, feed, (ops.array(0, "int32"), state))
    if settings.num_beams > 1:
        return beam_search(step_fn, settings, state, start_ids)
    return greedy_or_sample(step_fn, settings, state, start_ids, seed)


def is_end(tokens, settings):
    end = ops.zeros_like(tokens, dtype="bool")
    for token in settings.eos_token_ids:
        end = ops.logical_or(end, ops.equal(tokens, token))
    return end


def greedy_or_sample(step_fn, settings, state, start_ids, seed):
    batch = ops.shape(start_ids)[0]
    copies = settings.num_return_sequences
    if copies > 1:
        state, start_ids = tile(state, copies), tile(start_ids, copies)
    rows = ops.shape(start_ids)[0]
    prompt_length = ops.shape(start_ids)[1]
    max_new = settings.max_new_tokens
    sequences = ops.full((rows, max_new), settings.pad_token_id, dtype="int32")

    def body(i, last, state, sequences, scores, finished):
        logits, state = step_fn(last, state, prompt_length - 1 + i)
        logits = settings.process(ops.cast(logits, "float32"), start_ids, sequences, i)
        if settings.do_sample:
            logits = settings.warp(logits)
            step_seed = ops.stack([seed[0], seed[1] + i])
            tokens = ops.cast(tf.random.stateless_categorical(logits, 1, step_seed)[:, 0], "int32")
        else:
            # top_k, not argmax: keras' float argmax adds Bitcast ops ONNX lacks.
            tokens = ops.cast(ops.top_k(logits, 1)[1][:, 0], "int32")
        log_probs = ops.log_softmax(logits, axis=-1)
        chosen = ops.take_along_axis(log_probs, tokens[:, None], axis=-1)[:, 0]
        tokens = ops.where(finished, settings.pad_token_id, tokens)
        scores = scores + ops.where(finished, 0.0, chosen)
        sequences = write_column(sequences, i, tokens)
        finished = ops.logical_or(finished, is_end(tokens, settings))
        return i + 1, tokens, state, sequences, scores, finished

    def cond(i, last, state, sequences, scores, finished):
        return ops.logical_and(i < max_new, ops.logical_not(ops.all(finished)))

    loop_vars = (ops.array(0, "int32"), start_ids[:, -1], state, sequences,
                 ops.zeros((rows,), "float32"), ops.zeros((rows,), "bool"))
    _, _, _, sequences, scores, _ = ops.while_loop(cond, body, loop_vars, maximum_iterations=max_new)
    return GenerateOutput(ops.reshape(sequences, (batch, copies, max_new)), ops.reshape(scores, (batch, copies)))


def gather_beams(x, indices):
    """x[b, indices[b, j], ...] for `[B, K, ...]` x and `[B, J]` indices."""
    return tf.gather(x, indices, batch_dims=1)


def beam_search(step_fn, settings, state, start_ids):
    """Hugging Face transformers' vectorised beam search, as one while_loop."""
    batch = ops.shape(start_ids)[0]
    beams = settings.num_beams
    keep = max(2, 1 + len(settings.eos_token_ids)) * beams  # candidates kept per step
    max_new = settings.max_new_tokens
    prompt_length = ops.shape(start_ids)[1]
    lp = settings.length_penalty
    state = tile(state, beams)
    flat_prompt = tile(start_ids, beams)
    top_beams = ops.arange(keep) < beams

    def body(i, last, state, running, running_scores, finished, finished_scores, is_finished, open_rows, _):
        logits, state = step_fn(last, state, prompt_length - 1 + i)
        log_probs = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
        log_probs = settings.process(log_probs, flat_prompt, ops.reshape(running, (batch * beams, max_new)), i)
        vocabulary = ops.shape(log_probs)[-1]
        accumulated = ops.reshape(log_probs, (batch, beams, vocabulary)) + running_scores[:, :, None]
        top_scores, top_indices = ops.top_k(ops.reshape(accumulated, (batch, beams * vocabulary)), keep)
        parents = top_indices // vocabulary
        tokens = ops.cast(top_indices % vocabulary, "int32")
        candidates = write_column(gather_beams(running, parents), i, tokens)
        hits = ops.logical_or(is_end(tokens, settings), i + 1 >= max_new)

        # The best `beams` candidates that did not end keep running.
        alive_scores = top_scores + ops.cast(hits, "float32") * NEG
        next_indices = ops.top_k(alive_scores, beams)[1]
        running = gather_beams(candidates, next_indices)
        running_scores = gather_beams(alive_scores, next_indices)
        parents = gather_beams(parents, next_indices)
        last = ops.reshape(gather_beams(tokens, next_indices), (-1,))

        # Ended candidates among the top `beams` enter the pool of finished ones.
        just_finished = ops.logical_and(hits, top_beams[None, :])
        scores = top_scores / ops.cast(i + 1, "float32") ** lp
        if settings.early_stopping is True:
            scores += ops.cast(ops.all(is_finished, axis=-1, keepdims=True), "float32") * NEG
        scores += ops.cast(ops.logical_not(open_rows), "float32") * NEG
        scores += ops.cast(ops.logical_not(just_finished), "float32") * NEG
        merged_scores = ops.concatenate([finished_scores, scores], axis=1)
        best = ops.top_k(merged_scores, beams)[1]
        finished = gather_beams(ops.concatenate([finished, candidates], axis=1), best)
        finished_scores = gather_beams(merged_scores, best)
        is_finished = gather_beams(ops.concatenate([is_finished, just_finished], axis=1), best)

        flat_parents = ops.reshape(parents + ops.arange(batch, dtype=parents.dtype)[:, None] * beams, (-1,))
        state = keras.tree.map_structure(lambda x: ops.take(x, flat_parents, axis=0), state)

        # Can a running beam still beat the worst finished one? (HF's heuristic)
        best_length = max_new if (settings.early_stopping == "never" and lp > 0.0) else i + 1
        best_possible = running_scores[:, :1] / ops.cast(best_length, "float32") ** lp
        worst = ops.where(is_finished, ops.min(finished_scores, axis=1, keepdims=True), NEG)
        open_rows = ops.logical_and(open_rows, ops.any(best_possible > worst, axis=-1, keepdims=True))
        go_on = ops.any(open_rows)
        if settings.early_stopping is True:
            go_on = ops.logical_and(go_on, ops.logical_not(ops.all(is_finished)))
        go_on = ops.logical_and(go_on, ops.logical_not(ops.all(hits)))
        return i + 1, last, state, running, running_scores, finished, finished_scores, is_finished, open_rows, go_on

    def cond(i, *rest):
        return ops.logical_and(i < max_new, rest[-1])

    pad = ops.full((batch, beams, max_new), settings.pad_token_id, dtype="int32")
    first_beam_only = ops.where(ops.arange(beams) == 0, 0.0, NEG)
    loop_vars = (
        ops.array(0, "int32"), flat_prompt[:, -1], state,
        pad, ops.tile(first_beam_only[None, :], (batch, 1)),
        pad, ops.full((batch, beams), NEG, dtype="float32"), ops.zeros((batch, beams), dtype="bool"),
        ops.ones((batch, 1), dtype="bool"), ops.array(True),
    )
    out = ops.while_loop(cond, body, loop_vars, maximum_iterations=max_new)
    finished, finished_scores = out[5], out[6]
    count = settings.num_return_sequences
    return GenerateOutput(finished[:, :count], finished_scores[:, :count])
