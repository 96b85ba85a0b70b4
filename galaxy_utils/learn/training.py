"""Train a profile end to end, and predict with a trained model: one entry point for every
kind of run.

:func:`train` runs the same steps for every run (open the run folder, read and prepare the
catalogue, split it, build the datasets, fit inside a tf.distribute strategy keeping the
best model, score the validation and held-out splits, write metrics and predictions). What
differs between hard-label and vote-count runs, the targets and the loss and what follows
from them, is a *kind*: :class:`HardLabels` here, :class:`galaxy_utils.learn.votes.VoteCounts`
for the vote counts. :func:`predict` classifies a catalogue with a saved model. The files
of a run folder are :class:`galaxy_utils.learn.runs.RunFolder`'s.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from galaxy_utils.data import labels as labels_module
from galaxy_utils.data.catalogue import (
    DEFAULT_MIN_VOTES,
    FILE_COLUMN,
    GALAXY10,
    ID_ATTR,
    LABEL_COLUMN,
    CatalogueError,
    canonical_frame,
    ids_of,
    resolve_images,
)
from galaxy_utils.data.files import file_sha1
from galaxy_utils.data.formats import extract_galaxy10_images
from galaxy_utils.data.prepare import prepare_catalogue
from galaxy_utils.data.read import read_catalogue
from galaxy_utils.images.augmentation import balance_by_dihedral
from galaxy_utils.images.decode import ImageSpec
from galaxy_utils.learn.dataset import balanced_train_test, make_dataset, split_catalogue
from galaxy_utils.learn.evaluation import classification_metrics, prediction_table
from galaxy_utils.learn.models import build_model
from galaxy_utils.learn.profiles import VOTE_COUNTS, Profile
from galaxy_utils.learn.profiles import profile as get_profile
from galaxy_utils.learn.runs import (
    RunFolder,
    json_safe,
    load_model,
    make_strategy,
    portable_path,
    predict_frame,
    seed_everything,
    versions,
)
from galaxy_utils.learn.votes import VoteCounts


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
    if prof.split not in ("balanced", "fraction"):
        raise ValueError(f"unknown split {prof.split!r} in profile {prof.name!r}")
    if test_ids is not None:
        fixed = catalogue[ids_of(catalogue)].astype("string").isin(set(map(str, test_ids)))
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


class HardLabels:
    """Hard-label runs: one class per galaxy, chosen by thresholds on the vote fractions
    (:mod:`galaxy_utils.data.labels`); softmax and cross-entropy; the best epoch by
    validation accuracy."""

    monitor = "val_accuracy"

    def __init__(self, task: str, keep_uncertain: bool = False):
        self.task, self.keep_uncertain = task, keep_uncertain
        self.class_names = labels_module.class_names(task, keep_uncertain)

    def fingerprint(self, test_ids) -> dict:
        return {"keep_uncertain": self.keep_uncertain,
                "test_ids": None if test_ids is None else sorted(map(str, test_ids))}

    def prepare(self, catalogue: pd.DataFrame, image_root, prof: Profile, *, seed: int, source) -> tuple:
        prepared, log = prepare_catalogue(catalogue, image_root, self.task, keep_uncertain=self.keep_uncertain,
                                          verify="verify")
        require_every_class(prepared, self.class_names, f"{source} after preparing it for {self.task}")
        return _subsample(prepared, prof.max_galaxies, seed), log

    def split(self, prepared: pd.DataFrame, prof: Profile, *, seed: int, test_ids) -> tuple[dict, dict]:
        """The splits (:func:`split_for_profile`) and what ``run.json`` records about them."""
        splits, balance_report = split_for_profile(prepared, prof, self.class_names, seed=seed, test_ids=test_ids)
        require_every_class(splits["train"], self.class_names, "the training split")
        return splits, {
            "classes": self.class_names,
            "keep_uncertain": self.keep_uncertain,
            "balancing": None if balance_report is None else balance_report.reset_index().to_dict(orient="records"),
            "class_counts": {
                name: frame[LABEL_COLUMN].value_counts().reindex(self.class_names, fill_value=0).astype(int).to_dict()
                for name, frame in splits.items()
            },
        }

    def dataset_options(self, frame: pd.DataFrame) -> dict:
        return {"class_names": self.class_names}

    def class_weight(self, train: pd.DataFrame, prof: Profile) -> dict[int, float] | None:
        """Class index -> weight, inversely proportional to the class's share of the training
        split, when the profile asks for class weights (else None)."""
        if not prof.class_weights:
            return None
        counts = train[LABEL_COLUMN].value_counts().reindex(self.class_names, fill_value=0).to_numpy()
        shares = counts / counts.sum()
        return {i: float(1 / (len(self.class_names) * share)) for i, share in enumerate(shares) if share > 0}

    def about_class_weight(self, weights: dict[int, float]) -> dict[str, float]:
        """What ``run.json`` records of :meth:`class_weight`: class name -> weight."""
        return {self.class_names[i]: round(w, 4) for i, w in weights.items()}

    def build(self, prof: Profile, spec: ImageSpec, *, decay_steps: int | None = None):
        return build_model(prof.model, spec.shape, len(self.class_names), learning_rate=prof.learning_rate,
                           optimizer=prof.optimizer, weight_decay=prof.weight_decay, decay_steps=decay_steps,
                           label_smoothing=prof.label_smoothing)

    def score(self, probabilities: np.ndarray, readable: pd.DataFrame) -> dict:
        y_true = readable[LABEL_COLUMN].map({c: i for i, c in enumerate(self.class_names)}).to_numpy()
        return classification_metrics(y_true, probabilities, self.class_names)

    def predictions(self, probabilities: np.ndarray, readable: pd.DataFrame) -> pd.DataFrame:
        ids = ids_of(readable)
        table = prediction_table(readable[ids], readable[FILE_COLUMN], probabilities, self.class_names, id_name=ids)
        table.insert(2, "true_class", readable[LABEL_COLUMN].to_numpy())
        return table

    def metric_notes(self) -> dict:
        return {}


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
    truth: str | Path | None = "auto",
    min_votes: int = DEFAULT_MIN_VOTES,
) -> dict:
    """Train ``task`` (a class task, or ``vote-counts``) with a named profile into the run
    folder ``out``; returns the metrics.

    Rerunning with the same ``out`` after an interruption continues from the last finished
    epoch (Keras BackupAndRestore); rerunning a finished run returns its metrics without
    retraining. A run folder holding a *different* run (other profile, seed, task, held-out
    galaxies or catalogue) is refused rather than overwritten. ``test_ids``: score on these
    galaxies (class tasks: exactly these, see :func:`split_for_profile`; vote counts: these
    among the test split, see :func:`galaxy_utils.learn.votes.split_votes`).
    ``catalog_format``: read the catalogue as this format rather than the detected one
    (:data:`galaxy_utils.data.catalogue.FORMATS`). Vote counts only: ``truth``, the mock
    survey's ``truth.csv`` (``'auto'``: one beside the catalogue if there is one; ``None``:
    volunteers only); ``min_votes``, the fewest classifications a galaxy needs.
    ``profile_name`` may also be a :class:`~galaxy_utils.learn.profiles.Profile` itself (e.g.
    an ablation: a named profile with one idea switched off, ``dataclasses.replace``-d under
    another name).
    """
    if task == VOTE_COUNTS:
        if keep_uncertain:
            raise ValueError("keep_uncertain is for class tasks; vote-count runs have no classes")
        kind = VoteCounts(catalog, truth=truth, min_votes=min_votes)
    else:
        kind = HardLabels(task, keep_uncertain)
    prof: Profile = profile_name if isinstance(profile_name, Profile) else get_profile(task, profile_name)
    profile_name = prof.name
    # Every worker of a multi-worker run runs this; only the chief writes ``out``.
    folder = RunFolder(out).for_this_worker() if strategy == "multi-worker" else RunFolder(out)
    fingerprint = {"task": task, "profile": prof.to_dict(), "seed": seed, "catalog_sha1": file_sha1(catalog),
                   **kind.fingerprint(test_ids)}
    if folder.path != Path(out) and RunFolder(out).finished_as(fingerprint):  # another worker, the chief done
        return RunFolder(out).metrics()
    finished = folder.open(fingerprint)
    if finished is not None:
        return finished
    cache_dir = Path(cache_dir) if cache_dir else folder.path.parent / "cache"
    started = time.time()

    dist = make_strategy(strategy)  # first: a multi-worker strategy must precede every other TensorFlow operation
    seed_everything(seed)
    catalogue = read_catalogue(catalog, format=catalog_format)
    prepared, log = kind.prepare(catalogue, image_root, prof, seed=seed, source=catalog)
    splits, about_splits = kind.split(prepared, prof, seed=seed, test_ids=test_ids)
    folder.write_splits(splits)

    spec = ImageSpec(prof.image_size, prof.crop_fraction, prof.greyscale, crop=prof.crop,
                     crop_extent=prof.crop_extent, normalise=prof.normalise)
    skipped: list[dict] = []
    datasets = {
        name: make_dataset(
            splits[name], spec=spec, batch_size=prof.batch_size, shuffle=(name == "train"), seed=seed,
            augment=prof.random_augment and name == "train", cache_dir=cache_dir, skipped=skipped,
            **kind.dataset_options(splits[name]),
        )
        for name in ("train", "validation")
    }
    held_out = "test"
    run = {
        "fingerprint": fingerprint,
        "finished": False,
        "task": task,
        "profile": prof.to_dict(),
        "seed": seed,
        "image_spec": asdict(spec),
        "catalog": portable_path(catalog),
        "catalog_format": catalogue.attrs.get("format"),
        "preprocessing": log.table().to_dict(orient="records"),
        "split_sizes": {name: int(len(frame)) for name, frame in splits.items()},
        **about_splits,
        "held_out_split": held_out,
        "versions": versions(),
    }
    class_weight = kind.class_weight(splits["train"], prof)
    if class_weight is not None:
        run["class_weight"] = kind.about_class_weight(class_weight)
    decay_steps = prof.epochs * max(1, -(-len(splits["train"]) // prof.batch_size))
    best = folder.fit(run, lambda: kind.build(prof, spec, decay_steps=decay_steps), datasets, prof, strategy=dist,
                      monitor=kind.monitor, extra_callbacks=extra_callbacks, verbose=verbose, class_weight=class_weight)
    metrics = {}
    for name in ("validation", held_out):
        outputs, readable, unreadable = predict_frame(best, splits[name], spec, cache_dir=cache_dir,
                                                      batch_size=prof.batch_size)
        skipped += unreadable
        metrics[name] = kind.score(outputs, readable)
        if name == held_out:
            folder.write_predictions(kind.predictions(outputs, readable))
    metrics = {**metrics[held_out], "validation": metrics["validation"]}
    metrics.update(split=held_out, task=task, profile=profile_name, seed=seed,
                   unreadable_images=list({row["id"]: row for row in skipped}.values()), **kind.metric_notes())
    metrics = json_safe(metrics)
    folder.write_metrics(metrics)
    folder.finish(run, started)
    if folder.path != Path(out):  # a worker other than the chief: its copy has served its purpose
        shutil.rmtree(folder.path)
    return metrics


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
    column (``iauname``, ``GalaxyID``, ``id_str``, ``id``, SDSS ``objid`` or ``dr7objid``) gets an ``id`` column of its
    0-based row numbers, so every prediction can be traced back to its row.
    ``progress``: a progress bar over the batches (not with ``tta``).
    """
    run = RunFolder.of_model(model_path).run()
    spec = ImageSpec(**run["image_spec"])
    class_names = run["classes"]
    model = load_model(model_path)  # before any work: a broken model is found at once
    if isinstance(catalog, pd.DataFrame):
        catalogue = canonical_frame(catalog.copy())
    else:
        catalogue = read_catalogue(catalog, format=catalog_format)
    if catalogue.attrs.get("format") == GALAXY10:
        catalogue = extract_galaxy10_images(catalogue, image_root).catalogue
    if ids_of(catalogue) == FILE_COLUMN:  # file_loc is about to be rewritten: not an id
        catalogue = catalogue.copy()
        catalogue.insert(0, "id", pd.Series(range(len(catalogue)), index=catalogue.index).astype("string"))
        catalogue.attrs[ID_ATTR] = "id"
    located = resolve_images(catalogue, image_root, verify="exists")
    frame = located.catalogue.reset_index(drop=True)
    probabilities, readable, skipped = predict_frame(model, frame, spec, tta=tta, cache_dir=cache_dir,
                                                     batch_size=batch_size, progress=progress)
    ids = ids_of(frame)
    table = prediction_table(readable[ids], readable[FILE_COLUMN], probabilities, class_names, threshold, id_name=ids)
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
    reference_folder = RunFolder(reference_run)
    run, reference = reference_folder.run(), reference_folder.split("test")
    ids = ids_of(reference)
    catalogue = read_catalogue(catalog)
    labelled, _ = prepare_catalogue(catalogue, image_root, run["task"], keep_uncertain=True, verify="exists")
    uncertain = labelled[labelled[LABEL_COLUMN] == labels_module.UNCERTAIN]
    per_class = max(1, len(reference) // len(run["classes"]))
    chosen = uncertain.sample(n=min(per_class, len(uncertain)), random_state=seed)
    return sorted(set(reference[ids]) | set(chosen[ids].astype(str)))


def read_predictions(run_dir: str | Path) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, list]:
    """A run's test-split predictions: (table, true class indices, probabilities, classes)."""
    folder = RunFolder(run_dir)
    classes, table = folder.run()["classes"], folder.predictions()
    probabilities = table[[f"p_{c}" for c in classes]].to_numpy()
    y_true = table["true_class"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    return table, y_true, probabilities, classes
