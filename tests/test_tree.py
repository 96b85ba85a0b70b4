import pytest
from conftest import SHARED

from galaxy_utils.data import tree


def test_header_has_127_columns_in_published_order():
    columns = tree.gzd5_columns()
    assert len(columns) == 127
    assert columns[0] == "iauname" and columns[12] == "png_loc"
    assert columns[-2:] == ["wrong_size_statistic", "wrong_size_warning"]
    assert len(set(columns)) == 127


@pytest.mark.skipif(not (SHARED / "gzd5").is_dir(), reason="../shared is not present")
def test_header_equals_the_real_catalogue_header():
    real = (SHARED / "gzd5" / "gz_decals_volunteers_5.columns.txt").read_text().split()
    assert tree.gzd5_columns() == real


def test_every_branch_follows_a_real_answer():
    for q in tree.QUESTIONS:
        if q.asked_after is not None:
            parent, answer = q.asked_after
            assert answer in tree.question(parent).answers


def test_path_to_walks_from_the_root():
    assert tree.path_to("smooth-or-featured") == []
    assert tree.path_to("spiral-arm-count") == [
        ("smooth-or-featured", "featured-or-disk"),
        ("disk-edge-on", "no"),
        ("has-spiral-arms", "yes"),
    ]
    assert [q.name for q in tree.children("disk-edge-on", "no")] == ["has-spiral-arms", "bar", "bulge-size"]


def test_column_helpers():
    assert tree.count_column("bar", "weak") == "bar_weak"
    assert tree.fraction_column("spiral-arm-count", "more-than-4") == "spiral-arm-count_more-than-4_fraction"
    assert tree.debiased_column("how-rounded", "cigar-shaped") == "how-rounded_cigar-shaped_debiased"
    assert tree.total_column("merging") == "merging_total-votes"
    assert tree.question("bar").count_columns == ["bar_strong", "bar_weak", "bar_no"]


def test_unknown_names_fail_clearly():
    with pytest.raises(KeyError, match="unknown GZD-5 question 'bars'"):
        tree.question("bars")
    with pytest.raises(KeyError, match="'maybe' is not an answer of 'bar'"):
        tree.count_column("bar", "maybe")


def test_gzd_1_2_tree_has_its_own_answers_and_header():
    gzd12 = tree.GZD_1_2
    columns = gzd12.columns()
    assert len(columns) == 115 and len(set(columns)) == 115
    assert "png_loc" not in columns and columns[11:13] == ["in_gzd_c", "data_release"]
    assert gzd12.question("merging").answers == ("merger", "tidal-debris", "both", "neither")
    assert gzd12.question("how-rounded").count_column("completely") == "how-rounded_completely"
    assert gzd12.path_to("spiral-arm-count") == tree.path_to("spiral-arm-count")
    assert [q.name for q in gzd12.children("disk-edge-on", "no")] == ["bar", "has-spiral-arms", "bulge-size"]
    with pytest.raises(KeyError, match="'cant-tell' is not an answer of 'spiral-arm-count'"):
        gzd12.question("spiral-arm-count").count_column("cant-tell")
    with pytest.raises(KeyError, match="unknown GZD-1/2 question 'odd'"):
        gzd12.question("odd")
    for q in gzd12.questions:
        if q.asked_after is not None:
            assert q.asked_after[1] in gzd12.question(q.asked_after[0]).answers


def test_module_level_names_are_the_dr5_tree():
    assert tree.QUESTIONS is tree.DR5.questions
    assert tree.gzd5_columns() == tree.DR5.columns()
    assert tree.TREES == {"gz_decals_volunteers_5": tree.DR5, "gz_decals_volunteers_1_and_2": tree.GZD_1_2}


def test_auto_posterior_columns_are_model_outputs_for_the_dr5_answers():
    columns = tree.auto_posterior_columns()
    assert len(columns) == 91
    n_answers = sum(len(q.answers) for q in tree.QUESTIONS)
    assert sum(c.endswith("_concentration") for c in columns) == n_answers == 34
    assert not any(c.endswith(("_total-votes", "_debiased")) for c in columns)
    assert "file_loc" in columns and "png_loc" not in columns
