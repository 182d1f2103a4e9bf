"""The zoo's weight store: where the models are, their checksums, and fp16
(or int8) safetensors weights keyed by layer name.

Each model folder holds `config.json`, the vocabulary, the weights,
`MODEL_CARD.md` and `MANIFEST.sha256` (every file's checksum). A missing file
or a wrong checksum is an error naming the file: never a silently random model.
"""

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

MANIFEST = "MANIFEST.sha256"


PACKAGE = Path(__file__).resolve().parent.parent  # keras_cgen/


def zoo_dir():
    """Where the zoo's models are: `$KERAS_CGEN_ZOO` if set; else the models
    installed with the package (`keras_cgen/zoo_models/`, from a wheel); else
    the repository's `zoo/` (a clone, or an editable install)."""
    if os.environ.get("KERAS_CGEN_ZOO"):
        return Path(os.environ["KERAS_CGEN_ZOO"])
    installed = PACKAGE / "zoo_models"
    return installed if installed.is_dir() else PACKAGE.parent / "zoo"


def names():
    """Names of the models in the zoo."""
    root = zoo_dir()
    return sorted(p.name for p in root.iterdir() if (p / "config.json").is_file()) if root.is_dir() else []


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(directory):
    """Checksums every file of a zoo folder (but the manifest) into MANIFEST.sha256."""
    directory = Path(directory)
    lines = [f"{sha256(p)}  {p.relative_to(directory).as_posix()}"
             for p in sorted(directory.rglob("*")) if p.is_file() and p.name != MANIFEST]
    (directory / MANIFEST).write_text("\n".join(lines) + "\n")


def verify(directory):
    directory = Path(directory)
    manifest = directory / MANIFEST
    if not manifest.is_file():
        raise FileNotFoundError(f"Zoo model '{directory.name}' has no {MANIFEST}: the folder is incomplete.")
    for line in manifest.read_text().splitlines():
        expected, name = line.split(maxsplit=1)
        path = directory / name
        if not path.is_file():
            raise FileNotFoundError(f"Zoo model '{directory.name}' is missing '{path}' (listed in {MANIFEST}).")
        actual = sha256(path)
        if actual != expected:
            raise ValueError(f"Checksum mismatch for '{path}': expected {expected}, got {actual}. "
                             "The file is corrupt or was changed; restore it from the repository.")


def named_weights(model):
    """`{"<layer name>/<index>/<variable name>": variable}`: stable keys (the
    layer names are the builders'), unlike variable paths, which carry
    auto-numbered names of nested layers (`forward_lstm_2`)."""
    named, seen = {}, set()
    for layer in model.layers:
        for i, variable in enumerate(layer.weights):
            if id(variable) not in seen:
                seen.add(id(variable))
                named[f"{layer.name}/{i}/{variable.name}"] = variable
    return named


# int8 storage: matrices of at least this many values; smaller ones (biases,
# norms, scales) stay float16, where rounding to 255 levels would cost most.
INT8_MIN_SIZE = 4096
SCALE_SUFFIX = ":int8_scale"


def save_weights(model, path, dtype="float16"):
    """Writes every variable of `model` into a safetensors file: `dtype`
    "float16" halves a zoo model; "int8" quarters its matrices (weight-only:
    each row of a matrix viewed as `[-1, last axis]` is rounded to 255 levels
    of its largest magnitude, the row scales kept beside it in float16). Both
    are read back into float32 variables: inference runs in float32."""
    from safetensors.numpy import save_file

    save_file(stored_tensors({key: variable.numpy() for key, variable in named_weights(model).items()}, dtype),
              str(path))


def stored_tensors(arrays, dtype):
    """`{name: array}` as `save_weights` stores them in `dtype`."""
    if dtype not in ("float16", "int8"):
        raise ValueError(f"`dtype` must be 'float16' or 'int8', got {dtype!r}.")
    tensors = {}
    for key, value in arrays.items():
        value = np.asarray(value)
        if dtype == "int8" and value.dtype.kind == "f" and value.ndim >= 2 and value.size >= INT8_MIN_SIZE:
            tensors[key], tensors[key + SCALE_SUFFIX] = quantize_int8(value)
        else:
            tensors[key] = value.astype("float16") if value.dtype.kind == "f" else value
    return tensors


def convert_weights(source, destination, dtype="int8"):
    """Writes zoo folder `destination` (new; whole or not at all): a copy of
    model folder `source` whose safetensors weights are stored in `dtype`
    (`save_weights`), with a new manifest. `cgen convert-weights`."""
    from safetensors.numpy import save_file

    source = find(source)
    content = {}
    for path in sorted(source.iterdir()):
        if path.name == MANIFEST or not path.is_file():
            continue
        if path.suffix == ".safetensors":
            arrays = read_weights(path)
            content[path.name] = lambda out, arrays=arrays: save_file(stored_tensors(arrays, dtype), str(out))
        else:
            content[path.name] = path.read_bytes()
    return write_zoo_folder(destination, content)


def weights_dtype(path):
    """How a `save_weights` file stores its matrices: "int8" or "float16"."""
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        return "int8" if any(key.endswith(SCALE_SUFFIX) for key in f.keys()) else "float16"


def quantize_int8(value):
    """`(int8 values, float16 scales)` of a matrix, one scale per row of its
    `[-1, last axis]` view; `dequantize_int8` inverts it to within half a step."""
    rows = value.reshape(-1, value.shape[-1]).astype("float32")
    scales = (np.abs(rows).max(axis=1) / 127).astype("float16")
    safe = np.where(scales > 0, scales.astype("float32"), 1.0)[:, None]
    return np.clip(np.round(rows / safe), -127, 127).astype("int8").reshape(value.shape), scales


def dequantize_int8(values, scales):
    rows = values.reshape(-1, values.shape[-1]).astype("float32") * scales.astype("float32")[:, None]
    return rows.reshape(values.shape)


def read_weights(path):
    """`{name: array}` of a `save_weights` file, int8 matrices dequantised to float32."""
    from safetensors.numpy import load_file

    tensors = load_file(str(path))
    scales = {key.removesuffix(SCALE_SUFFIX): tensors.pop(key) for key in [*tensors] if key.endswith(SCALE_SUFFIX)}
    return {key: dequantize_int8(value, scales[key]) if key in scales else value for key, value in tensors.items()}


def load_weights(model, path, new_layers=()):
    """Assigns a `save_weights` file to `model`; every variable must be there
    with its shape (no silent random init) and nothing may be left over,
    except the variables of `new_layers` (names of layers the file's model did
    not have, which keep their initial values: say so to the user)."""
    tensors = read_weights(path)
    variables = named_weights(model)
    fresh = {key for key in variables if key.split("/")[0] in new_layers}
    missing = sorted(set(variables) - set(tensors) - fresh)
    unused = sorted(set(tensors) - set(variables))
    if missing or unused:
        raise ValueError(f"'{path}' does not fit model `{model.name}`: missing {missing[:5]}, unused {unused[:5]}.")
    for key, variable in variables.items():
        if key in fresh and key not in tensors:
            continue
        value = tensors[key]
        if tuple(value.shape) != tuple(variable.shape):
            raise ValueError(f"'{path}': {key!r} has shape {value.shape}, the model wants {tuple(variable.shape)}.")
        variable.assign(value.astype(variable.dtype))


def find(name):
    """The folder of zoo model `name` (or `name` itself if it is a model folder)."""
    if Path(name).is_dir() and (Path(name) / "config.json").is_file():
        return Path(name)
    known = names()
    if name not in known:
        raise ValueError(f"Unknown zoo model {name!r}; available: {', '.join(known) or 'none'} (in {zoo_dir()}), "
                         "or give the path of a zoo-format folder.")
    return zoo_dir() / name


def load_model_weights(model, path):
    """Zoo weights: fp16 or int8 safetensors (`save_weights`) or a Keras `.weights.h5`."""
    if Path(path).suffix == ".safetensors":
        load_weights(model, path)
    else:
        model.load_weights(path)


def write_zoo_folder(out, files):
    """Writes a zoo folder at `out` (which must not exist) through a temporary
    directory and a rename: a failed run leaves nothing. `files` maps a file
    name to a str/bytes content or a callable that writes the given path."""
    out = Path(out)
    if out.exists():
        raise FileExistsError(f"'{out}' exists: zoo folders are never overwritten; choose a new --out.")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        for name, content in files.items():
            path = work / name
            if callable(content):
                content(path)
            elif isinstance(content, bytes):
                path.write_bytes(content)
            elif isinstance(content, dict):
                path.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            else:
                path.write_text(content, encoding="utf-8")
        write_manifest(work)
        work.rename(out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return out


def save_zoo_model(out, config, model, vocabulary, work=None, files=None):
    """Ends every recipe: writes the zoo folder `out` (never overwritten,
    written whole or not at all) with `config.json` (a `ZooConfig`), the
    vocabulary, `model`'s weights (fp16 safetensors), the training log
    `work/history.csv` and any other `files` (as `write_zoo_folder` takes them).
    On a worker that is not the chief it writes nothing and returns None."""
    from keras_cgen.training import is_chief

    if not is_chief():
        print(f"{out}: written by the chief worker")
        return None
    content = {"config.json": config.to_dict(), config.vocabulary: vocabulary.save,
               config.weights: lambda path: save_weights(model, path)}
    if work is not None:
        content["history.csv"] = (Path(work) / "history.csv").read_text()
    out = write_zoo_folder(out, {**content, **(files or {})})
    print(f"wrote {out} after {(config.training or {}).get('minutes', '?')} min of training")
    return out
