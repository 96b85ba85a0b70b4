"""The run folder, and what every kind of run shares: the tf.distribute strategy, the fit
loop that resumes, and the one path from a model and a catalogue to its outputs.

A run folder holds everything a later step needs, so figures and notebooks never retrain.
:class:`RunFolder` owns every file name in it:

* ``run.json``: the profile, seed, classes or questions, image spec, split sizes, timings, versions;
* ``history.csv``: one row per epoch (Keras CSVLogger, appended across resumes);
* ``model.keras``: the best model (by validation accuracy, or loss for vote counts);
* ``metrics.json``: the held-out split's scores at the top level, the validation split's
  under ``validation``; ``predictions.csv``: one row per held-out galaxy;
* ``splits/*.csv``: the galaxies of each split; ``backup/``: the state that lets an
  interrupted run continue from its last finished epoch;
* written later by the report: ``survey_predictions.csv`` (and ``survey_predictions.json``,
  the catalogue it read), ``baseline.json`` and ``comparison/<task>/`` (hard labels against
  vote counts).

TensorFlow is imported inside the functions that need it, so this module (and the CLI's
``--help``) loads without it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from galaxy_utils.data import files
from galaxy_utils.data.catalogue import canonical_frame, ids_of
from galaxy_utils.images.augmentation import predict_dihedral_tta
from galaxy_utils.learn.dataset import make_dataset
from galaxy_utils.learn.profiles import Profile

STRATEGIES = ("auto", "default", "mirrored", "multi-worker")


def make_strategy(name: str = "auto"):
    """The tf.distribute strategy to train in.

    ``auto``: MirroredStrategy when more than one GPU is visible, else the default
    (single-device) strategy. ``mirrored``: every visible GPU, or every logical CPU device
    when there is no GPU (how the tests exercise the multi-device path on a laptop).
    ``multi-worker``: MultiWorkerMirroredStrategy, configured by the ``TF_CONFIG``
    environment variable on each machine. The model code is the same in every case.
    """
    import tensorflow as tf

    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    if name == "multi-worker":  # before anything starts TensorFlow's runtime (listing devices does)
        return multi_worker_strategy()
    gpus = tf.config.list_logical_devices("GPU")
    if name == "mirrored":
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "auto" and len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def multi_worker_strategy():
    """MultiWorkerMirroredStrategy (configured by ``TF_CONFIG``) that Keras 3's ``Model.fit``
    can train in.

    Keras 3.15 calls the strategy's ``reduce`` in two ways TensorFlow's multi-worker strategy
    refuses. To build the model, it averages the first ``(x, y[, weights])`` batch over the
    replicas as one nested value ("Attempt to convert a value (PerReplica...)"; and where
    workers' batches differ in size, as a data shard's last batch does, no average exists):
    it needs only the batch's shapes and dtypes, so this strategy gives it this worker's own
    batch. And it averages every scalar loss and metric over axis 0, which a scalar does not
    have ("Invalid reduction dimension 0 for input with 0 dimensions"): this strategy
    averages a scalar over the replicas alone, as Keras does under a one-machine
    MirroredStrategy. Every other reduction is TensorFlow's own.
    """
    import tensorflow as tf

    class KerasMultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
        def reduce(self, reduce_op, value, axis):
            local = self.experimental_local_results
            if axis is None and len(tf.nest.flatten(value)) > 1:  # Keras' first batch, for its shapes
                return tf.nest.map_structure(lambda leaf: local(leaf)[0], value)
            scalar = axis is not None and local(value)[0].shape.rank == 0
            return super().reduce(reduce_op, value, axis=None if scalar else axis)

    return KerasMultiWorkerMirroredStrategy()


def seed_everything(seed: int) -> None:
    """Make a run repeatable: the same seed on the same machine gives the same numbers.

    Seeds Python, NumPy and TensorFlow (``keras.utils.set_random_seed``) and turns on
    TensorFlow's op determinism, so that kernels with a faster non-deterministic variant
    use the deterministic one and tf.data keeps its order. Called before a run builds its
    datasets and model; the notebook that fits a model by hand calls it too.
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def progress_callbacks(verbose: int, *, epochs: int | None = None, data_size: int | None = None,
                       batch_size: int | None = None) -> list:
    """Progress bars for ``model.fit``: the epochs, and the batches within each, with rates
    and time left; a terminal bar, or a widget in Jupyter (``tqdm.auto``). None when
    ``verbose`` is 0. ``data_size`` (training rows) and ``batch_size`` give the batch bar
    its length, which a ``tf.data`` pipeline that skips unreadable images cannot tell."""
    if not verbose:
        return []
    from tqdm.keras import TqdmCallback  # imports Keras

    return [TqdmCallback(epochs=epochs, data_size=data_size, batch_size=batch_size, verbose=1, tqdm_class=tqdm)]


def prediction_progress(steps: int, enabled: bool = True, desc: str = "predicting") -> list:
    """A progress bar over ``model.predict``'s ``steps`` batches, as a list of Keras callbacks
    (empty when not ``enabled``): ``model.predict(data, verbose=0, callbacks=...)``."""
    if not enabled:
        return []
    import keras

    class PredictionBar(keras.callbacks.Callback):
        def on_predict_begin(self, logs=None):
            self.bar = tqdm(total=steps, desc=desc, unit="batch")

        def on_predict_batch_end(self, batch, logs=None):
            self.bar.update()

        def on_predict_end(self, logs=None):
            self.bar.close()

    return [PredictionBar()]


def environment_for_cpu_devices(n: int) -> None:
    """Split the CPU into ``n`` logical devices (before TensorFlow starts): lets the
    MirroredStrategy path run, and be tested, on a machine without GPUs."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)


def cluster_task() -> tuple[str, int] | None:
    """This process's ``(task type, index)`` in a multi-worker cluster, from ``TF_CONFIG``
    (what MultiWorkerMirroredStrategy reads); None outside one."""
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    if not config.get("cluster") or not config.get("task"):
        return None
    return config["task"].get("type", "worker"), int(config["task"].get("index", 0))


def is_chief() -> bool:
    """Whether this process writes the run folder: outside a cluster always; inside one, the
    ``chief`` task, or worker 0 when the cluster names no chief (TensorFlow's convention)."""
    task = cluster_task()
    if task is None:
        return True
    kind, index = task
    return kind == "chief" or (kind == "worker" and index == 0 and "chief" not in json.loads(
        os.environ["TF_CONFIG"])["cluster"])


@contextlib.contextmanager
def known_keras_warnings():
    """Silence two Keras warnings that are expected here, and only those.

    The input pipeline skips unreadable images, so its length is unknown in advance and
    Keras warns "Your input ran out of data" at the end of every epoch; and ``fit`` warns
    that it ignores ``shuffle`` for a tf.data pipeline (which shuffles itself).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Your input ran out of data", category=UserWarning)
        warnings.filterwarnings("ignore", message="`shuffle=True` was passed", category=UserWarning)
        yield


class _RetracingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


@contextlib.contextmanager
def no_retracing_warning():
    """Silence TensorFlow's "N out of the last M calls ... triggered tf.function retracing"
    warning, and only it, while predicting. It is expected and harmless here: every loaded
    model builds its own predict function, traced once for full batches and once for the
    smaller last batch, so comparing a few saved models in one process trips TensorFlow's
    frequent-retracing heuristic although nothing is retraced in a loop."""
    logger, only = logging.getLogger("tensorflow"), _RetracingFilter()
    logger.addFilter(only)
    try:
        yield
    finally:
        logger.removeFilter(only)


def portable_path(location):
    """A path relative to the project root where it lies inside it (else unchanged): what
    committed run folders record, so they work on any clone."""
    if not isinstance(location, str | Path):
        return location
    try:
        return Path(location).resolve().relative_to(files.project_root()).as_posix()
    except ValueError:
        return str(location)


def write_run_table(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a run's table (splits, predictions) with ``file_loc`` :func:`portable_path`."""
    if "file_loc" in frame.columns:
        frame = frame.assign(file_loc=frame["file_loc"].map(portable_path))
    frame.to_csv(path, index=False)


def read_run_table(path: str | Path) -> pd.DataFrame:
    """Read a table written by :func:`write_run_table`: ids as text, ``file_loc`` absolute."""
    table = canonical_frame(pd.read_csv(path, dtype={"iauname": "string", "GalaxyID": "string"}))
    if "file_loc" in table.columns:
        root = files.project_root()
        table["file_loc"] = [
            str(root / p) if isinstance(p, str) and not Path(p).is_absolute() else p for p in table["file_loc"]
        ]
    return table


def versions() -> dict:
    import keras
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
    }


def load_model(path: str | Path):
    """A saved Keras model; a missing file or one Keras cannot read (truncated, not a
    ``.keras`` archive) is one clear error naming the file."""
    import zipfile

    import keras

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model not found: {path}")
    try:
        return keras.models.load_model(path)
    except Exception as err:  # Keras raises ValueError, OSError, BadZipFile, KeyError... for a broken file
        # Keras words a damaged archive as "File not found"; say what is actually wrong.
        why = "not a zip archive: truncated, or not a .keras file" if not zipfile.is_zipfile(path) else (
            f"{type(err).__name__} while loading it"
        )
        raise ValueError(f"{path} is not a readable Keras model ({why}); was it copied completely?") from err


def predict_frame(model, frame: pd.DataFrame, spec, *, tta: bool = False, cache_dir=None, batch_size: int = 64,
                  progress: bool = False):
    """Run ``model`` on every galaxy of ``frame`` (``file_loc`` resolved), in order: the one
    prediction path of the package (scoring a run, ``galaxy-utils predict``, comparisons).

    Returns ``(outputs, readable, skipped)``: the model's outputs for the galaxies whose
    image could be read, those rows of ``frame``, and the skipped galaxies (``id``,
    ``file_loc``, ``error``). ``tta`` averages over the eight dihedral variants of each image.
    ``progress``: a progress bar over the batches (not with ``tta``).
    """
    skipped: list[dict] = []
    dataset = make_dataset(frame, None, spec, batch_size=batch_size, shuffle=False, seed=0, cache_dir=cache_dir,
                           skipped=skipped)
    with known_keras_warnings(), no_retracing_warning():
        bar = prediction_progress(-(-len(frame) // batch_size), progress and not tta)
        outputs = predict_dihedral_tta(model, dataset) if tta else model.predict(dataset, verbose=0, callbacks=bar)
    unreadable = {row["id"] for row in skipped}
    readable = frame[~frame[ids_of(frame)].astype("string").isin(unreadable)]
    return np.asarray(outputs), readable, skipped


def json_safe(value):
    """``value`` with every NaN or infinity replaced by None (null: strict JSON has no NaN)."""
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


class RunFolder:
    """A training run's folder: every file name in it, and reading and writing them."""

    RUN = "run.json"
    HISTORY = "history.csv"
    MODEL = "model.keras"
    METRICS = "metrics.json"
    PREDICTIONS = "predictions.csv"
    SPLITS = "splits"
    BACKUP = "backup"
    SURVEY_PREDICTIONS = "survey_predictions.csv"  # a model on galaxies of a survey it did not train on (report)
    SURVEY_SOURCE = "survey_predictions.json"  # the catalogue those galaxies came from (report)
    BASELINE = "baseline.json"  # the pixel baseline on the same splits (report)
    COMPARISON = "comparison"  # hard against soft, in a vote-count run folder, a folder per task (report)

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @classmethod
    def of_model(cls, model_path: str | Path) -> RunFolder:
        """The run folder a ``model.keras`` lies in (its ``run.json`` beside it)."""
        return cls(Path(model_path).parent)

    def for_this_worker(self) -> RunFolder:
        """Where this process of a multi-worker run writes: the run folder on the chief (see
        :func:`is_chief`); on every other worker a folder of its own beside it
        (``.<name>.worker-<i>``), which holds that worker's backup while the run is
        unfinished, so only the chief writes the run folder and a killed worker resumes."""
        if is_chief():
            return self
        kind, index = cluster_task()
        return RunFolder(self.path.with_name(f".{self.path.name}.{kind}-{index}"))

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    # -- paths -------------------------------------------------------------------------
    @property
    def run_file(self) -> Path:
        return self.path / self.RUN

    @property
    def history_file(self) -> Path:
        return self.path / self.HISTORY

    @property
    def model_file(self) -> Path:
        return self.path / self.MODEL

    @property
    def metrics_file(self) -> Path:
        return self.path / self.METRICS

    @property
    def predictions_file(self) -> Path:
        return self.path / self.PREDICTIONS

    @property
    def backup_dir(self) -> Path:
        return self.path / self.BACKUP

    @property
    def survey_predictions_file(self) -> Path:
        return self.path / self.SURVEY_PREDICTIONS

    @property
    def survey_source_file(self) -> Path:
        return self.path / self.SURVEY_SOURCE

    @property
    def baseline_file(self) -> Path:
        return self.path / self.BASELINE

    def split_file(self, name: str) -> Path:
        return self.path / self.SPLITS / f"{name}.csv"

    def comparison_dir(self, task: str | None = None) -> Path:
        folder = self.path / self.COMPARISON
        return folder / task if task else folder

    # -- reading -----------------------------------------------------------------------
    def exists(self) -> bool:
        """Whether a run was started here (``run.json``)."""
        return self.run_file.exists()

    def has_metrics(self) -> bool:
        """Whether the run was scored (``metrics.json``)."""
        return self.metrics_file.exists()

    def finished_as(self, fingerprint: dict) -> bool:
        """Whether the run ``fingerprint`` describes finished here."""
        if not (self.exists() and self.has_metrics()):
            return False
        run = self.run()
        return bool(run.get("finished")) and run.get("fingerprint") == fingerprint

    def run(self) -> dict:
        """``run.json``."""
        if not self.run_file.exists():
            raise FileNotFoundError(f"{self.run_file} not found: is {self.path} a training run folder?")
        return json.loads(self.run_file.read_text())

    def history(self) -> pd.DataFrame:
        """The run's epoch history; if an interrupted run logged an epoch twice, the last wins."""
        path = self.history_file
        if not path.exists() or path.stat().st_size == 0:  # CSVLogger creates it empty at the start
            return pd.DataFrame(columns=["epoch"])
        history = pd.read_csv(path)
        return history.drop_duplicates("epoch", keep="last").reset_index(drop=True)

    def metrics(self) -> dict:
        return json.loads(self.metrics_file.read_text())

    def split(self, name: str) -> pd.DataFrame:
        return read_run_table(self.split_file(name))

    def predictions(self) -> pd.DataFrame:
        return read_run_table(self.predictions_file)

    def model(self):
        return load_model(self.model_file)

    # -- writing -----------------------------------------------------------------------
    def write_run(self, run: dict) -> None:
        self.run_file.write_text(json.dumps(run, indent=2, default=str))

    def write_splits(self, splits: dict[str, pd.DataFrame]) -> None:
        (self.path / self.SPLITS).mkdir(parents=True, exist_ok=True)
        for name, frame in splits.items():
            write_run_table(frame, self.split_file(name))

    def write_metrics(self, metrics: dict) -> None:
        """``metrics.json`` in strict JSON (no NaN: a figure that cannot be computed is null)."""
        self.metrics_file.write_text(json.dumps(metrics, indent=2, allow_nan=False))

    def write_predictions(self, table: pd.DataFrame) -> None:
        write_run_table(table, self.predictions_file)

    # -- a run's life ------------------------------------------------------------------
    def open(self, fingerprint: dict) -> dict | None:
        """Make the folder ready for the run ``fingerprint`` describes; the metrics if it is done.

        A folder holding a *different* run (other task, profile, seed, held-out galaxies or
        catalogue) is refused rather than overwritten; an unfinished run of the same
        fingerprint is continued by the caller (:meth:`fit` resumes from ``backup/``).
        """
        if self.exists():
            previous = self.run()
            if previous.get("fingerprint") != fingerprint:
                raise ValueError(
                    f"{self.path} holds another run ({previous.get('task')}, profile "
                    f"{previous.get('profile', {}).get('name')}, seed {previous.get('seed')}, other held-out galaxies "
                    "or another catalogue); choose another --out, or delete the folder to retrain"
                )
            if self.finished_as(fingerprint):
                return self.metrics()
        self.path.mkdir(parents=True, exist_ok=True)
        return None

    def fit(self, run: dict, build, datasets: dict, prof: Profile, *, strategy, monitor: str,
            extra_callbacks=None, verbose: int = 2, class_weight: dict[int, float] | None = None):
        """Fit a model in this folder and return the best one; shared by every kind of run.

        Builds the model with ``build()`` inside the tf.distribute ``strategy`` (a name of
        :data:`STRATEGIES`, or the strategy itself: a multi-worker one must be made before
        any other TensorFlow operation, so :func:`galaxy_utils.learn.training.train` makes
        it first); resumes from
        ``backup/`` after an interruption; keeps the best epoch by ``monitor`` (a resumed run
        only replaces a model that beats the best epoch already logged); logs every epoch to
        ``history.csv``; stops early when the profile says so. Records the strategy and the
        fitting time in ``run`` and writes ``run.json`` before fitting, so a resumed run can
        check that it is the same run, and after every epoch, so ``fit_seconds`` adds up every
        sitting of a run that was interrupted (``fit_sittings`` counts them). ``class_weight``
        (class index -> weight) is passed to ``fit``; ``verbose`` shows progress bars
        (:func:`progress_callbacks`).
        """
        import keras

        mode = "max" if "accuracy" in monitor else "min"
        dist = make_strategy(strategy) if isinstance(strategy, str) else strategy
        run["strategy"] = {"name": type(dist).__name__, "replicas": int(dist.num_replicas_in_sync)}
        history = self.history()
        # A resumed run adds this sitting's fitting time to the earlier sittings'.
        earlier = self.run() if len(history) and self.exists() else {}
        run["fit_sittings"] = int(earlier.get("fit_sittings", 0)) + 1
        earlier_seconds = float(earlier.get("fit_seconds", 0.0))
        run["fit_seconds"] = earlier_seconds
        self.write_run(run)
        best_so_far = None
        if len(history) and monitor in history:
            best_so_far = float(history[monitor].max() if mode == "max" else history[monitor].min())
        with dist.scope():
            model = build()
        started = time.time()

        def record_fit_time(epoch, logs):
            run["fit_seconds"] = round(earlier_seconds + time.time() - started, 1)
            self.write_run(run)

        callbacks = [
            # First, so an epoch is backed up before anything else records it.
            keras.callbacks.BackupAndRestore(str(self.backup_dir)),
            # Then the time so far, so a run killed after this epoch still says how long it trained.
            keras.callbacks.LambdaCallback(on_epoch_end=record_fit_time),
            keras.callbacks.ModelCheckpoint(str(self.model_file), monitor=monitor, mode=mode, save_best_only=True,
                                            initial_value_threshold=best_so_far),
            keras.callbacks.CSVLogger(str(self.history_file), append=True),
            *(extra_callbacks or []),
            *progress_callbacks(verbose, epochs=prof.epochs, data_size=run.get("split_sizes", {}).get("train"),
                                batch_size=prof.batch_size),
        ]
        if prof.early_stopping_patience:
            callbacks.append(
                keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=prof.early_stopping_patience)
            )
        with known_keras_warnings():
            model.fit(datasets["train"], validation_data=datasets["validation"], epochs=prof.epochs,
                      callbacks=callbacks, verbose=0, class_weight=class_weight)
        run["fit_seconds"] = round(earlier_seconds + time.time() - started, 1)
        return keras.models.load_model(self.model_file)

    def finish(self, run: dict, started: float) -> None:
        """Mark the run finished (epochs, time, devices): a rerun then returns its metrics."""
        import tensorflow as tf

        run["epochs_run"] = int(len(self.history()))
        run["total_seconds"] = round(time.time() - started, 1)
        run["tensorflow_devices"] = [d.name for d in tf.config.list_logical_devices()]
        run["finished"] = True
        self.write_run(run)
