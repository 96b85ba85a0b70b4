"""Settings and the data a run needs: the named mock surveys, generated on demand."""

from __future__ import annotations

import pandas as pd
import pytest

from galaxy_utils import config, mock
from galaxy_utils.mock.survey import read_complete_marker


def test_settings_check_their_choices(monkeypatch):
    monkeypatch.delenv("GALAXY_CNN_DATA", raising=False)
    s = config.settings(profile="fast")
    assert (s.data, s.profile) == ("mock", "fast")
    assert s.runs_dir.parts[-2:] == ("runs", "mock-fast")
    assert config.settings("mock", "faithful").runs_dir.parts[-2:] == ("results", "mock-faithful")
    with pytest.raises(ValueError, match="data must be one of"):
        config.settings("sdss")
    with pytest.raises(ValueError, match="profile must be one of"):
        config.settings("mock", "quick")


def test_notebooks_default_to_the_laptop_profile_and_every_task_has_one(monkeypatch):
    from galaxy_utils.learn import profiles

    monkeypatch.delenv("GALAXY_CNN_PROFILE", raising=False)
    assert config.settings().profile == config.DEFAULT_PROFILE == "laptop"
    monkeypatch.setenv("GALAXY_CNN_PROFILE", "fast")
    assert config.settings().profile == "fast"
    for task in ("four-class", "three-class", profiles.VOTE_COUNTS):
        laptop, fast = profiles.profile(task, "laptop"), profiles.profile(task, "fast")
        # trained until validation levels off, on more of the survey than the fast profile
        assert laptop.early_stopping_patience and laptop.epochs > fast.epochs
        assert laptop.max_galaxies is None


def test_mock_survey_names_come_from_the_data_folder():
    assert config.mock_survey_name("data/mock-large/gz_decals_volunteers_5.csv") == "mock-large"
    assert config.mock_survey_name("data/mock") == "mock"
    assert config.mock_survey_name("data/gzd5/gz_decals_volunteers_5.csv") is None
    assert config.mock_survey_name("elsewhere/mock-large/gz_decals_volunteers_5.csv") is None


@pytest.fixture
def small_surveys(monkeypatch):
    """The named mock surveys, shrunk to a few galaxies."""
    monkeypatch.setitem(mock.MOCK_SURVEYS, "mock", 3)
    monkeypatch.setitem(mock.MOCK_SURVEYS, "mock-large", 5)


def test_ensure_mock_generates_once_and_links_a_smaller_surveys_images(small_surveys, tmp_path):
    small = config.ensure_mock("mock", root=tmp_path)
    assert read_complete_marker(small.parent) == (3, mock.DEFAULT_MOCK_SEED)
    large = config.ensure_mock("mock-large", root=tmp_path)
    assert len(pd.read_csv(large)) == 5
    first = sorted((small.parent / "images").rglob("*.png"))[0]
    twin = large.parent / first.relative_to(small.parent)
    assert twin.stat().st_ino == first.stat().st_ino  # linked, not drawn again
    before = {p: p.stat().st_mtime_ns for p in large.parent.rglob("*") if p.is_file()}
    assert config.ensure_run_data("data/mock-large/gz_decals_volunteers_5.csv", root=tmp_path) == large
    assert {p: p.stat().st_mtime_ns for p in large.parent.rglob("*") if p.is_file()} == before


def test_ensure_mock_regenerates_a_survey_of_another_size(small_surveys, tmp_path, monkeypatch):
    config.ensure_mock("mock", root=tmp_path)
    monkeypatch.setitem(mock.MOCK_SURVEYS, "mock", 4)
    catalogue = config.ensure_mock("mock", root=tmp_path)
    assert len(pd.read_csv(catalogue)) == 4
    assert read_complete_marker(catalogue.parent) == (4, mock.DEFAULT_MOCK_SEED)


def test_a_figure_draws_only_the_mock_galaxies_it_shows(small_surveys, tmp_path):
    from galaxy_utils.mock.survey import CATALOGUE_MARKER

    catalogue = config.ensure_run_data("data/mock-large/gz_decals_volunteers_5.csv", root=tmp_path, images=False)
    folder = catalogue.parent
    assert read_complete_marker(folder, CATALOGUE_MARKER) == (5, mock.DEFAULT_MOCK_SEED)
    assert read_complete_marker(folder) is None and not list(folder.rglob("*.png"))
    locations = pd.read_csv(catalogue)["png_loc"]
    wanted = [folder / "images" / locations[1], folder / "images" / locations[3], tmp_path / "elsewhere.png"]
    assert config.ensure_mock_images(wanted, root=tmp_path) == 2
    assert sorted(folder.rglob("*.png")) == sorted(wanted[:2])
    assert config.ensure_mock_images(wanted, root=tmp_path) == 0  # already drawn
    # the same bytes as the whole survey's images, which keeps them
    drawn = {p: p.read_bytes() for p in wanted[:2]}
    config.ensure_mock("mock-large", root=tmp_path)
    assert len(list(folder.rglob("*.png"))) == 5
    twin = tmp_path / "whole"
    mock.generate_mock_survey(5, mock.DEFAULT_MOCK_SEED, twin, workers=1, progress=False)
    for path, content in drawn.items():
        assert (twin / path.relative_to(folder)).read_bytes() == content == path.read_bytes()


def test_rendering_only_refuses_other_surveys_and_renders_nothing(small_surveys, tmp_path):
    """galaxy-utils figures without --render-surveys: a survey not on disk raises, nothing is written."""
    with config.rendering_only("mock"):
        config.ensure_mock("mock", root=tmp_path)  # the one allowed
        with pytest.raises(config.SurveyNotRendered, match="data/mock-large") as caught:
            config.ensure_run_data("data/mock-large/gz_decals_volunteers_5.csv", root=tmp_path, images=False)
        assert caught.value.name == "mock-large"
        with pytest.raises(config.SurveyNotRendered, match="data/mock-xl"):
            config.ensure_mock_images([tmp_path / "data" / "mock-xl" / "images" / "J000" / "x.png"], root=tmp_path)
        with pytest.raises(config.SurveyNotRendered):
            config.ensure_mock("mock-large", root=tmp_path)
    assert not (tmp_path / "data" / "mock-large").exists() and not (tmp_path / "data" / "mock-xl").exists()
    # outside the block (and for a survey already on disk) it renders as before
    catalogue = config.ensure_run_data("data/mock-large/gz_decals_volunteers_5.csv", root=tmp_path, images=False)
    with config.rendering_only("mock"):
        assert config.ensure_run_data("data/mock-large/gz_decals_volunteers_5.csv", root=tmp_path,
                                      images=False) == catalogue


def test_images_of_a_finished_survey_are_not_decoded_again(small_surveys, tmp_path, monkeypatch):
    catalogue = config.ensure_mock("mock", root=tmp_path)
    wanted = [catalogue.parent / "images" / loc for loc in pd.read_csv(catalogue)["png_loc"]]
    checked = []
    monkeypatch.setattr(config, "is_valid_image", lambda path: checked.append(path) or True)
    assert config.ensure_mock_images(wanted, root=tmp_path) == 0
    assert checked == []  # its marker says every image is there


def test_unknown_surveys_and_missing_catalogues_are_named(tmp_path):
    with pytest.raises(ValueError, match="no mock survey called 'mock-huge'"):
        config.ensure_mock("mock-huge", root=tmp_path)
    with pytest.raises(FileNotFoundError, match="data/gzd5/gz_decals_volunteers_5.csv"):
        config.ensure_run_data("data/gzd5/gz_decals_volunteers_5.csv", root=tmp_path)
    with pytest.raises(FileNotFoundError, match="galaxy-utils download"):
        config.ensure_data(config.Settings("real", "fast", 0, tmp_path))
