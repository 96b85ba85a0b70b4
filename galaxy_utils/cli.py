"""``galaxy-utils``: the project's command line.

The modules that import TensorFlow when imported (training, vote counts, the report) are imported by
the subcommands that need them, when they run, so ``galaxy-utils --help`` and the commands
that do not train never import TensorFlow; everything else is imported here.

Every command checks what it will write before it starts working (an output that is one
of its inputs, a folder that cannot be written), and a mistake ends in one line on stderr
(``galaxy-utils <command>: error: ...``, exit status 2), never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import pandas as pd

from galaxy_utils.config import settings
from galaxy_utils.data.catalogue import DEFAULT_MIN_VOTES, FORMATS, VERIFY_MODES, CatalogueError, ids_of
from galaxy_utils.data.download import DownloadError, download_gzd5
from galaxy_utils.data.labels import FOUR_CLASS, TASKS, THREE_CLASS, FourClassThresholds, ThreeClassThresholds
from galaxy_utils.data.prepare import class_counts, prepare_catalogue
from galaxy_utils.data.read import read_catalogue
from galaxy_utils.learn.profiles import VOTE_COUNTS, profile_names
from galaxy_utils.learn.runs import STRATEGIES, RunFolder
from galaxy_utils.mock import generate_mock_survey
from galaxy_utils.report.slides import ChromiumError, build_slides


def writable_folder(folder: str | os.PathLike, option: str = "--out") -> Path:
    """Create ``folder`` if needed and prove it can be written (a real test file, which
    also works for root and network file systems); a clear ValueError if not."""
    folder = Path(folder)
    blocking = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if blocking is not None and not blocking.is_dir():
        where = "" if blocking == folder else f" (in {folder})"
        raise ValueError(f"{option}: {blocking} is a file, not a folder{where}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise ValueError(f"{option}: cannot write to the folder {folder} ({err.strerror or err})") from err
    return folder


def writable_file(path: str | os.PathLike, others: dict | None = None, option: str = "--out") -> Path:
    """Check, before any work, that the file ``path`` can be written and is none of the
    command's ``others`` files ({option: path}: writing it would destroy one of them)."""
    path = Path(path)
    for name, given in (others or {}).items():
        if given is not None and Path(given).resolve() == path.resolve():
            raise ValueError(f"{option} {path} is the same file as {name}; it would be overwritten: "
                             "choose another file name")
    if path.is_dir():
        raise ValueError(f"{option} {path} is a folder; give a file name")
    writable_folder(path.parent, f"{option} {path}")
    return path


def _prepare(args: argparse.Namespace) -> int:
    if args.agreement is not None and args.task != THREE_CLASS:
        raise ValueError(f"--agreement is the {THREE_CLASS} agreement threshold; for {args.task} use --threshold")
    if args.threshold is not None and args.task != FOUR_CLASS:
        raise ValueError(f"--threshold is the {FOUR_CLASS} confidence threshold; for {args.task} use --agreement")
    writable_file(args.out, {"--catalog": args.catalog})
    if args.removed:
        writable_file(args.removed, {"--catalog": args.catalog, "--out": args.out}, option="--removed")
    catalogue = read_catalogue(args.catalog, format=args.format)
    _print_catalogue(args.catalog, catalogue)
    thresholds = None
    if args.agreement is not None:
        thresholds = ThreeClassThresholds(agreement=args.agreement)
    elif args.threshold is not None:
        value = args.threshold
        thresholds = FourClassThresholds(elliptical=value, lenticular=value, spiral=value, irregular=value)
    catalogue = read_catalogue(args.catalog)
    cleaned, log = prepare_catalogue(
        catalogue,
        args.image_root,
        args.task,
        min_votes=args.min_votes,
        thresholds=thresholds,
        keep_uncertain=args.keep_uncertain,
        verify=args.verify,
        progress=not args.quiet,
        model_predictions=args.use_model_predictions,
    )
    print(log.format())
    print("class counts:")
    for name, n in class_counts(cleaned, args.task, args.keep_uncertain).items():
        print(f"  {name:<12} {n}")
    out = Path(args.out)
    cleaned.to_csv(out, index=False)
    if args.removed:
        log.removed().to_csv(args.removed, index=False)
    print(f"wrote {len(cleaned)} rows to {out}")
    return 0


def _print_catalogue(path: str, catalogue) -> None:
    """``catalogue: PATH (FORMAT)`` and what the reader noted (campaign, classes found)."""
    print(f"catalogue: {path} ({catalogue.attrs['format']})")
    for note in catalogue.attrs.get("notes", []):
        print(f"  {note}")


def _mock(args: argparse.Namespace) -> int:
    writable_folder(args.out)
    paths = generate_mock_survey(args.n, args.seed, Path(args.out), workers=args.workers, progress=not args.quiet,
                                 reuse_from=args.reuse_from)
    print(f"wrote mock survey of {args.n} galaxies (seed {args.seed}) to {args.out}")
    for name, value in vars(paths).items():
        print(f"  {name}: {value}")
    return 0


def _download(args: argparse.Namespace) -> int:
    parts = tuple(part.strip() for part in args.parts.split(","))
    writable_folder(args.out)
    root = download_gzd5(Path(args.out), parts=parts, progress=not args.quiet)
    print(f"GZD-5 data in {root}")
    return 0


def _train(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.resolve() == Path(args.catalog).resolve():
        raise ValueError(f"--out {out} is the catalogue; give a run folder")
    writable_folder(out)
    test_ids = None
    if args.test_ids:
        tables = [pd.read_csv(path, dtype=str) for path in args.test_ids]
        test_ids = sorted({galaxy for table in tables for galaxy in table[ids_of(table)]})
    from galaxy_utils.learn.training import train  # delays TensorFlow
    from galaxy_utils.learn.votes import format_metrics  # delays TensorFlow

    metrics = train(
        args.task, args.catalog, args.image_root, args.profile, args.out, seed=args.seed,
        keep_uncertain=args.keep_uncertain, strategy=args.strategy, cache_dir=args.cache_dir,
        verbose=0 if args.quiet else 2, test_ids=test_ids, catalog_format=args.format,
    )
    if args.task == VOTE_COUNTS:
        print(format_metrics(metrics))
        return 0
    print(f"{args.task} ({args.profile}): held-out accuracy {metrics['accuracy']:.3f} on {metrics['n']} galaxies")
    for name, figures in metrics["per_class"].items():
        print(f"  {name:<12} precision {figures['precision']:.3f}  recall {figures['recall']:.3f}  "
              f"f1 {figures['f1']:.3f}  n {figures['support']}")
    folder = RunFolder(args.out)
    print(f"wrote {folder.metrics_file}, {folder.history_file.name}, {folder.model_file.name}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from galaxy_utils.learn.training import predict  # delays TensorFlow

    inputs = {"--catalog": args.catalog, "--model": args.model,
              "the model's run.json": RunFolder.of_model(args.model).run_file}
    out = writable_file(args.out, inputs)
    writable_file(out.with_suffix(".unreadable.csv"), inputs, option="the unreadable-images listing")
    catalogue = read_catalogue(args.catalog, format=args.format)
    _print_catalogue(args.catalog, catalogue)
    table, unreadable = predict(args.model, catalogue, args.image_root, args.out, threshold=args.threshold,
                                tta=args.tta, cache_dir=args.cache_dir, progress=not args.quiet)
    print(f"wrote {len(table)} predictions to {args.out} "
          f"({int(table['below_threshold'].sum())} below the {args.threshold:g} threshold)")
    if len(unreadable):
        listing = Path(args.out).with_suffix(".unreadable.csv")
        print(f"{len(unreadable)} galaxies had no readable image; listed in {listing}")
    return 0


def _figures(args: argparse.Namespace) -> int:
    from galaxy_utils.report.notebook import make_figures  # delays TensorFlow

    s = settings(args.data, args.profile)
    writable_folder(args.out or s.figures_dir)
    made = make_figures(s, Path(args.out) if args.out else None, render_surveys=args.render_surveys)
    print(f"wrote {len(made.manifest) - len(made.kept)} figures and index.json to {made.out}")
    if made.kept:
        surveys = ", ".join(f"data/{name}" for name in sorted(set(made.kept.values())))
        print(f"kept {len(made.kept)} as they are ({', '.join(made.kept)}): they draw on {surveys}, "
              "not rendered here; `galaxy-utils figures --render-surveys` (or `make faithful`) draws them")
    return 0


def _faithful(args: argparse.Namespace) -> int:
    from galaxy_utils.report.notebook import make_faithful  # delays TensorFlow

    faithful = settings("mock", "faithful", args.seed)
    for folder in (faithful.root / "data", faithful.runs_dir):
        writable_folder(folder, "faithful output")
    runs = make_faithful(args.seed)
    print("faithful runs: " + ", ".join(f"{task} in {run_dir}" for task, run_dir in runs.items()))
    return 0


def _slides(args: argparse.Namespace) -> int:
    writable_folder(args.out)
    try:
        paths = build_slides(Path(args.figures), Path(args.out), title=args.title, pdf=not args.no_pdf)
    except ChromiumError as err:
        print(f"galaxy-utils slides: error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {paths.n_slides} slides to {paths.html}" + (f" and {paths.pdf}" if paths.pdf else ""))
    return 0


def _add_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format", choices=FORMATS,
        help="the catalogue's format, when the detected one (printed by prepare) is wrong",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="galaxy-utils", description="Galaxy Zoo morphology with CNNs: data, training, results."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("prepare", help="clean and label a catalogue; print what each step removed")
    p.add_argument("--catalog", required=True,
                   help="GZD-5, GZ2 Kaggle, Zoobot or generic table (CSV/parquet), Galaxy10 .h5, or a folder of "
                        "class sub-folders")
    p.add_argument("--image-root", required=True,
                   help="folder the catalogue's image paths are under (Galaxy10: where its PNGs are written)")
    _add_format(p)
    p.add_argument("--task", required=True, choices=sorted(TASKS))
    p.add_argument("--out", required=True, help="CSV to write the cleaned, labelled catalogue to")
    p.add_argument("--min-votes", type=int, default=DEFAULT_MIN_VOTES, help="minimum classifications (GZD-5)")
    p.add_argument("--threshold", type=float, help="four-class only: confidence threshold for every class (0.6)")
    p.add_argument("--agreement", type=float, help="three-class only: agreement threshold (default 0.9)")
    p.add_argument("--keep-uncertain", action="store_true", help="keep 'uncertain' as an extra class")
    p.add_argument("--use-model-predictions", action="store_true",
                   help="label from gz_decals_auto_posteriors (a model's predictions, not volunteer votes)")
    p.add_argument("--verify", choices=VERIFY_MODES, default="decode", help="how hard to check images")
    p.add_argument("--removed", help="also write every removed galaxy, step and reason to this CSV")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_prepare)

    p = sub.add_parser("mock", help="generate the mock GZD-5 survey (catalogue, truth, images)")
    p.add_argument("--n", type=int, required=True, help="number of galaxies")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--workers", type=int, help="processes (default: all cores)")
    p.add_argument("--reuse-from", action="append", default=[], metavar="DIR",
                   help="a finished mock survey of the same seed whose images to link rather than redraw (repeatable)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_mock)

    p = sub.add_parser("download", help="download the real GZD-5 catalogue and images from Zenodo")
    p.add_argument("--out", required=True)
    p.add_argument(
        "--parts",
        default="catalogue,images",
        help="comma-separated parts: catalogue, images, volunteers_1_and_2, auto_posteriors",
    )
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_download)

    p = sub.add_parser("train", help="train a CNN with a named profile; writes metrics, history and model")
    p.add_argument("--task", required=True, choices=sorted([*TASKS, VOTE_COUNTS]),
                   help="four-class, three-class, or vote-counts (every question's votes at once)")
    p.add_argument("--catalog", required=True, help="any catalogue prepare reads")
    p.add_argument("--image-root", required=True)
    _add_format(p)
    p.add_argument("--profile", required=True, choices=profile_names())
    p.add_argument("--out", required=True, help="run folder (rerun the same command to resume)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep-uncertain", action="store_true", help="train 'uncertain' as an extra class")
    p.add_argument("--strategy", choices=STRATEGIES, default="auto", help="tf.distribute strategy")
    p.add_argument(
        "--test-ids", action="append", metavar="CSV",
        help="CSV whose id column fixes the test galaxies, e.g. another run's splits/test.csv (repeatable); "
             "for vote-counts, galaxies held out of training so the hard-label runs can be compared on them",
    )
    p.add_argument("--cache-dir", help="preprocessed-image cache (default: beside the run folder)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_train, tensorflow=True)

    p = sub.add_parser("predict", help="classify a catalogue's galaxies with a trained model")
    p.add_argument("--model", required=True, help="model.keras inside a training run folder")
    p.add_argument("--catalog", required=True)
    p.add_argument("--image-root", required=True)
    _add_format(p)
    p.add_argument("--out", required=True, help="CSV: id, file_loc, p_<class>, predicted_class, below_threshold")
    p.add_argument("--threshold", type=float, default=0.6, help="max-probability threshold (default 0.6)")
    p.add_argument("--tta", action="store_true", help="average over the eight dihedral variants")
    p.add_argument("--cache-dir")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_predict, tensorflow=True)

    p = sub.add_parser("figures", help="redraw every report figure from saved runs (no retraining)")
    p.add_argument("--data", choices=("mock", "real"), help="default: $GALAXY_CNN_DATA or mock")
    p.add_argument("--profile", choices=profile_names(), help="default: $GALAXY_CNN_PROFILE or laptop")
    p.add_argument("--out", help="folder (default: figures/)")
    p.add_argument("--render-surveys", action="store_true",
                   help="also draw the figures that show galaxies of the larger mock surveys of the faithful runs "
                        "when those are not on disk (renders their catalogues and those galaxies: about a minute); "
                        "without it such figures are kept as they are")
    p.set_defaults(func=_figures, tensorflow=True)

    p = sub.add_parser("faithful", help="make (or resume) every faithful run of results/ on the mock surveys: hours")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_faithful, tensorflow=True)

    p = sub.add_parser("slides", help="build the slides (HTML deck and PDF) from figures/index.json")
    p.add_argument("--figures", default="figures", help="folder with the figures and index.json")
    p.add_argument("--out", default="slides", help="folder for galaxy-cnn.html and galaxy-cnn.pdf")
    p.add_argument("--title", default="galaxy-cnn")
    p.add_argument("--no-pdf", action="store_true", help="HTML only (no headless Chromium needed)")
    p.set_defaults(func=_slides)
    return parser


def quiet_tensorflow() -> None:
    """Import TensorFlow without its startup chatter (oneDNN and absl notices on stderr).

    TensorFlow 2.21 prints them from C++ while it is imported, before ``TF_CPP_MIN_LOG_LEVEL``
    or absl's own settings apply, so stderr's file descriptor is pointed at the null device
    for the import alone. Python warnings and exceptions are shown as usual.
    """
    _quiet_tensorflow_logs()
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        import tensorflow as tf
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
    tf.get_logger().setLevel("ERROR")
    try:
        from absl import logging as absl_logging
    except ImportError:  # pragma: no cover - absl comes with TensorFlow
        return
    absl_logging.set_verbosity(absl_logging.ERROR)


def _quiet_tensorflow_logs() -> None:
    """Raise TensorFlow's C++ log threshold to 3 (the package sets 2 on import) unless the
    user asked for more (0 or 1): on CPUs without AVX-512 TensorFlow logs a oneDNN fallback
    notice *as an error* whenever it decodes images; errors that matter reach Python as
    exceptions, which :func:`main` prints."""
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2") == "2":
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"


def error_message(err: BaseException) -> str:
    """One line for an expected error: an OSError as 'file: reason', a KeyError's key."""
    if isinstance(err, OSError) and err.strerror and err.filename:
        return f"{err.filename}: {err.strerror}"
    if isinstance(err, KeyError) and err.args:
        return str(err.args[0])
    return str(err)


def main(argv: list[str] | None = None) -> int:
    _quiet_tensorflow_logs()
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "tensorflow", False):
            quiet_tensorflow()
        return args.func(args)
    except (CatalogueError, DownloadError, OSError, KeyError, ValueError) as err:
        print(f"galaxy-utils {args.command}: error: {error_message(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"galaxy-utils {args.command}: interrupted; run the same command again to continue", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
