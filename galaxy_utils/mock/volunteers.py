"""Simulated Galaxy Zoo volunteers: vote counts, fractions and metadata in the GZD-5 layout.

Each galaxy is classified by a few volunteers (most galaxies about 5, a promoted third
about 40). A volunteer walks the decision tree (``tree.QUESTIONS`` and their
``asked_after``), answering each question from the galaxy's truth, with confusions that
grow as the galaxy gets harder to see (``render.visibility``): a faint spiral looks
smooth, a small disk's arms cannot be counted, weak bars are missed. Every galaxy's
answer probabilities also get a little random noise, so no two galaxies of the same kind
vote identically.

Because a volunteer's answers at different questions are independent given the path, the
walk of n volunteers is exactly a cascade of multinomial draws: the root questions get n
votes, and each other question gets as many votes as its parent answer received.

``*_debiased`` columns: the fractions this model predicts, without sampling noise, for
the same galaxy moved to redshift 0.02 (brighter and larger, so more visible); galaxies
already nearer keep their own visibility. This stands in for GZD-5's statistical
redshift debiasing: what volunteers would have said had they seen the galaxy up close.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from galaxy_utils.data import tree
from galaxy_utils.data.catalogue import png_loc_for
from galaxy_utils.mock.morphology import (
    BULGE_SIZES,
    DISTURBANCES,
    EDGE_ON_BULGES,
    ROUNDNESS,
    WINDINGS,
    GalaxyTruth,
    at_redshift,
)
from galaxy_utils.mock.render import visibility

UPLOAD_GROUPS = ("active_baseline", "pre_active", "active_priority")
# Rows per group in the published table: 192,557 / 51,994 / 6,939.
UPLOAD_GROUP_PROBABILITIES = (0.7657, 0.2067, 0.0276)
# Baseline galaxies re-queued for the full ~40 votes, so that about a third of all
# galaxies sit in the high cluster (as across the GZ DECaLS campaigns).
BASELINE_PROMOTION_PROBABILITY = 0.13
DEBIAS_REDSHIFT = 0.02
# Dirichlet concentration of the per-galaxy noise on answer probabilities.
GALAXY_NOISE_CONCENTRATION = 60.0
# Flag images whose galaxy's 90%-light radius reaches this share of the half-frame.
WRONG_SIZE_THRESHOLD = 0.7

ARM_COUNTS = ("1", "2", "3", "4", "more-than-4")


def _ordinal(centre: float, width: float, n: int) -> np.ndarray:
    """A discretized Gaussian over ``n`` ordered answers: confusion with neighbours."""
    k = np.arange(n)
    weights = np.exp(-0.5 * ((k - centre) / width) ** 2)
    return weights / weights.sum()


def _decisive(seen: float, midpoint: float) -> float:
    """Share of volunteers who notice a feature: few below ``midpoint``, most above.

    People either see a disk or arms or they do not, so agreement switches over a
    narrow range of how visible the feature is, rather than growing linearly.
    """
    return float(1.0 / (1.0 + math.exp(-(seen - midpoint) / 0.1)))


def _normalised(p) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, None)
    return p / p.sum()


def _bulge_index(truth: GalaxyTruth) -> float:
    if truth.bulge_size is not None:
        return float(BULGE_SIZES.index(truth.bulge_size))
    # Galaxies that reach bulge-size by a volunteer's mistake: judge from the light.
    b = truth.bulge_fraction
    return 0.0 if b > 0.65 else 1.0 if b > 0.45 else 2.0 if b > 0.25 else 3.0 if b > 0.06 else 4.0


def answer_probabilities(truth: GalaxyTruth, vis: float) -> dict[str, np.ndarray]:
    """Probability of each answer of each question, for a volunteer who reaches it.

    ``vis`` is the galaxy's visibility (0..1); lower visibility pulls answers from the
    truth toward what a blurry, noisy smudge looks like.
    """
    blur = 1.0 - vis
    morphology = truth.morphology
    p: dict[str, np.ndarray] = {}

    # smooth-or-featured: features are seen in proportion to their contrast and visibility.
    if morphology == "artifact":
        obviousness = {"bright-star": 0.9, "satellite-trail": 0.55, "bad-pixels": 0.8}[truth.artifact_kind]
        p_artifact = 0.45 + 0.45 * obviousness
        p["smooth-or-featured"] = [0.7 * (1 - p_artifact), 0.3 * (1 - p_artifact), p_artifact]
    else:
        seen = truth.feature_contrast * vis**0.6
        p_featured = 0.04 + 0.06 * blur + 0.88 * _decisive(seen, 0.45)
        p_artifact = 0.01 + 0.04 * blur**2
        p["smooth-or-featured"] = [1 - p_featured - p_artifact, p_featured, p_artifact]

    # disk-edge-on: edge-ons are recognised unless tiny; thin-looking disks get some "yes".
    if morphology == "edge-on":
        p_yes = 0.6 + 0.37 * vis
    else:
        p_yes = 0.02 + 0.45 * float(np.clip((0.45 - truth.axis_ratio) / 0.3, 0.0, 1.0))
    p["disk-edge-on"] = [p_yes, 1 - p_yes]

    # has-spiral-arms: arms fade into a smooth disk as visibility drops.
    if truth.n_arms:
        arm_seen = truth.arm_strength * vis**0.6
        p_arms = 0.1 + 0.87 * _decisive(arm_seen, 0.4)
    else:
        p_arms = {"lenticular": 0.1, "irregular": 0.2, "edge-on": 0.3, "merger": 0.2}.get(morphology, 0.1)
    p["has-spiral-arms"] = [p_arms, 1 - p_arms]

    # bar: bars are missed (weak ones first) when the galaxy is small or faint.
    bar = truth.bar or "no"
    if bar == "strong":
        p["bar"] = [0.15 + 0.6 * vis, 0.15 + 0.1 * blur, 0.0]
    elif bar == "weak":
        p["bar"] = [0.04, 0.12 + 0.45 * vis, 0.0]
    else:
        p["bar"] = [0.02, 0.07 + 0.05 * blur, 0.0]
    p["bar"][2] = 1 - p["bar"][0] - p["bar"][1]

    # bulge-size: ordered answers; faint galaxies drift toward "moderate".
    centre = _bulge_index(truth)
    spread = _ordinal(centre, 0.55 + 0.9 * blur, len(BULGE_SIZES))
    p["bulge-size"] = (1 - 0.3 * blur) * spread + 0.3 * blur * _ordinal(2.0, 1.0, len(BULGE_SIZES))

    # how-rounded: from the outline, for any galaxy that volunteers called smooth.
    p["how-rounded"] = _ordinal(ROUNDNESS.index(truth.apparent_roundness), 0.35 + 0.5 * blur, 3)

    # edge-on-bulge: boxy bulges mostly read as rounded; faint bulges as none.
    if truth.edge_on_bulge is not None:
        true_index = EDGE_ON_BULGES.index(truth.edge_on_bulge)
    else:
        true_index = 2 if truth.bulge_fraction > 0.25 else 1
    confusion = {0: [0.0, 0.35, 0.65], 1: [0.1, 0.0, 0.9], 2: [0.1, 0.9, 0.0]}[true_index]
    p_right = 0.5 + 0.4 * vis
    p["edge-on-bulge"] = [(p_right if k == true_index else (1 - p_right) * confusion[k]) for k in range(3)]

    # spiral-winding: ordered, broad when arms are hard to trace.
    winding_index = WINDINGS.index(truth.winding) if truth.winding else 1.0
    p["spiral-winding"] = _ordinal(winding_index, 0.45 + 0.8 * blur, 3)

    # spiral-arm-count: "cant-tell" grows fast as arms blur; else near the true count.
    if truth.n_arms:
        arm_visibility = vis * (0.4 + 0.6 * truth.arm_strength)
        count_index = ARM_COUNTS.index(truth.arm_count_answer)
        p_cant = 0.05 + 0.75 * (1 - arm_visibility) ** 2
        counts = 0.8 * _ordinal(count_index, 0.45 + 0.9 * (1 - arm_visibility), 5) + 0.2 * _ordinal(1, 0.5, 5)
    else:
        p_cant = 0.5
        counts = _ordinal(1, 0.8, 5)
    p["spiral-arm-count"] = [*((1 - p_cant) * counts), p_cant]

    # merging: ordered from none to merger; a little "minor" for everything.
    disturbance_index = DISTURBANCES.index(truth.disturbance)
    ordinal = _ordinal(disturbance_index, 0.3 + 0.4 * blur, 4)
    p["merging"] = 0.9 * ordinal + 0.1 * np.array([0.8, 0.15, 0.04, 0.01])

    return {name: _normalised(values) for name, values in p.items()}


def _question_order() -> list[tree.Question]:
    """Questions with every parent before its children (the order volunteers meet them)."""
    ordered: list[tree.Question] = []
    remaining = list(tree.QUESTIONS)
    while remaining:
        placed = {q.name for q in ordered}
        ready = [q for q in remaining if q.asked_after is None or q.asked_after[0] in placed]
        ordered += ready
        remaining = [q for q in remaining if q not in ready]
    return ordered


def vote_counts(
    probabilities: dict[str, np.ndarray], n_volunteers: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Votes per answer when ``n_volunteers`` walk the tree with these probabilities."""
    counts: dict[str, np.ndarray] = {}
    for q in _question_order():
        if q.asked_after is None:
            reached = n_volunteers
        else:
            parent, answer = q.asked_after
            reached = int(counts[parent][tree.question(parent).answers.index(answer)])
        counts[q.name] = rng.multinomial(reached, probabilities[q.name])
    return counts


def _noisy(probabilities: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per-galaxy jitter: this galaxy's quirks that the truth does not capture."""
    return {
        name: _normalised(rng.dirichlet(GALAXY_NOISE_CONCENTRATION * p + 0.05)) for name, p in probabilities.items()
    }


def sample_upload_group(rng: np.random.Generator) -> str:
    return UPLOAD_GROUPS[int(rng.choice(len(UPLOAD_GROUPS), p=UPLOAD_GROUP_PROBABILITIES))]


def sample_volunteer_count(upload_group: str, rng: np.random.Generator) -> int:
    """Classifications of one galaxy: near 5 for most, near 40 for promoted galaxies."""
    promoted = upload_group != "active_baseline" or rng.uniform() < BASELINE_PROMOTION_PROBABILITY
    if promoted:
        return int(np.clip(np.round(rng.normal(40.0, 4.5)), 28, 60))
    return int(np.clip(np.round(rng.normal(5.0, 1.0)), 2, 9))


def wrong_size_statistic(truth: GalaxyTruth) -> float:
    """The galaxy's true 90%-light radius as a share of the cutout's half-width.

    Near 0.25 for a correctly sized cutout; above ``WRONG_SIZE_THRESHOLD`` when the NSA
    size was badly underestimated and the cutout zooms into the galaxy.
    """
    true_r90 = truth.r_half_arcsec * truth.concentration
    return float(true_r90 / truth.pixscale / (0.5 * 424))


def galaxy_row(truth: GalaxyTruth, rng: np.random.Generator) -> dict:
    """One catalogue row (metadata, votes, fractions, debiased, size warning)."""
    upload_group = sample_upload_group(rng)
    n_volunteers = sample_volunteer_count(upload_group, rng)
    vis = visibility(truth)
    counts = vote_counts(_noisy(answer_probabilities(truth, vis), rng), n_volunteers, rng)
    nearby = at_redshift(truth, DEBIAS_REDSHIFT) if truth.redshift > DEBIAS_REDSHIFT else truth
    debiased = answer_probabilities(nearby, max(visibility(nearby), vis))

    iauname = truth.iauname
    row: dict = {
        "iauname": iauname,
        "ra": truth.ra,
        "dec": truth.dec,
        "redshift": truth.redshift,
        # NSA absolute magnitudes are quoted for h = 1 (M - 5 log10 h).
        "elpetro_absmag_r": truth.abs_mag_r - 5 * math.log10(0.7) + rng.normal(0, 0.03),
        "sersic_nmgy_r": truth.flux_nmgy * math.exp(rng.normal(0, 0.04)),
        "petro_th50": truth.petro_th50,
        "petro_th90": truth.petro_th90,
        "petro_theta": truth.petro_theta,
        "upload_group": upload_group,
        "active_learning_on": upload_group != "pre_active",
        "in_gzd_ab": bool(rng.uniform() < 0.12),
        "png_loc": png_loc_for(iauname),
    }
    for q in tree.QUESTIONS:
        total = int(counts[q.name].sum())
        row[q.total_column] = total
        for k, answer in enumerate(q.answers):
            count = int(counts[q.name][k])
            row[tree.count_column(q.name, answer)] = count
            row[tree.fraction_column(q.name, answer)] = count / total if total else math.nan
            row[tree.debiased_column(q.name, answer)] = float(debiased[q.name][k]) if total else math.nan
    statistic = wrong_size_statistic(truth)
    row["wrong_size_statistic"] = statistic
    row["wrong_size_warning"] = statistic > WRONG_SIZE_THRESHOLD
    return row


def volunteer_catalogue(truths: list[GalaxyTruth], rng: np.random.Generator) -> pd.DataFrame:
    """The GZD-5 volunteer table for ``truths``: columns exactly ``tree.gzd5_columns()``."""
    table = pd.DataFrame([galaxy_row(truth, rng) for truth in truths], columns=tree.gzd5_columns())
    integer_columns = [q.total_column for q in tree.QUESTIONS] + [c for q in tree.QUESTIONS for c in q.count_columns]
    table[integer_columns] = table[integer_columns].astype("int64")
    for column in ("active_learning_on", "in_gzd_ab", "wrong_size_warning"):
        table[column] = table[column].astype(bool)
    return table
