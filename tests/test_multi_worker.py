"""``--strategy multi-worker``: two worker processes on 127.0.0.1 (MultiWorkerMirroredStrategy,
configured by ``TF_CONFIG``) train one tiny run together; only the chief writes the run
folder, and a run whose worker was killed resumes from its last finished epoch. The strategy
is the package's own (``runs.multi_worker_strategy``): Keras 3's ``Model.fit`` fails under
TensorFlow's plain one."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pandas as pd
import pytest
from conftest import ROOT, ZOO, make_catalogue, write_png

from galaxy_utils.learn.runs import RunFolder, cluster_task, is_chief

# Each worker runs this with TF_CONFIG set; PAUSE_AFTER_EPOCH holds both workers after each
# epoch (after the chief has logged it) so the test can kill one at a known point.
WORKER = """
import os, sys, time
import keras
from galaxy_utils.learn import profiles
from galaxy_utils.learn.training import train

task = sys.argv[5]
profiles.PROFILES[(task, "tiny")] = profiles.Profile(
    name="tiny", task=task, image_size=16, crop_fraction=0.5, greyscale=True, split="fraction",
    val_fraction=0.2, test_fraction=0.2, balance="none", random_augment=False, model="three-class", epochs=2,
    batch_size=8, learning_rate=1e-3,
)
pause = float(os.environ.get("PAUSE_AFTER_EPOCH", "0"))
hold = [keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: time.sleep(pause))] if pause else None
catalog, images, out, cache = sys.argv[1:5]
train(task, catalog, images, "tiny", out, strategy="multi-worker", cache_dir=cache, verbose=0,
      extra_callbacks=hold)
"""


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.fixture
def survey(tmp_path):
    kinds = list(ZOO)
    catalogue = make_catalogue([ZOO[kinds[i % len(kinds)]] for i in range(40)])
    data = tmp_path / "survey"
    for i, loc in enumerate(catalogue["png_loc"]):
        write_png(data / "images" / loc, size=24, seed=i)
    catalogue.to_csv(data / "gz_decals_volunteers_5.csv", index=False)
    return data


def _start_workers(survey, out, cache, *, pause: float = 0.0, task: str = "vote-counts") -> list[subprocess.Popen]:
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    processes = []
    for index in range(2):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT), "PAUSE_AFTER_EPOCH": str(pause),
               "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        processes.append(subprocess.Popen(
            [sys.executable, "-c", WORKER, str(survey / "gz_decals_volunteers_5.csv"), str(survey / "images"),
             str(out), str(cache), task],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        ))
    return processes


def _wait(processes, timeout: float = 300) -> list[str]:
    outputs = []
    for process in processes:
        try:
            outputs.append(process.communicate(timeout=timeout)[0])
        except subprocess.TimeoutExpired:
            for p in processes:
                p.kill()
            pytest.fail("a worker did not finish in time")
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output[-3000:]
    return outputs


def _written(folder) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_the_chief_writes_the_run_folder_and_every_other_worker_its_own(tmp_path, monkeypatch):
    out = RunFolder(tmp_path / "runs" / "votes")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert is_chief() and out.for_this_worker() is out
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    for index, expected in ((0, out.path), (1, tmp_path / "runs" / ".votes.worker-1")):
        monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        assert cluster_task() == ("worker", index)
        assert is_chief() == (index == 0) and out.for_this_worker().path == expected
    # With a chief in the cluster, worker 0 is not it.
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {**cluster, "chief": ["127.0.0.1:3"]},
                                                "task": {"type": "worker", "index": 0}}))
    assert not is_chief() and out.for_this_worker().path == tmp_path / "runs" / ".votes.worker-0"


@pytest.mark.slow
@pytest.mark.parametrize("task", ["vote-counts", "three-class"])
def test_two_workers_train_one_run_and_only_the_chief_writes_it(survey, tmp_path, task):
    out, cache = tmp_path / "runs" / "votes", tmp_path / "cache"
    _wait(_start_workers(survey, out, cache, task=task))
    folder = RunFolder(out)
    run = folder.run()
    assert run["finished"] and run["strategy"] == {"name": "KerasMultiWorkerMirroredStrategy", "replicas": 2}
    assert folder.history()["epoch"].tolist() == [0, 1]
    assert folder.metrics()["n"] == run["split_sizes"]["test"] > 0
    assert len(folder.predictions()) == folder.metrics()["n"]
    # Only the chief's run folder is left; the other worker's copy was its own and is gone.
    assert sorted(p.name for p in out.parent.iterdir()) == ["votes"]
    assert {"run.json", "history.csv", "model.keras", "metrics.json", "predictions.csv", "splits/train.csv",
            "splits/validation.csv", "splits/test.csv"} <= _written(out)


@pytest.mark.slow
def test_a_run_whose_worker_was_killed_resumes(survey, tmp_path):
    out, cache = tmp_path / "runs" / "votes", tmp_path / "cache"
    chief, worker = _start_workers(survey, out, cache, pause=20)
    deadline = time.time() + 300
    while time.time() < deadline and chief.poll() is None and len(RunFolder(out).history()) < 1:
        time.sleep(0.2)
    if chief.poll() is not None:
        _wait([chief, worker])
    assert len(RunFolder(out).history()) == 1, "the chief never logged its first epoch"
    time.sleep(3)  # let the other worker finish its own end-of-epoch backup
    worker.send_signal(signal.SIGKILL)  # during the pause after epoch 0, both backed up
    worker.wait()
    chief.send_signal(signal.SIGKILL)  # it would wait for the lost worker at the next step
    chief.wait()
    assert not RunFolder(out).has_metrics()
    first = RunFolder(out).run()
    assert first["fit_sittings"] == 1 and not first["finished"]

    _wait(_start_workers(survey, out, cache))
    history = pd.read_csv(out / RunFolder.HISTORY)
    assert history["epoch"].tolist() == [0, 1], "the run must resume at epoch 1, not retrain epoch 0"
    run = RunFolder(out).run()
    assert run["finished"] and run["fit_sittings"] == 2
    assert sorted(p.name for p in out.parent.iterdir()) == ["votes"]
