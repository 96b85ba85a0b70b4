"""The project's slides, built from the report figures: one HTML deck and a PDF.

``build_slides(figures_dir, out_dir)`` reads ``figures_dir/index.json`` (written by
``galaxy-utils figures``: a list of ``{"name", "file", "title", "caption", "section"}`` in
report order) and writes

* ``out_dir/galaxy-cnn.html``: one self-contained file (figures embedded as base64 data
  URIs, inline CSS and a few lines of inline JavaScript, no network resources). A title
  slide, a section-title slide whenever the section changes, and one slide per figure with
  its title and caption. Arrow keys, Page Up/Down, Space, Home and End move between slides;
  ``#N`` in the address opens slide N. Printing gives one 16:9 slide per page.
* ``out_dir/galaxy-cnn.pdf``: the same deck printed by headless Chromium (``pdf=False``
  skips it; without Chromium, :class:`ChromiumNotFoundError` says what is missing).

The HTML is deterministic: the same figures give the same bytes (no timestamps).
``render_slides_png`` screenshots one slide with headless Chromium, and ``find_chromium``
locates the browser (``$CHROMIUM``, then ``chromium``, ``chromium-browser``,
``google-chrome`` on ``PATH``). On Debian: ``apt-get install chromium``.
"""

from __future__ import annotations

import base64
import html
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from galaxy_utils.data.files import write_bytes_atomically, written_atomically

MANIFEST = "index.json"
DECK_NAME = "galaxy-cnn"
SLIDE_WIDTH, SLIDE_HEIGHT = 1280, 720
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_TIMEOUT_S = 180
REQUIRED_KEYS = ("name", "file", "title", "caption", "section")
MIME_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}

DEFAULT_SUMMARY = (
    "Galaxy Zoo volunteers classify galaxies by answering a decision tree about each image. "
    "We turn their votes into morphology classes, train convolutional neural networks on "
    "DECaLS DR5 images, and compare the networks' answers with the volunteers'."
)


class ChromiumNotFoundError(FileNotFoundError):
    """No headless Chromium to print or screenshot the slides with."""


class ChromiumError(RuntimeError):
    """Chromium ran but did not produce the expected file."""


@dataclass(frozen=True)
class SlidesPaths:
    html: Path
    pdf: Path | None
    n_slides: int


@dataclass(frozen=True)
class Figure:
    name: str
    file: str
    title: str
    caption: str
    section: str


def read_manifest(figures_dir: Path) -> list[Figure]:
    """The figures listed in ``figures_dir/index.json``, checked: keys present, files there."""
    figures_dir = Path(figures_dir)
    manifest = figures_dir / MANIFEST
    if not manifest.is_file():
        raise FileNotFoundError(f"no figure manifest {manifest}: run `galaxy-utils figures` first")
    entries = json.loads(manifest.read_text(encoding="utf-8"))
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{manifest} must be a non-empty JSON list of figures")
    figures = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ValueError(f"{manifest}: entry {i} is not an object")
        missing = [key for key in REQUIRED_KEYS if not isinstance(entry.get(key), str)]
        if missing:
            raise ValueError(f"{manifest}: entry {i} lacks string field(s) {', '.join(missing)}")
        figure = Figure(**{key: entry[key] for key in REQUIRED_KEYS})
        path = figures_dir / figure.file
        if Path(figure.file).name != figure.file:
            raise ValueError(f"{manifest}: entry {i} file {figure.file!r} must be a file name in {figures_dir}")
        if not path.is_file():
            raise FileNotFoundError(f"{manifest}: figure {figure.name!r} names {path}, which does not exist")
        if path.suffix.lower() not in MIME_TYPES:
            raise ValueError(f"{manifest}: figure {figure.name!r}: unsupported image type {path.suffix!r}")
        figures.append(figure)
    return figures


JPEG_ABOVE_BYTES = 250_000
"""Raster figures larger than this are embedded as JPEG (quality 88): galaxy cutouts are
mostly sky noise, which PNG cannot compress, and a deck of them would weigh tens of MB."""


def _data_uri(path: Path) -> str:
    mime = MIME_TYPES[path.suffix.lower()]
    data = path.read_bytes()
    if mime == "image/png" and len(data) > JPEG_ABOVE_BYTES:
        import io

        from PIL import Image

        buffer = io.BytesIO()
        with Image.open(io.BytesIO(data)) as image:
            image.convert("RGB").save(buffer, format="JPEG", quality=88, optimize=True)
        mime, data = "image/jpeg", buffer.getvalue()
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


CSS = """
:root { --ink: #1d2330; --muted: #5b6472; --accent: #2b5797; --paper: #ffffff; --frame: #dfe3e8; }
* { box-sizing: border-box; }
html, body { margin: 0; padding: 0; background: var(--frame); color: var(--ink);
  font-family: "DejaVu Sans", "Liberation Sans", system-ui, Helvetica, Arial, sans-serif; }
.slide { width: __W__px; height: __H__px; background: var(--paper); position: relative; overflow: hidden;
  display: flex; flex-direction: column; padding: 36px 56px 40px; margin: 24px auto;
  border-top: 10px solid var(--accent); }
.slide .number { position: absolute; right: 28px; bottom: 14px; font-size: 15px; color: var(--muted); }
.slide .kicker { font-size: 16px; letter-spacing: 0.08em; text-transform: uppercase; color: var(--accent);
  margin: 0 0 4px; }
.title-slide { justify-content: center; padding: 0 110px; }
.title-slide h1 { font-size: 68px; margin: 0 0 18px; }
.title-slide .summary { font-size: 26px; line-height: 1.45; margin: 0 0 28px; max-width: 980px; }
.title-slide ol { font-size: 21px; color: var(--muted); margin: 0; padding-left: 1.3em; columns: 2; }
.section-slide { justify-content: center; padding: 0 110px; background: #eef2f8; }
.section-slide h2 { font-size: 60px; margin: 0 0 14px; color: var(--accent);
  border-left: 12px solid var(--accent); padding-left: 24px; margin-left: -36px; }
.section-slide ul { font-size: 22px; color: var(--muted); margin: 0; padding-left: 1.2em; }
.figure-slide h2 { font-size: 34px; margin: 0 0 10px; line-height: 1.2; }
.figure-slide figure { flex: 1 1 auto; min-height: 0; margin: 0; display: flex; flex-direction: column; }
.figure-slide .frame { flex: 1 1 auto; min-height: 0; position: relative; }
.figure-slide img { position: absolute; inset: 0; width: 100%; height: 100%; object-fit: contain;
  object-position: center; display: block; }
.figure-slide figcaption { flex: 0 0 auto; font-size: 18px; line-height: 1.35; color: var(--muted);
  margin-top: 10px; max-width: 1120px; }
html.js, html.js body { height: 100%; overflow: hidden; }
html.js .deck { position: absolute; left: 50%; top: 50%; width: __W__px; height: __H__px;
  transform-origin: center center; }
html.js .slide { display: none; margin: 0; }
html.js .slide.current { display: flex; }
@page { size: __W__px __H__px; margin: 0; }
@media print {
  html, body { background: var(--paper); height: auto !important; overflow: visible !important; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  html .deck { position: static !important; transform: none !important; }
  html .slide { display: flex !important; margin: 0 !important; break-after: page; page-break-after: always; }
  html .slide:last-child { break-after: auto; page-break-after: auto; }
}
""".replace("__W__", str(SLIDE_WIDTH)).replace("__H__", str(SLIDE_HEIGHT))

# Keyboard navigation and fit-to-window scaling; without JavaScript the slides simply stack.
JS = """
(function () {
  var root = document.documentElement; root.classList.add('js');
  var deck = document.querySelector('.deck'), slides = document.querySelectorAll('.slide'), i = 0;
  function fit() {
    var s = Math.min(window.innerWidth / __W__, window.innerHeight / __H__);
    deck.style.transform = 'translate(-50%, -50%) scale(' + s + ')';
  }
  function show(n) {
    i = Math.max(0, Math.min(slides.length - 1, n));
    for (var k = 0; k < slides.length; k++) slides[k].classList.toggle('current', k === i);
    if (history.replaceState) history.replaceState(null, '', '#' + (i + 1));
  }
  function fromHash() { var n = parseInt(location.hash.slice(1), 10); show(isNaN(n) ? 0 : n - 1); }
  document.addEventListener('keydown', function (e) {
    var next = ['ArrowRight', 'ArrowDown', 'PageDown', ' ', 'Enter'], prev = ['ArrowLeft', 'ArrowUp', 'PageUp'];
    if (next.indexOf(e.key) >= 0) show(i + 1);
    else if (prev.indexOf(e.key) >= 0) show(i - 1);
    else if (e.key === 'Home') show(0);
    else if (e.key === 'End') show(slides.length - 1);
    else return;
    e.preventDefault();
  });
  window.addEventListener('hashchange', fromHash);
  window.addEventListener('resize', fit);
  fit(); fromHash();
})();
""".replace("__W__", str(SLIDE_WIDTH)).replace("__H__", str(SLIDE_HEIGHT))


def _sections(figures: list[Figure]) -> list[tuple[str, list[Figure]]]:
    """Runs of consecutive figures sharing a section, in manifest order."""
    runs: list[tuple[str, list[Figure]]] = []
    for figure in figures:
        if runs and runs[-1][0] == figure.section:
            runs[-1][1].append(figure)
        else:
            runs.append((figure.section, [figure]))
    return runs


def render_html(figures: list[Figure], figures_dir: Path, *, title: str = DECK_NAME,
                summary: str = DEFAULT_SUMMARY) -> tuple[str, int]:
    """The deck's HTML and its number of slides."""
    runs = _sections(figures)
    slides = []
    agenda = "".join(f"<li>{_esc(section)}</li>" for section, _ in runs)
    slides.append(
        '<section class="slide title-slide" id="title">'
        '<p class="kicker">Galaxy Zoo DECaLS &middot; convolutional neural networks</p>'
        f"<h1>{_esc(title)}</h1>"
        f'<p class="summary">{_esc(summary)}</p>'
        f"<ol>{agenda}</ol>"
    )
    for number, (section, members) in enumerate(runs, start=1):
        listing = "".join(f"<li>{_esc(f.title)}</li>" for f in members)
        slides.append(
            f'<section class="slide section-slide" id="section-{number}">'
            f'<p class="kicker">Part {number} of {len(runs)}</p>'
            f"<h2>{_esc(section)}</h2><ul>{listing}</ul>"
        )
        for figure in members:
            slides.append(
                f'<section class="slide figure-slide" id="fig-{_esc(figure.name)}">'
                f'<p class="kicker">{_esc(section)}</p>'
                f"<h2>{_esc(figure.title)}</h2>"
                f'<figure><div class="frame"><img src="{_data_uri(Path(figures_dir) / figure.file)}" '
                f'alt="{_esc(figure.title)}"></div>'
                f"<figcaption>{_esc(figure.caption)}</figcaption></figure>"
            )
    n = len(slides)
    body = "\n".join(
        f'{slide}<div class="number">{k} / {n}</div></section>' for k, slide in enumerate(slides, start=1)
    )
    page = (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f'<main class="deck">\n{body}\n</main>\n<script>{JS}</script>\n</body>\n</html>\n'
    )
    return page, n


def build_slides(figures_dir: Path, out_dir: Path, *, title: str = DECK_NAME, pdf: bool = True,
                 summary: str = DEFAULT_SUMMARY) -> SlidesPaths:
    """Write ``out_dir/galaxy-cnn.html`` (and ``.pdf`` unless ``pdf=False``) from the figure manifest."""
    figures_dir, out_dir = Path(figures_dir), Path(out_dir)
    figures = read_manifest(figures_dir)
    chromium = _require_chromium("print the slides to PDF") if pdf else None
    page, n = render_html(figures, figures_dir, title=title, summary=summary)
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path = out_dir / f"{DECK_NAME}.html"
    write_bytes_atomically(html_path, page.encode("utf-8"))
    pdf_path = None
    if chromium is not None:
        pdf_path = out_dir / f"{DECK_NAME}.pdf"
        with written_atomically(pdf_path) as tmp:
            _run_chromium(chromium, [f"--print-to-pdf={tmp}", "--no-pdf-header-footer", html_path.resolve().as_uri()],
                          tmp)
    return SlidesPaths(html=html_path, pdf=pdf_path, n_slides=n)


def find_chromium() -> str | None:
    """The Chromium executable: ``$CHROMIUM`` if set, else the first of CHROMIUM_NAMES on PATH."""
    override = os.environ.get("CHROMIUM")
    if override:
        return shutil.which(override)
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _require_chromium(purpose: str) -> str:
    found = find_chromium()
    if found:
        return found
    override = os.environ.get("CHROMIUM")
    where = (
        f"$CHROMIUM={override!r} is not an executable"
        if override
        else f"none of {', '.join(CHROMIUM_NAMES)} is on PATH and $CHROMIUM is not set"
    )
    raise ChromiumNotFoundError(
        f"headless Chromium is needed to {purpose}, but {where}. "
        "Install it (Debian/Ubuntu: apt-get install chromium) or point $CHROMIUM at it; "
        "`galaxy-utils slides --no-pdf` (build_slides(pdf=False)) writes the HTML alone."
    )


def _run_chromium(chromium: str, args: list[str], expected: Path) -> None:
    """Run headless Chromium with a fresh profile and no network chatter; check ``expected`` appeared."""
    with tempfile.TemporaryDirectory(prefix="galaxy-cnn-chromium-") as profile:
        command = [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", "--disable-extensions", "--hide-scrollbars", "--mute-audio",
            f"--user-data-dir={profile}", *args,
        ]
        env = dict(os.environ, HOME=profile)
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT_S,
                                    stdin=subprocess.DEVNULL, env=env)
        except subprocess.TimeoutExpired as err:
            raise ChromiumError(f"{chromium} did not finish in {CHROMIUM_TIMEOUT_S} s: {' '.join(args)}") from err
    if result.returncode != 0 or not expected.is_file() or expected.stat().st_size == 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-15:])
        raise ChromiumError(f"{chromium} (exit {result.returncode}) did not write {expected}:\n{tail}")


def render_slides_png(html: Path, out_png: Path, width: int = SLIDE_WIDTH, height: int = SLIDE_HEIGHT, *,
                      slide: int | None = None) -> Path:
    """Screenshot the deck (``slide``: 1-based slide number, default the first) to ``out_png``."""
    chromium = _require_chromium("render the slides to PNG")
    html, out_png = Path(html), Path(out_png)
    if not html.is_file():
        raise FileNotFoundError(f"no slides at {html}")
    out_png.parent.mkdir(parents=True, exist_ok=True)
    if out_png.exists():
        out_png.unlink()
    url = html.resolve().as_uri() + (f"#{slide}" if slide is not None else "")
    _run_chromium(chromium, [f"--screenshot={out_png.resolve()}", f"--window-size={width},{height}", url], out_png)
    return out_png
