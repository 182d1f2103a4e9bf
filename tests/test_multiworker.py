"""`--strategy multiworker` for real: two worker processes on localhost ports
(TF_CONFIG), one CPU device each, train a tiny LSTM and a tiny UniLM with
`training.fit`. Their weights equal a single-process run with the same global
batch, and a job whose worker is killed mid-training resumes from the chief's
backup when restarted and ends where an uninterrupted run ends."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from keras_cgen import training

sys.path.insert(0, str(Path(__file__).parent))
import multiworker_worker  # noqa: E402

EPOCHS = 3


def start_workers(tmp_path, work, *extra):
    workers = []
    for index, tf_config in enumerate(training.local_cluster(2)):
        env = {**os.environ, "TF_CONFIG": tf_config, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2"}
        log = open(tmp_path / f"worker{index}-{time.monotonic_ns()}.log", "w")
        workers.append(subprocess.Popen(
            [sys.executable, multiworker_worker.__file__, "--strategy", "multiworker", "--work", str(work),
             "--out", str(tmp_path / f"weights{index}.npz"), "--epochs", str(EPOCHS), *extra],
            env=env, stdout=log, stderr=subprocess.STDOUT, text=True))
    return workers


def finish(workers, tmp_path, timeout=300):
    for worker in workers:
        worker.wait(timeout=timeout)
    logs = "\n".join(path.read_text()[-3000:] for path in sorted(tmp_path.glob("worker*.log")))
    assert all(worker.returncode == 0 for worker in workers), logs
    return logs


def weights(path, name):
    saved = np.load(path)
    return [saved[f"{name}_{i}"] for i in range(sum(key.startswith(name + "_") for key in saved.files))]


def test_two_workers_train_like_one_process_and_resume_after_a_kill(tmp_path):
    work = tmp_path / "work"
    metadata = work / "lstm" / "backup" / "training_metadata.json"
    workers = start_workers(tmp_path, work, "--pause", "1")
    deadline = time.time() + 240
    while time.time() < deadline and not (metadata.exists() and json.loads(metadata.read_text() or "{}").get("epoch", 0) >= 1):
        assert all(worker.poll() is None for worker in workers), "a worker stopped before the kill"
        time.sleep(0.05)
    workers[1].send_signal(signal.SIGKILL)
    workers[0].send_signal(signal.SIGKILL)  # what a cluster manager does when a task of the job dies
    for worker in workers:
        worker.wait(timeout=60)
    backed_up = json.loads(metadata.read_text())["epoch"]
    assert 1 <= backed_up < EPOCHS

    # The job restarted: the LSTM resumes from the chief's backup, the UniLM trains from the start.
    workers = start_workers(tmp_path, work)
    # The reference, meanwhile: one process, no distribution, the same global batch.
    single_process = multiworker_worker.train(tf.distribute.get_strategy(), tmp_path / "single", ["lstm", "unilm"],
                                              EPOCHS)
    logs = finish(workers, tmp_path)
    assert "replicas 2 chief True" in logs and "replicas 2 chief False" in logs
    history = (work / "lstm" / "history.csv").read_text().splitlines()[1:]
    assert [row.split(",")[0] for row in history][-(EPOCHS - backed_up):] == [str(e) for e in range(backed_up, EPOCHS)]
    for name in ("lstm", "unilm"):
        chief, other = weights(tmp_path / "weights0.npz", name), weights(tmp_path / "weights1.npz", name)
        assert len(chief) == len(single_process[name])
        for a, b, reference in zip(chief, other, single_process[name]):
            np.testing.assert_array_equal(a, b)  # mirrored: every worker holds the same weights
            np.testing.assert_allclose(a, reference, rtol=1e-4, atol=2e-5)
        # Only the chief wrote into the shared folder; the backup is gone once training ended.
        assert len((work / name / "history.csv").read_text().splitlines()) == 1 + EPOCHS
        assert not (work / name / "backup").exists() and (work / name / "finished.json").exists()


def test_is_chief_follows_tf_config(monkeypatch):
    for config, chief in [(None, True),
                          ({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 0}}, True),
                          ({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}, False),
                          ({"cluster": {"chief": ["c:0"], "worker": ["a:1"]}, "task": {"type": "worker", "index": 0}},
                           False),
                          ({"cluster": {"chief": ["c:0"], "worker": ["a:1"]}, "task": {"type": "chief", "index": 0}},
                           True)]:
        if config is None:
            monkeypatch.delenv("TF_CONFIG", raising=False)
        else:
            monkeypatch.setenv("TF_CONFIG", json.dumps(config))
        assert training.is_chief() is chief, config
    configs = [json.loads(c) for c in training.local_cluster(3)]
    ports = configs[0]["cluster"]["worker"]
    assert len(set(ports)) == 3 and all(c["cluster"]["worker"] == ports for c in configs)
    for index, config in enumerate(configs):
        monkeypatch.setenv("TF_CONFIG", json.dumps(config))
        assert training.is_chief() is (index == 0)


def test_unknown_strategy_names_the_choices():
    with pytest.raises(ValueError, match="'default', 'mirrored', 'multiworker'.*got 'tpu'"):
        training.distribution_strategy("tpu")
