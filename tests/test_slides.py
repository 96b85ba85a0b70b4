"""Slides: built from a tiny figure manifest, self-contained, and rendered by headless Chromium.

The render tests skip, saying why, when no Chromium is installed (``.ci/run`` installs
Debian's ``chromium`` when apt is available).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from galaxy_utils.report.slides import ChromiumNotFoundError, build_slides, find_chromium, render_slides_png

FIGURES = [
    ("vote-totals", "Votes per galaxy", "The survey"),
    ("decision-tree", "The decision tree", "The survey"),
    ("confusion", "Confusion matrix", "Results"),
]
N_SECTIONS = 2
N_SLIDES = 1 + N_SECTIONS + len(FIGURES)  # title, section titles, figures


@pytest.fixture
def figures_dir(tmp_path: Path) -> Path:
    """Three small matplotlib PNGs in two sections, with their index.json."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = tmp_path / "figures"
    folder.mkdir()
    rng = np.random.default_rng(0)
    manifest = []
    for i, (name, title, section) in enumerate(FIGURES):
        fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=50)
        if name == "confusion":
            ax.imshow(rng.random((4, 4)), cmap="viridis")
        else:
            ax.hist(rng.normal(size=300), bins=20, color=f"C{i}")
        ax.set_title(title)
        fig.savefig(folder / f"{name}.png")
        plt.close(fig)
        manifest.append(
            {"name": name, "file": f"{name}.png", "title": title, "section": section,
             "caption": f"{title} & more <on> the mock survey (fast profile)."}
        )
    (folder / "index.json").write_text(json.dumps(manifest, indent=2))
    return folder


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sections: list[list[str]] = []
        self.resources: list[str] = []
        self.headings: list[str] = []
        self._in_heading = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "section":
            self.sections.append((values.get("class") or "").split())
        for key in ("src", "href", "srcset", "poster", "data"):
            if values.get(key):
                self.resources.append(values[key])
        self._in_heading = tag in ("h1", "h2")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h1", "h2"):
            self._in_heading = False

    def handle_data(self, data: str) -> None:
        if self._in_heading:
            self.headings.append(data)


def test_deck_has_title_section_and_figure_slides(figures_dir: Path, tmp_path: Path) -> None:
    paths = build_slides(figures_dir, tmp_path / "slides", pdf=False)
    assert paths.html == tmp_path / "slides" / "galaxy-cnn.html"
    assert paths.pdf is None
    assert paths.n_slides == N_SLIDES
    text = paths.html.read_text(encoding="utf-8")
    parsed = _Collect()
    parsed.feed(text)
    kinds = [next(c for c in classes if c.endswith("-slide")) for classes in parsed.sections]
    assert kinds == ["title-slide", "section-slide", "figure-slide", "figure-slide", "section-slide", "figure-slide"]
    assert all("slide" in classes for classes in parsed.sections)
    assert parsed.headings == ["galaxy-cnn", "The survey", *[t for _, t, _ in FIGURES[:2]], "Results", FIGURES[2][1]]
    # Captions appear, escaped; every image is embedded.
    assert text.count("<figcaption>") == len(FIGURES)
    assert "Votes per galaxy &amp; more &lt;on&gt; the mock survey (fast profile)." in text
    assert len(parsed.resources) == len(FIGURES)
    assert all(r.startswith("data:image/png;base64,") for r in parsed.resources)


def test_deck_is_self_contained_and_deterministic(figures_dir: Path, tmp_path: Path) -> None:
    first = build_slides(figures_dir, tmp_path / "a", pdf=False).html.read_bytes()
    second = build_slides(figures_dir, tmp_path / "b", pdf=False).html.read_bytes()
    assert first == second
    text = first.decode("utf-8")
    assert "http://" not in text and "https://" not in text
    assert not re.search(r"""(src|href)\s*=\s*["']?(?!["']|data:|#)""", text), "only data URIs and anchors"
    assert "@import" not in text and not re.search(r"url\(\s*['\"]?(?!data:)", text)
    # Keyboard navigation and one-slide-per-page printing are in the file itself.
    assert "ArrowRight" in text and "ArrowLeft" in text
    assert "@media print" in text and "break-after: page" in text


def test_manifest_errors_are_clear(figures_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="galaxy-utils figures"):
        build_slides(tmp_path / "nowhere", tmp_path / "out", pdf=False)
    (figures_dir / "confusion.png").unlink()
    with pytest.raises(FileNotFoundError, match="confusion"):
        build_slides(figures_dir, tmp_path / "out", pdf=False)
    manifest = json.loads((figures_dir / "index.json").read_text())
    del manifest[0]["caption"]
    (figures_dir / "index.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="caption"):
        build_slides(figures_dir, tmp_path / "out", pdf=False)


def test_missing_chromium_is_named(figures_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHROMIUM", str(tmp_path / "no-such-browser"))
    assert find_chromium() is None
    with pytest.raises(ChromiumNotFoundError, match="CHROMIUM.*apt-get install chromium"):
        build_slides(figures_dir, tmp_path / "out")
    assert not (tmp_path / "out").exists(), "nothing is written when the PDF cannot be made"
    monkeypatch.delenv("CHROMIUM")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ChromiumNotFoundError, match="chromium-browser"):
        render_slides_png(tmp_path / "x.html", tmp_path / "x.png")


def _pdf_pages(pdf: Path) -> int:
    if shutil.which("pdfinfo"):
        out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
        return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf.read_bytes()))


def _check_not_blank(png: Path, min_std: float, min_colours: int) -> None:
    image = np.asarray(Image.open(png).convert("RGB"))
    assert image.shape == (720, 1280, 3)
    colours = len(np.unique(image.reshape(-1, 3), axis=0))
    assert image.std() > min_std, f"{png.name}: nearly uniform (std {image.std():.1f})"
    assert colours >= min_colours, f"{png.name}: only {colours} colours"


@pytest.mark.slow
@pytest.mark.skipif(find_chromium() is None, reason="headless Chromium not installed (apt-get install chromium)")
def test_slides_render_in_headless_chromium(figures_dir: Path, tmp_path: Path) -> None:
    paths = build_slides(figures_dir, tmp_path / "slides")
    assert paths.pdf == tmp_path / "slides" / "galaxy-cnn.pdf"
    assert paths.pdf.read_bytes().startswith(b"%PDF")
    assert _pdf_pages(paths.pdf) == paths.n_slides == N_SLIDES
    # The title slide (text on white) and a figure slide (a plot in colour).
    title = render_slides_png(paths.html, tmp_path / "title.png")
    _check_not_blank(title, min_std=8, min_colours=20)
    figure = render_slides_png(paths.html, tmp_path / "figure.png", slide=6)
    _check_not_blank(figure, min_std=20, min_colours=100)
    # Slide 6 shows the confusion matrix, not the title slide: its pixels differ.
    assert not np.array_equal(np.asarray(Image.open(title)), np.asarray(Image.open(figure)))
    assert not list((tmp_path / "slides").glob(".*tmp")), "no temporary files left behind"
