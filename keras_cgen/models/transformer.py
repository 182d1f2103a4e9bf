"""A BERT-family transformer assembled from named layers (the bert4keras way).

Layer names are stable: checkpoint maps (`keras_cgen.checkpoints`) and the
cached decoder look layers up by them.

    Embedding-Token, Embedding-Segment, Embedding-Position, Embedding-Norm
    Transformer-{i}-MultiHeadSelfAttention, Transformer-{i}-MultiHeadSelfAttention-Norm
    Transformer-{i}-FeedForward-Intermediate, Transformer-{i}-FeedForward-Output,
    Transformer-{i}-FeedForward-Norm
    MLM-Dense, MLM-Norm, MLM-Bias            (application "lm" / "unilm")
    Condition-Projection                     (condition_hidden_units)
"""

import dataclasses
import math

import keras
import keras_hub
from keras import ops

from keras_cgen.layers import AttentionMask
from keras_cgen.layers import BiasAdd
from keras_cgen.layers import CachedMultiHeadAttention
from keras_cgen.layers import ConditionalLayerNormalization

APPLICATIONS = ("encoder", "lm", "unilm")


@dataclasses.dataclass
class BertConfig:
    """Hyper-parameters of a BERT-family model.

    `BertConfig.from_dict` reads a Hugging Face `config.json`, a Google
    `bert_config.json` or a keras-hub `BertBackbone` config.
    """

    vocabulary_size: int
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    max_position: int = 512
    type_vocab_size: int = 2
    dropout: float = 0.1
    attention_dropout: float = 0.1
    layer_norm_epsilon: float = 1e-12
    initializer_range: float = 0.02

    # Names of the same setting in the three config formats we read.
    ALIASES = {
        "vocab_size": "vocabulary_size",
        "hidden_dim": "hidden_size",
        "num_hidden_layers": "num_layers",
        "num_attention_heads": "num_heads",
        "intermediate_dim": "intermediate_size",
        "max_position_embeddings": "max_position",
        "max_sequence_length": "max_position",
        "num_segments": "type_vocab_size",
        "hidden_dropout_prob": "dropout",
        "attention_probs_dropout_prob": "attention_dropout",
        "layer_norm_eps": "layer_norm_epsilon",
    }

    def __post_init__(self):
        for name in ("vocabulary_size", "hidden_size", "num_layers", "num_heads", "intermediate_size", "max_position"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"BertConfig `{name}` must be a positive int, got {value!r}.")
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"BertConfig `hidden_size` ({self.hidden_size}) must be divisible by "
                f"`num_heads` ({self.num_heads})."
            )

    @classmethod
    def from_dict(cls, values):
        fields = {f.name for f in dataclasses.fields(cls)}
        kwargs = {}
        for key, value in values.items():
            key = cls.ALIASES.get(key, key)
            if key in fields:
                kwargs[key] = value
        if "dropout" in kwargs and "attention_dropout" not in kwargs:
            kwargs["attention_dropout"] = kwargs["dropout"]
        if "vocabulary_size" not in kwargs:
            raise ValueError(f"A BERT config needs a vocabulary size; got keys {sorted(values)}.")
        return cls(**kwargs)

    def to_dict(self):
        return dataclasses.asdict(self)

    @property
    def head_size(self):
        return self.hidden_size // self.num_heads


@keras.saving.register_keras_serializable(package="keras_cgen")
def gelu_erf(x):
    """BERT's exact GELU. Written with erf: TensorFlow's own gelu lowers to
    Erfc, which ONNX has no operator for."""
    return 0.5 * x * (1.0 + ops.erf(x / math.sqrt(2.0)))


@keras.saving.register_keras_serializable(package="keras_cgen")
def gelu_approximate(x):
    """The tanh approximation of GELU (Hugging Face's "gelu_new", keras-hub's BERT)."""
    return keras.activations.gelu(x, approximate=True)


# Config name -> function, and back (for config_from_model).
ACTIVATIONS = {"gelu": gelu_erf, "gelu_new": gelu_approximate, "gelu_pytorch_tanh": gelu_approximate,
               "gelu_approximate": gelu_approximate}
ACTIVATION_NAMES = {"gelu_erf": "gelu", "gelu_approximate": "gelu_approximate"}


def activation(name):
    return ACTIVATIONS.get(name) or keras.activations.get(name)


def build_transformer(
    config,
    application="encoder",
    condition_size=None,
    condition_hidden_units=None,
    condition_hidden_activation=None,
):
    """Builds a post-LN BERT as a functional `keras.Model`.

    Args:
        config: a `BertConfig` or a dict any `BertConfig.from_dict` reads.
        application: `"encoder"` returns the last hidden states
            `[batch, T, hidden]`; `"lm"` (causal mask) and `"unilm"` (UniLM
            seq2seq mask from the segment ids) add the MLM head tied to the
            token embedding and return float32 logits `[batch, T, vocab]`.
        condition_size: if set, the model takes a `"condition"` input
            `[batch, condition_size]` and every LayerNorm is conditional.
        condition_hidden_units: if set, the condition is first projected by
            one shared `Dense(condition_hidden_units)` (bert4keras's
            `LayerNorm-Condition`).
        condition_hidden_activation: activation of that projection.

    Inputs are a dict `{"token_ids", "segment_ids"[, "condition"]}`; token id 0
    is padding.

    Example:
    >>> config = BertConfig(vocabulary_size=100, hidden_size=32, num_layers=2,
    ...                     num_heads=4, intermediate_size=64)
    >>> model = build_transformer(config, application="unilm")
    >>> ids = keras.ops.array([[2, 5, 3, 7, 3]])
    >>> seg = keras.ops.array([[0, 0, 0, 1, 1]])
    >>> tuple(model({"token_ids": ids, "segment_ids": seg}).shape)
    (1, 5, 100)
    """
    if not isinstance(config, BertConfig):
        config = BertConfig.from_dict(dict(config))
    if application not in APPLICATIONS:
        raise ValueError(f"`application` must be one of {APPLICATIONS}, got {application!r}.")
    if condition_size is not None and int(condition_size) <= 0:
        raise ValueError(f"`condition_size` must be a positive int or None, got {condition_size}.")
    if condition_hidden_units is not None and condition_size is None:
        raise ValueError("`condition_hidden_units` needs `condition_size`.")

    initializer = lambda: keras.initializers.TruncatedNormal(stddev=config.initializer_range)  # noqa: E731
    act = activation(config.hidden_act)
    token_ids = keras.Input((None,), dtype="int32", name="token_ids")
    segment_ids = keras.Input((None,), dtype="int32", name="segment_ids")
    inputs = {"token_ids": token_ids, "segment_ids": segment_ids}

    def norm(name):
        return ConditionalLayerNormalization(epsilon=config.layer_norm_epsilon, name=name)

    def dense(units, name, activation=None, **kwargs):
        return keras.layers.Dense(units, activation=activation, kernel_initializer=initializer(), name=name, **kwargs)

    condition = None
    if condition_size is not None:
        condition = inputs["condition"] = keras.Input((condition_size,), name="condition")
        if condition_hidden_units:
            condition = dense(condition_hidden_units, "Condition-Projection", condition_hidden_activation)(condition)

    layers = [
        keras_hub.layers.ReversibleEmbedding(config.vocabulary_size, config.hidden_size,
                                             embeddings_initializer=initializer(), name="Embedding-Token"),
        keras.layers.Embedding(config.type_vocab_size, config.hidden_size, embeddings_initializer=initializer(),
                               name="Embedding-Segment"),
        keras.layers.Add(name="Embedding-Token-Segment"),
        keras_hub.layers.PositionEmbedding(config.max_position, initializer=initializer(), name="Embedding-Position"),
        keras.layers.Add(name="Embedding-Add-Position"),
        norm("Embedding-Norm"),
        keras.layers.Dropout(config.dropout, name="Embedding-Dropout"),
    ]
    for i in range(config.num_layers):
        name = f"Transformer-{i}-MultiHeadSelfAttention"
        layers += [CachedMultiHeadAttention(config.num_heads, config.head_size, dropout=config.attention_dropout,
                                            kernel_initializer=initializer(), name=name),
                   keras.layers.Dropout(config.dropout, name=f"{name}-Dropout"),
                   keras.layers.Add(name=f"{name}-Add"), norm(f"{name}-Norm")]
        name = f"Transformer-{i}-FeedForward"
        layers += [dense(config.intermediate_size, f"{name}-Intermediate", act),
                   dense(config.hidden_size, f"{name}-Output"),
                   keras.layers.Dropout(config.dropout, name=f"{name}-Dropout"),
                   keras.layers.Add(name=f"{name}-Add"), norm(f"{name}-Norm")]
    if application != "encoder":
        # float32 logits whatever the policy: softmax/cross-entropy need the range.
        layers += [dense(config.hidden_size, "MLM-Dense", act), norm("MLM-Norm"),
                   BiasAdd(dtype="float32", name="MLM-Bias")]
    layer = {layer.name: layer for layer in layers}.get

    mode = {"encoder": "bidirectional", "lm": "causal", "unilm": "unilm"}[application]
    mask = AttentionMask(mode, name="Attention-Mask")(token_ids, segment_ids)
    x, _ = forward(layer, config.num_layers, token_ids, segment_ids, mask, condition)
    outputs = x if application == "encoder" else mlm_logits(layer, x, condition)
    return keras.Model(inputs, outputs, name=f"bert_{application}")


def normalize(layer, x, condition):
    """A LayerNorm of the model, conditional when the model has a condition."""
    return layer(x) if condition is None else layer([x, condition])


def forward(layer, num_layers, token_ids, segment_ids, mask, condition=None, positions=None, caches=None,
            cache_index=0, shared=None, cache_write="where"):
    """The transformer through its named layers (`layer(name)` gives each one):
    the functional model is built by this function on symbolic inputs, and
    `TransformerDecoder` runs it for one cached step. Returns the last hidden
    states and, with `caches` (one `(keys, values)` per block), the new caches.

    `positions` `[B, T]` (default `0..T-1`) places each row's tokens;
    `shared` = (source caches, source mask) is the key/value cache of a source
    read by every query row, never copied per beam."""
    x = layer("Embedding-Token-Segment")([layer("Embedding-Token")(token_ids), layer("Embedding-Segment")(segment_ids)])
    if positions is None:
        position_embeddings = layer("Embedding-Position")(x)
    else:
        position_embeddings = ops.take(layer("Embedding-Position").position_embeddings, positions, axis=0)
    x = layer("Embedding-Add-Position")([x, position_embeddings])
    x = layer("Embedding-Dropout")(normalize(layer("Embedding-Norm"), x, condition))
    new_caches = []
    for i in range(num_layers):
        name = f"Transformer-{i}-MultiHeadSelfAttention"
        if caches is None:
            y = layer(name)(x, attention_mask=mask)
        else:
            kwargs = {} if shared is None else {"shared_cache": shared[0][i], "shared_mask": shared[1]}
            y, cache = layer(name)(x, attention_mask=mask, cache=caches[i], cache_update_index=cache_index,
                                   cache_write=cache_write, **kwargs)
            new_caches.append(cache)
        x = layer(f"{name}-Add")([x, layer(f"{name}-Dropout")(y)])
        x = normalize(layer(f"{name}-Norm"), x, condition)
        name = f"Transformer-{i}-FeedForward"
        y = layer(f"{name}-Output")(layer(f"{name}-Intermediate")(x))
        x = layer(f"{name}-Add")([x, layer(f"{name}-Dropout")(y)])
        x = normalize(layer(f"{name}-Norm"), x, condition)
    return x, new_caches


def mlm_logits(layer, hidden, condition=None, kernel=None):
    """The MLM head tied to the token embedding: hidden states -> float32 logits.

    `kernel` is the embedding matrix already transposed (`[hidden, vocabulary]`),
    for a decoding loop that transposes it once before the loop (see
    `TransformerDecoder.init`)."""
    x = normalize(layer("MLM-Norm"), layer("MLM-Dense")(hidden), condition)
    if kernel is None:
        return layer("MLM-Bias")(layer("Embedding-Token")(x, reverse=True))
    return layer("MLM-Bias")(ops.matmul(x, ops.cast(kernel, x.dtype)))


def config_from_model(model):
    """Reads a `BertConfig` back off a model built by `build_transformer`."""
    layers = {layer.name: layer for layer in model.layers}
    num_layers = 0
    while f"Transformer-{num_layers}-MultiHeadSelfAttention" in layers:
        num_layers += 1
    if "Embedding-Token" not in layers or num_layers == 0:
        raise ValueError(f"Model `{model.name}` was not built by `build_transformer`.")
    attention = layers["Transformer-0-MultiHeadSelfAttention"]
    intermediate = layers["Transformer-0-FeedForward-Intermediate"]
    act_name = intermediate.activation.__name__
    act_name = ACTIVATION_NAMES.get(act_name, act_name)
    return BertConfig(
        vocabulary_size=int(layers["Embedding-Token"].input_dim),
        hidden_size=int(layers["Embedding-Token"].output_dim),
        num_layers=num_layers,
        num_heads=attention.num_heads,
        intermediate_size=int(intermediate.units),
        hidden_act=act_name,
        max_position=int(layers["Embedding-Position"].sequence_length),
        type_vocab_size=int(layers["Embedding-Segment"].input_dim),
        dropout=float(layers["Embedding-Dropout"].rate),
        attention_dropout=float(attention.dropout),
        layer_norm_epsilon=float(layers["Embedding-Norm"].epsilon),
    )
