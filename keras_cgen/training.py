"""What the zoo recipes share: `model.fit` with checkpoints and early stopping,
the "training" record, and `save_zoo_model`, which ends every recipe."""

import json
import platform
import shutil
import tempfile
import time
from pathlib import Path

import keras
import tensorflow as tf


def distribution_strategy(name):
    """"mirrored": `tf.distribute.MirroredStrategy` over every GPU, or every
    logical CPU when there is no GPU (a test splits the CPU in two);
    "default": no distribution."""
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices])
    if name == "default":
        return tf.distribute.get_strategy()
    raise ValueError(f"`strategy` must be 'default' or 'mirrored', got {name!r}.")


def target_loss():
    """Cross-entropy per target token: padding and source positions carry
    sample weight 0, and the mean divides by the weights' sum."""
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight")


def fit(model, train, valid, *, epochs, work, batch_size=None, steps_per_epoch=None, patience=3, verbose=2,
        callbacks=()):
    """`model.fit` with the best-valid-loss checkpoint, early stopping and a CSV
    log in `work` (plus `callbacks`); returns with the best weights loaded.
    Returns minutes spent."""
    work = Path(work)
    callbacks = [
        keras.callbacks.ModelCheckpoint(work / "best.weights.h5", save_best_only=True, save_weights_only=True),
        keras.callbacks.EarlyStopping(patience=patience),
        keras.callbacks.CSVLogger(work / "history.csv"),
        *callbacks,
    ]
    start = time.time()
    if isinstance(train, tuple):
        x, y, weights = train
        model.fit(x, y, sample_weight=weights, validation_data=valid, epochs=epochs, callbacks=callbacks,
                  verbose=verbose, batch_size=batch_size)
    else:
        model.fit(train, validation_data=valid, epochs=epochs, validation_batch_size=batch_size, steps_per_epoch=steps_per_epoch,
                  callbacks=callbacks, verbose=verbose)
    model.load_weights(work / "best.weights.h5")
    return (time.time() - start) / 60


def plot_history(history_csv, png, title):
    """The training curve (train and valid loss per epoch) as a PNG."""
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader(open(history_csv)))
    epochs = [int(r["epoch"]) + 1 for r in rows]
    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=100)
    ax.plot(epochs, [float(r["loss"]) for r in rows], "o-", label="train")
    ax.plot(epochs, [float(r["val_loss"]) for r in rows], "s-", label="valid")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (nats / target token)")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)


def hardware():
    cpus = len(tf.config.list_physical_devices("CPU"))
    gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    import os

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores" + (
        f", GPUs: {gpus}" if gpus else f", no GPU ({cpus} CPU device)")


def write_zoo_folder(out, files):
    """Writes a zoo folder at `out` (which must not exist) through a temporary
    directory and a rename: a failed run leaves nothing. `files` maps a file
    name to a str/bytes content or a callable that writes the given path."""
    from keras_cgen import zoo

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
        zoo.write_manifest(work)
        work.rename(out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return out


def save_zoo_model(out, config, model, vocabulary, work=None, files=None):
    """Ends every recipe: writes the zoo folder `out` (never overwritten,
    written whole or not at all) with `config.json` (a `ZooConfig`), the
    vocabulary, `model`'s weights (fp16 safetensors), the training log
    `work/history.csv` and any other `files` (as `write_zoo_folder` takes them)."""
    from keras_cgen import zoo

    content = {"config.json": config.to_dict(), config.vocabulary: vocabulary.save,
               config.weights: lambda path: zoo.save_weights(model, path)}
    if work is not None:
        content["history.csv"] = (Path(work) / "history.csv").read_text()
    return write_zoo_folder(out, {**content, **(files or {})})


def work_dir(prefix):
    """A scratch folder for checkpoints and logs of one training run."""
    return Path(tempfile.mkdtemp(prefix=f"cgen-{prefix}-"))


def record(script, args, minutes, **extra):
    """The "training" entry of a zoo config: time, hardware, the command, the date."""
    return {"minutes": round(minutes, 1), "hardware": hardware(), "command": command_line(script, args),
            "finished": time.strftime("%Y-%m-%d"), **extra}


def stage_commands(trained):
    """The commands of a zoo config's "training" entry, oldest stage first: a
    recipe run in stages records each earlier one under `continued_from`."""
    commands = []
    while trained:
        commands.insert(0, trained.get("command", ""))
        trained = trained.get("continued_from")
    return commands


def command_line(script, args):
    """The command that reruns a recipe with these arguments (for the config and card)."""
    parts = [f"python examples/{Path(script).name}"]
    for key, value in vars(args).items():
        if key in ("out", "checkpoint") or value in (False, None):
            continue
        parts.append(f"--{key.replace('_', '-')}" + ("" if value is True else f" {value}"))
    return " ".join(parts)
