"""What the zoo recipes share: `model.fit` with checkpoints and early stopping,
the "training" record, and `save_zoo_model`, which ends every recipe."""

import csv
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import keras
import tensorflow as tf


STRATEGIES = ("default", "mirrored", "multiworker")


def add_arguments(parser):
    """The options every recipe takes: where it runs and where it keeps its work."""
    parser.add_argument("--strategy", choices=STRATEGIES, default="default",
                        help="mirrored: every GPU (or logical CPU) of this machine; multiworker: the machines "
                             "listed in TF_CONFIG (see export/DISTRIBUTED.md)")
    parser.add_argument("--work", default=None,
                        help="folder for checkpoints, the backup and the training log (shared by all workers); "
                             "rerun with the same --work to resume where a killed run stopped "
                             "(default: a new temporary folder)")


def distribution_strategy(name):
    """"mirrored": `tf.distribute.MirroredStrategy` over every GPU, or every
    logical CPU when there is no GPU (a test splits the CPU in two);
    "multiworker": `tf.distribute.MultiWorkerMirroredStrategy` over the cluster
    in the `TF_CONFIG` environment variable (create it before any other
    TensorFlow work: collectives are configured at start-up);
    "default": no distribution."""
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices])
    if name == "multiworker":
        _let_keras_fit_on_several_workers()
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "default":
        return tf.distribute.get_strategy()
    raise ValueError(f"`strategy` must be one of {', '.join(map(repr, STRATEGIES))}, got {name!r}.")


def _let_keras_fit_on_several_workers():
    """Keras 3 (up to 3.15 at least, keras-team/keras#20585) cannot `fit` under
    MultiWorkerMirroredStrategy: it reduces the whole first batch in one
    `strategy.reduce` call and every scalar log with `axis=0`, both of which
    the collective strategy refuses. Two replacements, for that strategy only:
    the symbolic build takes this worker's own first batch (only its shapes
    matter), and logs are averaged over replicas (`axis=None`)."""
    from keras.src.backend.tensorflow import trainer

    if getattr(trainer, "_cgen_multiworker", False):
        return
    reduce_per_replica = trainer.reduce_per_replica
    maybe_symbolic_build = trainer.TensorFlowTrainer._maybe_symbolic_build

    def reduce_logs(values, strategy, reduction):
        if trainer._collective_all_reduce_multi_worker(strategy) and reduction in ("auto", "mean"):
            return tf.nest.map_structure(lambda value: strategy.reduce("MEAN", value, axis=None), values)
        return reduce_per_replica(values, strategy, reduction)

    def symbolic_build(model, iterator=None, data_batch=None):
        strategy = model.distribute_strategy
        if iterator is None or not trainer._collective_all_reduce_multi_worker(strategy):
            return maybe_symbolic_build(model, iterator=iterator, data_batch=data_batch)
        for _, _, batches in iterator:
            first = next(batches)
            break
        local = lambda value: (strategy.experimental_local_results(value)[0]  # noqa: E731
                               if isinstance(value, tf.distribute.DistributedValues) else value)
        with strategy.scope():
            model._symbolic_build(data_batch=tf.nest.map_structure(local, first))

    trainer.reduce_per_replica = reduce_logs
    trainer.TensorFlowTrainer._maybe_symbolic_build = symbolic_build
    trainer._cgen_multiworker = True


def is_chief():
    """Whether this process writes checkpoints and zoo folders: the "chief" task
    of `TF_CONFIG`, or worker 0 of a cluster without one, or a process outside
    any cluster."""
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = config.get("task") or {}
    if not task:
        return True
    if "chief" in config.get("cluster", {}):
        return task.get("type") == "chief"
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0


def local_cluster(workers):
    """`TF_CONFIG` values (JSON strings) for `workers` processes of this machine,
    on free localhost ports: one per worker, to try `--strategy multiworker`
    here (the tests and `benchmarks/multiworker.py` do)."""
    import socket

    sockets = [socket.socket() for _ in range(workers)]
    for s in sockets:
        s.bind(("localhost", 0))
    cluster = {"worker": [f"localhost:{s.getsockname()[1]}" for s in sockets]}
    for s in sockets:
        s.close()
    return [json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}) for i in range(workers)]


class _ChiefBackupAndRestore(keras.callbacks.BackupAndRestore):
    """Every worker restores from the chief's backup (its weights are theirs);
    only the chief writes it, and deletes it once training ends."""

    def on_epoch_end(self, epoch, logs=None):
        if is_chief():
            super().on_epoch_end(epoch, logs)

    def on_train_end(self, logs=None):
        if is_chief():
            super().on_train_end(logs)


class TimeBudget(keras.callbacks.Callback):
    """Stops training when another epoch (as long as the last) would end past `minutes`."""

    def __init__(self, minutes):
        super().__init__()
        self.seconds, self.start = minutes * 60, time.time()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.time()

    def on_epoch_end(self, epoch, logs=None):
        now = time.time()
        if now + (now - self.epoch_start) - self.start > self.seconds:
            print(f"time budget: stopping after epoch {epoch + 1} ({(now - self.start) / 60:.1f} min)")
            self.model.stop_training = True


def target_loss():
    """Cross-entropy per target token: padding and source positions carry
    sample weight 0, and the mean divides by the weights' sum."""
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight")


def fit(model, train, valid=None, *, epochs, work, batch_size=None, steps_per_epoch=None, patience=3, verbose=2,
        callbacks=(), shuffle=True, keep="best", minutes=None, finish=None):
    """`model.fit` with a CSV log and a backup of the training state after
    every epoch in `work` (plus `callbacks`; `shuffle` applies to arrays).
    Returns the minutes spent.

    `keep="best"`: the best-valid-loss checkpoint and early stopping; returns
    with the best weights loaded. `keep="last"`: the weights fit ends with
    (an optimizer with `use_ema` has swapped in its moving average by then),
    for models without a validation loss or trained by moving average.
    `minutes`: a wall-clock budget (`TimeBudget`). `finish()` runs after
    fit, before the weights are kept (e.g. to swap in a second optimizer's
    moving average).

    Resumable: called again with the same `work` after the process was killed,
    it restores the last epoch's weights and optimizer state and goes on; a
    `work` whose training finished is not trained again (its kept weights are
    loaded). Under MultiWorkerMirroredStrategy every worker passes the same
    (shared) `work`: the chief writes there, the others keep their own copies
    in a temporary folder, and tf.data datasets are sharded by element."""
    if keep not in ("best", "last"):
        raise ValueError(f'`keep` must be "best" or "last", got {keep!r}.')
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    finished = work / "finished.json"
    kept = "best.weights.h5" if keep == "best" else "final.weights.h5"
    if finished.exists():
        model.load_weights(work / kept)
        print(f"{work}: training finished earlier; its {keep} weights are loaded")
        return json.loads(finished.read_text())["minutes"]
    own = work if is_chief() else Path(tempfile.mkdtemp(prefix="cgen-worker-"))
    backup = work / "backup" / "training_metadata.json"
    resumed = backup.exists() and (own / "history.csv").exists()
    best_so_far = None
    if resumed:  # the log keeps the epochs the backup holds: a killed epoch is trained (and logged) again
        rows = list(csv.DictReader(open(own / "history.csv")))
        rows = [row for row in rows if int(row["epoch"]) < json.loads(backup.read_text())["epoch"]]
        with open(own / "history.csv", "w", newline="") as log:
            if rows:
                writer = csv.DictWriter(log, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
        if keep == "best":
            best_so_far = min((float(row["val_loss"]) for row in rows), default=None)
        resumed = bool(rows)
    best = [keras.callbacks.ModelCheckpoint(own / kept, save_best_only=True, save_weights_only=True,
                                            initial_value_threshold=best_so_far),
            keras.callbacks.EarlyStopping(patience=patience)] if keep == "best" else []
    callbacks = [
        *best,
        keras.callbacks.CSVLogger(own / "history.csv", append=resumed),
        *([TimeBudget(minutes)] if minutes else []),
        *callbacks,
        # Last: once the backup says an epoch is done, its log row and checkpoint are on disk.
        _ChiefBackupAndRestore(work / "backup", double_checkpoint=True),
    ]
    if isinstance(train, tf.data.Dataset) and isinstance(model.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
        # Datasets from Python generators have no files to split: each worker keeps its share of elements.
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        train = train.with_options(options)
        valid = valid.with_options(options) if isinstance(valid, tf.data.Dataset) else valid
    start = time.time()
    if isinstance(train, tuple):
        x, y, weights = train
        model.fit(x, y, sample_weight=weights, validation_data=valid, epochs=epochs, callbacks=callbacks,
                  verbose=verbose, batch_size=batch_size, shuffle=shuffle)
    else:
        model.fit(train, validation_data=valid, epochs=epochs, validation_batch_size=batch_size, steps_per_epoch=steps_per_epoch,
                  callbacks=callbacks, verbose=verbose, shuffle=False)  # a dataset shuffles itself
    if finish is not None:
        finish()
    if keep == "best":
        model.load_weights(own / kept)
    else:
        model.save_weights(own / kept)
    minutes = (time.time() - start) / 60
    if is_chief():
        finished.write_text(json.dumps({"minutes": minutes}))
    return minutes


def plot_history(history_csv, png, title):
    """The training curves (every logged loss per epoch: train and valid, or a
    GAN's discriminator and generator losses) as a PNG."""
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader(open(history_csv)))
    epochs = [int(r["epoch"]) + 1 for r in rows]
    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=100)
    for column in [c for c in rows[0] if c.endswith("loss") and rows[0][c] not in ("", "NA")]:
        label = {"loss": "train", "val_loss": "valid"}.get(column, column.replace("_", " "))
        ax.plot(epochs, [float(r[column]) for r in rows], "s-" if column.startswith("val_") else "o-", label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (the recipe's unit: see the card)")
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
    `work/history.csv` and any other `files` (as `write_zoo_folder` takes them).
    On a worker that is not the chief it writes nothing and returns None."""
    from keras_cgen import zoo

    if not is_chief():
        print(f"{out}: written by the chief worker")
        return None
    content = {"config.json": config.to_dict(), config.vocabulary: vocabulary.save,
               config.weights: lambda path: zoo.save_weights(model, path)}
    if work is not None:
        content["history.csv"] = (Path(work) / "history.csv").read_text()
    out = write_zoo_folder(out, {**content, **(files or {})})
    print(f"wrote {out} after {(config.training or {}).get('minutes', '?')} min of training")
    return out


def work_dir(prefix, root=None):
    """The folder for checkpoints and logs of one training stage: `root/prefix`
    when the recipe was given `--work root` (so that a rerun resumes), else a
    new temporary folder."""
    if root is None:
        return Path(tempfile.mkdtemp(prefix=f"cgen-{prefix}-"))
    path = Path(root) / prefix
    path.mkdir(parents=True, exist_ok=True)
    return path


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
        if key in ("out", "work") or value in (False, None) or (key == "checkpoint" and Path(value).exists()):
            continue  # local paths (a named checkpoint such as "m3e-small" is kept)
        parts.append(f"--{key.replace('_', '-')}" + ("" if value is True else f" {value}"))
    return " ".join(parts)
