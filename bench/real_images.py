"""Real-image benchmark: the faithful and the best three-class recipes on real SDSS / Galaxy Zoo 1 galaxies.

Reads the real development set in ``../shared/real/gz1`` (3,347 SDSS colour cut-outs with
their Galaxy Zoo 1 class; skips cleanly, exit 0, when it is absent: a fresh clone does not
have it). Three classes: elliptical -> round, spiral-clockwise / spiral-anticlockwise ->
spiral, edge-on -> edge-on (mergers and stars dropped); at most ``--max-round`` round
galaxies, drawn with the seed. A seeded stratified ``--test-fraction`` (20%) of the
galaxies is held out as the TEST set: no choice is tuned on it. Each recipe trains through
:func:`galaxy_utils.learn.training.train` with those test galaxies fixed (``test_ids``), so its
validation split (early stopping, the best epoch, and every recipe choice) is carved from
the other 80%, and every run folder is a real run that ``galaxy-utils predict`` can use.

Writes, under ``--out`` (default ``results/real-gz1``; no pixels, ever):

* ``catalogue.csv``: the generic catalogue (``id``, ``file_loc``, ``label``) the runs read;
* ``faithful/``, ``best/``: the run folders (run.json, history.csv, metrics.json,
  predictions.csv, splits, model.keras: best's without its optimizer state, the weights
  only, so it is small enough to commit); ``faithful/baseline.json``: the pixel baseline
  (PCA + logistic regression, :mod:`galaxy_utils.learn.baselines`) on the same split;
* ``mock-to-real/``: ``best`` trained on the mock survey only, and its scores on the real
  test galaxies (``real_metrics.json``); ``mock.json`` names the mock (its catalogue and
  images) it was trained on, and a run made on another mock is replaced, not reused;
* ``summary.json``: every number of the last line, per-class recalls and seconds;
* ``ablation.csv`` / ``ablation.md`` with ``--ablate``: ``best`` with each idea switched
  off in turn (runs under ``artifacts/real-gz1-ablations/``), same split; with
  ``--seeds 0,1,2``, ``ablation-seeds.csv`` / ``.md`` instead: every seed trains and
  validates anew on the same test galaxies, and each recipe gets its mean (one seed's
  validation split is a few hundred galaxies: differences of a few hundredths are noise).

Balanced accuracy is the mean per-class recall on the test set; seconds are the runs'
training time on this machine (``fit_seconds`` of run.json).

Choosing a recipe never looks at the test set. ``--tune`` trains ``--only``'s recipes,
``--ablate``'s and variants of ``best`` (``--try NAME:FIELD=VALUE,...``) with the test
galaxies left out altogether: each seed holds out its own stratified 20% of the others as a
DEV set, scored once after the run chose its best epoch on its validation split (the best
validation score of a run is the top of a noisy curve, and flatters recipes with more
epochs). It writes ``tune.csv`` / ``tune.md`` (each recipe's dev and validation balanced
accuracy per seed and their means; runs under ``artifacts/real-gz1-tune/``; the rows of
recipes not tuned this time are kept from the earlier table) and ends with
``NAME_dev_bacc=...`` for each recipe. Unless ``--no-mock``, it also trains ``best`` on the
``--mock`` survey alone and scores it on every galaxy outside the test set (row
``best-on-mock``): the measure a change to the mock is chosen by, while the test galaxies
stay for ``mock_to_real_bacc``. With ``--only ''`` (the mock alone) the table goes to
``tune-mock.csv`` / ``tune-mock.md``, so choosing a mock leaves the recipes' table as it is.
``--train-fractions 0.25,0.5,1`` makes it a learning curve (``learning-curve.csv`` / ``.md``):
each recipe also trains on a stratified fraction of the galaxies outside the dev set, scored
on the same dev set: whether more labelled galaxies would still pay.

    python bench/real_images.py [--only faithful,best] [--ablate all|NAME,...] [--seeds 0,1,2] [--no-mock]
    python bench/real_images.py --tune --only best --try e80:epochs=80 --seeds 0,1,2
    python bench/real_images.py --tune --only '' [--mock data/mock]     # choosing a mock
    python bench/real_images.py --tune --no-mock --only best --train-fractions 0.25,0.5 --seeds 0,1,2

Where ``../shared/reference/decals_examples`` is present, the SDSS-trained ``best`` (and
``best`` without its photometric normalisation, when the ablation has run) are also scored on
real DECaLS cut-outs whose GZD-5 answer settles their class (smooth galaxies' how-rounded:
round; face-on disks' bar and bulge-size: spiral): another survey's sky, depth and colours.

The last line is ``faithful_bacc=... best_bacc=... gain=... faithful_s=... best_s=...
mock_to_real_bacc=... sdss_to_decals_bacc=...`` (``skipped=1`` when the data is absent).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import fields, replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from galaxy_utils.data.catalogue import LABEL_COLUMN  # noqa: E402
from galaxy_utils.data.files import CATALOGUE_NAME, file_sha1  # noqa: E402
from galaxy_utils.data.labels import THREE_CLASS, read_truth, true_classes  # noqa: E402
from galaxy_utils.images.decode import ImageSpec  # noqa: E402
from galaxy_utils.learn import profiles  # noqa: E402
from galaxy_utils.learn.baselines import fit_pixel_baseline, predict_pixel_baseline  # noqa: E402
from galaxy_utils.learn.dataset import catalogue_images, split_catalogue  # noqa: E402
from galaxy_utils.learn.evaluation import classification_metrics  # noqa: E402
from galaxy_utils.learn.runs import RunFolder  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "real" / "gz1"
DEFAULT_OUT = ROOT / "results" / "real-gz1"
ABLATION_OUT = ROOT / "artifacts" / "real-gz1-ablations"
TUNE_OUT = ROOT / "artifacts" / "real-gz1-tune"
CACHE = ROOT / "artifacts" / "cache-real-gz1"
MOCK = ROOT / "data" / "mock"
GZ1_TO_THREE_CLASS = {
    "elliptical": "round",
    "spiral-clockwise": "spiral",
    "spiral-anticlockwise": "spiral",
    "edge-on": "edge-on",
}
DATA_NOTE = "real SDSS / Galaxy Zoo 1 (3-class: elliptical -> round, both spirals -> spiral, edge-on)"
# Real DECaLS cut-outs, each an example of one GZD-5 answer (../shared/reference; never
# committed): those whose answer settles the three-class label of a model trained on SDSS.
# how-rounded is asked of smooth galaxies only; bar and bulge-size of disks seen face-on
# (after disk-edge-on: no). No example answers disk-edge-on: yes, so there is no edge-on class.
DECALS_REFERENCE = ROOT.parent / "shared" / "reference" / "decals_examples"
DECALS_ANSWER_TO_CLASS = {
    ("how-rounded", "in-between"): "round", ("how-rounded", "cigar-shaped"): "round",
    ("disk-edge-on", "no"): "spiral", ("bar", "yes"): "spiral", ("bar", "no"): "spiral",
    ("bulge-size", "obvious"): "spiral", ("bulge-size", "none"): "spiral", ("bulge-size", "dominant"): "spiral",
}


def real_catalogue(data: Path, max_round: int, seed: int) -> pd.DataFrame:
    """The generic three-class catalogue of the GZ1 set: ``id``, ``file_loc``, ``label``."""
    table = pd.read_csv(data / "labels.csv", dtype={"objid": "string"})
    table = table.assign(label=table["gz1_class"].map(GZ1_TO_THREE_CLASS)).dropna(subset=["label"])
    rounds = table[table["label"] == "round"]
    if len(rounds) > max_round:
        dropped = rounds.drop(rounds.sample(n=max_round, random_state=seed).index).index
        table = table.drop(dropped)
    return pd.DataFrame(
        {"id": table["objid"].to_numpy(), "file_loc": table["file_loc"].to_numpy(), "label": table["label"].to_numpy()}
    ).reset_index(drop=True)


def balanced_accuracy(metrics: dict) -> float:
    """Mean per-class recall over the classes present in the test set."""
    recalls = [c["recall"] for c in metrics["per_class"].values() if c["support"] > 0]
    return float(np.mean(recalls))


def run_seconds(run_dir: Path) -> float:
    return float(RunFolder(run_dir).run()["fit_seconds"])


def recipes() -> dict[str, profiles.Profile]:
    """The recipes this bench can train: the published peer, the best, and its ablations."""
    chosen = {"faithful": profiles.profile(THREE_CLASS, "faithful")}
    if (THREE_CLASS, "best") in profiles.PROFILES:
        chosen["best"] = profiles.profile(THREE_CLASS, "best")
        chosen.update({f"best-without-{idea}": variant for idea, variant in profiles.ablations(chosen["best"]).items()})
    return chosen


def train_recipe(prof: profiles.Profile, catalog: Path, data: Path, out: Path, seed: int, test_ids, *,
                 held_out: str = "test") -> dict:
    """Train one recipe with the galaxies ``test_ids`` held out; print its scores on them
    (``held_out`` names them: the test set, or a tuning run's dev set) and on validation."""
    from galaxy_utils.learn.training import train  # delays TensorFlow

    print(f"--- training {prof.name} into {out}", flush=True)
    started = time.time()
    metrics = train(THREE_CLASS, catalog, data, prof, out, seed=seed, cache_dir=CACHE, verbose=0, test_ids=test_ids)
    for split, scores in (("validation", metrics["validation"]), (held_out, metrics)):
        recalls = {name: round(c["recall"], 3) for name, c in scores["per_class"].items()}
        print(f"{prof.name} {split}: balanced accuracy {balanced_accuracy(scores):.3f}, "
              f"accuracy {scores['accuracy']:.3f}, recalls {recalls}", flush=True)
    print(f"{prof.name}: {run_seconds(out):.0f} s training ({time.time() - started:.0f} s in all)", flush=True)
    return metrics


def scores_row(metrics: dict, run_dir: Path, held_out: str = "test") -> dict:
    """One run's table columns: balanced accuracy on the held-out galaxies and on validation,
    recall per class on the held-out ones (``recall_*``, or ``dev_recall_*`` for a dev set),
    training seconds."""
    recall = "recall" if held_out == "test" else f"{held_out}_recall"
    return {f"{held_out}_balanced_accuracy": round(balanced_accuracy(metrics), 4),
            # a mock-trained model's validation galaxies are mock ones: no real validation score
            "validation_balanced_accuracy": round(balanced_accuracy(metrics["validation"]), 4)
            if "validation" in metrics else float("nan"),
            **{f"{recall}_{c}": round(v["recall"], 4) for c, v in metrics["per_class"].items()},
            "fit_seconds": run_seconds(run_dir)}


def variant(best: profiles.Profile, spec: str) -> profiles.Profile:
    """``best`` with some fields changed, from ``NAME:FIELD=VALUE,...`` (values as Python
    literals, e.g. ``e80:epochs=80`` or ``s96:image_size=96,batch_size=64``), named ``best-NAME``."""
    name, _, changes = spec.partition(":")
    known = {field.name for field in fields(profiles.Profile)} - {"name", "task"}
    values = {}
    for change in filter(None, changes.split(",")):
        field, _, text = change.partition("=")
        if field not in known:
            raise ValueError(f"--try {spec!r}: no profile field {field!r}; choose from {', '.join(sorted(known))}")
        try:
            values[field] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise ValueError(f"--try {spec!r}: {field}={text!r} is not a Python literal") from None
    if not name or not values:
        raise ValueError(f"--try {spec!r}: expected NAME:FIELD=VALUE[,FIELD=VALUE...]")
    return replace(best, name=f"best-{name}", **values)


def tune(chosen: dict[str, profiles.Profile], catalogue: pd.DataFrame, test: pd.DataFrame, data: Path,
         seeds: list[int], dev_fraction: float, train_fractions: list[float] | None = None) -> pd.DataFrame:
    """Score recipes for choosing between them, without the test set: its galaxies leave the
    catalogue altogether, and each seed holds out a seeded stratified ``dev_fraction`` of the
    rest as a DEV set. Every run picks its best epoch on its own validation split (the
    validation score is the maximum of a noisy curve, so it flatters recipes that train
    longer); the dev score comes once, after that choice. Runs go under ``artifacts/``;
    returns one row per recipe and seed, then each recipe's mean.

    ``train_fractions`` (a learning curve): each recipe also trains on a seeded stratified
    fraction of the galaxies outside the dev set (its validation split carved from those, as
    always), scored on the same dev set; rows ``NAME@FRACTION`` (1 or None: all of them, ``NAME``),
    with ``train_galaxies``, how many galaxies the run split into training and validation."""
    rest = catalogue[~catalogue["id"].isin(test["id"])].reset_index(drop=True)
    TUNE_OUT.mkdir(parents=True, exist_ok=True)
    catalog = TUNE_OUT / "catalogue.csv"
    rest.to_csv(catalog, index=False)
    rows = []
    for seed in seeds:
        _, _, dev = split_catalogue(rest, 0.0, dev_fraction, seed)
        pool = rest[~rest["id"].isin(dev["id"])].reset_index(drop=True)
        for fraction in train_fractions or [1.0]:
            fraction_catalog, kept = catalog, pool
            if fraction < 1:
                _, _, kept = split_catalogue(pool, 0.0, fraction, seed)  # stratified, seeded
                fraction_catalog = TUNE_OUT / f"seed{seed}" / f"catalogue-{fraction:g}.csv"
                fraction_catalog.parent.mkdir(parents=True, exist_ok=True)
                pd.concat([kept, dev], ignore_index=True).to_csv(fraction_catalog, index=False)
            for name, prof in chosen.items():
                recipe = name if fraction >= 1 else f"{name}@{fraction:g}"
                run_dir = TUNE_OUT / f"seed{seed}" / recipe
                metrics = train_recipe(prof, fraction_catalog, data, run_dir, seed, dev["id"].tolist(),
                                       held_out="dev")
                size = {"train_galaxies": len(kept)} if train_fractions else {}
                rows.append({"recipe": recipe, "seed": seed, **size, **scores_row(metrics, run_dir, "dev")})
    if not rows:  # nothing but the mock to choose (--only '')
        return pd.DataFrame(columns=["recipe", "seed"])
    table = pd.DataFrame(rows)
    means = table.drop(columns="seed").groupby("recipe", sort=False).mean().round(4).reset_index()
    return pd.concat([table, means.assign(seed="mean")], ignore_index=True)


def pixel_baseline(run_dir: Path) -> dict:
    """The project's pixel baseline on a run's own split, saved beside it (``baseline.json``)."""
    folder = RunFolder(run_dir)
    path = folder.baseline_file
    if path.exists():
        return json.loads(path.read_text())
    run = folder.run()
    spec = ImageSpec(**run["image_spec"])
    classes = run["classes"]
    index = {c: i for i, c in enumerate(classes)}
    splits = {name: folder.split(name) for name in ("train", "test")}
    images = {name: catalogue_images(frame, spec, cache_dir=CACHE) for name, frame in splits.items()}
    model = fit_pixel_baseline(images["train"], splits["train"][LABEL_COLUMN].map(index).to_numpy(), seed=run["seed"])
    probabilities = predict_pixel_baseline(model, images["test"], len(classes))
    result = classification_metrics(splits["test"][LABEL_COLUMN].map(index).to_numpy(), probabilities, classes)
    path.write_text(json.dumps(result, indent=2))
    return result


def mock_catalogue(mock: Path) -> pd.DataFrame:
    """The mock survey's galaxies with a true three-class class, as a generic catalogue.

    The mock's volunteers agree at 90% on too few galaxies (about 350 of the default 5,000)
    to train on, so the transfer test trains on the mock's ground truth (truly round ellipticals, spirals,
    edge-on disks: :func:`galaxy_utils.data.labels.true_classes`): what is measured is how far
    the mock's images are from real ones, not its simulated volunteers.
    """
    classes = true_classes(read_truth(mock / "truth.csv"), THREE_CLASS).dropna()
    table = pd.read_csv(mock / CATALOGUE_NAME, usecols=["iauname", "png_loc"], dtype="string").set_index("iauname")
    return pd.DataFrame({"id": classes.index, "file_loc": table.loc[classes.index, "png_loc"].to_numpy(),
                         "label": classes.to_numpy()})


def score_run(run_dir: Path, catalogue: pd.DataFrame, image_root: Path) -> dict:
    """A run's model on a labelled generic catalogue (``id``, ``file_loc``, ``label``), through
    ``galaxy-utils predict``'s own path: the classification metrics of its predictions."""
    from galaxy_utils.learn.training import predict  # delays TensorFlow

    folder = RunFolder(run_dir)
    table, _ = predict(folder.model_file, catalogue, image_root, None, cache_dir=CACHE)
    classes = list(folder.run()["classes"])
    truth = catalogue.set_index("id").loc[table["id"], LABEL_COLUMN].map({c: i for i, c in enumerate(classes)})
    return classification_metrics(truth.to_numpy(), table[[f"p_{c}" for c in classes]].to_numpy(), classes)


def mock_identity(mock: Path) -> str:
    """What tells one mock survey from another: its catalogue's SHA-1 and its images' paths and
    sizes. The training run's fingerprint holds only the catalogue, and a new rendering of the
    same catalogue (another version of the mock's images) must not reuse a model trained on the old."""
    images = mock / "images"
    parts = [file_sha1(mock / CATALOGUE_NAME), file_sha1(images) if images.is_dir() else ""]
    return hashlib.sha1(" ".join(parts).encode()).hexdigest()


def scored_identity(scored: pd.DataFrame) -> str:
    """Which real galaxies a model was scored on: the SHA-1 of their sorted ids."""
    ids = sorted(map(str, scored["id"])) if "id" in scored else []
    return hashlib.sha1(" ".join(ids).encode()).hexdigest()


def mock_to_real(prof: profiles.Profile, mock: Path, data: Path, scored: pd.DataFrame, out: Path, seed: int,
                 held_out: str = "held-out test galaxies") -> dict:
    """Train ``prof`` on the mock survey only (into ``out/mock-to-real``, whose ``mock.json``
    names the mock it was trained on; a run trained on another mock is replaced); score it on
    the real galaxies ``scored`` (the test set; or, when choosing a mock, every galaxy outside it)."""
    from galaxy_utils.learn.training import train  # delays TensorFlow

    run_dir = out / "mock-to-real"
    stamp, identity = run_dir / "mock.json", mock_identity(mock)
    trained_on = json.loads(stamp.read_text()).get("identity") if stamp.is_file() else None
    saved, galaxies = run_dir / "real_metrics.json", scored_identity(scored)
    if (run_dir / "run.json").is_file() and trained_on != identity:
        print(f"{run_dir} was trained on another mock survey: training anew on {mock}", flush=True)
        shutil.rmtree(run_dir)
    elif (run_dir / "run.json").is_file() and not RunFolder(run_dir).model_file.is_file():
        # A clone has the run's scores but not its model (not committed): the scores stand
        # when they were made on these galaxies; otherwise the model must be trained again.
        earlier = json.loads(saved.read_text()) if saved.is_file() else {}
        if earlier.get("scored_sha1") == galaxies:
            print(f"{run_dir}: its model is not kept; its scores on these galaxies are", flush=True)
            return earlier
        print(f"{run_dir} has no model to score these galaxies with: training anew on {mock}", flush=True)
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps({"mock": mock.name, "identity": identity}, indent=2) + "\n")
    catalog = out / "mock-catalogue.csv"
    mock_catalogue(mock).to_csv(catalog, index=False)
    print(f"--- training {prof.name} on the mock survey {mock} into {run_dir}", flush=True)
    train(THREE_CLASS, catalog, mock / "images", prof, run_dir, seed=seed, cache_dir=CACHE, verbose=0)
    metrics = score_run(run_dir, scored, data)
    metrics.update(data=f"trained on the mock survey, scored on {DATA_NOTE}, {held_out}", scored_sha1=galaxies)
    saved.write_text(json.dumps(metrics, indent=2))
    return metrics


def decals_catalogue(reference: Path) -> pd.DataFrame:
    """The DECaLS reference cut-outs whose answer gives a three-class label, as a generic catalogue."""
    table = pd.read_csv(reference / "labels.csv", dtype="string")
    label = [DECALS_ANSWER_TO_CLASS.get((q, a)) for q, a in zip(table["question"], table["answer"], strict=True)]
    table = table.assign(label=label).dropna(subset=["label"])
    return pd.DataFrame({"id": table["filename"].str.rsplit(".", n=1).str[0], "file_loc": table["filename"],
                         "label": table["label"]}).reset_index(drop=True)


def sdss_to_decals(run_dir: Path, reference: Path) -> dict:
    """A model trained on SDSS, scored on real DECaLS galaxies: another survey's depth, sky and
    colours. Balanced accuracy over the classes present (spiral, round), and their recalls."""
    metrics = score_run(run_dir, decals_catalogue(reference), reference)
    present = {c: v for c, v in metrics["per_class"].items() if v["support"]}
    return {"balanced_accuracy": balanced_accuracy(metrics), "recall": {c: v["recall"] for c, v in present.items()},
            "n": {c: v["support"] for c, v in present.items()}, "confusion_matrix": metrics["confusion_matrix"],
            "classes": metrics["classes"]}


def weights_only(model_file: Path) -> None:
    """Re-save a committed model without its optimizer state (Adam's two moments would
    triple its size): ``galaxy-utils predict`` needs the network and its weights only."""
    import zipfile

    import keras

    from galaxy_utils.learn import models  # noqa: F401  (registers the custom layers)

    with zipfile.ZipFile(model_file) as archive:
        if not json.loads(archive.read("config.json")).get("compile_config"):
            return  # already weights only: leave the committed file as it is
    keras.models.load_model(model_file, compile=False).save(model_file)


def data_relative_paths(out: Path, data: Path) -> None:
    """The run tables under ``out`` name images relative to the real data folder, never by this
    machine's path (they are committed; the images are not)."""
    prefix = f"{data.resolve().as_posix()}/"
    for table in out.rglob("*.csv"):
        text = table.read_text()
        if prefix in text:
            table.write_text(text.replace(prefix, ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the real GZ1 development set")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the faithful and best runs go")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-round", type=int, default=1000, help="at most this many round galaxies")
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--only", default="faithful,best", help="comma-separated recipes to train")
    parser.add_argument("--ablate", default="", help="'all' or comma-separated ideas to switch off in turn")
    parser.add_argument("--mock", type=Path, default=MOCK, help="mock survey for the transfer test")
    parser.add_argument("--no-mock", action="store_true", help="skip the mock-to-real transfer test")
    parser.add_argument("--seeds", default="",
                        help="comma-separated training seeds for the ablation (default: --seed alone); several "
                             "write ablation-seeds.csv/.md with each recipe's mean")
    parser.add_argument("--try", dest="tries", action="append", default=[], metavar="NAME:FIELD=VALUE,...",
                        help="a variant of best to tune (repeatable), e.g. e80:epochs=80; with --tune")
    parser.add_argument("--train-fractions", default="", metavar="F,F,...",
                        help="with --tune, a learning curve: each recipe also trains on these fractions (0-1] of the "
                             "galaxies outside the dev set (learning-curve.csv/.md in --out)")
    parser.add_argument("--tune", action="store_true",
                        help="choose between recipes without the test set: --only's, --ablate's and --try's recipes "
                             "on a dev split of the other galaxies (tune.csv/.md in --out, tune-mock.* with --only ''; "
                             "runs in artifacts/)")
    args = parser.parse_args(argv)

    available = recipes()
    try:
        tries = {prof.name: prof for prof in (variant(available["best"], spec) for spec in args.tries)}
    except ValueError as error:
        parser.error(str(error))
    if tries and not args.tune:
        parser.error("--try variants are tuned only: add --tune (the test set stays unseen)")
    available.update(tries)
    try:
        fractions = [float(v) for v in args.train_fractions.split(",") if v]
    except ValueError:
        parser.error(f"--train-fractions {args.train_fractions!r}: expected numbers such as 0.25,0.5,1")
    if any(not 0 < f <= 1 for f in fractions):
        parser.error(f"--train-fractions {args.train_fractions!r}: each fraction must be in (0, 1]")
    if fractions and not args.tune:
        parser.error("--train-fractions is a tuning measurement: add --tune (the test set stays unseen)")
    wanted = [name for name in args.only.split(",") if name]
    ideas = [] if not args.ablate else (
        [n.removeprefix("best-without-") for n in available if n.startswith("best-without-")]
        if args.ablate == "all" else args.ablate.split(",")
    )
    unknown = [name for name in [*wanted, *(f"best-without-{idea}" for idea in ideas)] if name not in available]
    if unknown:
        parser.error(f"unknown recipe(s) {', '.join(unknown)}; choose from {', '.join(available)}")
    seeds = [int(v) for v in args.seeds.split(",")] if args.seeds else [args.seed]

    if not (args.data / "labels.csv").is_file():
        print(f"skipped: no real development set at {args.data} (a fresh clone does not have ../shared)")
        print("skipped=1")
        return 0

    catalogue = real_catalogue(args.data, args.max_round, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    catalog = args.out / "catalogue.csv"
    catalogue.to_csv(catalog, index=False)
    _, _, test = split_catalogue(catalogue, 0.0, args.test_fraction, args.seed)
    test_ids = test["id"].tolist()
    counts = catalogue[LABEL_COLUMN].value_counts().to_dict()
    print(f"{DATA_NOTE}: {len(catalogue)} galaxies {counts}; {len(test)} held out for testing", flush=True)

    if args.tune:
        chosen = {name: available[name] for name in [*wanted, *(f"best-without-{i}" for i in ideas), *tries]}
        table = tune(chosen, catalogue, test, args.data, seeds, args.test_fraction, fractions or None)
        rest = catalogue[~catalogue["id"].isin(test["id"])]
        note = ""
        if not args.no_mock and (args.mock / CATALOGUE_NAME).is_file():
            # The mock-trained model sees no real galaxy: all of them outside the test set are dev.
            # One run folder per mock survey, so that mocks can be compared side by side.
            out = TUNE_OUT / f"mock-{mock_identity(args.mock)[:12]}"
            metrics = mock_to_real(available["best"], args.mock, args.data, rest, out, args.seed,
                                   "every galaxy outside the test set")
            row = {"recipe": "best-on-mock", "seed": args.seed, **scores_row(metrics, out / "mock-to-real", "dev")}
            table = pd.concat([table, pd.DataFrame([row, {**row, "seed": "mean"}])], ignore_index=True)
            note = (f"; best-on-mock: `best` trained on the mock survey {args.mock.name} only (seed {args.seed}), "
                    f"scored on all {len(rest)} of those galaxies")
        elif not args.no_mock:
            print(f"no mock survey at {args.mock}: run `make mock` (or add --no-mock)")
        # the mock alone, or a learning curve: keep the recipes' table
        stem = "learning-curve" if fractions else "tune" if chosen else "tune-mock"
        table = table.astype({"seed": "string"})
        print(table.to_string(index=False))
        means = table[table["seed"] == "mean"]
        print(" ".join(f"{r.recipe}_dev_bacc={r.dev_balanced_accuracy:.3f}" for r in means.itertuples()))
        # Rows of other recipes from an earlier tuning stay: tuning one recipe loses none of them.
        if (args.out / f"{stem}.csv").is_file():
            earlier = pd.read_csv(args.out / f"{stem}.csv", dtype={"seed": "string"})
            earlier = earlier[~earlier["recipe"].isin(table["recipe"])]
            table = pd.concat([earlier, table], ignore_index=True)
        table.to_csv(args.out / f"{stem}.csv", index=False)
        all_seeds = sorted({int(seed) for seed in table["seed"] if seed != "mean"})
        (args.out / f"{stem}.md").write_text(
            f"Tuning on {DATA_NOTE}, without the test set: seeds {', '.join(map(str, all_seeds))}, each holding out "
            f"its own {args.test_fraction:.0%} of the other {len(rest)} galaxies as a dev set, "
            f"scored after the best epoch was chosen on validation"
            + (f"; trained on {', '.join(f'{f:g}' for f in fractions)} of the galaxies outside the dev set "
               f"(`NAME@FRACTION`; `train_galaxies`: how many, before the validation split)" if fractions else "")
            + f"{note}\n\n"
            + table.to_markdown(index=False, missingval="") + "\n")
        return 0

    summary: dict = {"data": DATA_NOTE, "seed": args.seed, "n_galaxies": len(catalogue), "class_counts": counts,
                     "n_test": len(test), "recipes": {}}
    results = {}
    for name in wanted:
        metrics = train_recipe(available[name], catalog, args.data, args.out / name, args.seed, test_ids)
        results[name] = metrics
        summary["recipes"][name] = {
            "balanced_accuracy": balanced_accuracy(metrics),
            "accuracy": metrics["accuracy"],
            "recall": {c: v["recall"] for c, v in metrics["per_class"].items()},
            "validation_balanced_accuracy": balanced_accuracy(metrics["validation"]),
            "fit_seconds": run_seconds(args.out / name),
        }
    if "faithful" in results:
        base = pixel_baseline(args.out / "faithful")
        summary["pixel_baseline"] = {"balanced_accuracy": balanced_accuracy(base), "accuracy": base["accuracy"]}
        print(f"pixel baseline: balanced accuracy {balanced_accuracy(base):.3f}")

    if ideas:
        rows = []
        for seed in seeds:  # the test galaxies stay those of --seed; each seed trains and validates anew
            for idea in [None, *ideas]:
                name = "best" if idea is None else f"best-without-{idea}"
                run_dir = (args.out / "best" if idea is None and seed == args.seed
                           else ABLATION_OUT / f"seed{seed}" / name)
                metrics = train_recipe(available[name], catalog, args.data, run_dir, seed, test_ids)
                rows.append({"recipe": name, "switched_off": idea or "(nothing)", "seed": seed,
                             **scores_row(metrics, run_dir)})
        table = pd.DataFrame(rows)
        # One seed: the ablation table. Several: a table of its own, with each recipe's mean.
        name = "ablation" if len(seeds) == 1 else "ablation-seeds"
        if len(seeds) > 1:
            scores = [c for c in table if c.endswith("balanced_accuracy")]
            means = table.groupby(["recipe", "switched_off"], sort=False)[scores].mean().round(4).reset_index()
            table = pd.concat([table, means.assign(seed="mean")], ignore_index=True)
        table.to_csv(args.out / f"{name}.csv", index=False)
        (args.out / f"{name}.md").write_text(
            f"Ablation of the best recipe on {DATA_NOTE}; seeds {', '.join(map(str, seeds))} (each trains and "
            f"validates anew); test = the held-out {args.test_fraction:.0%} of seed {args.seed}, n={len(test)}\n\n"
            + table.to_markdown(index=False, missingval="") + "\n"
        )
        print(table.to_string(index=False))

    mock_bacc = float("nan")
    if "best" in available and not args.no_mock:
        if (args.mock / CATALOGUE_NAME).is_file():
            metrics = mock_to_real(available["best"], args.mock, args.data, test, args.out, args.seed)
            mock_bacc = balanced_accuracy(metrics)
            summary["mock_to_real"] = {"balanced_accuracy": mock_bacc,
                                       "recall": {c: v["recall"] for c, v in metrics["per_class"].items()},
                                       "fit_seconds": run_seconds(args.out / "mock-to-real")}
            print(f"mock to real: balanced accuracy {mock_bacc:.3f}")
        else:
            print(f"no mock survey at {args.mock}: run `make mock`")

    decals = float("nan")
    if DECALS_REFERENCE.is_dir() and "best" in summary["recipes"]:
        scored = {"best": args.out / "best", "best-without-normalise": ABLATION_OUT / f"seed{args.seed}" /
                  "best-without-normalise"}
        summary["sdss_to_decals"] = {"data": "real DECaLS reference cut-outs (../shared/reference), labelled by "
                                             "their GZD-5 answer; models trained on SDSS"}
        # An ablation's model stays in artifacts/ (a clone has none): keep its earlier scores.
        previous = (json.loads((args.out / "summary.json").read_text()).get("sdss_to_decals", {})
                    if (args.out / "summary.json").is_file() else {})
        for name, run_dir in scored.items():
            if (run_dir / "model.keras").is_file():
                summary["sdss_to_decals"][name] = sdss_to_decals(run_dir, DECALS_REFERENCE)
                print(f"{name} on real DECaLS: {summary['sdss_to_decals'][name]}")
            elif name in previous:
                summary["sdss_to_decals"][name] = previous[name]
                print(f"{name} on real DECaLS: no model at {run_dir}; its earlier scores kept")
        decals = summary["sdss_to_decals"]["best"]["balanced_accuracy"]

    data_relative_paths(args.out, args.data)
    if (args.out / "best" / "model.keras").is_file():
        weights_only(args.out / "best" / "model.keras")

    def figure(name: str, key: str) -> float:
        return summary["recipes"].get(name, {}).get(key, float("nan"))

    faithful, best = figure("faithful", "balanced_accuracy"), figure("best", "balanced_accuracy")
    summary.update(faithful_bacc=faithful, best_bacc=best, gain=best - faithful, mock_to_real_bacc=mock_bacc,
                   sdss_to_decals_bacc=decals)
    if set(wanted) >= {"faithful", "best"}:
        (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(
        f"faithful_bacc={faithful:.3f} best_bacc={best:.3f} gain={best - faithful:.3f} "
        f"faithful_s={figure('faithful', 'fit_seconds'):.0f} best_s={figure('best', 'fit_seconds'):.0f} "
        f"mock_to_real_bacc={mock_bacc:.3f} sdss_to_decals_bacc={decals:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
