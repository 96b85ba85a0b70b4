"""The command line as a new user meets it: every mistake ends in one clear line on stderr
(exit status 2) before any work is lost, and what the project itself wrote is accepted back.

Each test is one case of issue 12, item 5.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT, ZOO, make_catalogue, write_png

from galaxy_utils import cli
from galaxy_utils.cli import main
from galaxy_utils.data.catalogue import CatalogueError, image_candidates, read_table
from galaxy_utils.data.files import partial_name
from galaxy_utils.data.read import read_catalogue

CLASSES = ["spiral", "round", "edge-on"]


def one_error_line(capsys) -> str:
    """stderr, which must be exactly one 'galaxy-utils ...: error: ...' line."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and ": error: " in lines[0] and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def survey(tmp_path, images_for):
    """The zoo twice over, with every image, in the dr5/ layout png_loc names."""
    catalogue = make_catalogue([*ZOO.values(), *ZOO.values()])
    path = tmp_path / "gz_decals_volunteers_5.csv"
    catalogue.to_csv(path, index=False)
    images_for(catalogue, tmp_path / "images")
    return path, tmp_path / "images", catalogue


def prepare(path, root, out, *extra) -> int:
    return main(["prepare", "--catalog", str(path), "--image-root", str(root), "--task", "three-class",
                 "--out", str(out), "--quiet", *extra])


def generic_catalogue(tmp_path: Path, labels: list[str], name: str = "generic.csv") -> Path:
    """A generic catalogue (file_loc + label, no id column) with one image per row."""
    rows = []
    for i, label in enumerate(labels):
        write_png(tmp_path / "pics" / f"g{i}.png", size=16, seed=i)
        rows.append({"file_loc": f"g{i}.png", "label": label})
    path = tmp_path / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture
def model_run(tmp_path) -> Path:
    """A run folder with an (untrained) three-class model and the run.json predict reads."""
    import keras

    from galaxy_utils.images.decode import ImageSpec

    spec = ImageSpec(8, 1.0, True)
    model = keras.Sequential([keras.Input(spec.shape), keras.layers.Flatten(), keras.layers.Dense(3, "softmax")])
    run = tmp_path / "run"
    run.mkdir()
    model.save(run / "model.keras")
    (run / "run.json").write_text(json.dumps({"image_spec": {"size": 8, "crop_fraction": 1.0, "greyscale": True},
                                              "classes": CLASSES}))
    return run


# -- outputs are checked before the work ------------------------------------------------


def test_out_equal_to_the_catalogue_is_refused_and_the_catalogue_kept(survey, capsys):
    path, root, _ = survey
    before = path.read_bytes()
    same = path.parent / "." / path.name  # the same file, written another way
    assert prepare(path, root, same) == 2
    line = one_error_line(capsys)
    assert f"--out {same} is the same file as --catalog; it would be overwritten" in line
    assert path.read_bytes() == before


def test_removed_equal_to_out_is_refused(survey, tmp_path, capsys):
    path, root, _ = survey
    out = tmp_path / "o.csv"
    assert prepare(path, root, out, "--removed", str(out)) == 2
    assert "--removed" in one_error_line(capsys)
    assert not out.exists()


@pytest.mark.parametrize("command", ["prepare", "predict", "train", "mock", "download", "slides", "figures"])
def test_an_out_under_a_file_fails_before_any_work(command, survey, tmp_path, capsys):
    path, root, _ = survey
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    out = blocker / "sub" / ("x.csv" if command in ("prepare", "predict") else "folder")
    argv = {
        "prepare": ["prepare", "--catalog", str(path), "--image-root", str(root), "--task", "three-class"],
        "predict": ["predict", "--model", str(tmp_path / "none.keras"), "--catalog", str(path),
                    "--image-root", str(root)],
        "train": ["train", "--task", "three-class", "--catalog", str(path), "--image-root", str(root),
                  "--profile", "fast", "--quiet"],
        "mock": ["mock", "--n", "2", "--seed", "1", "--quiet"],
        "download": ["download", "--quiet"],
        "slides": ["slides", "--figures", str(tmp_path), "--no-pdf"],
        "figures": ["figures", "--data", "mock", "--profile", "fast"],
    }[command]
    assert main([*argv, "--out", str(out)]) == 2
    line = one_error_line(capsys)
    assert f"{blocker} is a file, not a folder" in line, line


def test_an_unwritable_out_folder_fails_before_any_work(survey, tmp_path, capsys, monkeypatch):
    # Simulated (tests may run as root, for whom chmod does not stop writing).
    path, root, _ = survey

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cli.tempfile, "TemporaryFile", refuse)
    read = []
    monkeypatch.setattr("galaxy_utils.data.catalogue.read_table", lambda *a: read.append(a))
    assert prepare(path, root, tmp_path / "ro" / "o.csv") == 2
    line = one_error_line(capsys)
    assert "cannot write to the folder" in line and "Permission denied" in line and str(tmp_path / "ro") in line
    assert read == []  # the catalogue was not even read


def test_out_that_is_a_folder_is_refused(survey, tmp_path, capsys):
    path, root, _ = survey
    assert prepare(path, root, tmp_path) == 2
    assert "is a folder; give a file name" in one_error_line(capsys)


# -- thresholds -------------------------------------------------------------------------


@pytest.mark.parametrize(("task", "option", "hint"), [("four-class", "--agreement", "use --threshold"),
                                                       ("three-class", "--threshold", "use --agreement")])
def test_a_threshold_of_the_other_task_is_a_clear_error(survey, tmp_path, capsys, task, option, hint):
    path, root, _ = survey
    code = main(["prepare", "--catalog", str(path), "--image-root", str(root), "--task", task,
                 option, "0.8", "--out", str(tmp_path / "o.csv"), "--quiet"])
    assert code == 2
    line = one_error_line(capsys)
    assert option in line and hint in line and "AttributeError" not in line


def test_each_threshold_works_with_its_own_task(survey, tmp_path):
    path, root, _ = survey
    assert prepare(path, root, tmp_path / "three.csv", "--agreement", "0.8") == 0
    assert main(["prepare", "--catalog", str(path), "--image-root", str(root), "--task", "four-class",
                 "--threshold", "0.7", "--out", str(tmp_path / "four.csv"), "--quiet"]) == 0


# -- images -----------------------------------------------------------------------------


def test_a_wrong_image_root_says_where_it_looked(survey, tmp_path, capsys):
    path, _, catalogue = survey
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert prepare(path, elsewhere, tmp_path / "o.csv") == 2
    line = one_error_line(capsys)
    assert "no image was found" in line and str(elsewhere) in line
    assert str(elsewhere / "dr5") in line  # one path it tried
    assert not (tmp_path / "o.csv").exists()


def test_png_loc_with_stray_spaces_and_backslashes_is_found(survey, tmp_path):
    path, root, catalogue = survey
    messy = catalogue.assign(png_loc=[f"  {loc.replace('/', chr(92))} " for loc in catalogue.png_loc])
    messy_path = tmp_path / "messy.csv"
    messy.to_csv(messy_path, index=False)
    assert prepare(messy_path, root, tmp_path / "messy-out.csv") == 0
    assert prepare(path, root, tmp_path / "clean-out.csv") == 0
    messy_out, clean_out = pd.read_csv(tmp_path / "messy-out.csv"), pd.read_csv(tmp_path / "clean-out.csv")
    assert len(messy_out) == len(clean_out) > 0
    assert messy_out.file_loc.tolist() == clean_out.file_loc.tolist()


def test_image_candidates_clean_the_location(tmp_path):
    assert image_candidates(" dr5\\J081\\x.png\t", tmp_path)[0] == tmp_path / "dr5" / "J081" / "x.png"


# -- tables -----------------------------------------------------------------------------


def test_semicolon_separated_csv_is_named(survey, tmp_path, capsys):
    _, root, catalogue = survey
    semi = tmp_path / "semi.csv"
    catalogue.to_csv(semi, sep=";", index=False)
    with pytest.raises(CatalogueError, match="semi.csv: .*semicolon-separated"):
        read_table(semi)
    assert prepare(semi, root, tmp_path / "o.csv") == 2
    assert "semicolon-separated" in one_error_line(capsys)


def test_comment_lines_above_the_header_and_spaces_in_names_are_read(survey, tmp_path):
    path, root, catalogue = survey
    messy = tmp_path / "messy.csv"
    body = catalogue.rename(columns=lambda name: f" {name}  ").to_csv(index=False)
    messy.write_text("# Galaxy Zoo DECaLS, my subset\n#\n" + body)
    table = read_catalogue(messy)
    assert list(table.columns) == list(catalogue.columns)
    assert table["iauname"].tolist() == catalogue["iauname"].tolist()
    assert prepare(messy, root, tmp_path / "o.csv") == 0


def test_a_comment_inside_the_table_is_named_by_line(survey, tmp_path):
    path, _, _ = survey
    lines = path.read_text().splitlines()
    lines.insert(3, "# checked up to here")
    inside = tmp_path / "inside.csv"
    inside.write_text("\n".join(lines) + "\n")
    with pytest.raises(CatalogueError, match=r"inside.csv: line 4 starts with '#'"):
        read_table(inside)


def test_header_names_equal_once_stripped_are_refused(tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text("file_loc,label, label\na.png,spiral,round\n")
    with pytest.raises(CatalogueError, match="twice.csv: column name.*'label'.*more than once"):
        read_table(path)


def test_a_labelled_table_with_every_vote_column_is_still_gzd5(survey):
    from galaxy_utils.data.catalogue import GENERIC, GZD5, detect_format

    _, _, catalogue = survey
    labelled = catalogue.assign(file_loc="x.png", label="spiral")
    assert detect_format(labelled.columns) == GZD5  # e.g. a GZD-5 frame labelled in a notebook
    assert detect_format(labelled.drop(columns=["bar_no"]).columns) == GENERIC  # a prepared catalogue


def test_prepare_accepts_its_own_output(survey, tmp_path, capsys):
    path, root, _ = survey
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    assert prepare(path, root, first) == 0
    capsys.readouterr()
    assert prepare(first, root, second) == 0
    assert "(generic)" in capsys.readouterr().out
    a, b = pd.read_csv(first), pd.read_csv(second)
    assert len(a) > 0 and a["iauname"].tolist() == b["iauname"].tolist() and a.label.tolist() == b.label.tolist()


# -- predict ----------------------------------------------------------------------------


def test_predict_numbers_rows_of_a_catalogue_without_ids(tmp_path, model_run, capsys):
    path = generic_catalogue(tmp_path, ["spiral", "round", "edge-on", "round"])
    pd.read_csv(path).assign(file_loc=lambda t: t.file_loc.where(t.index != 2, "gone.png")).to_csv(path, index=False)
    out = tmp_path / "pred.csv"
    code = main(["predict", "--model", str(model_run / "model.keras"), "--catalog", str(path),
                 "--image-root", str(tmp_path / "pics"), "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    table = pd.read_csv(out)
    assert table["id"].tolist() == [0, 1, 3]
    assert table["file_loc"].str.endswith(("g0.png", "g1.png", "g3.png")).all()
    assert pd.read_csv(out.with_suffix(".unreadable.csv"))["id"].tolist() == [2]


def test_predict_accepts_prepared_catalogues(survey, tmp_path, model_run):
    path, root, _ = survey
    prepared = tmp_path / "prepared.csv"
    assert prepare(path, root, prepared) == 0
    out = tmp_path / "pred.csv"
    assert main(["predict", "--model", str(model_run / "model.keras"), "--catalog", str(prepared),
                 "--image-root", str(root), "--out", str(out)]) == 0
    assert pd.read_csv(out)["iauname"].tolist() == pd.read_csv(prepared)["iauname"].tolist()


def test_a_corrupt_model_is_named_as_such(tmp_path, model_run, capsys):
    model = model_run / "model.keras"
    model.write_bytes(model.read_bytes()[:500])
    path = generic_catalogue(tmp_path, ["spiral"])
    code = main(["predict", "--model", str(model), "--catalog", str(path), "--image-root", str(tmp_path / "pics"),
                 "--out", str(tmp_path / "pred.csv")])
    assert code == 2
    line = one_error_line(capsys)
    assert f"{model} is not a readable Keras model" in line and "not found" not in line.lower()
    assert not (tmp_path / "pred.csv").exists()


def test_predict_cannot_overwrite_its_model(tmp_path, model_run, capsys):
    model = model_run / "model.keras"
    before = model.read_bytes()
    path = generic_catalogue(tmp_path, ["spiral"])
    assert main(["predict", "--model", str(model), "--catalog", str(path), "--image-root", str(tmp_path),
                 "--out", str(model)]) == 2
    assert "same file as --model" in one_error_line(capsys)
    assert model.read_bytes() == before


# -- train ------------------------------------------------------------------------------


def test_training_refuses_classes_without_galaxies(tmp_path, capsys):
    path = generic_catalogue(tmp_path, ["spiral", "round"] * 10)
    out = tmp_path / "run"
    code = main(["train", "--task", "three-class", "--catalog", str(path), "--image-root", str(tmp_path / "pics"),
                 "--profile", "fast", "--out", str(out), "--quiet"])
    assert code == 2
    line = one_error_line(capsys)
    assert "no galaxies of class edge-on" in line and "spiral 10, round 10, edge-on 0" in line
    assert not (out / "model.keras").exists() and not (out / "metrics.json").exists()


def test_an_os_error_is_one_line(survey, tmp_path, capsys):
    path, root, _ = survey
    missing = tmp_path / "no-such-ids.csv"
    code = main(["train", "--task", "three-class", "--catalog", str(path), "--image-root", str(root),
                 "--profile", "fast", "--out", str(tmp_path / "run"), "--test-ids", str(missing), "--quiet"])
    assert code == 2
    assert f"{missing}: No such file or directory" in one_error_line(capsys)


# -- mock -------------------------------------------------------------------------------


def test_two_mock_runs_into_one_folder(tmp_path, capsys):
    out = tmp_path / "mock"
    out.mkdir()
    (out / "images" / "dr5").mkdir(parents=True)
    stale = out / "images" / "dr5" / ".x.png.123.abc.partial"
    stale.write_bytes(b"left by a killed run")
    import fcntl

    holder = os.open(out, os.O_RDONLY)  # another run holds the folder
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        assert main(["mock", "--n", "2", "--seed", "1", "--out", str(out), "--quiet"]) == 2
        assert "another mock run is writing to" in one_error_line(capsys)
        assert stale.exists()
    finally:
        os.close(holder)
    assert main(["mock", "--n", "2", "--seed", "1", "--out", str(out), "--quiet", "--workers", "1"]) == 0
    assert not stale.exists() and not list(out.rglob("*.partial"))


def test_temporary_names_are_unique_per_call_and_process(tmp_path):
    target = tmp_path / "x.png"
    first, second = partial_name(target), partial_name(target)
    assert first != second and first.parent == tmp_path
    assert f".{os.getpid()}." in first.name and first.name.endswith(".partial")


# -- TensorFlow is quiet ----------------------------------------------------------------


@pytest.mark.parametrize("model_state", ["working", "corrupt"])
def test_a_tensorflow_command_prints_nothing_but_its_error(tmp_path, model_run, model_state):
    """In a fresh process (TensorFlow not yet imported, no TF_CPP_MIN_LOG_LEVEL set), stderr
    holds nothing after a prediction without its progress bar (``--quiet``), or the one error
    line, and none of TensorFlow's notices (import-time oneDNN and absl lines, the oneDNN
    fallback logged while decoding images)."""
    model = model_run / "model.keras"
    if model_state == "corrupt":
        model.write_bytes(b"not a zip")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    catalogue = generic_catalogue(tmp_path, ["spiral", "round"])
    result = subprocess.run(
        [sys.executable, "-m", "galaxy_utils.cli", "predict", "--model", str(model), "--catalog", str(catalogue),
         "--image-root", str(tmp_path / "pics"), "--out", str(tmp_path / "p.csv"), "--quiet"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    if model_state == "working":
        assert (result.returncode, result.stderr) == (0, ""), result.stderr
        assert len(pd.read_csv(tmp_path / "p.csv")) == 2
    else:
        assert result.returncode == 2
        assert result.stderr.splitlines() == [
            f"galaxy-utils predict: error: {model} is not a readable Keras model "
            "(not a zip archive: truncated, or not a .keras file); was it copied completely?"
        ], result.stderr
