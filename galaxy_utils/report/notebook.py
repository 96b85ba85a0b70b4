"""The report: the runs the notebooks make, and every report figure drawn from saved
artifacts (catalogues and run folders), never from a model in memory.

The notebooks call these functions to show each step; ``galaxy-utils figures`` calls the
same functions to write ``figures/`` and its manifest, so a figure is defined once.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from galaxy_utils.analysis import comparison
from galaxy_utils.analysis.comparison import compare_runs, held_out_ids, load_comparison, save_comparison
from galaxy_utils.analysis.saliency import class_examples, run_maps
from galaxy_utils.config import (
    Settings,
    SurveyNotRendered,
    ensure_mock_images,
    ensure_run_data,
    mock_survey_name,
    rendering_only,
    settings,
)
from galaxy_utils.data import labels, tree
from galaxy_utils.data.catalogue import GENERIC, LABEL_COLUMN, resolve_images
from galaxy_utils.data.files import TRUTH_NAME, file_sha1
from galaxy_utils.data.labels import class_probabilities
from galaxy_utils.data.prepare import prepare_catalogue
from galaxy_utils.data.read import read_catalogue
from galaxy_utils.images.augmentation import N_VARIANTS, dihedral, random_augmentation
from galaxy_utils.images.decode import ImageSpec, load_image
from galaxy_utils.images.store import load_images
from galaxy_utils.learn.baselines import fit_pixel_baseline, predict_pixel_baseline
from galaxy_utils.learn.dataset import catalogue_images
from galaxy_utils.learn.evaluation import classification_metrics, coverage_curve
from galaxy_utils.learn.models import build_model
from galaxy_utils.learn.profiles import VOTE_COUNTS
from galaxy_utils.learn.runs import RunFolder, portable_path, predict_frame, read_run_table, write_run_table
from galaxy_utils.learn.training import (
    predict,
    read_predictions,
    train,
)
from galaxy_utils.learn.votes import fraction_columns, prediction_table, run_fractions
from galaxy_utils.mock import MOCK_SURVEYS
from galaxy_utils.report import plots
from galaxy_utils.report.plots_votes import (
    fraction_scatter,
    question_errors,
    reliability_grid,
    saliency_overlays,
    uncertain_rankings,
)

DISPLAY = ImageSpec(160)  # how galaxies are shown in figures (colour, whole cutout)

# Run folders inside Settings.runs_dir.
FOUR = labels.FOUR_CLASS
THREE = labels.THREE_CLASS
FOUR_UNCERTAIN = "four-class-uncertain"
SOURCES_FILE = "sources.json"  # what a saved comparison was computed from
# Raised when the comparison's table changes, so saved comparisons are computed again
# (2: the hard model's thresholded coverage and accuracy).
COMPARISON_VERSION = 2
# The real-galaxy runs (bench/real_images.py): results/real-gz1/{faithful,best,mock-to-real},
# summary.json, ablation.csv. Metrics and models only: the images are never committed.
REAL_GZ1 = "real-gz1"
REAL_SECTION = "On real galaxies"
REAL_TAG = "real SDSS / Galaxy Zoo 1, held-out 20% test galaxies, faithful and best profiles"
REAL_DEV_TAG = "real SDSS / Galaxy Zoo 1, dev sets carved from the galaxies outside the test set, best profile"


# -- data ------------------------------------------------------------------------------


def survey(s: Settings) -> pd.DataFrame:
    """The whole catalogue with images resolved (``file_loc``), nothing removed but broken images."""
    catalogue = read_catalogue(s.catalogue_path)
    return resolve_images(catalogue, s.image_root, verify="exists").catalogue


def prepared(s: Settings, task: str, *, keep_uncertain: bool = False):
    """The cleaned, labelled catalogue of a task and its preprocessing log."""
    return prepare_catalogue(read_catalogue(s.catalogue_path), s.image_root, task, keep_uncertain=keep_uncertain,
                             verify="verify")


def truth(s: Settings) -> pd.DataFrame | None:
    return _truth_beside(s.catalogue_path)


def _truth_beside(catalog: Path) -> pd.DataFrame | None:
    """A mock survey's ground truth (beside its catalogue), or None: the real survey has none."""
    path = Path(catalog).parent / TRUTH_NAME
    return labels.read_truth(path) if path.exists() else None


def run_survey(run_dir: Path, *, images: bool = True) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The survey a saved run was trained on (images resolved) and its truth. A committed
    faithful run names a larger mock survey than the default; a fresh clone generates it
    here (:func:`galaxy_utils.config.ensure_run_data`). With ``images=False`` only its
    catalogue and truth are made, and ``file_loc`` says where each mock image goes: a
    figure that shows a few galaxies draws just those (:func:`drawn`)."""
    catalog = ensure_run_data(RunFolder(run_dir).run()["catalog"], progress=True, images=images)
    catalogue = read_catalogue(catalog)
    if images or mock_survey_name(catalog) is None:
        catalogue = resolve_images(catalogue, catalog.parent / "images", verify="exists").catalogue
    else:
        catalogue = catalogue.assign(file_loc=[str(catalog.parent / "images" / loc) for loc in catalogue["png_loc"]])
    return catalogue, _truth_beside(catalog)


def drawn(paths) -> list:
    """``paths`` as a list, after drawing those that are images of a mock survey not rendered
    yet (:func:`galaxy_utils.config.ensure_mock_images`): figures of the committed faithful
    runs show a few galaxies of the large mock surveys, which a fresh clone has not drawn."""
    paths = list(paths)
    ensure_mock_images(paths, progress=True)
    return paths


def data_names() -> dict[str, str]:
    """Caption names of the data folders: 'mock survey', 'mock survey of 10,000 galaxies', ..."""
    names = {name: f"mock survey of {n:,} galaxies" for name, n in MOCK_SURVEYS.items()}
    return names | {"mock": "mock survey", "gzd5": "real GZD-5", "real": "real GZD-5",
                    REAL_GZ1: "real SDSS / Galaxy Zoo 1"}


def caption_tag(s: Settings, run_dir: Path | None = None) -> str:
    """'mock survey, fast profile' (from the run itself when given): every caption names both."""
    if run_dir is not None and RunFolder(run_dir).exists():
        run = RunFolder(run_dir).run()
        folder = Path(run["catalog"]).parent.name
        return f"{data_names().get(folder, folder)}, {run['profile']['name']} profile"
    return f"{data_names()[s.data]}, {s.profile} profile"


def best_run(s: Settings, task: str) -> Path:
    """The faithful run of a task when one was made (results/), else the settings' own run."""
    for candidate in (settings(s.data, "faithful"), s):
        run_dir = candidate.run_dir(task)
        if RunFolder(run_dir).has_metrics():
            return run_dir
    return s.run_dir(task)


# -- the survey ------------------------------------------------------------------------

EXAMPLE_ANSWERS = [
    ("smooth-or-featured", "smooth"), ("smooth-or-featured", "featured-or-disk"), ("smooth-or-featured", "artifact"),
    ("disk-edge-on", "yes"), ("has-spiral-arms", "yes"), ("bar", "strong"), ("how-rounded", "cigar-shaped"),
    ("merging", "merger"),
]


def answer_examples(catalogue: pd.DataFrame, *, per_answer: int = 5, min_votes: int = 5):
    """The galaxies most volunteers gave each answer to (ties broken by more votes)."""
    rows, titles = [], []
    for question, answer in EXAMPLE_ANSWERS:
        fraction = labels.cumulative_fraction(catalogue, question, answer)
        votes = catalogue[tree.CLASSIFICATIONS_COLUMN]
        ranked = catalogue.assign(_f=fraction, _v=votes)[votes >= min_votes].sort_values(["_f", "_v"], ascending=False)
        for _, row in ranked.head(per_answer).iterrows():
            rows.append(row["file_loc"])
            titles.append(f"{question}: {answer}\n{row['_f']:.0%} of {int(row['_v'])}")
    images = load_images(rows, DISPLAY)
    return plots.show_images(images, titles, ncols=per_answer, size=2.0)


def survey_examples(catalogue: pd.DataFrame, *, n: int = 24, seed: int = 0):
    """A random sample of the survey: what a volunteer (and the CNN) sees."""
    sample = catalogue.sample(n=min(n, len(catalogue)), random_state=seed)
    return plots.show_images(load_images(sample["file_loc"], DISPLAY), list(sample[tree.ID_COLUMN]), ncols=8)


def truth_versus_volunteers(catalogue_labelled: pd.DataFrame, truth_table: pd.DataFrame, task: str) -> pd.DataFrame:
    """Cross-table of the mock galaxies' true morphology against the volunteers' class."""
    true_morphology = truth_table.set_index(tree.ID_COLUMN)["morphology"]
    return pd.crosstab(
        catalogue_labelled[tree.ID_COLUMN].map(true_morphology).rename("true morphology"),
        catalogue_labelled[LABEL_COLUMN].rename(f"volunteers' {task} label"),
    )


# -- augmentation ----------------------------------------------------------------------


def dihedral_examples(file_loc: str):
    """The eight rotations-by-90-degrees-and-flips the course project balanced classes with."""
    image = load_image(file_loc, DISPLAY)
    names = [f"rotate {90 * (v % 4)}" + (" + flip" if v >= 4 else "") for v in range(N_VARIANTS)]
    return plots.show_images([dihedral(image, v) for v in range(N_VARIANTS)], names, ncols=8)


def random_rotation_examples(file_loc: str, spec: ImageSpec, *, n: int = 8, seed: int = 0):
    """What the 3-class recipe's network sees of one galaxy over several epochs."""
    image = load_image(file_loc, spec).astype("float32")[None] / 255.0
    augment = random_augmentation(seed)
    views = [np.asarray(augment(image, training=True))[0] for _ in range(n)]
    titles = ["original"] + [f"epoch {i + 1}" for i in range(n - 1)]
    return plots.show_images([image[0], *views[: n - 1]], titles, ncols=8)


def recipe_steps(file_loc: str):
    """424x424 RGB -> centre crop 212 -> 64x64 -> greyscale: the 3-class recipe, step by step."""
    steps = [ImageSpec(424), ImageSpec(212, crop_fraction=0.5), ImageSpec(64, crop_fraction=0.5),
             ImageSpec(64, crop_fraction=0.5, greyscale=True), ImageSpec(224)]
    titles = ["original 424x424", "centre crop 212", "shrunk to 64", "greyscale 64 (3-class)", "224x224 (course)"]
    return plots.show_images([load_image(file_loc, spec) for spec in steps], titles, ncols=5, size=2.4)


def balance_table(run_dir: Path) -> pd.DataFrame:
    """Originals and augmented copies per class of a run's training split."""
    return pd.DataFrame(RunFolder(run_dir).run()["balancing"]).set_index("class")


# -- training and results --------------------------------------------------------------


def architecture(run_dir: Path):
    """A run's network, layer by layer. From its saved model, or, where the model was too
    big to commit (the faithful four-class one), the same architecture rebuilt from
    ``run.json``: the drawing and the parameter count need no trained weights."""
    folder = RunFolder(run_dir)
    run = folder.run()
    if folder.model_file.exists():
        model = folder.model()
    else:
        model = build_model(run["profile"]["model"], ImageSpec(**run["image_spec"]).shape, len(run["classes"]),
                            learning_rate=run["profile"]["learning_rate"])
    return plots.architecture(model, title=f"{run['task']} CNN ({run['profile']['model']}): "
                                           f"{model.count_params():,} parameters, input {model.input_shape[1:]}")


def learning_curves(run_dir: Path, s: Settings):
    return plots.learning_curves(RunFolder(run_dir).history(),
                                 title=f"{model_name(run_dir)} ({caption_tag(s, run_dir)})")


def metrics(run_dir: Path) -> dict:
    return RunFolder(run_dir).metrics()


def faithful_runs(s: Settings, tasks=(FOUR, THREE, FOUR_UNCERTAIN)) -> dict[str, Path]:
    """The finished faithful runs of this data (``results/``) among ``tasks`` (default: the
    hard-label ones), by task: what the notebooks quote beside their own (laptop or fast) runs."""
    faithful = settings(s.data, "faithful")
    runs = {task: faithful.run_dir(task) for task in tasks}
    return {task: run_dir for task, run_dir in runs.items() if RunFolder(run_dir).has_metrics()}


def summary_table(run_dirs: dict[str, Path]) -> pd.DataFrame:
    """Held-out accuracy, macro F1 and sizes of several runs, one row each."""
    rows = []
    for name, run_dir in run_dirs.items():
        m, run = metrics(run_dir), RunFolder(run_dir).run()
        rows.append({"run": name, "profile": run["profile"]["name"], "test galaxies": m["n"],
                     "test accuracy": round(m["accuracy"], 3), "macro F1": round(m["macro_f1"], 3),
                     "validation accuracy": round(m["validation"]["accuracy"], 3),
                     "epochs": run.get("epochs_run"), "training seconds": run.get("fit_seconds")})
    columns = ["run", "profile", "test galaxies", "test accuracy", "macro F1", "validation accuracy", "epochs",
               "training seconds"]
    return pd.DataFrame(rows, columns=columns).set_index("run")


def model_name(run_dir: Path) -> str:
    """What a run's model is called in titles: its task, or "5 classes (four-class +
    'uncertain')" for a task trained with its 'uncertain' galaxies as an extra class."""
    run = RunFolder(run_dir).run()
    if run.get("keep_uncertain"):
        return f"{len(run['classes'])} classes ({run['task']} + '{labels.UNCERTAIN}')"
    return run["task"]


def confusion(run_dir: Path, s: Settings):
    m = metrics(run_dir)
    return plots.confusion_matrix(m["confusion_matrix_normalised"], m["classes"],
                                  title=f"{model_name(run_dir)}: accuracy {m['accuracy']:.2f} on {m['n']} "
                                        f"test galaxies ({caption_tag(s, run_dir)})")


def probability_bars(run_dir: Path, *, n: int = 6, seed: int = 0):
    """Example test galaxies (some right, some wrong) beside their predicted probabilities."""
    table, y_true, probabilities, classes = read_predictions(run_dir)
    rng = np.random.default_rng(seed)
    wrong = np.flatnonzero(probabilities.argmax(axis=1) != y_true)
    right = np.flatnonzero(probabilities.argmax(axis=1) == y_true)
    picks = np.concatenate([rng.permutation(right)[: n - min(2, len(wrong))], rng.permutation(wrong)[:2]])
    images = load_images(drawn(table["file_loc"].iloc[picks]), DISPLAY)
    return plots.probability_bars(images, probabilities[picks], classes,
                                  true_labels=list(table["true_class"].iloc[picks]),
                                  threshold=labels.decision_threshold(RunFolder(run_dir).run()["task"]))


def coverage(run_dir: Path, s: Settings):
    _, y_true, probabilities, _ = read_predictions(run_dir)
    curve, task = coverage_curve(y_true, probabilities), RunFolder(run_dir).run()["task"]
    return curve, plots.coverage_tradeoff(curve, chosen=labels.decision_threshold(task),
                                          title=f"{task} ({caption_tag(s, run_dir)})")


def accuracy_against_truth(run_dir: Path, truth_table: pd.DataFrame) -> pd.Series:
    """Test accuracy against the volunteers and against the mock's true morphology."""
    table, y_true, probabilities, classes = read_predictions(run_dir)
    task = RunFolder(run_dir).run()["task"]
    true = table[tree.ID_COLUMN].map(labels.true_classes(truth_table, task))
    predicted = table["predicted_class"]
    has_truth = true.notna()
    return pd.Series({
        "test galaxies": len(table),
        "accuracy against volunteers": float((predicted == table["true_class"]).mean()),
        "galaxies with a true class": int(has_truth.sum()),
        "accuracy against truth": float((predicted[has_truth] == true[has_truth]).mean()),
        "volunteers against truth": float((table["true_class"][has_truth] == true[has_truth]).mean()),
    }, name=task)


def uncertain_comparison(four_dir: Path, five_dir: Path) -> pd.DataFrame:
    """Both models on the four-class model's test galaxies (the course project's second
    confusion matrix): rows are the volunteers' class, columns the 5-class model's answer."""
    four, _, _, _ = read_predictions(four_dir)
    five, _, _, classes = read_predictions(five_dir)
    merged = four[[tree.ID_COLUMN, "true_class", "predicted_class"]].merge(
        five[[tree.ID_COLUMN, "predicted_class"]], on=tree.ID_COLUMN, suffixes=("_four", "_five"))
    return pd.crosstab(merged["true_class"], merged["predicted_class_five"]).reindex(columns=classes, fill_value=0)


def survey_predictions(s: Settings, run_dir: Path, *, catalog: Path | None = None,
                       image_root: Path | None = None, max_galaxies: int | None = None) -> pd.DataFrame:
    """The run's model on every galaxy of a survey it did not train or validate on (the
    first ``max_galaxies`` of them when given), saved as ``survey_predictions.csv`` in the
    run folder (the triangle's data), with the catalogue it read in ``survey_predictions.json``.
    A three-class run gives its class probabilities; a vote-count run its predicted vote
    fractions. Missing images of a mock survey are drawn first (only those)."""
    catalog, image_root = Path(catalog or s.catalogue_path), Path(image_root or s.image_root)
    seen = set()
    for split in ("train", "validation"):
        frame = RunFolder(run_dir).split(split)
        seen |= set(frame[tree.ID_COLUMN].astype(str))
    catalogue = read_catalogue(catalog)
    unseen = catalogue[~catalogue[tree.ID_COLUMN].astype(str).isin(seen)].head(max_galaxies)
    if mock_survey_name(catalog) is not None:
        drawn([image_root / location for location in unseen["png_loc"]])
    folder = RunFolder(run_dir)
    if folder.run()["task"] == VOTE_COUNTS:
        frame = resolve_images(unseen, image_root, verify="exists").catalogue
        outputs, readable, _ = predict_frame(folder.model(), frame, ImageSpec(**folder.run()["image_spec"]),
                                             cache_dir=s.cache_dir, progress=True)
        table = prediction_table(readable, outputs)
    else:
        table, _ = predict(folder.model_file, unseen, image_root, None, cache_dir=s.cache_dir, progress=True)
    write_run_table(table, folder.survey_predictions_file)
    folder.survey_source_file.write_text(json.dumps({"catalog": portable_path(catalog)}, indent=2) + "\n")
    return table


def triangle(s: Settings, run_dir: Path, *, n_cols: int = 18, corner_galaxies: int = 12,
             corner_probability: float = 0.9):
    """The 3-class project's triangle, drawn as it drew it: galaxies a model did not train
    on placed by their three probabilities (a three-class run: ``survey_predictions.csv``;
    a vote-count run: its test galaxies, with spiral / round / edge-on from its predicted
    fractions by the volunteers' own mapping, so they spread inside the triangle; either
    way without those the volunteers flagged as artifacts, as every task's cleaning does), the
    triangle tiled with one thumbnail per cell (the cell's most typical galaxy,
    :func:`galaxy_utils.report.plots.triangle_cells`), and each corner close up: galaxies the
    model gives at least ``corner_probability`` of that class (at least the five times
    ``corner_galaxies`` nearest the corner), those the volunteers are surest of first. Only
    the galaxies shown are drawn, so a committed run's figure needs its survey's catalogue,
    not all its images."""
    folder = RunFolder(run_dir)
    catalogue, _ = run_survey(run_dir, images=False)
    surveyed, of = folder.survey_predictions_file.is_file(), ""
    if surveyed and folder.survey_source_file.is_file():  # predictions on another survey's galaxies
        source = ensure_run_data(json.loads(folder.survey_source_file.read_text())["catalog"], images=False)
        catalogue = read_catalogue(source)
        of = f" of the {data_names().get(source.parent.name, source.parent.name)}"
    if folder.run()["task"] == VOTE_COUNTS:
        if surveyed:
            table = read_run_table(folder.survey_predictions_file)
            predicted = table[fraction_columns()].astype(float)
            predicted.attrs["format"] = GENERIC
            which = f"galaxies{of} the vote-count model did not train on, placed by its predicted vote fractions"
        else:
            table, predicted = run_fractions(run_dir, catalogue)
            which = "test galaxies of the vote-count model, placed by its predicted vote fractions"
        classes = labels.class_names(THREE)
        probabilities = class_probabilities(labels.class_confidences(predicted, THREE), THREE)
    else:
        table = read_run_table(folder.survey_predictions_file)
        classes = folder.run()["classes"]
        probabilities = table[[f"p_{c}" for c in classes]].to_numpy()
        which = f"galaxies{of} the model did not train on, placed by its probabilities"
    volunteers = labels.class_confidences(catalogue, THREE).set_index(catalogue[tree.ID_COLUMN].astype(str))
    volunteers = volunteers.reindex(table[tree.ID_COLUMN].astype(str)).reset_index(drop=True)
    galaxy = (volunteers["p_artifact"] < labels.FourClassThresholds().artifact).to_numpy()
    table, probabilities = table[galaxy].reset_index(drop=True), probabilities[galaxy]
    volunteers = volunteers[galaxy].reset_index(drop=True)
    cells = plots.triangle_cells(probabilities, n_cols)
    corners = []
    for k, name in enumerate(classes):
        # The corner: every galaxy at p >= corner_probability, and at least the 5 x corner_galaxies
        # nearest it (a model of vote fractions rarely reaches 0.9).
        nearest = np.argsort(-probabilities[:, k], kind="stable")
        members = nearest[:max(int((probabilities[:, k] >= corner_probability).sum()), 5 * corner_galaxies)]
        clearest = members[np.argsort(-volunteers[f"p_{name}"].to_numpy()[members], kind="stable")][:corner_galaxies]
        corners.append((clearest, f"{name} corner: {len(members):,} galaxies at p >= "
                                  f"{probabilities[members, k].min():.2f}; the volunteers' surest {len(clearest)}"))
    drawn(table["file_loc"].iloc[np.concatenate([cells["galaxy"], *(rows for rows, _ in corners)])])
    cell_images = load_images(table["file_loc"].iloc[cells["galaxy"]], ImageSpec(48, crop_fraction=0.6))
    corners = [(load_images(table["file_loc"].iloc[rows], ImageSpec(64, crop_fraction=0.6)), caption)
               for rows, caption in corners]
    title = f"{len(table):,} {which}; one typical galaxy per cell ({caption_tag(s, run_dir)})"
    return plots.probability_triangle(cell_images, cells, classes, corners, n_cols=n_cols, title=title)


def baseline(run_dir: Path, s: Settings) -> dict:
    """Fit the pixel baseline on a run's training split and score its test split (saved)."""
    path = RunFolder(run_dir).baseline_file
    if path.exists():
        return json.loads(path.read_text())
    run = RunFolder(run_dir).run()
    spec = ImageSpec(**run["image_spec"])
    classes = run["classes"]
    splits = {name: RunFolder(run_dir).split(name)
              for name in ("train", "test")}
    images = {name: catalogue_images(frame, spec, cache_dir=s.cache_dir) for name, frame in splits.items()}
    index = {c: i for i, c in enumerate(classes)}
    model = fit_pixel_baseline(images["train"], splits["train"][LABEL_COLUMN].map(index).to_numpy(), seed=run["seed"])
    probabilities = predict_pixel_baseline(model, images["test"], len(classes))
    result = classification_metrics(splits["test"][LABEL_COLUMN].map(index).to_numpy(), probabilities, classes)
    path.write_text(json.dumps(result, indent=2))
    return result


def cnn_against_baseline(run_dirs: dict[str, Path], s: Settings) -> pd.DataFrame:
    """Test accuracy of each run's CNN and of the pixel baseline on the same split."""
    return pd.DataFrame({run: {"CNN": metrics(run_dir)["accuracy"], "pixel baseline": baseline(run_dir, s)["accuracy"]}
                         for run, run_dir in run_dirs.items()})


# -- the faithful runs -----------------------------------------------------------------

FAITHFUL_SURVEYS = {THREE: "mock-large", VOTE_COUNTS: "mock-large", FOUR: "mock-xl"}
VOTE_SURVEY_GALAXIES = 5000  # the triangle's galaxies: the faithful vote-count model on this many it never saw
"""The mock survey each faithful run trains on, in the order they run: the vote-count run
holds out the three-class run's test galaxies, so it comes after it."""


def make_faithful(seed: int = 0, *, progress: bool = True) -> dict[str, Path]:
    """Every faithful run of ``results/`` on the mock surveys, each reused when finished and
    resumed when interrupted (so this can be run again until it completes), then what the
    figures and notebooks read from them: the three-class model's predictions for the whole
    survey and the vote-count model's for the first 5,000 galaxies of the 20,000-galaxy
    survey it did not train on (the triangles), and the pixel baselines. Hours on two CPU cores."""
    faithful = settings("mock", "faithful", seed)
    runs, catalogs = {}, {}
    for task, survey_name in FAITHFUL_SURVEYS.items():
        catalogs[task] = catalog = ensure_run_data(f"data/{survey_name}", root=faithful.root, progress=progress)
        run_dir, options = faithful.run_dir(task), {"seed": seed, "cache_dir": faithful.cache_dir}
        if task == VOTE_COUNTS:
            options["test_ids"] = held_out_ids(runs[THREE])
        train(task, catalog, catalog.parent / "images", "faithful", run_dir, **options)
        runs[task] = run_dir
    if not RunFolder(runs[THREE]).survey_predictions_file.exists():
        catalog = catalogs[THREE]
        survey_predictions(faithful, runs[THREE], catalog=catalog, image_root=catalog.parent / "images")
    if not RunFolder(runs[VOTE_COUNTS]).survey_predictions_file.exists():
        # The vote-count model trained on the 10,000-galaxy survey; the 20,000-galaxy one
        # continues it with galaxies it never saw.
        catalog = catalogs[FOUR]
        survey_predictions(faithful, runs[VOTE_COUNTS], catalog=catalog, image_root=catalog.parent / "images",
                           max_galaxies=VOTE_SURVEY_GALAXIES)
    for task in (FOUR, THREE):
        baseline(runs[task], faithful)
    return runs


# -- the figures command ---------------------------------------------------------------


@dataclass(frozen=True)
class ReportFigure:
    name: str
    section: str
    title: str
    caption: str
    tag: str | None = None  # what the caption ends with, when not what the section's figures share


def report_figures() -> list[ReportFigure]:
    """Every figure of figures/, in report order (the slides follow this order)."""
    return [
        ReportFigure("survey_examples", "The survey", "A random sample of the survey",
                     "Random cutouts of the survey as volunteers see them (424x424 g, r, z colour)."),
        ReportFigure("answer_examples", "The survey", "What each answer looks like",
                     "For each answer, the galaxies most volunteers gave it (fraction of all volunteers)."),
        ReportFigure("decision_tree", "The survey", "The decision tree and the class mapping",
                     "GZ DECaLS questions; each class is the cumulative vote fraction of the marked answer."),
        ReportFigure("vote_totals", "The survey", "Classifications per galaxy",
                     "Volunteers per galaxy: most galaxies near 5, a promoted group near 40."),
        ReportFigure("class_counts_four", "Labels", "Four-class labels",
                     "Galaxies per class after cleaning and the 0.6 confidence thresholds."),
        ReportFigure("class_counts_three", "Labels", "Three-class labels",
                     "Galaxies whose volunteers agree at least 90% on spiral, round or edge-on."),
        ReportFigure("recipe_steps", "Augmentation", "From cutout to network input",
                     "The course recipe resizes to 224x224; the 3-class recipe crops the centre, shrinks, greys."),
        ReportFigure("dihedral_examples", "Augmentation", "Eight views of one galaxy",
                     "Rotations by 90 degrees and flips: new training images with the same label."),
        ReportFigure("class_balance", "Augmentation", "Balancing the training split",
                     "Original galaxies and rotated or flipped copies per class of the four-class training split."),
        ReportFigure("architecture_four", "Models", "The course project's CNN",
                     "Three Conv2D layers, 25% dropout, softmax over four classes; Adam 1e-4."),
        ReportFigure("architecture_three", "Models", "The 3-class project's CNN",
                     "Three conv + max-pool blocks, two dense layers with dropout 0.5."),
        ReportFigure("learning_curves_four", "Results", "Learning curves, four classes",
                     "Accuracy and loss per epoch."),
        ReportFigure("learning_curves_three", "Results", "Learning curves, three classes",
                     "Accuracy and loss per epoch."),
        ReportFigure("confusion_four", "Results", "Confusion matrix, four classes",
                     "Rows: volunteers' class; columns: the CNN's. Each row sums to 1 (its diagonal is the recall)."),
        ReportFigure("confusion_three", "Results", "Confusion matrix, three classes",
                     "Rows: volunteers' class; columns: the CNN's."),
        ReportFigure("confusion_uncertain", "Results", "With an 'uncertain' class",
                     "The five-class model on the four-class model's test galaxies plus held-out uncertain ones."),
        ReportFigure("probability_bars", "Results", "Predicted probabilities",
                     "Test galaxies beside the four-class model's softmax output; dashed: the 0.6 threshold."),
        ReportFigure("coverage_tradeoff", "Results", "Threshold trade-off",
                     "Raising the max-probability threshold: more accurate, fewer galaxies classified."),
        ReportFigure("triangle", "Results", "The probability triangle",
                     "Galaxies the vote-count model never trained on, placed by the spiral, round and edge-on "
                     "shares of its predicted votes, one typical galaxy per cell; corners close up, the volunteers' "
                     "surest first."),
        # Beyond hard labels (notebook 6): the vote-count model.
        ReportFigure("vote_question_errors", "Beyond", "Training on the votes: every question at once",
                     "One CNN, a Dirichlet-multinomial head per GZD-5 question: error of its predicted vote fractions, "
                     "and accuracy where volunteers were confident."),
        ReportFigure("vote_fraction_scatter", "Beyond", "Predicted against volunteers' vote fractions",
                     "Each test galaxy's answers: on the diagonal, perfect; on a horizontal line, a model that "
                     "predicts the survey's averages."),
        ReportFigure("hard_vs_soft_reliability", "Beyond", "Hard labels against vote counts: calibration",
                     "Reliability diagrams on the same test galaxies; the vote-count model's classes come from its "
                     "fractions through the volunteers' mapping. ECE in the legends."),
        ReportFigure("uncertain_ranking", "Beyond", "Does the model rank the 55% spiral above the 30% one?",
                     "Galaxies the volunteers left uncertain: each model's spiral score against the volunteers' spiral "
                     "confidence."),
        ReportFigure("saliency", "Beyond", "What the CNN sees",
                     "Saliency and Grad-CAM maps of the three-class model and the vote-count model on spiral, round "
                     "and edge-on test galaxies."),
        # On real galaxies (bench/real_images.py): drawn from results/real-gz1, no pixels.
        ReportFigure("real_recalls", REAL_SECTION, "On real galaxies: faithful against best",
                     "Recall per class and balanced accuracy on real SDSS / Galaxy Zoo 1 test galaxies: the pixel "
                     "baseline, the published 3-class recipe (faithful), the best recipe, and the best recipe "
                     "trained on the mock survey only."),
        ReportFigure("real_confusion", REAL_SECTION, "On real galaxies: confusion matrices",
                     "Rows: Galaxy Zoo 1 volunteers' class; columns: the CNN's; each row sums to 1."),
        ReportFigure("real_ablation", REAL_SECTION, "On real galaxies: what each idea of the best recipe buys",
                     "Balanced accuracy of the best recipe with each idea switched off in turn, same split; "
                     "training seconds on two CPU cores at the bars."),
        ReportFigure("real_learning_curve", REAL_SECTION, "On real galaxies: would more galaxies help?",
                     "Dev-set balanced accuracy of the best recipe trained on a quarter, a half and all of the "
                     "training galaxies (bench/real_images.py --train-fractions): each seed's own dev set "
                     "(dots) and their mean (line), with the mean recall of each class (dashed).",
                     tag=REAL_DEV_TAG),
    ]


def real_results(root: Path) -> dict:
    """The real-galaxy summary (``summary.json`` of results/real-gz1), with the pixel
    baseline's and each run's metrics read beside it."""
    folder = Path(root) / "results" / REAL_GZ1
    summary = json.loads((folder / "summary.json").read_text())
    summary["metrics"] = {name: metrics(folder / name) for name in ("faithful", "best")}
    summary["metrics"]["pixel baseline"] = json.loads(RunFolder(folder / "faithful").baseline_file.read_text())
    transfer = folder / "mock-to-real" / "real_metrics.json"
    if transfer.exists():
        summary["metrics"]["best, mock-trained"] = json.loads(transfer.read_text())
    ablation = folder / "ablation.csv"
    summary["ablation"] = pd.read_csv(ablation) if ablation.exists() else None
    return summary


def real_summary_table(root: Path) -> pd.DataFrame:
    """One row per model on the real test galaxies: balanced accuracy (mean per-class
    recall), accuracy, each class's recall and the training seconds, from results/real-gz1."""
    summary = real_results(root)
    rows = {}
    for name, m in summary["metrics"].items():
        classes = m.get("classes") or list(m["per_class"])
        recalls = {f"recall {c}": m["per_class"][c]["recall"] for c in classes}
        rows[name] = {"balanced accuracy": float(np.mean(list(recalls.values()))), "accuracy": m["accuracy"],
                      **recalls, "test galaxies": m.get("n")}
    seconds = {name: recipe.get("fit_seconds") for name, recipe in summary["recipes"].items()}
    seconds["best, mock-trained"] = summary.get("mock_to_real", {}).get("fit_seconds")
    table = pd.DataFrame(rows).T.reindex([n for n in ("pixel baseline", "faithful", "best", "best, mock-trained")
                                          if n in rows])
    table["training seconds"] = [seconds.get(name) for name in table.index]
    table.index.name = f"real SDSS / Galaxy Zoo 1 (seed {summary['seed']})"
    return table


def real_recalls(root: Path):
    """Grouped bars: each model's recall per class and balanced accuracy on the real test galaxies."""
    import matplotlib.pyplot as plt

    results = real_results(root)["metrics"]
    order = [name for name in ("pixel baseline", "faithful", "best", "best, mock-trained") if name in results]
    classes = results["best"]["classes"]
    groups = [*classes, "balanced accuracy"]
    fig, ax = plt.subplots(figsize=(9, 3.8))
    width = 0.8 / len(order)
    for k, name in enumerate(order):
        recalls = [results[name]["per_class"][c]["recall"] for c in classes]
        values = [*recalls, float(np.mean(recalls))]
        bars = ax.bar(np.arange(len(groups)) + (k - (len(order) - 1) / 2) * width, values, width, label=name)
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.set_xticks(np.arange(len(groups)), groups)
    ax.set_ylim(0, 1.22)
    ax.set_ylabel("recall")
    ax.legend(loc="upper center", ncol=len(order), fontsize=8)
    ax.set_title(f"real SDSS / Galaxy Zoo 1, {results['best']['n']} test galaxies")
    return fig


def real_confusion(root: Path):
    """The faithful and best runs' normalised confusion matrices side by side."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    results = real_results(root)["metrics"]
    fig, axes = plt.subplots(1, 2, figsize=(8.5, 3.6))
    for ax, name in zip(axes, ("faithful", "best"), strict=True):
        classes = results[name]["classes"]
        sns.heatmap(np.asarray(results[name]["confusion_matrix_normalised"]), annot=True, fmt=".2f", cmap="Blues",
                    vmin=0, vmax=1, xticklabels=classes, yticklabels=classes, cbar=False, square=True, ax=ax)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("volunteers' class")
        ax.set_title(f"{name} (real SDSS / Galaxy Zoo 1)", fontsize=10)
    fig.tight_layout()
    return fig


def real_ablation(root: Path):
    """Horizontal bars: test balanced accuracy of best and of best with each idea off, seconds beside."""
    import matplotlib.pyplot as plt

    table = real_results(root)["ablation"]
    if table is None:
        raise FileNotFoundError(f"no ablation.csv in results/{REAL_GZ1}: run bench/real_images.py --ablate all")
    labels_ = ["best (all ideas)" if idea == "(nothing)" else f"without {idea}" for idea in table["switched_off"]]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(table) + 1.2))
    bars = ax.barh(labels_[::-1], table["test_balanced_accuracy"][::-1], color="tab:blue")
    ax.bar_label(bars, labels=[f"{b:.3f}  ({s:.0f} s)" for b, s in
                               zip(table["test_balanced_accuracy"][::-1], table["fit_seconds"][::-1], strict=True)],
                 fontsize=8, padding=3)
    ax.axvline(table["test_balanced_accuracy"].iloc[0], color="k", lw=0.8, ls="--")
    ax.set_xlim(0, 1.15)
    ax.set_xlabel("balanced accuracy on the held-out real test galaxies")
    fig.tight_layout()
    return fig


def real_learning_curve(root: Path):
    """Dev balanced accuracy against the number of training galaxies (``learning-curve.csv``):
    each seed as dots, the mean as a line, each class's mean recall dashed."""
    import matplotlib.pyplot as plt

    path = Path(root) / "results" / REAL_GZ1 / "learning-curve.csv"
    if not path.is_file():
        raise FileNotFoundError(f"no learning-curve.csv in results/{REAL_GZ1}: run bench/real_images.py --tune "
                                "--no-mock --only best --train-fractions 0.25,0.5,1 --seeds 0,1,2")
    table = pd.read_csv(path, dtype={"seed": "string"})
    seeds, means = table[table["seed"] != "mean"], table[table["seed"] == "mean"].sort_values("train_galaxies")
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.scatter(seeds["train_galaxies"], seeds["dev_balanced_accuracy"], color="k", s=14, alpha=0.5,
               label="one seed's dev set")
    ax.plot(means["train_galaxies"], means["dev_balanced_accuracy"], "k-o", label="balanced accuracy (mean)")
    for column in [c for c in table.columns if c.startswith("dev_recall_")]:
        name = column.removeprefix("dev_recall_")
        ax.plot(means["train_galaxies"], means[column], "--", lw=1, label=f"recall {name}")
    for x, y in zip(means["train_galaxies"], means["dev_balanced_accuracy"], strict=True):
        ax.annotate(f"{y:.3f}", (x, y), textcoords="offset points", xytext=(6, -12), fontsize=8)
    ax.set_xscale("log", base=2)
    ax.set_xticks(means["train_galaxies"], [f"{n:.0f}" for n in means["train_galaxies"]])
    ax.minorticks_off()
    ax.set_xlabel("training and validation galaxies (log scale)")
    ax.set_ylabel("on the dev galaxies")
    ax.set_ylim(0.5, 1.0)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def _figure(name: str, s: Settings):
    runs = {task: best_run(s, task) for task in (FOUR, THREE, FOUR_UNCERTAIN)}
    if name == "survey_examples":
        return survey_examples(survey(s))
    if name == "answer_examples":
        return answer_examples(survey(s))
    if name == "decision_tree":
        return plots.decision_tree()
    if name == "vote_totals":
        return plots.vote_totals(read_catalogue(s.catalogue_path))
    if name in ("class_counts_four", "class_counts_three"):
        task = FOUR if name.endswith("four") else THREE
        frame, _ = prepared(s, task)
        return plots.class_counts(frame[LABEL_COLUMN].value_counts().reindex(labels.class_names(task), fill_value=0),
                                  title=f"{task} ({caption_tag(s)})")
    if name in ("recipe_steps", "dihedral_examples"):
        first = survey(s).sort_values(tree.CLASSIFICATIONS_COLUMN, ascending=False)["file_loc"].iloc[0]
        return recipe_steps(first) if name == "recipe_steps" else dihedral_examples(first)
    if name == "class_balance":
        return plots.stacked_class_counts(balance_table(runs[FOUR]), title=caption_tag(s, runs[FOUR]))
    if name.startswith("architecture_"):
        return architecture(runs[FOUR if name.endswith("four") else THREE])
    if name.startswith("learning_curves_"):
        return learning_curves(runs[FOUR if name.endswith("four") else THREE], s)
    if name in ("confusion_four", "confusion_three"):
        return confusion(runs[FOUR if name.endswith("four") else THREE], s)
    if name == "confusion_uncertain":
        return confusion(runs[FOUR_UNCERTAIN], s)
    if name == "probability_bars":
        return probability_bars(runs[FOUR])
    if name == "coverage_tradeoff":
        return coverage(runs[FOUR], s)[1]
    if name == "triangle":
        return triangle(s, vote_runs(s)[0])
    if name == "vote_question_errors":
        return vote_question_errors(s)
    if name == "vote_fraction_scatter":
        return vote_fraction_scatter(s)
    if name == "hard_vs_soft_reliability":
        return hard_vs_soft_reliability(s)
    if name == "uncertain_ranking":
        return uncertain_ranking(s)
    if name == "saliency":
        return saliency_examples(s)
    if name == "real_recalls":
        return real_recalls(s.root)
    if name == "real_confusion":
        return real_confusion(s.root)
    if name == "real_ablation":
        return real_ablation(s.root)
    if name == "real_learning_curve":
        return real_learning_curve(s.root)
    raise KeyError(f"no report figure called {name!r}")


@dataclass(frozen=True)
class FiguresMade:
    """What :func:`make_figures` did: the manifest (``index.json``'s entries), the figures it
    kept as they were because they show galaxies of a mock survey not rendered here (by
    figure name: the survey), and where."""

    manifest: list[dict]
    kept: dict[str, str]
    out: Path


def make_figures(s: Settings, out: Path | None = None, names: list[str] | None = None, *,
                 render_surveys: bool = True) -> FiguresMade:
    """Draw the report figures from saved artifacts into ``out`` (default figures/) and
    write ``index.json`` (name, file, title, caption with data and profile, section).

    The committed faithful runs were trained on larger mock surveys than the default
    (``data/mock-large``, ``data/mock-xl``); a few figures show some of their galaxies. With
    ``render_surveys=False`` such a figure is kept as it is in ``out`` while its survey is
    not on disk (a fresh clone: rendering even its catalogue and those few galaxies takes
    about a minute), and drawn as usual when it is there or when ``out`` has no copy."""
    import matplotlib.pyplot as plt

    out = Path(out or s.figures_dir)
    wanted = report_figures() if names is None else [f for f in report_figures() if f.name in names]
    manifest, kept = [], {}
    run_of = {"four": FOUR, "three": THREE, "uncertain": FOUR_UNCERTAIN, "balance": FOUR, "bars": FOUR,
              "tradeoff": FOUR, "triangle": VOTE_COUNTS,
              # the vote-count figures: their caption names the vote-count run's data and profile
              "errors": VOTE_COUNTS, "scatter": VOTE_COUNTS, "reliability": VOTE_COUNTS, "ranking": VOTE_COUNTS,
              "saliency": VOTE_COUNTS}
    if render_surveys:
        # A committed faithful run may name a larger mock survey than the default: make its
        # catalogue first; the figures draw the few of its galaxies they show (report.drawn).
        for run_dir in sorted({best_run(s, task) for task in (FOUR, THREE, FOUR_UNCERTAIN, VOTE_COUNTS)}):
            if RunFolder(run_dir).exists():
                ensure_run_data(RunFolder(run_dir).run()["catalog"], root=s.root, progress=True, images=False)
    own = (s.data_dir.name,) if s.data == "mock" else ()
    with contextlib.nullcontext() if render_surveys else rendering_only(*own):
        for figure in wanted:
            try:
                fig = _figure(figure.name, s)
            except SurveyNotRendered as err:
                fig = None
                if (out / f"{figure.name}.png").is_file():
                    kept[figure.name] = err.name
                else:  # no copy to keep: draw it after all
                    with rendering_only(*MOCK_SURVEYS):
                        fig = _figure(figure.name, s)
            if fig is not None:
                plots.save_fig(fig, figure.name, out)
                plt.close(fig)
            task = run_of.get(figure.name.rsplit("_", 1)[-1])
            from_run = task and not figure.name.startswith("class_counts")
            tag = caption_tag(s, best_run(s, task)) if from_run else caption_tag(s)
            if figure.tag or figure.section == REAL_SECTION:
                tag = figure.tag or REAL_TAG
            manifest.append({"name": figure.name, "file": f"{figure.name}.png", "title": figure.title,
                             "caption": f"{figure.caption} ({tag}.)", "section": figure.section})
    if names is None:
        (out / "index.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return FiguresMade(manifest, kept, out)


# -- beyond hard labels: the vote-count model (notebook 6) -------------------------------


def vote_runs(s: Settings) -> tuple[Path, dict[str, Path]]:
    """The vote-count run (the faithful one when made, else the settings' own) and the
    hard-label runs it was held out against: those beside it, of the same data and
    profile, that have finished."""
    vote_dir = best_run(s, VOTE_COUNTS)
    hard = {task: vote_dir.parent / task for task in (FOUR, THREE)}
    return vote_dir, {task: run_dir for task, run_dir in hard.items() if RunFolder(run_dir).has_metrics()}


def vote_comparisons(s: Settings) -> dict:
    """:func:`galaxy_utils.analysis.comparison.compare_runs` of the hard-label runs against the
    vote-count run, on the galaxies none of them trained on, with the volunteers' votes and
    truth of the survey the vote-count run used.

    Each comparison is saved in the vote-count run folder (``comparison/<task>/``) with the
    digests of the two runs' predictions, and read back while those match: the figures and
    notebooks then need neither the models (the faithful four-class one is too big to
    commit) nor the images. A changed run is compared again (its model is run, not trained).
    """
    vote_dir, hard = vote_runs(s)
    comparisons, galaxies, truth_table = {}, None, None
    for task, run_dir in hard.items():
        folder, sources = RunFolder(vote_dir).comparison_dir(task), _comparison_sources(vote_dir, run_dir)
        if (folder / SOURCES_FILE).is_file() and json.loads((folder / SOURCES_FILE).read_text()) == sources:
            comparisons[task] = load_comparison(folder)
            continue
        if galaxies is None:
            galaxies, truth_table = run_survey(vote_dir)
        comparisons[task] = compare_runs(vote_dir, run_dir, galaxies, truth=truth_table, cache_dir=s.cache_dir)
        save_comparison(comparisons[task], folder)
        (folder / SOURCES_FILE).write_text(json.dumps(sources, indent=2) + "\n")
    return comparisons


def _comparison_sources(vote_dir: Path, hard_dir: Path) -> dict:
    """What a saved comparison was computed from: each run's predictions, by digest, and
    the version of the comparison itself."""
    digests = {Path(run_dir).name: file_sha1(RunFolder(run_dir).predictions_file) for run_dir in (vote_dir, hard_dir)}
    return {"comparison_version": COMPARISON_VERSION, **digests}


def saved_comparison(vote_dir: Path) -> pd.DataFrame:
    """The hard-versus-soft table of every comparison saved beside a vote-count run."""
    saved = RunFolder(vote_dir).comparison_dir()
    tables = [read_run_table(path) for path in sorted(saved.glob("*/table.csv"))]
    if not tables:
        raise FileNotFoundError(f"no comparison saved in {saved}: run `galaxy-utils figures`")
    return comparison.summary_table(pd.concat(tables, ignore_index=True))


def vote_question_errors(s: Settings):
    """Per question: mean absolute error of the predicted vote fractions, accuracy on confident galaxies."""
    vote_dir, _ = vote_runs(s)
    return question_errors(metrics(vote_dir)["questions"], title=f"vote counts ({caption_tag(s, vote_dir)})")


def vote_fraction_scatter(s: Settings, questions=None):
    """Predicted against volunteers' vote fractions of the test galaxies, a panel per question."""
    vote_dir, _ = vote_runs(s)
    volunteers, predicted = run_fractions(vote_dir, run_survey(vote_dir, images=False)[0])
    return fraction_scatter(volunteers, predicted, questions, ncols=5, size=2.6)


def hard_vs_soft_reliability(s: Settings, comparisons: dict | None = None):
    """Reliability diagrams of the hard-label and vote-count models, per task and reference."""
    comparisons = comparisons or vote_comparisons(s)
    return reliability_grid(comparisons, title=caption_tag(s, vote_runs(s)[0]))


def uncertain_ranking(s: Settings, comparisons: dict | None = None):
    """On the galaxies volunteers left 'uncertain', each model's spiral score against theirs."""
    comparisons = comparisons or vote_comparisons(s)
    return uncertain_rankings(comparisons)


def saliency_examples(s: Settings, *, per_class: int = 2):
    """Saliency and Grad-CAM maps of the three-class model and the vote-count model, on test
    galaxies the volunteers put in each of the three classes."""
    vote_dir, hard = vote_runs(s)
    examples = class_examples(hard[THREE], run_survey(hard[THREE], images=False)[0], per_class=per_class)
    examples["file_loc"] = drawn(examples["file_loc"])
    images, hard_maps = run_maps(hard[THREE], examples["file_loc"], examples["class"], cache_dir=s.cache_dir)
    maps = {f"hard: {kind}": values for kind, values in hard_maps.items()}
    if RunFolder(vote_dir).run()["image_spec"] == RunFolder(hard[THREE]).run()["image_spec"]:
        _, soft_maps = run_maps(vote_dir, examples["file_loc"], examples["class"], cache_dir=s.cache_dir)
        maps |= {f"votes: {kind}": values for kind, values in soft_maps.items()}
    titles = [f"{c}\n{i}" for c, i in zip(examples["class"], examples[tree.ID_COLUMN], strict=True)]
    return saliency_overlays(images, maps, titles)
