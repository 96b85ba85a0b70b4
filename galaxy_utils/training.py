"""Train a profile end to end: prepare the catalogue, split, build datasets, fit inside a
tf.distribute strategy, keep the best model, score the held-out split.

A run folder holds everything a later step needs, so figures and notebooks never retrain:

* ``run.json``: the profile, seed, classes, image spec, split sizes, timings, versions;
* ``history.csv``: one row per epoch (Keras CSVLogger, appended across resumes);
* ``model.keras``: the best model by validation accuracy;
* ``metrics.json``: top-level ``accuracy`` on the held-out split, per-class figures and
  confusion matrices; ``predictions.csv``: one row per held-out galaxy;
* ``splits/*.csv``: the galaxies of each split; ``backup/``: the state that lets an
  interrupted run continue from its last finished epoch.
"""

from __future__ import annotations

import contextlib
import json
import platform
import time
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from . import labels as labels_module
from .catalogue import GALAXY10, LABEL_COLUMN, CatalogueError, id_column, read_catalogue
from .evaluation import classification_metrics, prediction_table
from .prepare import prepare_catalogue
from .profiles import Profile
from .profiles import profile as get_profile

RUN_FILE = "run.json"
HISTORY_FILE = "history.csv"
MODEL_FILE = "model.keras"
METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.csv"
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
    gpus = tf.config.list_logical_devices("GPU")
    if name == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "mirrored":
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "auto" and len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


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
    from tqdm.auto import tqdm
    from tqdm.keras import TqdmCallback

    return [TqdmCallback(epochs=epochs, data_size=data_size, batch_size=batch_size, verbose=1, tqdm_class=tqdm)]


def prediction_progress(steps: int, enabled: bool = True, desc: str = "predicting") -> list:
    """A progress bar over ``model.predict``'s ``steps`` batches, as a list of Keras callbacks
    (empty when not ``enabled``): ``model.predict(data, verbose=0, callbacks=...)``."""
    if not enabled:
        return []
    import keras
    from tqdm.auto import tqdm

    class PredictionBar(keras.callbacks.Callback):
        def on_predict_begin(self, logs=None):
            self.bar = tqdm(total=steps, desc=desc, unit="batch")

        def on_predict_batch_end(self, batch, logs=None):
            self.bar.update()

        def on_predict_end(self, logs=None):
            self.bar.close()

    return [PredictionBar()]


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


_known_keras_warnings = known_keras_warnings  # the name the package's modules use


def portable_path(location):
    """A path relative to the project root where it lies inside it (else unchanged): what
    committed run folders record, so they work on any clone."""
    from .config import project_root

    if not isinstance(location, str | Path):
        return location
    try:
        return Path(location).resolve().relative_to(project_root()).as_posix()
    except ValueError:
        return str(location)


def write_run_table(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a run's table (splits, predictions) with ``file_loc`` :func:`portable_path`."""
    if "file_loc" in frame.columns:
        frame = frame.assign(file_loc=frame["file_loc"].map(portable_path))
    frame.to_csv(path, index=False)


def read_run_table(path: str | Path) -> pd.DataFrame:
    """Read a table written by :func:`write_run_table`: ids as text, ``file_loc`` absolute."""
    from .config import project_root

    table = pd.read_csv(path, dtype={"iauname": "string", "GalaxyID": "string"})
    if "file_loc" in table.columns:
        root = project_root()
        table["file_loc"] = [
            str(root / p) if isinstance(p, str) and not Path(p).is_absolute() else p for p in table["file_loc"]
        ]
    return table


def read_history(run_dir: str | Path) -> pd.DataFrame:
    """The run's epoch history; if an interrupted run logged an epoch twice, the last wins."""
    path = Path(run_dir) / HISTORY_FILE
    if not path.exists() or path.stat().st_size == 0:  # CSVLogger creates it empty at the start
        return pd.DataFrame(columns=["epoch"])
    history = pd.read_csv(path)
    return history.drop_duplicates("epoch", keep="last").reset_index(drop=True)


def read_run(run_dir: str | Path) -> dict:
    path = Path(run_dir) / RUN_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: is {run_dir} a training run folder?")
    return json.loads(path.read_text())


def _versions() -> dict:
    import keras
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
    }


def file_sha1(path: str | Path) -> str:
    """A file's SHA-1, read in blocks: what a run or a saved comparison was made from.

    A folder (a catalogue of class sub-folders) is fingerprinted by the paths and sizes
    of the files in it.
    """
    import hashlib

    digest = hashlib.sha1()
    if Path(path).is_dir():
        for file in sorted(p for p in Path(path).rglob("*") if p.is_file()):
            digest.update(f"{file.relative_to(path).as_posix()}\t{file.stat().st_size}\n".encode())
        return digest.hexdigest()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _subsample(catalogue: pd.DataFrame, n: int | None, seed: int) -> pd.DataFrame:
    """At most ``n`` galaxies, stratified by label, the same ones for the same seed."""
    if n is None or len(catalogue) <= n:
        return catalogue
    from sklearn.model_selection import train_test_split

    counts = catalogue[LABEL_COLUMN].value_counts()
    stratify = catalogue[LABEL_COLUMN] if counts.min() >= 2 else None
    kept, _ = train_test_split(catalogue, train_size=n, random_state=seed, stratify=stratify)
    return kept.sort_index()


def require_every_class(catalogue: pd.DataFrame, class_names, where: str) -> None:
    """Refuse to train when a class has no galaxies: the model could never predict it, and
    scores on the classes left would read as if it could (accuracy 1.000 on one class)."""
    counts = catalogue[LABEL_COLUMN].value_counts().reindex(class_names, fill_value=0)
    empty = [name for name, n in counts.items() if n == 0]
    if empty:
        found = ", ".join(f"{name} {n}" for name, n in counts.items())
        raise CatalogueError(
            f"no galaxies of class {', '.join(empty)} in {where} (galaxies per class: {found}); "
            "every class needs galaxies to train on: use a larger catalogue or check its labels"
        )


def open_run(out: Path, fingerprint: dict) -> dict | None:
    """Make ``out`` ready for the run ``fingerprint`` describes; the metrics if it is done.

    A folder holding a *different* run (other task, profile, seed, held-out galaxies or
    catalogue) is refused rather than overwritten; an unfinished run of the same
    fingerprint is continued by the caller (``fit_run`` resumes from ``backup/``).
    """
    if (out / RUN_FILE).exists():
        previous = read_run(out)
        if previous.get("fingerprint") != fingerprint:
            raise ValueError(
                f"{out} holds another run ({previous.get('task')}, profile "
                f"{previous.get('profile', {}).get('name')}, seed {previous.get('seed')}, other held-out galaxies "
                "or another catalogue); choose another --out, or delete the folder to retrain"
            )
        if (out / METRICS_FILE).exists() and previous.get("finished"):
            return json.loads((out / METRICS_FILE).read_text())
    out.mkdir(parents=True, exist_ok=True)
    return None


def fit_run(out: Path, run: dict, build, datasets: dict, prof: Profile, *, strategy: str, monitor: str,
            extra_callbacks=None, verbose: int = 2, class_weight: dict[int, float] | None = None):
    """Fit a model in a run folder and return the best one; shared by every kind of run.

    Builds the model with ``build()`` inside the tf.distribute strategy; resumes from
    ``backup/`` after an interruption; keeps the best epoch by ``monitor`` (a resumed run
    only replaces a model that beats the best epoch already logged); logs every epoch to
    ``history.csv``; stops early when the profile says so. Records the strategy and the
    fitting time in ``run`` and writes ``run.json`` before fitting, so a resumed run can
    check that it is the same run, and after every epoch, so ``fit_seconds`` adds up every
    sitting of a run that was interrupted (``fit_sittings`` counts them). ``class_weight``
    (class index -> weight) is passed to ``fit``.
    """
    import keras

    mode = "max" if "accuracy" in monitor else "min"
    dist = make_strategy(strategy)
    run["strategy"] = {"name": type(dist).__name__, "replicas": int(dist.num_replicas_in_sync)}
    history = read_history(out)
    # A resumed run adds this sitting's fitting time to the earlier sittings'.
    earlier = read_run(out) if len(history) and (out / RUN_FILE).exists() else {}
    run["fit_sittings"] = int(earlier.get("fit_sittings", 0)) + 1
    earlier_seconds = float(earlier.get("fit_seconds", 0.0))
    run["fit_seconds"] = earlier_seconds
    (out / RUN_FILE).write_text(json.dumps(run, indent=2, default=str))
    best_so_far = None
    if len(history) and monitor in history:
        best_so_far = float(history[monitor].max() if mode == "max" else history[monitor].min())
    with dist.scope():
        model = build()
    started = time.time()

    def record_fit_time(epoch, logs):
        run["fit_seconds"] = round(earlier_seconds + time.time() - started, 1)
        (out / RUN_FILE).write_text(json.dumps(run, indent=2, default=str))

    callbacks = [
        # First, so an epoch is backed up before anything else records it.
        keras.callbacks.BackupAndRestore(str(out / "backup")),
        # Then the time so far, so a run killed after this epoch still says how long it trained.
        keras.callbacks.LambdaCallback(on_epoch_end=record_fit_time),
        keras.callbacks.ModelCheckpoint(str(out / MODEL_FILE), monitor=monitor, mode=mode, save_best_only=True,
                                        initial_value_threshold=best_so_far),
        keras.callbacks.CSVLogger(str(out / HISTORY_FILE), append=True),
        *(extra_callbacks or []),
        *progress_callbacks(verbose, epochs=prof.epochs, data_size=run.get("split_sizes", {}).get("train"),
                            batch_size=prof.batch_size),
    ]
    if prof.early_stopping_patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=prof.early_stopping_patience)
        )
    with _known_keras_warnings():
        model.fit(datasets["train"], validation_data=datasets["validation"], epochs=prof.epochs,
                  callbacks=callbacks, verbose=0, class_weight=class_weight)
    run["fit_seconds"] = round(earlier_seconds + time.time() - started, 1)
    return keras.models.load_model(out / MODEL_FILE)


def finish_run(out: Path, run: dict, started: float) -> None:
    """Mark a run folder finished (epochs, time, devices): a rerun then returns its metrics."""
    import tensorflow as tf

    run["epochs_run"] = int(len(read_history(out)))
    run["total_seconds"] = round(time.time() - started, 1)
    run["tensorflow_devices"] = [d.name for d in tf.config.list_logical_devices()]
    run["finished"] = True
    (out / RUN_FILE).write_text(json.dumps(run, indent=2, default=str))


def split_for_profile(
    catalogue: pd.DataFrame, prof: Profile, class_names, *, seed: int, test_ids=None
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame | None]:
    """Train / validation / test catalogues as the profile says, and the balancing report
    (originals and augmented copies per class) when the profile balances. Splits are of
    original galaxies; only the training split is ever augmented.

    ``test_ids`` fixes the test set to exactly those galaxies (those present), so two
    models with different classes (with and without 'uncertain') are scored on the same
    galaxies; the rest is split into training and validation as the profile says.
    """
    from .augmentation import balance_by_dihedral
    from .dataset import balanced_train_test, split_catalogue

    if prof.split not in ("balanced", "fraction"):
        raise ValueError(f"unknown split {prof.split!r} in profile {prof.name!r}")
    if test_ids is not None:
        fixed = catalogue[id_column(catalogue)].astype("string").isin(set(map(str, test_ids)))
        test, rest = catalogue[fixed], catalogue[~fixed]
        share = prof.val_fraction / (1 - (prof.test_fraction if prof.split == "fraction" else 0.0))
        train, validation, _ = split_catalogue(rest, min(share, 0.5), 0.0, seed)
        report = None
        if prof.balance == "dihedral":
            train, report = balance_by_dihedral(train, seed, target=prof.n_train // len(class_names))
        return {"train": train, "validation": validation, "test": test}, report
    if prof.split == "balanced":
        rest, validation, _ = split_catalogue(catalogue, prof.val_fraction, 0.0, seed)
        balanced = balanced_train_test(rest, prof.n_train, prof.n_test, seed, class_names)
        return {"train": balanced.train, "validation": validation, "test": balanced.test}, balanced.report
    train, validation, test = split_catalogue(catalogue, prof.val_fraction, prof.test_fraction, seed)
    return {"train": train, "validation": validation, "test": test}, None


def train(
    task: str,
    catalog: str | Path,
    image_root: str | Path,
    profile_name: str | Profile,
    out: str | Path,
    *,
    seed: int = 0,
    keep_uncertain: bool = False,
    strategy: str = "auto",
    cache_dir: str | Path | None = None,
    verbose: int = 2,
    extra_callbacks: list | None = None,
    test_ids=None,
    catalog_format: str | None = None,
) -> dict:
    """Train ``task`` with a named profile into the run folder ``out``; returns the metrics.

    Rerunning with the same ``out`` after an interruption continues from the last finished
    epoch (Keras BackupAndRestore); rerunning a finished run returns its metrics without
    retraining. A run folder holding a *different* run (other profile, seed, task or
    catalogue) is refused rather than overwritten. ``test_ids``: score on exactly these
    galaxies (see :func:`split_for_profile`). ``catalog_format``: read the catalogue as this
    format rather than the detected one (:data:`galaxy_utils.catalogue.FORMATS`).
    ``profile_name`` may also be a :class:`~galaxy_utils.profiles.Profile` itself (e.g. an
    ablation: a named profile with one idea switched off, ``dataclasses.replace``-d under
    another name).
    """
    from .dataset import make_dataset
    from .images import ImageSpec
    from .models import build_model

    prof: Profile = profile_name if isinstance(profile_name, Profile) else get_profile(task, profile_name)
    profile_name = prof.name
    out = Path(out)
    fingerprint = {
        "task": task, "profile": prof.to_dict(), "seed": seed, "keep_uncertain": keep_uncertain,
        "catalog_sha1": file_sha1(catalog),
        "test_ids": None if test_ids is None else sorted(map(str, test_ids)),
    }
    finished = open_run(out, fingerprint)
    if finished is not None:
        return finished
    cache_dir = Path(cache_dir) if cache_dir else out.parent / "cache"
    started = time.time()

    seed_everything(seed)
    class_names = labels_module.class_names(task, keep_uncertain)
    catalogue = read_catalogue(catalog, format=catalog_format)
    prepared, log = prepare_catalogue(catalogue, image_root, task, keep_uncertain=keep_uncertain, verify="verify")
    require_every_class(prepared, class_names, f"{catalog} after preparing it for {task}")
    prepared = _subsample(prepared, prof.max_galaxies, seed)
    splits, balance_report = split_for_profile(prepared, prof, class_names, seed=seed, test_ids=test_ids)
    require_every_class(splits["train"], class_names, "the training split")
    (out / "splits").mkdir(exist_ok=True)
    for name, frame in splits.items():
        write_run_table(frame, out / "splits" / f"{name}.csv")

    spec = ImageSpec(prof.image_size, prof.crop_fraction, prof.greyscale, crop=prof.crop,
                     crop_extent=prof.crop_extent)
    skipped: list[dict] = []
    datasets = {
        name: make_dataset(
            frame, class_names, spec, batch_size=prof.batch_size, shuffle=(name == "train"), seed=seed,
            augment=prof.random_augment and name == "train", cache_dir=cache_dir, skipped=skipped,
        )
        for name, frame in splits.items()
    }
    held_out = "test"

    run = {
        "fingerprint": fingerprint,
        "finished": False,
        "task": task,
        "profile": prof.to_dict(),
        "seed": seed,
        "classes": class_names,
        "keep_uncertain": keep_uncertain,
        "image_spec": asdict(spec),
        "balancing": None if balance_report is None else balance_report.reset_index().to_dict(orient="records"),
        "catalog": portable_path(catalog),
        "catalog_format": catalogue.attrs.get("format"),
        "preprocessing": log.table().to_dict(orient="records"),
        "split_sizes": {name: int(len(frame)) for name, frame in splits.items()},
        "class_counts": {
            name: frame[LABEL_COLUMN].value_counts().reindex(class_names, fill_value=0).astype(int).to_dict()
            for name, frame in splits.items()
        },
        "held_out_split": held_out,
        "versions": _versions(),
    }

    class_weight = None
    if prof.class_weights:
        counts = splits["train"][LABEL_COLUMN].value_counts().reindex(class_names, fill_value=0).to_numpy()
        shares = counts / counts.sum()
        class_weight = {i: float(1 / (len(class_names) * share)) for i, share in enumerate(shares) if share > 0}
        run["class_weight"] = {class_names[i]: round(w, 4) for i, w in class_weight.items()}
    decay_steps = prof.epochs * max(1, -(-len(splits["train"]) // prof.batch_size))

    def build():
        return build_model(prof.model, spec.shape, len(class_names), learning_rate=prof.learning_rate,
                           optimizer=prof.optimizer, weight_decay=prof.weight_decay, decay_steps=decay_steps,
                           label_smoothing=prof.label_smoothing)

    best = fit_run(
        out, run, build, datasets, prof, strategy=strategy, monitor="val_accuracy", extra_callbacks=extra_callbacks,
        verbose=verbose, class_weight=class_weight,
    )
    metrics = {}
    for name in ("validation", held_out):
        with _known_keras_warnings():
            probabilities = best.predict(datasets[name], verbose=0)
        unreadable = {row["id"] for row in skipped}
        frame = splits[name]
        frame = frame[~frame[id_column(frame)].astype("string").isin(unreadable)]
        y_true = frame[LABEL_COLUMN].map({c: i for i, c in enumerate(class_names)}).to_numpy()
        metrics[name] = classification_metrics(y_true, probabilities, class_names)
    metrics = {**metrics[held_out], "validation": metrics["validation"]}
    metrics.update(split=held_out, task=task, profile=profile_name, seed=seed, unreadable_images=skipped)
    (out / METRICS_FILE).write_text(json.dumps(metrics, indent=2))
    predictions = prediction_table(frame[id_column(frame)], frame["file_loc"], probabilities, class_names,
                                   id_name=id_column(frame))
    predictions.insert(2, "true_class", frame[LABEL_COLUMN].to_numpy())
    write_run_table(predictions, out / PREDICTIONS_FILE)
    finish_run(out, run, started)
    return metrics


def environment_for_cpu_devices(n: int) -> None:
    """Split the CPU into ``n`` logical devices (before TensorFlow starts): lets the
    MirroredStrategy path run, and be tested, on a machine without GPUs."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)



def load_model(path: str | Path):
    """A saved Keras model; a missing file or one Keras cannot read (truncated, not a
    ``.keras`` archive) is one clear error naming the file."""
    import keras

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model not found: {path}")
    try:
        return keras.models.load_model(path)
    except Exception as err:  # Keras raises ValueError, OSError, BadZipFile, KeyError... for a broken file
        # Keras words a damaged archive as "File not found"; say what is actually wrong.
        import zipfile

        why = "not a zip archive: truncated, or not a .keras file" if not zipfile.is_zipfile(path) else (
            f"{type(err).__name__} while loading it"
        )
        raise ValueError(f"{path} is not a readable Keras model ({why}); was it copied completely?") from err


def predict(
    model_path: str | Path,
    catalog: str | Path | pd.DataFrame,
    image_root: str | Path,
    out: str | Path | None,
    *,
    threshold: float = 0.6,
    tta: bool = False,
    batch_size: int = 64,
    cache_dir: str | Path | None = None,
    catalog_format: str | None = None,
    progress: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Classify every galaxy of a catalogue (a file, or a DataFrame already read) with a
    trained model; one row per galaxy, written to ``out`` unless it is None.

    The model's run folder (``run.json`` beside the model) says which image preprocessing
    and classes it was trained with. Galaxies whose image is missing or unreadable are
    reported (returned, and written to ``<out>.unreadable.csv``), not fatal. ``tta``
    averages over the eight dihedral variants of each image. ``catalog_format`` overrides the
    detected format of a catalogue file; Galaxy10 images are written to PNGs under
    ``image_root`` first. A catalogue without an id
    column (``iauname``, ``GalaxyID``, ``id_str``, ``id``) gets an ``id`` column of its
    0-based row numbers, so every prediction can be traced back to its row.
    ``progress``: a progress bar over the batches (not with ``tta``).
    """
    from . import models  # noqa: F401  (registers the custom layers a saved model may hold)
    from .augmentation import predict_dihedral_tta
    from .catalogue import FILE_COLUMN, resolve_images
    from .dataset import make_dataset
    from .images import ImageSpec

    model_path = Path(model_path)
    run = read_run(model_path.parent)
    spec = ImageSpec(**run["image_spec"])
    class_names = run["classes"]
    model = load_model(model_path)  # before any work: a broken model is found at once
    catalogue = catalog if isinstance(catalog, pd.DataFrame) else read_catalogue(catalog, format=catalog_format)
    if catalogue.attrs.get("format") == GALAXY10:
        from .formats import extract_galaxy10_images

        catalogue = extract_galaxy10_images(catalogue, image_root).catalogue
    if id_column(catalogue) == FILE_COLUMN:  # file_loc is about to be rewritten: not an id
        catalogue = catalogue.copy()
        catalogue.insert(0, "id", pd.Series(range(len(catalogue)), index=catalogue.index).astype("string"))
    located = resolve_images(catalogue, image_root, verify="exists")
    frame = located.catalogue.reset_index(drop=True)
    skipped: list[dict] = []
    dataset = make_dataset(frame, None, spec, batch_size=batch_size, shuffle=False, seed=0, cache_dir=cache_dir,
                           skipped=skipped)
    with _known_keras_warnings():
        bar = prediction_progress(-(-len(frame) // batch_size), progress and not tta)
        probabilities = predict_dihedral_tta(model, dataset) if tta else model.predict(dataset, verbose=0,
                                                                                        callbacks=bar)
    ids = id_column(frame)
    unreadable_ids = {row["id"] for row in skipped}
    readable = frame[~frame[ids].astype("string").isin(unreadable_ids)]
    table = prediction_table(readable[ids], readable["file_loc"], probabilities, class_names, threshold, id_name=ids)
    unreadable = pd.concat(
        [
            located.report.removed.rename(columns={"id": ids}),
            pd.DataFrame(skipped, columns=["id", "file_loc", "error"]).rename(columns={"id": ids, "error": "reason"}),
        ],
        ignore_index=True,
    )
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(out, index=False)
        if len(unreadable):
            unreadable.to_csv(out.with_suffix(".unreadable.csv"), index=False)
    return table, unreadable


def uncertain_test_ids(reference_run: str | Path, catalog: str | Path, image_root: str | Path, *,
                       seed: int = 0) -> list[str]:
    """Test galaxies for the 'uncertain'-class model that match a four-class run's test set.

    The course project compared the four-class model and the model with a fifth
    'uncertain' class on one validation set. This returns the reference run's test
    galaxies plus as many uncertain galaxies as it has per class, drawn with ``seed``,
    so both models are scored on the same confident galaxies.
    """
    run = read_run(reference_run)
    reference = read_run_table(Path(reference_run) / "splits" / "test.csv")
    ids = id_column(reference)
    catalogue = read_catalogue(catalog)
    labelled, _ = prepare_catalogue(catalogue, image_root, run["task"], keep_uncertain=True, verify="exists")
    uncertain = labelled[labelled[LABEL_COLUMN] == labels_module.UNCERTAIN]
    per_class = max(1, len(reference) // len(run["classes"]))
    chosen = uncertain.sample(n=min(per_class, len(uncertain)), random_state=seed)
    return sorted(set(reference[ids]) | set(chosen[ids].astype(str)))


def read_predictions(run_dir: str | Path) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, list]:
    """A run's test-split predictions: (table, true class indices, probabilities, classes)."""
    classes = read_run(run_dir)["classes"]
    table = read_run_table(Path(run_dir) / PREDICTIONS_FILE)
    probabilities = table[[f"p_{c}" for c in classes]].to_numpy()
    y_true = table["true_class"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    return table, y_true, probabilities, classes
