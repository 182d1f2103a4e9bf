"""Logits processors, each a pure function inside the decoding graph.

They follow Hugging Face transformers' processors of the same names, so the
same settings give the same distributions. `context` is `[N, L]`: the prompt
then the tokens generated so far; only its first `length` columns are real.
"""

from keras import ops

from keras_cgen.ops import token_bag

NEG_INF = float("-inf")


def repetition_penalty(logits, context, length, penalty):
    """Every token already in the context: negative scores times `penalty`,
    positive ones divided by it (CTRL's penalty)."""
    valid = ops.arange(ops.shape(context)[1])[None, :] < length
    seen = token_bag(context, ops.broadcast_to(valid, ops.shape(context)), ops.shape(logits)[-1]) > 0
    penalised = ops.where(logits < 0, logits * penalty, logits / penalty)
    return ops.where(seen, penalised, logits)


def no_repeat_ngram(logits, context, length, size):
    """Bans each token that would complete an n-gram already in the context."""
    total = context.shape[1]
    if total is None or total < size:
        return logits
    starts = total - size + 1
    start_ids = ops.arange(starts)
    match = start_ids[None, :] <= length - size  # the whole n-gram lies in the context
    for k in range(size - 1):
        # token k of every candidate n-gram vs token k of the current (n-1)-prefix
        prefix_k = ops.take(context, ops.maximum(length - (size - 1) + k, 0), axis=1)
        match = ops.logical_and(match, ops.equal(context[:, k:k + starts], prefix_k[:, None]))
    banned = token_bag(context[:, size - 1:], match, ops.shape(logits)[-1]) > 0
    return ops.where(banned, NEG_INF, logits)


def bad_words(logits, context, length, bad_words_ids):
    """Bans the last token of each bad word whose other tokens end the context."""
    vocabulary = ops.shape(logits)[-1]
    for word in bad_words_ids:
        banned = ops.ones((ops.shape(logits)[0],), dtype="bool")
        prefix = word[:-1]
        for k, token in enumerate(prefix):
            position = length - len(prefix) + k
            at = ops.take(context, ops.maximum(position, 0), axis=1)
            banned = ops.logical_and(banned, ops.logical_and(ops.equal(at, token), position >= 0))
        column = ops.equal(ops.arange(vocabulary), word[-1])[None, :]
        logits = ops.where(ops.logical_and(banned[:, None], column), NEG_INF, logits)
    return logits


def suppress_tokens(logits, token_ids, condition):
    """Sets the given tokens to -inf where the scalar bool `condition` holds
    (min_new_tokens: no end token before the minimum)."""
    columns = ops.any(ops.equal(ops.arange(ops.shape(logits)[-1])[:, None], ops.array(token_ids)[None, :]), axis=1)
    return ops.where(ops.logical_and(columns[None, :], condition), NEG_INF, logits)


def top_k_filter(logits, k):
    """Keeps the k highest logits (ties with the k-th kept too)."""
    k = min(k, logits.shape[-1]) if logits.shape[-1] else k
    kth = ops.top_k(logits, k)[0][:, -1:]
    return ops.where(logits < kth, NEG_INF, logits)


def top_p_filter(logits, p):
    """Nucleus filter: keeps the smallest set of top tokens whose probability
    reaches p (at least one token)."""
    ascending = ops.sort(logits, axis=-1)
    cumulative = ops.cumsum(ops.softmax(ascending, axis=-1), axis=-1)
    remove = cumulative <= 1.0 - p
    remove = ops.concatenate([remove[:, :-1], ops.zeros_like(remove[:, -1:])], axis=-1)
    # `remove` is a prefix of the ascending order: the first kept value is the threshold.
    first_kept = ops.argmax(ops.cast(ops.logical_not(remove), "int32"), axis=-1)
    threshold = ops.take_along_axis(ascending, first_kept[:, None], axis=-1)
    return ops.where(logits < threshold, NEG_INF, logits)
