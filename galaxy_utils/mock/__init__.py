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

from galaxy_utils.mock.survey import MockSurveyPaths, generate_mock_survey

# Galaxies in the default mock survey: 295 s of CPU time to generate (0.06 s an image,
# measured under load), so about 2.5 minutes on two quiet cores. Enough for every task of
# the laptop profile: 355 galaxies reach the 3-class project's 90% agreement (7%: with
# about 5 volunteers a galaxy needs all of them to agree), 2,784 a four-class label.
# About 1.7 GB of PNGs: sky noise does not compress.
DEFAULT_MOCK_SIZE = 5000
DEFAULT_MOCK_SEED = 20220101

MOCK_SURVEYS = {"mock": DEFAULT_MOCK_SIZE, "mock-large": 10_000, "mock-xl": 20_000}
"""The mock surveys, by folder under ``data/``, and their galaxies; all drawn from
``DEFAULT_MOCK_SEED``. ``mock`` is the embedded default. The faithful runs in ``results/``
need more galaxies (the 3-class project's 90% agreement is rare; the course project wants
750 test galaxies of each class) and name the survey they used in their ``run.json``
(:func:`galaxy_utils.config.ensure_run_data` regenerates it). Each is a prefix of the
next, so a larger one links the images a smaller one already drew."""

__all__ = ["DEFAULT_MOCK_SEED", "DEFAULT_MOCK_SIZE", "MOCK_SURVEYS", "MockSurveyPaths", "generate_mock_survey"]
