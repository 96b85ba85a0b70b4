"""The mock GZD-5 survey: format, determinism, resuming, the tree's vote pattern, realism."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from galaxy_utils.data import tree
from galaxy_utils.mock import DEFAULT_MOCK_SEED, DEFAULT_MOCK_SIZE, generate_mock_survey, realism
from galaxy_utils.mock.morphology import (
    MORPHOLOGIES,
    at_redshift,
    distance_modulus,
    iau_name,
    kpc_per_arcsec,
    redshift_for_distance_modulus,
    sample_truths,
    truth_table,
)
from galaxy_utils.mock.render import IMAGE_SIZE, render_galaxy, visibility
from galaxy_utils.mock.survey import (
    CATALOGUE_NAME,
    COMPLETE_MARKER,
    TRUTH_NAME,
    complete_marker_text,
    is_valid_image,
    read_complete_marker,
)
from galaxy_utils.mock.volunteers import answer_probabilities, volunteer_catalogue

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "decals_examples"
IAUNAME = re.compile(r"^J\d{6}\.\d{2}[+-]\d{6}\.\d$")
N_SMALL = 14


@pytest.fixture(scope="module")
def survey(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mock") / "survey"
    generate_mock_survey(N_SMALL, 11, out, workers=1, progress=False)
    return out


@pytest.fixture(scope="module")
def catalogue(survey) -> pd.DataFrame:
    return pd.read_csv(survey / CATALOGUE_NAME)


@pytest.fixture(scope="module")
def large_catalogue() -> tuple[pd.DataFrame, list]:
    """Votes (no images) for enough galaxies to see distributions."""
    truths = sample_truths(1200, np.random.default_rng(5))
    return volunteer_catalogue(truths, np.random.default_rng(6)), truths


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_defaults_are_sane():
    assert 500 <= DEFAULT_MOCK_SIZE <= 10_000
    assert isinstance(DEFAULT_MOCK_SEED, int)


def test_same_seed_gives_identical_files_whatever_the_worker_count(survey, tmp_path):
    again = tmp_path / "again"
    generate_mock_survey(N_SMALL, 11, again, workers=2, progress=False)
    first, second = _files(survey), _files(again)
    assert len(first) == N_SMALL + 3  # images, catalogue, truth, the .complete marker
    assert first.keys() == second.keys()
    assert all(first[name] == second[name] for name in first)


def test_a_different_seed_gives_a_different_survey(survey, tmp_path):
    other = tmp_path / "other"
    generate_mock_survey(3, 12, other, workers=1, progress=False)
    assert (other / CATALOGUE_NAME).read_bytes() != (survey / CATALOGUE_NAME).read_bytes()


def test_header_is_exactly_the_gzd5_header(survey):
    header = (survey / CATALOGUE_NAME).read_text().splitlines()[0]
    assert header.split(",") == tree.gzd5_columns()
    assert len(tree.gzd5_columns()) == 127


def test_fractions_are_counts_over_totals_and_nan_where_nobody_answered(catalogue):
    for q in tree.QUESTIONS:
        total = catalogue[q.total_column]
        counts = catalogue[q.count_columns]
        assert (counts.sum(axis=1) == total).all(), q.name
        answered = total > 0
        for answer in q.answers:
            count = catalogue[tree.count_column(q.name, answer)]
            fraction = catalogue[tree.fraction_column(q.name, answer)]
            debiased = catalogue[tree.debiased_column(q.name, answer)]
            np.testing.assert_allclose(fraction[answered], (count / total)[answered], atol=1e-9)
            assert fraction[~answered].isna().all() and debiased[~answered].isna().all()
            assert fraction[answered].notna().all() and debiased[answered].notna().all()
            assert (count[~answered] == 0).all()
        if answered.any():
            debiased_sum = catalogue.loc[answered, q.debiased_columns].sum(axis=1)
            np.testing.assert_allclose(debiased_sum, 1.0, atol=1e-6)


def test_every_question_follows_the_tree(catalogue, large_catalogue):
    for table in (catalogue, large_catalogue[0]):
        first = table[tree.CLASSIFICATIONS_COLUMN]
        for q in tree.QUESTIONS:
            total = table[q.total_column]
            if q.asked_after is None:
                assert (total == first).all(), q.name
            else:
                parent_votes = table[tree.count_column(*q.asked_after)]
                assert (total <= parent_votes).all(), q.name
                assert (total == parent_votes).all(), q.name  # every volunteer answers


def test_vote_totals_cluster_near_5_and_near_40(large_catalogue):
    totals = large_catalogue[0][tree.CLASSIFICATIONS_COLUMN]
    low = totals.between(2, 9).mean()
    high = totals.between(28, 60).mean()
    assert low + high == pytest.approx(1.0)
    assert 0.55 < low < 0.75 and 0.25 < high < 0.45
    assert totals[totals <= 9].median() == 5
    assert 36 <= totals[totals >= 28].median() <= 44


def test_metadata_columns(large_catalogue):
    table, truths = large_catalogue
    groups = table["upload_group"].value_counts(normalize=True)
    assert set(groups.index) == {"active_baseline", "pre_active", "active_priority"}
    assert groups["active_baseline"] > groups["pre_active"] > groups["active_priority"]
    assert (table["active_learning_on"] == (table["upload_group"] != "pre_active")).all()
    assert (table["petro_th90"] > table["petro_th50"]).all()
    assert table["redshift"].between(0.0, 0.16).all()
    assert table["wrong_size_warning"].dtype == bool
    assert table["wrong_size_warning"].mean() < 0.05
    np.testing.assert_allclose(table["ra"], [t.ra for t in truths])


def test_iaunames_follow_the_real_format_and_match_positions(catalogue):
    assert catalogue["iauname"].map(lambda name: bool(IAUNAME.match(name))).all()
    assert catalogue["iauname"].is_unique
    for name, ra, dec in catalogue[["iauname", "ra", "dec"]].itertuples(index=False):
        assert iau_name(ra, dec) == name


def test_iau_name_truncates_like_the_catalogue():
    ra = (8 * 3600 + 14 * 60 + 12.47) * 15 / 3600
    dec = 22 + 8 / 60 + 53.04 / 3600
    assert iau_name(ra, dec) == "J081412.47+220853.0"
    assert iau_name(0.001, -0.5) == "J000000.24-003000.0"


def test_png_loc_layout_and_images_on_disk(survey, catalogue):
    expected = catalogue["iauname"].map(lambda name: f"dr5/{name[:4]}/{name}.png")
    assert (catalogue["png_loc"] == expected).all()
    for loc in catalogue["png_loc"]:
        path = survey / "images" / loc
        assert is_valid_image(path)
        with Image.open(path) as image:
            assert image.size == (IMAGE_SIZE, IMAGE_SIZE) and image.mode == "RGB"


def test_truth_table_lines_up_with_the_catalogue(survey, catalogue):
    truth = pd.read_csv(survey / TRUTH_NAME)
    assert truth.columns[0] == "iauname"
    assert list(truth["iauname"]) == list(catalogue["iauname"])
    assert set(truth["morphology"]) <= set(MORPHOLOGIES)


def test_resume_rewrites_only_missing_or_broken_images(tmp_path):
    out = tmp_path / "resume"
    first = generate_mock_survey(6, 4, out, workers=1, progress=False)
    assert (first.images_written, first.images_kept) == (6, 0)
    before = _files(out)
    images = sorted(first.images.rglob("*.png"))
    deleted, corrupted = images[0], images[1]
    deleted.unlink()
    corrupted.write_bytes(corrupted.read_bytes()[:500])
    untouched = {p: p.stat().st_mtime_ns for p in images[2:]}

    second = generate_mock_survey(6, 4, out, workers=1, progress=False)
    assert (second.images_written, second.images_kept) == (2, 4)
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in untouched.items())
    assert _files(out) == before
    assert not list(out.rglob("*.partial"))


def test_render_is_deterministic_and_image_shaped():
    truth = sample_truths(1, np.random.default_rng(2))[0]
    image = render_galaxy(truth, 99)
    assert image.shape == (IMAGE_SIZE, IMAGE_SIZE, 3) and image.dtype == np.uint8
    assert np.array_equal(image, render_galaxy(truth, 99))
    assert not np.array_equal(image, render_galaxy(truth, 100))


def test_every_kind_of_galaxy_renders_even_in_a_wrongly_sized_cutout():
    truths = sample_truths(600, np.random.default_rng(13))
    for morphology in MORPHOLOGIES:
        truth = next(t for t in truths if t.morphology == morphology)
        for size_factor in (1.0, 0.15):
            zoomed = dataclasses.replace(truth, catalogue_size_factor=size_factor)
            assert render_galaxy(zoomed, 3).shape == (IMAGE_SIZE, IMAGE_SIZE, 3)


def test_sample_proportions_look_like_gzd5():
    truths = sample_truths(2000, np.random.default_rng(8))
    shares = truth_table(truths)["morphology"].value_counts(normalize=True)
    assert shares.index[0] in ("spiral", "elliptical") and shares.index[1] in ("spiral", "elliptical")
    assert 0.06 < shares["edge-on"] < 0.14
    assert 0.01 < shares["artifact"] < 0.04
    assert 0.04 < shares["irregular"] + shares["merger"] < 0.12
    assert [t.iauname for t in truths[:50]] == [t.iauname for t in sample_truths(50, np.random.default_rng(8))]


def test_cosmology_is_flat_lambda_cdm_h70_om03():
    # Wright (2006)'s calculator for H0 = 70, Omega_m = 0.3, flat, at z = 0.1: luminosity
    # distance 460.0 Mpc (distance modulus 38.31), 1.844 kpc per arcsec.
    assert distance_modulus(0.1) == pytest.approx(38.314, abs=0.002)
    assert kpc_per_arcsec(0.1) == pytest.approx(1.844, abs=0.002)
    for z in (0.012, 0.05, 0.149):
        assert redshift_for_distance_modulus(distance_modulus(z)) == pytest.approx(z, rel=1e-4)


def test_visibility_falls_with_distance_and_noise():
    spiral = next(t for t in sample_truths(200, np.random.default_rng(3)) if t.morphology == "spiral")
    assert 0.0 <= visibility(spiral) <= 1.0
    assert visibility(at_redshift(spiral, 0.3)) < visibility(at_redshift(spiral, 0.02))
    noisy = dataclasses.replace(spiral, noise_factor=spiral.noise_factor * 3)
    assert visibility(noisy) < visibility(spiral)


def test_volunteers_confuse_more_as_visibility_drops():
    truths = sample_truths(400, np.random.default_rng(4))
    spiral = next(t for t in truths if t.morphology == "spiral" and t.arm_strength > 0.6)
    clear, faint = answer_probabilities(spiral, 1.0), answer_probabilities(spiral, 0.1)
    assert faint["smooth-or-featured"][0] > clear["smooth-or-featured"][0]  # looks smooth
    assert faint["spiral-arm-count"][-1] > clear["spiral-arm-count"][-1]  # cant-tell
    assert faint["has-spiral-arms"][0] < clear["has-spiral-arms"][0]
    barred = next(t for t in truths if t.bar == "strong")
    assert answer_probabilities(barred, 0.1)["bar"][2] > answer_probabilities(barred, 1.0)["bar"][2]
    elliptical = next(t for t in truths if t.morphology == "elliptical")
    assert answer_probabilities(elliptical, 1.0)["smooth-or-featured"][0] > 0.8


def test_votes_mostly_agree_with_the_truth(large_catalogue):
    table, truths = large_catalogue
    morphology = pd.Series([t.morphology for t in truths])
    smooth = table["smooth-or-featured_smooth_fraction"]
    assert smooth[morphology == "elliptical"].mean() > 0.8
    assert smooth[morphology == "spiral"].mean() < smooth[morphology == "elliptical"].mean() - 0.3
    edge_on = table["disk-edge-on_yes_fraction"]
    assert edge_on[morphology == "edge-on"].mean() > 0.7
    artifact = table["smooth-or-featured_artifact_fraction"]
    assert artifact[morphology == "artifact"].mean() > 0.5


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="real reference cutouts (../shared) not available")
def test_mock_sky_resembles_real_decals_cutouts():
    real = [realism.load_rgb(p) for p in realism.image_paths(REFERENCE)[:40]]
    truths = sample_truths(10, np.random.default_rng(21))
    mock = [render_galaxy(t, k) for k, t in enumerate(truths)]
    real_stats = realism.measure_images(real).median()
    mock_stats = realism.measure_images(mock).median()
    assert abs(mock_stats["sky_level"] - real_stats["sky_level"]) < 4
    assert 0.6 < mock_stats["sky_noise"] / real_stats["sky_noise"] < 1.6
    assert 0.6 < mock_stats["half_flux_radius_px"] / real_stats["half_flux_radius_px"] < 1.6
    histogram_distance = np.abs(realism.mean_histogram(mock) - realism.mean_histogram(real)).sum()
    assert histogram_distance < 0.35


def test_a_survey_is_the_prefix_of_a_larger_one_of_the_same_seed(survey, tmp_path):
    larger = tmp_path / "larger"
    paths = generate_mock_survey(N_SMALL + 4, 11, larger, workers=1, progress=False, reuse_from=[survey])
    assert paths.images_linked == N_SMALL and paths.images_written == 4
    for name in (CATALOGUE_NAME, TRUTH_NAME):  # header and the first rows, byte for byte
        small = (survey / name).read_text().splitlines()
        assert (larger / name).read_text().splitlines()[: N_SMALL + 1] == small
    # The linked images are the ones the larger survey would have drawn itself.
    drawn = tmp_path / "drawn"
    generate_mock_survey(N_SMALL + 4, 11, drawn, workers=1, progress=False)
    assert _files(drawn) == _files(larger)
    assert read_complete_marker(larger) == (N_SMALL + 4, 11)


def test_images_are_not_borrowed_from_a_survey_of_another_seed_or_an_unfinished_one(survey, tmp_path):
    other = tmp_path / "other-seed"
    generate_mock_survey(3, 12, other, workers=1, progress=False)
    unfinished = tmp_path / "unfinished"
    generate_mock_survey(3, 11, unfinished, workers=1, progress=False)
    (unfinished / COMPLETE_MARKER).unlink()
    out = tmp_path / "out"
    sources = [other, unfinished, tmp_path / "none"]
    paths = generate_mock_survey(3, 11, out, workers=1, progress=False, reuse_from=sources)
    assert (paths.images_linked, paths.images_written) == (0, 3)
    assert _files(out) == _files(unfinished) | {COMPLETE_MARKER: complete_marker_text(3, 11).encode()}


def test_an_interrupted_survey_has_no_complete_marker(tmp_path, monkeypatch):
    import galaxy_utils.mock.survey as survey_module

    def fail(*args):
        raise RuntimeError("interrupted")

    monkeypatch.setattr(survey_module, "render_galaxy", fail)
    with pytest.raises(RuntimeError, match="interrupted"):
        generate_mock_survey(2, 3, tmp_path / "cut", workers=1, progress=False)
    assert read_complete_marker(tmp_path / "cut") is None
