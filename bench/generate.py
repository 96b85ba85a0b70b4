"""How fast does the mock survey generate? Renders K galaxies and reports images per second.

By default this runs the real pipeline (generate_mock_survey into a fresh temporary
folder: truths, votes, rendering on every core, PNG writing), which is what sizing
DEFAULT_MOCK_SIZE depends on. ``--render-only`` times render_galaxy alone in this process.

    python bench/generate.py [--k 200] [--workers N] [--seed 0] [--render-only]

Last line: ``images=K seconds=S img_s=R workers=W``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from galaxy_utils.mock import DEFAULT_MOCK_SIZE, generate_mock_survey  # noqa: E402
from galaxy_utils.mock.morphology import sample_truths  # noqa: E402
from galaxy_utils.mock.render import render_galaxy  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=200, help="galaxies to render")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--render-only", action="store_true", help="time render_galaxy in-process")
    args = parser.parse_args(argv)

    if args.render_only:
        truths = sample_truths(args.k, np.random.default_rng(args.seed))
        workers = 1
        start = time.perf_counter()
        for index, truth in enumerate(truths):
            render_galaxy(truth, index)
        seconds = time.perf_counter() - start
    else:
        workers = args.workers or os.cpu_count() or 1
        with tempfile.TemporaryDirectory(prefix="mock-bench-") as folder:
            start = time.perf_counter()
            generate_mock_survey(args.k, args.seed, Path(folder), workers=workers, progress=False)
            seconds = time.perf_counter() - start
    rate = args.k / seconds
    print(f"default_mock_size={DEFAULT_MOCK_SIZE} projected_default_seconds={DEFAULT_MOCK_SIZE / rate:.0f}")
    print(f"images={args.k} seconds={seconds:.2f} img_s={rate:.2f} workers={workers}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
