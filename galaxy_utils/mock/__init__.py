"""A deterministic mock Galaxy Zoo DECaLS DR5 survey, in exactly the real format.

The real catalogue and images cannot be downloaded everywhere the course runs, so the
project can generate a stand-in: galaxies with known true morphology
(:mod:`.morphology`), DECaLS-like 424x424 cutouts of them (:mod:`.render`), simulated
volunteers who walk the GZD-5 decision tree (:mod:`.volunteers`), and the survey writer
that ties them together (:mod:`.survey`). :mod:`.realism` measures how close the images
come to real ones.

    from galaxy_utils.mock import generate_mock_survey, DEFAULT_MOCK_SIZE, DEFAULT_MOCK_SEED
    paths = generate_mock_survey(DEFAULT_MOCK_SIZE, DEFAULT_MOCK_SEED, Path("data/mock"))
"""

from .survey import MockSurveyPaths, generate_mock_survey

# Galaxies in the default mock survey: 180 s to generate with both cores of a busy 2-core
# machine (14 images/s; bench/generate.py), leaving headroom under a 5-minute budget.
# About 850 MB of PNGs: sky noise does not compress.
DEFAULT_MOCK_SIZE = 2500
DEFAULT_MOCK_SEED = 20220101

__all__ = ["DEFAULT_MOCK_SEED", "DEFAULT_MOCK_SIZE", "MockSurveyPaths", "generate_mock_survey"]
