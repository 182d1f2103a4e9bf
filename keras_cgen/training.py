"""Training: `model.fit` with checkpoints, early stopping, a wall-clock budget
and resumption (`fit`), and the distribution strategies it runs under."""

import csv
import json
import os
import tempfile
import time
import types
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


def recipe_settings(defaults, given, function):
    """A recipe's settings: `defaults` updated with `given`, as attributes; a
    name `defaults` lacks is a TypeError that names it and lists the accepted ones."""
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise TypeError(f"{function}() got unknown setting(s) {', '.join(map(repr, unknown))}; "
                        f"accepted: {', '.join(sorted(defaults))}.")
    return types.SimpleNamespace(**{**defaults, **given})


def strategy_of(strategy):
    """A `tf.distribute.Strategy` as given, or by name (`distribution_strategy`)."""
    return distribution_strategy(strategy) if isinstance(strategy, str) else strategy


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


def float32_copy(model, build):
    """`build()` under the float32 policy with `model`'s weights: the zoo
    stores float32 networks whatever precision trained them."""
    import numpy as np

    keras.mixed_precision.set_dtype_policy("float32")
    final = build()
    final.set_weights([np.asarray(w, "float32") for w in model.get_weights()])
    return final


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



def work_dir(prefix, root=None):
    """The folder for checkpoints and logs of one training stage: `root/prefix`
    when the recipe was given `--work root` (so that a rerun resumes), else a
    new temporary folder."""
    if root is None:
        return Path(tempfile.mkdtemp(prefix=f"cgen-{prefix}-"))
    path = Path(root) / prefix
    path.mkdir(parents=True, exist_ok=True)
    return path


