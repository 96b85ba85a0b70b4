import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import ZOO, make_catalogue, write_corrupt_png

from galaxy_utils.cli import main
from galaxy_utils.data.prepare import class_counts, prepare_catalogue
from galaxy_utils.data.read import read_catalogue


@pytest.fixture
def survey(tmp_path, images_for):
    """The zoo twice over (14 galaxies) plus one under-voted galaxy, with images."""
    galaxies = [*ZOO.values(), *ZOO.values(), {"smooth-or-featured_smooth": 2}]
    catalogue = make_catalogue(galaxies)
    path = tmp_path / "gz_decals_volunteers_5.csv"
    catalogue.to_csv(path, index=False)
    images_for(catalogue, tmp_path / "images", layout="archive")
    # one galaxy's image is missing, another's is corrupt
    names = dict(zip(range(len(catalogue)), catalogue.png_loc, strict=True))
    spiral_again = len(ZOO) + list(ZOO).index("spiral")
    lenticular_again = len(ZOO) + list(ZOO).index("lenticular")
    tail = "/".join(names[spiral_again].split("/")[-2:])
    (tmp_path / "images" / "gz_decals_dr5_png_part1" / tail).unlink()
    part = tmp_path / "images" / "gz_decals_dr5_png_part1"
    write_corrupt_png(part / "/".join(names[lenticular_again].split("/")[-2:]))
    return path, tmp_path / "images", catalogue


def test_prepare_catalogue_reports_every_step(survey):
    path, root, catalogue = survey
    cleaned, log = prepare_catalogue(read_catalogue(path), root, "four-class")
    table = log.table()
    by_reason = dict(zip(table.reason, table.removed, strict=True))
    assert by_reason["fewer than 5 votes"] == 1
    assert by_reason["artifact"] == 2
    assert by_reason["uncertain: edge-on disk"] == 2
    assert by_reason["uncertain: below threshold"] == 2
    assert by_reason["image file missing"] == 1
    assert by_reason["image cannot be decoded (OSError)"] == 1
    assert log.rows_in == 15 and log.rows_out == len(cleaned) == 6
    assert class_counts(cleaned, "four-class").to_dict() == {
        "elliptical": 2, "lenticular": 1, "spiral": 1, "irregular": 2
    }


def test_prepare_command_prints_the_report_and_writes_the_catalogue(survey, tmp_path, capsys):
    path, root, _ = survey
    out = tmp_path / "out" / "three.csv"
    removed = tmp_path / "out" / "removed.csv"
    code = main([
        "prepare", "--catalog", str(path), "--image-root", str(root), "--task", "three-class",
        "--out", str(out), "--removed", str(removed), "--quiet", "--agreement", "0.9",
    ])
    assert code == 0
    printed = capsys.readouterr().out
    assert "rows in: 15" in printed
    assert "fewer than 5 votes" in printed and "image file missing" in printed
    assert "class counts:" in printed and "rows out:" in printed
    written = pd.read_csv(out)
    assert {"file_loc", "label", "p_spiral", "p_round", "p_edge-on"} <= set(written.columns)
    assert set(written.label) <= {"spiral", "round", "edge-on"}
    assert len(pd.read_csv(removed)) == 15 - len(written)


def test_prepare_command_reports_bad_input_clearly(tmp_path, capsys):
    catalogue = make_catalogue([ZOO["spiral"]])
    catalogue.loc[0, "bar_no"] = -3
    path = tmp_path / "bad.csv"
    catalogue.to_csv(path, index=False)
    code = main(["prepare", "--catalog", str(path), "--image-root", str(tmp_path), "--task", "four-class",
                 "--out", str(tmp_path / "o.csv"), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "bad.csv" in err and "'bar_no' has negative counts: row 0" in err
    assert not (tmp_path / "o.csv").exists()


def test_installed_entry_point_runs():
    beside_python = Path(sys.executable).parent / "galaxy-utils"
    exe = str(beside_python) if beside_python.exists() else shutil.which("galaxy-utils")
    if exe is None:
        pytest.skip("galaxy-utils is not on PATH (package not installed)")
    result = subprocess.run([exe, "prepare", "--help"], capture_output=True, text=True, check=True)
    assert "--image-root" in result.stdout
