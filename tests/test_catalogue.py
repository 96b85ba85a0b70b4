import numpy as np
import pandas as pd
import pytest
from conftest import ZOO, galaxy, make_catalogue, write_corrupt_png, write_png

from galaxy_utils.data import tree
from galaxy_utils.data.catalogue import (
    EMPTY_DEBIASED_RULE,
    TOTAL_LARGER_RULE,
    ZERO_UNASKED_RULE,
    CatalogueError,
    PreprocessingLog,
    drop_missing_labels,
    filter_by_total_votes,
    find_quirks,
    keep_label_columns,
    resolve_images,
    validate_gzd5,
)
from galaxy_utils.data.read import read_catalogue


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_round_trip_through_csv_and_parquet(zoo, tmp_path, suffix):
    path = tmp_path / f"cat{suffix}"
    zoo.to_csv(path, index=False) if suffix == ".csv" else zoo.to_parquet(path, index=False)
    back = read_catalogue(path)
    assert list(back.columns) == tree.gzd5_columns()
    assert back.attrs["format"] == "gzd5"
    assert back["iauname"].tolist() == zoo["iauname"].tolist()
    np.testing.assert_allclose(back["disk-edge-on_yes_fraction"], zoo["disk-edge-on_yes_fraction"])


def test_unasked_questions_have_zero_counts_and_empty_fractions(zoo):
    elliptical = zoo.iloc[list(ZOO).index("elliptical")]
    assert elliptical["disk-edge-on_total-votes"] == 0
    assert elliptical["disk-edge-on_yes"] == 0
    assert np.isnan(elliptical["disk-edge-on_yes_fraction"])
    assert np.isnan(elliptical["disk-edge-on_yes_debiased"])
    assert elliptical["how-rounded_round_fraction"] == 1.0


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.csv"):
        read_catalogue(tmp_path / "nowhere.csv")


def test_missing_columns_are_listed(zoo):
    with pytest.raises(CatalogueError, match=r"2 missing column\(s\): bar_weak, bar_weak_fraction"):
        validate_gzd5(zoo.drop(columns=["bar_weak", "bar_weak_fraction"]), source="cut.csv")


def test_cut_down_table_without_metadata_is_accepted_on_request(zoo):
    slim = zoo.drop(columns=["ra", "dec", "redshift"])
    with pytest.raises(CatalogueError, match="ra, dec, redshift"):
        validate_gzd5(slim)
    validate_gzd5(slim, require_metadata=False)


def _corrupt(zoo, column, row, value):
    bad = zoo.copy()
    bad[column] = bad[column].astype(object)
    bad.loc[row, column] = value
    return bad


def test_non_numeric_vote_column_names_column_and_row(zoo, tmp_path):
    bad = _corrupt(zoo, "bar_no", 2, "lots")
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(CatalogueError) as err:
        read_catalogue(path)
    message = str(err.value)
    assert str(path) in message
    assert "column 'bar_no' is not numeric: row 2 (J100212.47+220853.0)" in message
    assert "'lots'" in message


def test_negative_and_non_integer_counts(zoo):
    bad = zoo.copy()
    bad.loc[0, "merging_none"] = -5
    bad.loc[0, "merging_merger"] = 10  # keeps the total consistent: 5 = -5 + 10
    bad.loc[0, "merging_merger_fraction"] = 2.0
    bad.loc[0, "merging_none_fraction"] = -1.0
    bad["bar_no"] = bad["bar_no"].astype(float)
    bad.loc[1, "bar_no"] = 4.5
    with pytest.raises(CatalogueError) as err:
        validate_gzd5(bad)
    message = str(err.value)
    assert "column 'merging_none' has negative counts: row 0" in message
    assert "column 'bar_no' has non-integer counts: row 1" in message


def test_total_smaller_than_its_answers_is_an_error(zoo, tmp_path):
    bad = zoo.copy()
    bad.loc[3, "disk-edge-on_total-votes"] = 4  # answers sum to 5
    path = tmp_path / "smaller.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(CatalogueError) as err:
        read_catalogue(path)
    message = str(err.value)
    assert message.startswith(str(path))
    assert (
        "column 'disk-edge-on_total-votes' is smaller than the sum of its answer counts (e.g. 4 < 5): "
        f"row 3 ({zoo.iauname[3]})"
    ) in message


def _retired_votes(zoo: pd.DataFrame, row: int, extra: int) -> pd.DataFrame:
    """``extra`` merging votes for a retired answer: in the total only, fractions count / total as published."""
    quirky = zoo.copy()
    total = quirky.loc[row, "merging_total-votes"] + extra
    quirky.loc[row, "merging_total-votes"] = total
    for answer in tree.question("merging").answers:
        quirky.loc[row, f"merging_{answer}_fraction"] = quirky.loc[row, f"merging_{answer}"] / total
    return quirky


def test_total_larger_than_its_answers_is_an_accepted_quirk_counted_with_examples(zoo):
    quirky = _retired_votes(zoo, 4, 3)  # the irregular: 5 merging votes + 3 retired
    validate_gzd5(quirky)
    assert find_quirks(zoo) == []
    (quirk,) = find_quirks(quirky)
    assert (quirk.column, quirk.rows, quirk.examples) == ("merging_total-votes", 1, (f"{zoo.iauname[4]} (8 > 5)",))
    assert quirk.rule == TOTAL_LARGER_RULE
    assert "merging_total-votes: total larger than the sum of its answers: 1 row, e.g." in quirk.format()


def test_quirk_examples_are_limited_and_counted():
    many = make_catalogue([ZOO["spiral"]] * 5)
    for row in range(5):
        many = _retired_votes(many, row, 1)
    (quirk,) = find_quirks(many)
    assert quirk.rows == 5 and len(quirk.examples) == 3
    assert quirk.format().endswith("and 2 more")


def test_empty_debiased_and_zero_unasked_fractions_are_accepted_quirks(zoo):
    quirky = zoo.copy()
    spiral, elliptical = list(ZOO).index("spiral"), list(ZOO).index("elliptical")
    quirky.loc[spiral, tree.question("bar").debiased_columns] = np.nan  # asked, no debiased value
    quirky.loc[elliptical, "disk-edge-on_yes_fraction"] = 0.0  # not asked, 0 rather than empty
    validate_gzd5(quirky)
    quirks = {q.column: q for q in find_quirks(quirky)}
    assert set(quirks) == {"*_debiased", "*_fraction"}
    assert quirks["*_debiased"].examples == (zoo.iauname[spiral],)
    assert quirks["*_fraction"].examples == (zoo.iauname[elliptical],)
    assert quirks["*_debiased"].rule == EMPTY_DEBIASED_RULE and quirks["*_fraction"].rule == ZERO_UNASKED_RULE


def test_log_reports_quirks_apart_from_removals(zoo):
    log = PreprocessingLog(quirks=find_quirks(_retired_votes(zoo, 4, 3)))
    log.apply(filter_by_total_votes, zoo, min_votes=5)
    text = log.format()
    assert text.index("accepted quirks of the real release (counted, nothing removed):") < text.index("rows in: 7")
    assert f"e.g. {zoo.iauname[4]} (8 > 5)" in text and f"rule: {TOTAL_LARGER_RULE}" in text
    table = log.quirks_table()
    assert table[["column", "rows"]].values.tolist() == [["merging_total-votes", 1]]
    assert log.table()["step"].tolist() == ["filter by total votes"]  # removals table unchanged
    assert "accepted quirks" not in PreprocessingLog().format()


def test_fraction_that_disagrees_with_counts(zoo):
    bad = zoo.copy()
    bad.loc[4, "has-spiral-arms_yes_fraction"] = 0.2
    with pytest.raises(CatalogueError, match="'has-spiral-arms_yes_fraction' disagrees with 'has-spiral-arms_yes'"):
        validate_gzd5(bad)


def test_fraction_for_a_question_nobody_was_asked(zoo):
    bad = zoo.copy()
    bad.loc[0, "disk-edge-on_yes_fraction"] = 0.4
    expected = "'disk-edge-on_yes_fraction' has a fraction where 'disk-edge-on_total-votes' is 0: row 0"
    with pytest.raises(CatalogueError, match=expected):
        validate_gzd5(bad)
    zero = zoo.copy()
    zero.loc[0, "disk-edge-on_yes_fraction"] = 0.0  # some exports write 0 instead of empty
    validate_gzd5(zero)


def test_empty_counts_debiased_range_and_duplicate_ids(zoo):
    bad = zoo.copy()
    bad.loc[1, "bar_strong"] = np.nan
    bad.loc[2, "bar_no_debiased"] = 1.7
    bad.loc[3, "iauname"] = bad.loc[2, "iauname"]
    with pytest.raises(CatalogueError) as err:
        validate_gzd5(bad)
    message = str(err.value)
    assert "3 problem(s)" in message
    assert "'bar_strong' has empty vote counts" in message
    assert "'bar_no_debiased' is outside [0, 1]: row 2" in message
    assert "duplicated ids: row 3" in message


def test_first_bad_rows_are_limited(zoo):
    big = make_catalogue([ZOO["spiral"]] * 12)
    big["bar_no"] = -1
    with pytest.raises(CatalogueError, match=r"rows 0 \(.*\), 1 .* and 7 more"):
        validate_gzd5(big)


# ---- (a) vote filter ------------------------------------------------------------------


def test_filter_by_total_votes_edges():
    catalogue = make_catalogue([galaxy(smooth=4), galaxy(smooth=5), galaxy(smooth=40), galaxy()])
    result = filter_by_total_votes(catalogue, min_votes=5)
    assert result.catalogue["smooth-or-featured_total-votes"].tolist() == [5, 40]
    assert result.report.n_removed == 2
    assert result.report.removed["id"].tolist() == [catalogue.iauname[0], catalogue.iauname[3]]
    assert set(result.report.removed["reason"]) == {"fewer than 5 votes"}


# ---- (b) label columns ----------------------------------------------------------------


def test_keep_label_columns_keeps_rows_and_metadata(zoo):
    columns = tree.question("has-spiral-arms").fraction_columns
    result = keep_label_columns(zoo, columns)
    assert len(result.catalogue) == len(zoo)
    total = "has-spiral-arms_total-votes"
    assert list(result.catalogue.columns) == [*tree.METADATA_COLUMNS, total, *columns]
    assert result.report.note == "kept 16 columns, dropped 111"
    with pytest.raises(CatalogueError, match="bar_maybe"):
        keep_label_columns(zoo, ["bar_maybe"])


# ---- (c) missing labels ---------------------------------------------------------------

FOUR = [
    *tree.question("smooth-or-featured").fraction_columns,
    *tree.question("disk-edge-on").fraction_columns,
    *tree.question("has-spiral-arms").fraction_columns,
]


def test_unasked_questions_are_not_missing_labels(zoo):
    result = drop_missing_labels(zoo, FOUR)
    assert result.report.n_removed == 0


def test_naive_dropna_loses_the_ellipticals(zoo):
    result = drop_missing_labels(zoo, FOUR, unasked="drop")
    removed = dict(zip(result.report.removed["id"], result.report.removed["reason"], strict=True))
    names = dict(zip(list(ZOO), zoo.iauname, strict=True))
    assert names["elliptical"] in removed and names["artifact"] in removed
    assert names["spiral"] not in removed


def test_empty_label_where_asked_and_zero_totals_are_dropped(zoo):
    cat = pd.concat([zoo, make_catalogue([galaxy()])], ignore_index=True)
    cat.loc[len(cat) - 1, "iauname"] = "J235959.99+000000.0"
    cat.loc[2, "has-spiral-arms_yes_fraction"] = np.nan  # asked (5 votes) but empty
    result = drop_missing_labels(cat, FOUR)
    reasons = dict(zip(result.report.removed["id"], result.report.removed["reason"], strict=True))
    assert reasons == {
        cat.iauname[2]: "empty has-spiral-arms_yes_fraction",
        "J235959.99+000000.0": "empty smooth-or-featured_smooth_fraction",
    }


# ---- (d) images -----------------------------------------------------------------------


def test_images_resolved_in_both_layouts_and_broken_ones_reported(zoo, tmp_path):
    root = tmp_path / "images"
    locs = zoo["png_loc"].tolist()
    write_png(root / locs[0])  # as png_loc says
    write_png(root / "gz_decals_dr5_png_part2" / "/".join(locs[1].split("/")[-2:]))  # as unpacked
    write_png(root / "/".join(locs[2].split("/")[-2:]))  # bare J###/ tail
    write_corrupt_png(root / locs[3])
    (root / locs[4]).parent.mkdir(parents=True, exist_ok=True)
    (root / locs[4]).write_bytes(b"this is not an image")
    write_png(root / locs[5], mode="L")
    # row 6 has no image at all
    result = resolve_images(zoo, root)
    out = result.catalogue
    assert out["iauname"].tolist() == zoo["iauname"][[0, 1, 2, 5]].tolist()
    assert out["file_loc"].iloc[1].endswith("gz_decals_dr5_png_part2/" + "/".join(locs[1].split("/")[-2:]))
    reasons = dict(zip(result.report.removed["id"], result.report.removed["reason"], strict=True))
    assert reasons[zoo.iauname[3]].startswith("image cannot be decoded")
    assert reasons[zoo.iauname[4]].startswith("image cannot be decoded")
    assert reasons[zoo.iauname[6]] == "image file missing"


def test_verify_modes_trade_speed_for_strictness(zoo, tmp_path):
    root = tmp_path / "images"
    write_corrupt_png(root / zoo.png_loc[0])
    one = zoo.iloc[:1]
    assert len(resolve_images(one, root, verify="exists").catalogue) == 1
    assert len(resolve_images(one, root, verify="decode").catalogue) == 0
    with pytest.raises(ValueError, match="verify must be one of"):
        resolve_images(one, root, verify="maybe")
    with pytest.raises(FileNotFoundError, match="image root is not a folder"):
        resolve_images(one, tmp_path / "nope")


def test_log_tabulates_every_step(zoo, tmp_path, images_for):
    images_for(zoo.iloc[:5], tmp_path)
    log = PreprocessingLog()
    cat = log.apply(filter_by_total_votes, zoo, min_votes=5)
    cat = log.apply(keep_label_columns, cat, FOUR)
    cat = log.apply(drop_missing_labels, cat, FOUR)
    cat = log.apply(resolve_images, cat, tmp_path)
    table = log.table()
    assert table["step"].tolist() == [
        "filter by total votes", "keep label columns", "drop missing labels", "resolve images"
    ]
    assert table["removed"].sum() == log.rows_in - log.rows_out == len(log.removed())
    assert log.rows_out == len(cat) == 5
    text = log.format()
    assert "rows in: 7" in text and "image file missing" in text and "rows out: 5" in text


def test_an_sdss_object_id_is_a_generic_catalogues_id_digit_for_digit(tmp_path):
    # Galaxy Zoo 1 and 2 tables name galaxies by their SDSS objid (18 digits): it must be the id,
    # exactly, not row numbers or a float that has lost the last digits.
    from galaxy_utils.data.catalogue import ID_ATTR

    path = tmp_path / "mine.csv"
    path.write_text("objid,file_loc\n587722981748965649,a.jpeg\n587722981750865959,b.jpeg\n")
    catalogue = read_catalogue(path)
    assert catalogue.attrs[ID_ATTR] == "objid"
    assert catalogue["objid"].astype(str).tolist() == ["587722981748965649", "587722981750865959"]
