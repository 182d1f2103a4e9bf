"""What the recipes share: the target-token loss, one UniLM training step,
MirroredStrategy on two logical CPU devices (in a fresh process: devices are
configured before TensorFlow starts) and resuming `fit` from its work folder."""

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_cgen import training
from keras_cgen.models import BertConfig
from keras_cgen.models import build_transformer


def test_target_loss_is_the_mean_over_weighted_tokens(rng):
    logits = rng.normal(size=(2, 5, 7)).astype("float32")
    labels = rng.integers(0, 7, (2, 5))
    weights = np.array([[0, 0, 1, 1, 0], [0, 1, 1, 1, 1]], "float32")
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    nll = -np.take_along_axis(log_probs, labels[..., None], -1)[..., 0]
    expected = (nll * weights).sum() / weights.sum()
    actual = float(training.target_loss()(labels, logits, sample_weight=weights))
    np.testing.assert_allclose(actual, expected, rtol=1e-5)


def test_unilm_training_step_learns_only_the_title(rng):
    config = BertConfig(vocabulary_size=40, hidden_size=16, num_layers=2, num_heads=2, intermediate_size=32,
                        max_position=32, dropout=0.0)
    keras.utils.set_random_seed(0)
    model = build_transformer(config, "unilm")
    model.compile(keras.optimizers.Adam(1e-2), training.target_loss(), jit_compile=False)
    ids = np.array([[2, 5, 6, 7, 3, 9, 10, 3], [2, 8, 8, 3, 11, 12, 3, 0]], "int32")
    segments = np.array([[0, 0, 0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 1, 1, 1, 0]], "int32")
    x = {"token_ids": ids, "segment_ids": segments}
    labels = np.pad(ids[:, 1:], ((0, 0), (0, 1)))
    weights = np.pad(segments[:, 1:], ((0, 0), (0, 1))).astype("float32")
    before = model.evaluate(x, labels, sample_weight=weights, verbose=0)
    scrambled = np.where(weights > 0, labels, rng.integers(1, 40, labels.shape))  # source labels do not count
    assert model.evaluate(x, scrambled, sample_weight=weights, verbose=0) == before
    repeat = lambda a: np.tile(a, (30, 1))  # noqa: E731  (30 steps in one epoch: no per-epoch overhead)
    model.fit({k: repeat(v) for k, v in x.items()}, repeat(labels), sample_weight=repeat(weights), batch_size=2,
              shuffle=False, verbose=0)
    assert model.evaluate(x, labels, sample_weight=weights, verbose=0) < 0.2 * before


# In `make test-slow` (~30 s): test_multiworker.py (in `make test`) checks the same equality for two
# processes under MultiWorkerMirroredStrategy, whose all-reduce this one-process variant shares.
@pytest.mark.slow
def test_mirrored_strategy_on_two_logical_cpus_equals_one_device():
    script = textwrap.dedent("""
        import numpy as np, tensorflow as tf, keras
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from keras_cgen import training
        from keras_cgen.families.autotitle import build_lstm_seq2seq

        rng = np.random.default_rng(0)
        x = {"source_ids": rng.integers(1, 30, (8, 6)).astype("int32"),
             "target_ids": rng.integers(1, 30, (8, 4)).astype("int32")}
        y = rng.integers(1, 30, (8, 4))
        weights = []
        for name in ("default", "mirrored"):
            strategy = training.distribution_strategy(name)
            with strategy.scope():
                keras.utils.set_random_seed(0)
                model = build_lstm_seq2seq(30, embedding_dim=8, hidden_units=8)
                model.compile(keras.optimizers.SGD(0.5), training.target_loss())
            initial = model.get_weights()
            model.fit(x, y, sample_weight=np.ones((8, 4), "float32"), batch_size=8, epochs=2, verbose=0,
                      shuffle=False)
            weights.append(model.get_weights())
            print(name, strategy.num_replicas_in_sync)
        assert max(np.abs(a - b).max() for a, b in zip(initial, weights[1])) > 1e-3  # it did train
        for a, b in zip(*weights):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "default 1" in result.stdout and "mirrored 2" in result.stdout and "ok" in result.stdout


@pytest.mark.parametrize("keep", ["best", "last"])
def test_fit_resumes_from_its_work_folder_after_a_crash(tmp_path, keep):
    """A run that dies mid-epoch 2 and is started again with the same `work`
    ends with the uninterrupted run's weights and one log row per epoch; a
    finished `work` is not trained again. `keep="last"` with an EMA optimizer
    keeps the moving average fit ends with."""
    rng = np.random.default_rng(0)
    data = (rng.integers(1, 30, (16, 6)), rng.integers(1, 30, (16, 6)), np.ones((16, 6), "float32"))

    def run(work, callbacks=()):
        keras.utils.set_random_seed(0)
        ids = keras.Input((6,), dtype="int32")
        model = keras.Model(ids, keras.layers.Dense(30)(keras.layers.Embedding(30, 8)(ids)))
        model.compile(keras.optimizers.Adam(0.01, use_ema=keep == "last", ema_momentum=0.5), training.target_loss(),
                      jit_compile=False)
        training.fit(model, data, data, epochs=4, batch_size=8, work=work, patience=4, verbose=0, shuffle=False,
                     callbacks=callbacks, keep=keep)
        if keep == "last" and model.optimizer.built:  # fit ends with the moving average, and keeps it
            average = [np.asarray(v) for v in model.optimizer._model_variables_moving_average]
            assert len(average) == len(model.trainable_weights)
            for a, b in zip(average, model.trainable_weights):
                np.testing.assert_array_equal(a, np.asarray(b))
        return model.get_weights()

    class Killed(Exception):
        pass

    class Crash(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:  # after the log row of epoch 2, before its backup
                raise Killed

    uninterrupted = run(tmp_path / "a")
    with pytest.raises(Killed):
        run(tmp_path / "b", [Crash()])
    assert json.loads((tmp_path / "b" / "backup" / "training_metadata.json").read_text())["epoch"] == 2
    resumed = run(tmp_path / "b")
    for a, b in zip(uninterrupted, resumed):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    epochs = [row.split(",")[0] for row in (tmp_path / "b" / "history.csv").read_text().splitlines()[1:]]
    assert epochs == ["0", "1", "2", "3"]
    assert not (tmp_path / "b" / "backup").exists()
    again = run(tmp_path / "b", [Crash()])  # finished: loads the best weights, trains nothing
    for a, b in zip(resumed, again):
        np.testing.assert_array_equal(a, b)
