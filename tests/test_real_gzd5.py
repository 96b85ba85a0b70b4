"""The readers on real rows of the three GZ DECaLS tables (tests/data/real/NOTICE.md)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from galaxy_utils.cli import main
from galaxy_utils.data import labels, tree
from galaxy_utils.data.catalogue import (
    GZD5,
    GZD5_AUTO,
    GZD12,
    TOTAL_LARGER_RULE,
    CatalogueError,
    find_quirks,
    read_table,
    validate_gzd5,
)
from galaxy_utils.data.prepare import class_counts, prepare_catalogue
from galaxy_utils.data.read import read_catalogue

REAL = Path(__file__).resolve().parent / "data" / "real" / "gzd5"
VOLUNTEERS_5 = REAL / "gz_decals_volunteers_5.csv"
VOLUNTEERS_1_2 = REAL / "gz_decals_volunteers_1_and_2.csv"
AUTO = REAL / "gz_decals_auto_posteriors.csv"


@pytest.mark.parametrize(
    ("path", "fmt", "header"),
    [
        (VOLUNTEERS_5, GZD5, tree.DR5.columns()),
        (VOLUNTEERS_1_2, GZD12, tree.GZD_1_2.columns()),
        (AUTO, GZD5_AUTO, tree.auto_posterior_columns()),
    ],
)
def test_each_table_is_recognised_and_has_its_published_header(path, fmt, header):
    assert list(read_table(path).columns) == header
    catalogue = read_catalogue(path)
    assert catalogue.attrs["format"] == fmt
    assert len(catalogue) == 6 and catalogue["iauname"].str.match(r"^J\d{6}\.\d{2}[+-]\d{6}\.\d$").all()


def test_volunteers_5_is_accepted_with_its_retired_votes_counted():
    catalogue = read_catalogue(VOLUNTEERS_5)
    quirks = {q.column: q for q in find_quirks(catalogue)}
    assert set(quirks) == {"merging_total-votes", "*_debiased"}
    merging = quirks["merging_total-votes"]
    assert merging.rows == 2 and merging.rule == TOTAL_LARGER_RULE
    assert merging.examples == ("J005650.84-010137.4 (35 > 32)", "J134305.21-000639.5 (32 > 1)")
    assert quirks["*_debiased"].examples == ("J081412.47+220853.0", "J085811.43+232608.0", "J124641.47-041304.7")
    # The published fractions are count / total-votes, retired votes included.
    row = catalogue.set_index("iauname").loc["J005650.84-010137.4"]
    assert row["merging_none_fraction"] == pytest.approx(15 / 35, abs=1e-6)


def test_volunteers_5_prepares_on_its_images_in_the_archive_parts():
    catalogue, log = prepare_catalogue(read_catalogue(VOLUNTEERS_5), REAL, "four-class")
    assert [q.column for q in log.quirks] == ["merging_total-votes", "*_debiased"]
    assert log.removed()[["id", "reason"]].values.tolist() == [["J081412.47+220853.0", "fewer than 5 votes"]]
    labelled = dict(zip(catalogue["iauname"], catalogue["label"], strict=True))
    assert labelled == {
        "J085811.43+232608.0": "elliptical",
        "J005650.84-010137.4": "elliptical",
        "J100403.94+182735.8": "spiral",
        "J124641.47-041304.7": "elliptical",
        "J134305.21-000639.5": "spiral",
    }
    # Retired merging votes count as "not this answer": 1 merger vote of 32.
    p_irregular = catalogue.set_index("iauname").loc["J134305.21-000639.5", "p_irregular"]
    assert p_irregular == pytest.approx(1 / 32, abs=1e-6)
    parts = {Path(f).parent.parent.name for f in catalogue["file_loc"]}
    assert parts == {"gz_decals_dr5_png_part1", "gz_decals_dr5_png_part3"}


def test_a_real_total_made_smaller_than_its_answers_is_refused(tmp_path):
    table = read_table(VOLUNTEERS_5)
    table.loc[3, "merging_total-votes"] = 30  # its answers sum to 37
    path = tmp_path / "gz_decals_volunteers_5.csv"
    table.to_csv(path, index=False)
    with pytest.raises(CatalogueError) as err:
        read_catalogue(path)
    message = str(err.value)
    assert message.startswith(str(path))
    assert (
        "column 'merging_total-votes' is smaller than the sum of its answer counts (e.g. 30 < 37): "
        "row 3 (J100403.94+182735.8)"
    ) in message


def test_volunteers_1_and_2_reads_on_its_own_tree():
    catalogue = read_catalogue(VOLUNTEERS_1_2)
    assert catalogue["png_loc"].tolist()[0] == "dr5/J084/J084235.76+241231.3.png"  # derived from iauname
    assert set(catalogue["data_release"]) == {"DR1", "DR2"}
    confidences = labels.class_confidences(catalogue, "three-class").set_index(catalogue["iauname"])
    # round galaxies answered 'completely': smooth 4/29 x completely 4/4
    assert confidences.loc["J152532.19-000115.7", "p_round"] == pytest.approx(4 / 29, abs=1e-5)
    four = labels.class_confidences(catalogue, "four-class").set_index(catalogue["iauname"])
    # irregular: merger + tidal-debris + both of the GZD-1/2 merging question (3 + 5 + 1 of 23)
    assert four.loc["J152532.19-000115.7", "p_irregular"] == pytest.approx(9 / 23, abs=1e-5)
    # Read against the DR5 layout, the earlier table is named for what it lacks.
    with pytest.raises(CatalogueError, match=r"not in the GZD-5 layout \(gz_decals_volunteers_5\): 32 missing"):
        validate_gzd5(read_table(VOLUNTEERS_1_2), source=str(VOLUNTEERS_1_2))


def test_volunteers_1_and_2_prepares_and_counts_its_quirks():
    catalogue, log = prepare_catalogue(read_catalogue(VOLUNTEERS_1_2), REAL, "four-class")
    quirks = {q.column: q.rows for q in log.quirks}
    assert quirks == {"*_debiased": 3, "*_fraction": 4}
    assert class_counts(catalogue, "four-class").to_dict() == {
        "elliptical": 2, "lenticular": 0, "spiral": 0, "irregular": 0
    }
    assert sorted(catalogue["iauname"]) == ["J092608.45+031130.1", "J164324.66+275317.9"]
    reasons = dict(zip(log.removed()["id"], log.removed()["reason"], strict=True))
    assert reasons["J074349.15+291154.5"] == "image file missing"  # an elliptical whose PNG is not committed


def test_volunteers_1_and_2_errors_name_file_column_and_row(tmp_path):
    table = read_table(VOLUNTEERS_1_2)
    table["bar_yes"] = table["bar_yes"].astype(object)
    table.loc[4, "bar_yes"] = "five"
    table.loc[2, "merging_tidal-debris"] = -2
    path = tmp_path / "gz_decals_volunteers_1_and_2.csv"
    table.drop(columns=["data_release"]).to_csv(path, index=False)
    with pytest.raises(CatalogueError, match=r"not in the GZD-1/2 layout .*: 1 missing column\(s\): data_release"):
        read_catalogue(path)
    table.to_csv(path, index=False)
    with pytest.raises(CatalogueError) as err:
        read_catalogue(path)
    message = str(err.value)
    assert "problem(s) with the GZD-1/2 catalogue" in message
    assert "column 'bar_yes' is not numeric: row 4 (J152532.19-000115.7) (e.g. 'five')" in message
    assert "column 'merging_tidal-debris' has negative counts: row 2 (J092608.45+031130.1)" in message


def test_auto_posteriors_are_model_outputs_labelled_only_on_request():
    catalogue = read_catalogue(AUTO)
    assert find_quirks(catalogue) == []
    with pytest.raises(CatalogueError, match="holds model predictions .* not volunteer votes"):
        prepare_catalogue(catalogue, REAL, "four-class")
    with pytest.raises(CatalogueError, match="not volunteer votes"):
        labels.assign_labels(catalogue, "four-class")
    prepared, log = prepare_catalogue(catalogue, REAL, "four-class", model_predictions=True)
    assert log.notes == [f"labels come from {labels.MODEL_LABEL_SOURCE}"]
    assert "model label (four-class)" in log.table()["step"].tolist()
    assert prepared["iauname"].tolist() == ["J112330.91+280016.8"]
    assert prepared["label"].tolist() == ["elliptical"]
    assert (prepared["label_source"] == labels.MODEL_LABEL_SOURCE).all()
    # The labels are the predicted fractions' products, as for volunteers' fractions.
    assert prepared["p_elliptical"].iloc[0] == pytest.approx(0.8152084860746176)
    assert Path(prepared["file_loc"].iloc[0]).parent.parent.name == "gz_decals_dr5_png_part2"


def test_auto_posteriors_validation(tmp_path):
    table = read_table(AUTO)
    table.loc[1, "bar_no_fraction"] = 1.5
    table.loc[2, "iauname"] = table.loc[0, "iauname"]
    path = tmp_path / "gz_decals_auto_posteriors.csv"
    table.to_csv(path, index=False)
    with pytest.raises(CatalogueError) as err:
        read_catalogue(path)
    message = str(err.value)
    assert "column 'bar_no_fraction' is outside [0, 1]: row 1 (J133536.70-015758.9)" in message
    assert "duplicated ids: row 2" in message
    table = read_table(AUTO).drop(columns=["merging_merger_fraction"])
    table.to_csv(path, index=False)
    with pytest.raises(CatalogueError, match="auto_posteriors layout: 1 missing column"):
        read_catalogue(path)


def test_prepare_command_on_the_real_rows(tmp_path, capsys):
    out = tmp_path / "four-class.csv"
    code = main(["prepare", "--catalog", str(VOLUNTEERS_5), "--image-root", str(REAL), "--task", "four-class",
                 "--out", str(out), "--quiet"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "(gzd5)" in printed
    assert "merging_total-votes: total larger than the sum of its answers: 2 rows, e.g. J005650.84" in printed
    written = pd.read_csv(out)
    assert len(written) == 5 and set(written["label"]) == {"elliptical", "spiral"}
    assert np.isfinite(written["p_spiral"]).all()

    code = main(["prepare", "--catalog", str(AUTO), "--image-root", str(REAL), "--task", "four-class",
                 "--out", str(tmp_path / "auto.csv"), "--quiet"])
    assert code == 2 and "--use-model-predictions" in capsys.readouterr().err
    code = main(["prepare", "--catalog", str(AUTO), "--image-root", str(REAL), "--task", "four-class",
                 "--out", str(tmp_path / "auto.csv"), "--quiet", "--use-model-predictions"])
    printed = capsys.readouterr().out
    assert code == 0 and "note: labels come from model predictions" in printed
