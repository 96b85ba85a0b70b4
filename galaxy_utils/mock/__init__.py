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

# Galaxies in the default mock survey: measured to generate in under 5 minutes on a
# 2-core laptop-class machine (see bench/generate.py), enough to train a small CNN.
DEFAULT_MOCK_SIZE = 2500
DEFAULT_MOCK_SEED = 20220101

__all__ = ["DEFAULT_MOCK_SEED", "DEFAULT_MOCK_SIZE", "MockSurveyPaths", "generate_mock_survey"]
