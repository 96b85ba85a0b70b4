import numpy as np
import pandas as pd
import pytest
from conftest import ZOO, galaxy, make_catalogue

from galaxy_utils.data import labels, tree
from galaxy_utils.data.catalogue import GZ2_ID_COLUMN, GZ2_KAGGLE_COLUMNS, CatalogueError
from galaxy_utils.data.labels import (
    FourClassThresholds,
    ThreeClassThresholds,
    assign_labels,
    class_confidences,
    soft_targets,
)
from galaxy_utils.data.read import read_catalogue


def labelled(catalogue, task, **kwargs):
    result = assign_labels(catalogue, task, **kwargs)
    everything = assign_labels(catalogue, task, keep_uncertain=True, **kwargs)
    return result, dict(zip(everything.catalogue.iauname, everything.catalogue.label, strict=True))


def test_four_class_mapping_covers_every_branch(zoo):
    result, by_name = labelled(zoo, "four-class")
    truth = dict(zip(zoo.iauname, ZOO, strict=True))
    got = {truth[i]: label for i, label in by_name.items()}
    assert got == {
        "elliptical": "elliptical",
        "lenticular": "lenticular",
        "spiral": "spiral",
        "edge-on": "uncertain",
        "irregular": "irregular",  # a spiral, but disturbance wins
        "uncertain": "uncertain",
    }
    # the artifact is dropped even with keep_uncertain
    assert truth[result.report.removed.set_index("id").index[-1]] in {"artifact", "uncertain", "edge-on"}
    reasons = dict(zip(result.report.removed["id"], result.report.removed["reason"], strict=True))
    names = dict(zip(ZOO, zoo.iauname, strict=True))
    assert reasons == {
        names["edge-on"]: "uncertain: edge-on disk",
        names["artifact"]: "artifact",
        names["uncertain"]: "uncertain: below threshold",
    }
    assert set(result.catalogue.label) == {"elliptical", "lenticular", "spiral", "irregular"}


def test_keep_uncertain_makes_a_fifth_class(zoo):
    result = assign_labels(zoo, "four-class", keep_uncertain=True)
    assert result.catalogue.label.value_counts()["uncertain"] == 2
    assert result.report.removed["reason"].tolist() == ["artifact"]
    assert labels.class_names("four-class", keep_uncertain=True)[-1] == "uncertain"


def test_confidences_are_products_along_the_tree():
    cat = make_catalogue([galaxy(featured=8, smooth=2, edge_no=6, edge_yes=2, arms_yes=3, arms_no=3)])
    p = class_confidences(cat, "four-class").iloc[0]
    assert p["p_elliptical"] == pytest.approx(0.2)
    assert p["p_spiral"] == pytest.approx(0.8 * 0.75 * 0.5)
    assert p["p_lenticular"] == pytest.approx(0.8 * 0.75 * 0.5)
    assert p["p_edge-on"] == pytest.approx(0.8 * 0.25)


@pytest.mark.parametrize(
    ("votes", "expected"),
    [
        (galaxy(smooth=3, featured=2, round=3, edge_no=2, arms_no=2), "elliptical"),  # exactly 0.6
        (galaxy(smooth=59, featured=41, round=59, edge_no=41, arms_no=41), "uncertain"),  # 0.59
        (galaxy(featured=10, edge_no=10, arms_yes=6, arms_no=4), "spiral"),  # exactly 0.6
        (galaxy(featured=10, edge_no=10, arms_yes=5, arms_no=5), "uncertain"),  # 0.5 each
        (galaxy(smooth=5, round=5, merge_none=2, merger=3), "irregular"),  # exactly 0.6
        (galaxy(smooth=5, round=5, merge_none=3, merger=1, major=1), "elliptical"),  # 0.4
        (galaxy(artifact=5, smooth=5, round=5), "artifact"),  # exactly 0.5
    ],
)
def test_four_class_thresholds_at_their_edges(votes, expected):
    cat = make_catalogue([votes])
    label, _ = labels.four_class_labels(class_confidences(cat, "four-class"))
    assert label.iloc[0] == expected


def test_thresholds_are_configurable_and_checked():
    cat = make_catalogue([galaxy(featured=10, edge_no=10, arms_yes=5, arms_no=5)])
    loose = FourClassThresholds(spiral=0.5)
    label, _ = labels.four_class_labels(class_confidences(cat, "four-class"), loose)
    assert label.iloc[0] == "spiral"
    with pytest.raises(ValueError, match="threshold spiral=1.5"):
        FourClassThresholds(spiral=1.5)
    with pytest.raises(ValueError, match="agreement=0.4"):
        ThreeClassThresholds(agreement=0.4)


@pytest.mark.parametrize(
    ("votes", "expected"),
    [
        (galaxy(smooth=10, round=10), "round"),
        (galaxy(smooth=10, round=9, in_between=1), "round"),  # exactly 0.9
        (galaxy(smooth=10, round=8, in_between=2), "uncertain"),  # 0.8
        (galaxy(smooth=5, cigar=5), "uncertain"),  # smooth but not round: no class
        (galaxy(featured=10, edge_yes=9, edge_no=1, arms_yes=1), "edge-on"),
        (galaxy(featured=10, edge_no=10, arms_yes=9, arms_no=1), "spiral"),
        (galaxy(featured=10, edge_no=10, arms_no=10), "uncertain"),  # lenticular: not a class here
        (galaxy(artifact=5), "artifact"),
    ],
)
def test_three_class_mapping_and_agreement_edges(votes, expected):
    cat = make_catalogue([votes])
    label, _ = labels.three_class_labels(class_confidences(cat, "three-class"))
    assert label.iloc[0] == expected


def test_debiased_fractions_can_drive_the_labels():
    cat = make_catalogue([galaxy(smooth=5, round=5)])
    cat["smooth-or-featured_smooth_debiased"] = 0.3
    assert assign_labels(cat, "four-class").catalogue.label.tolist() == ["elliptical"]
    assert assign_labels(cat, "four-class", debiased=True).catalogue.empty


def test_retired_votes_count_as_not_this_answer():
    """A total larger than its answers (the real release's quirk): fractions are count / total as published."""
    cat = make_catalogue([galaxy(featured=5, edge_no=5, arms_yes=5, merge_none=1, merger=2, major=2)])
    assert assign_labels(cat, "four-class").catalogue.label.tolist() == ["irregular"]  # 4 of 5
    cat["merging_total-votes"] = 8  # 3 votes for answers the tree no longer has
    for answer in tree.question("merging").answers:
        cat[f"merging_{answer}_fraction"] = cat[f"merging_{answer}"] / 8
    confidences = class_confidences(cat, "four-class")
    assert confidences["p_irregular"].iloc[0] == pytest.approx(4 / 8)
    assert assign_labels(cat, "four-class").catalogue.label.tolist() == ["spiral"]


def test_missing_fraction_where_asked_is_refused():
    cat = make_catalogue([galaxy(featured=5, edge_no=5, arms_yes=5)])
    cat.loc[0, "has-spiral-arms_yes_fraction"] = np.nan
    with pytest.raises(CatalogueError, match="run drop_missing_labels first"):
        class_confidences(cat, "four-class")


def test_unknown_task():
    with pytest.raises(KeyError, match="unknown task 'five-class'"):
        labels.task("five-class")


def test_label_columns_of_a_task():
    columns = labels.task("three-class").label_columns()
    assert "how-rounded_round_fraction" in columns and "how-rounded_total-votes" in columns
    assert "merging_merger" not in columns


# ---- soft targets ---------------------------------------------------------------------


def test_soft_targets_keep_counts_and_mark_unasked(zoo):
    targets = soft_targets(zoo)
    n_answers = sum(len(q.answers) for q in tree.QUESTIONS)
    assert targets.counts.shape == (len(zoo), n_answers) == (7, 34)
    assert not targets.counts.isna().any().any()
    assert targets.counts.dtypes.unique().tolist() == [np.dtype("int64")]
    elliptical = list(ZOO).index("elliptical")
    assert not targets.asked.loc[elliptical, "disk-edge-on"]
    assert np.isnan(targets.fractions.loc[elliptical, "disk-edge-on_yes"])
    spiral = targets.counts.iloc[list(ZOO).index("spiral"), targets.answer_slices["has-spiral-arms"]]
    assert spiral.tolist() == [5, 0]
    assert targets.answer_slices["merging"] == slice(30, 34)


def test_soft_targets_with_zero_totals():
    targets = soft_targets(make_catalogue([galaxy()]))
    assert targets.totals.iloc[0].sum() == 0
    assert targets.fractions.iloc[0].isna().all()


# ---- other catalogues -----------------------------------------------------------------


def test_generic_catalogue_with_labels(tmp_path):
    path = tmp_path / "mine.csv"
    pd.DataFrame({"file_loc": ["a.png", "b.png", "c.png"], "label": ["Spiral", "edge_on", " round "]}).to_csv(
        path, index=False
    )
    cat = read_catalogue(path)
    assert cat.attrs["format"] == "generic"
    result = assign_labels(cat, "three-class")
    assert result.catalogue.label.tolist() == ["spiral", "edge-on", "round"]
    with pytest.raises(CatalogueError, match=r"not four-class classes \(edge-on, round\): rows 1 \(b.png\), 2"):
        assign_labels(cat, "four-class")


def test_generic_catalogue_with_vote_fractions_only():
    cat = make_catalogue(list(ZOO.values()))
    fractions = labels.task("four-class").fraction_columns()
    generic = cat[fractions].assign(file_loc=[f"{i}.png" for i in range(len(cat))])
    generic.attrs["format"] = "generic"
    result = assign_labels(generic, "four-class")
    assert result.catalogue.label.tolist() == ["elliptical", "lenticular", "spiral", "irregular"]


def gz2_row(galaxy_id, **values):
    row = {GZ2_ID_COLUMN: galaxy_id, **{c: 0.0 for c in GZ2_KAGGLE_COLUMNS}}
    row.update({k.replace("_", "."): v for k, v in values.items()})
    return row


def test_gz2_kaggle_maps_to_both_tasks(tmp_path):
    rows = [
        gz2_row(100008, Class1_1=0.95, Class7_1=0.92),
        gz2_row(100023, Class1_2=1.0, Class2_1=0.93, Class2_2=0.07),
        gz2_row(100053, Class1_2=1.0, Class2_2=1.0, Class4_1=0.91, Class4_2=0.09),
        gz2_row(100078, Class1_2=1.0, Class2_2=1.0, Class4_2=0.8, Class4_1=0.2),
        gz2_row(100090, Class1_2=1.0, Class2_2=1.0, Class4_1=1.0, Class6_1=0.9, Class8_6=0.7),
        gz2_row(100122, Class1_3=0.7, Class1_1=0.3),
    ]
    path = tmp_path / "training_solutions_rev1.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    cat = read_catalogue(path)
    assert cat.attrs["format"] == "gz2-kaggle"
    assert cat.file_loc[0] == "images_training_rev1/100008.jpg"
    four = assign_labels(cat, "four-class", keep_uncertain=True).catalogue
    assert four.label.tolist() == ["elliptical", "uncertain", "spiral", "lenticular", "irregular"]
    three = assign_labels(cat, "three-class").catalogue
    assert dict(zip(three.GalaxyID, three.label, strict=True)) == {
        "100008": "round", "100023": "edge-on", "100053": "spiral", "100090": "spiral"
    }


def test_gz2_kaggle_validation(tmp_path):
    bad = pd.DataFrame([gz2_row(1, Class1_1=1.4), gz2_row(1)]).drop(columns=["Class11.6"])
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(CatalogueError, match="missing column\\(s\\) Class11.6"):
        read_catalogue(path)
    bad["Class11.6"] = 0.0
    bad.to_csv(path, index=False)
    with pytest.raises(CatalogueError) as err:
        read_catalogue(path)
    assert "'Class1.1' is outside [0, 1]: row 0 (1)" in str(err.value)
    assert "duplicated ids: row 1" in str(err.value)
