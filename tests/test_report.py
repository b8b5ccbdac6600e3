"""report.html: written by a short digits run, rewritten by ``tinygrad-nn report``,
self-contained and escaped, and rendered for real in headless Chromium."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from tinygrad_nn.digits.cli import main
from tinygrad_nn.digits.report import write_report

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None and not os.environ.get("CI"),
    reason="Graphviz 'dot' not installed",
)
needs_chromium = pytest.mark.skipif(
    shutil.which("chromium") is None and not os.environ.get("CI"),
    reason="Chromium not installed",
)

SVG_NS = "{http://www.w3.org/2000/svg}"
EVIL = "<script>alert(1)</script>"
SCREENSHOT_COPY = Path("/tmp/report_screenshot.png")
IMAGE_URLS = ("data:image/png;base64,", "data:image/svg+xml;base64,")
GRAPH_FILES = ("graph.svg", "graph_collapsed.svg")
# the payloads that passed the old regex clean-up of inlined SVG
PAYLOADS = {
    "unquoted onload": '<svg xmlns="http://www.w3.org/2000/svg" onload=alert(1)><text/></svg>',
    "slash onload": '<svg/onload="alert(2)" xmlns="http://www.w3.org/2000/svg"></svg>',
    "javascript href": (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
        '<a href="javascript:alert(3)"><text y="20">click</text></a></svg>'
    ),
    "foreignObject iframe": (
        '<svg xmlns="http://www.w3.org/2000/svg"><foreignObject width="100" height="100">'
        '<iframe xmlns="http://www.w3.org/1999/xhtml" srcdoc="&lt;script&gt;alert(4)'
        '&lt;/script&gt;"></iframe></foreignObject></svg>'
    ),
}


# ----------------------------------------------------------------------------- helpers


class Page(HTMLParser):
    """What a report holds: every start tag with its attributes, and top-level SVGs."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.top_svgs = 0
        self._svg_depth = 0
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "svg":
            if self._svg_depth == 0:
                self.top_svgs += 1
            self._svg_depth += 1

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag == "svg":
            self._svg_depth -= 1

    def handle_data(self, data):
        self.text.append(data)

    def named(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for t, attrs in self.tags if t == tag]


def minimal_results(settings: dict | None = None, versions: dict | None = None) -> dict:
    """A hand-written results.json with the fields the report reads."""

    def stats(value: float) -> dict:
        return {"mean": value, "std": 0.01, "per_seed": [value]}

    preset = {
        "test_accuracy": stats(0.95),
        "valid_accuracy": stats(0.96),
        "best_lambda": [0.1],
        "wall_seconds": 1.5,
    }
    return {
        "tutorial_reported": {
            "best_lambda": 0.599484,
            "valid_accuracy": 0.96,
            "test_accuracy": 0.95,
        },
        "presets": {"tutorial": preset, "best": dict(preset, best_lambda=[0.01])},
        "settings": settings if settings is not None else {"seeds": [0]},
        "versions": versions if versions is not None else {"numpy": np.__version__},
    }


def write_results(folder: Path, summary: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(summary))
    return folder


def assert_self_contained(text: str) -> Page:
    assert "<script" not in text.lower()
    page = Page(text)
    for tag, attrs in page.tags:
        for key in ("src", "href", "xlink:href", "srcset", "action", "data"):
            value = (attrs.get(key) or "").strip().lower()
            assert not value.startswith(("http:", "https:", "//")), (tag, key, value)
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
    assert not page.named("link") and not page.named("iframe") and not page.named("script")
    assert "@import" not in text and "url(http" not in text.lower()
    assert page.top_svgs == 0 and "<svg" not in text.lower()  # graphs are never inlined
    for attrs in page.named("img"):
        assert (attrs.get("src") or "").startswith(IMAGE_URLS)
    for attrs in page.named("a"):
        assert attrs.get("href") in GRAPH_FILES, attrs
    return page


def svg_images(page: Page) -> list[bytes]:
    """The decoded contents of the page's SVG images."""
    return [
        base64.b64decode(a["src"].split(",", 1)[1])
        for a in page.named("img")
        if a["src"].startswith("data:image/svg+xml;base64,")
    ]


def one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err + captured.out
    assert lines[0].startswith("tinygrad-nn: error:")
    return lines[0]


# ----------------------------------------------------------------------------- a short run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """One short digits run for the whole module (about two seconds)."""
    if shutil.which("dot") is None and not os.environ.get("CI"):
        pytest.skip("Graphviz 'dot' not installed")
    out = tmp_path_factory.mktemp("digits-run")
    args = ["digits", "--seeds", "1", "--epochs", "2", "--lambdas", "0.1", "--jobs", "1"]
    assert main([*args, "--no-progress", "--out", str(out)]) == 0
    return out


@pytest.fixture
def run_copy(run_dir, tmp_path):
    """A private copy of the run folder, for tests that change it."""
    return Path(shutil.copytree(run_dir, tmp_path / run_dir.name))


@needs_dot
def test_digits_run_writes_graphs_and_report(run_dir):
    for name in ("graph.svg", "graph_collapsed.svg", "report.html", "results.json", "model.npz"):
        assert (run_dir / name).is_file() and (run_dir / name).stat().st_size > 0, name
    texts = {}
    for name in ("graph.svg", "graph_collapsed.svg"):
        data = (run_dir / name).read_bytes()
        root = ET.fromstring(data)
        assert root.tag == f"{SVG_NS}svg"
        assert b"<script" not in data.lower()
        texts[name] = ["".join(t.itertext()) for t in root.iter(f"{SVG_NS}text")]
    assert "linear" in texts["graph.svg"] and "fc1.weight" in texts["graph.svg"]
    assert "linear" not in texts["graph_collapsed.svg"]
    assert any(t.startswith("fc1: Linear(64→") for t in texts["graph_collapsed.svg"])


@needs_dot
def test_report_is_self_contained(run_dir):
    text = (run_dir / "report.html").read_text(encoding="utf-8")
    page = assert_self_contained(text)
    imgs = page.named("img")
    assert len(imgs) == 5  # three plots, two graphs
    # the images are the run's plots and graphs, byte for byte
    embedded = {base64.b64decode(a["src"].split(",", 1)[1]) for a in imgs}
    for name in ("lambda_curve.png", "loss_curves.png", "confusion_matrix.png", *GRAPH_FILES):
        assert (run_dir / name).read_bytes() in embedded, name
    assert len(svg_images(page)) == 2
    # each graph links to its full-size file, next to the report
    assert [a["href"] for a in page.named("a")] == ["graph_collapsed.svg", "graph.svg"]
    assert "<?xml" not in text and "<!DOCTYPE svg" not in text
    for caption in ("Results", "Plots", "Computation graph", "Settings", "Versions"):
        assert f"<h2>{caption}</h2>" in text
    assert '<meta charset="utf-8">' in text


@needs_dot
def test_report_command_regenerates_the_report(run_copy, capsys):
    original = (run_copy / "report.html").read_text(encoding="utf-8")
    (run_copy / "report.html").unlink()
    assert main(["report", str(run_copy)]) == 0
    assert str(run_copy / "report.html") in capsys.readouterr().out
    regenerated = (run_copy / "report.html").read_text(encoding="utf-8")
    # same artefacts, same page (the folder name is the same too)
    assert regenerated == original
    assert not list(run_copy.glob("*.tmp"))


@needs_dot
def test_report_reflects_changed_results(run_copy):
    summary = json.loads((run_copy / "results.json").read_text())
    summary["presets"]["best"]["test_accuracy"]["mean"] = 0.123456
    (run_copy / "results.json").write_text(json.dumps(summary))
    (run_copy / "graph.svg").unlink()
    text = write_report(run_copy).read_text(encoding="utf-8")
    assert "0.1235 ± " in text
    page = assert_self_contained(text)
    assert svg_images(page) == [(run_copy / "graph_collapsed.svg").read_bytes()]


# ----------------------------------------------------------------------------- bad folders


def test_report_of_folder_without_results_exits_1(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 1
    line = one_error_line(capsys)
    assert "results.json" in line
    assert not (tmp_path / "report.html").exists()


@pytest.mark.parametrize(
    "content",
    ["{not json", "[1, 2]", '"text"', '{"presets": {}}', "null", "\udcff"],
    ids=["bad-json", "list", "string", "no-fields", "null", "not-utf8"],
)
def test_report_of_foreign_results_exits_1(tmp_path, capsys, content):
    (tmp_path / "results.json").write_bytes(content.encode("utf-8", "surrogateescape"))
    assert main(["report", str(tmp_path)]) == 1
    assert "results.json" in one_error_line(capsys)
    assert not (tmp_path / "report.html").exists()


def test_report_of_missing_folder_exits_1(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nowhere")]) == 1
    one_error_line(capsys)


# ----------------------------------------------------------------------------- escaping


def test_report_escapes_text_from_the_run(tmp_path):
    folder = write_results(
        tmp_path / 'run <b>&"',
        minimal_results(
            settings={"note": EVIL, "seeds": [0, 1]}, versions={"numpy": "<img src=x onerror=y>"}
        ),
    )
    text = write_report(folder).read_text(encoding="utf-8")
    page = assert_self_contained(text)
    assert EVIL not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<img src=x" not in text and page.named("img") == []
    assert "<b>&" not in text and "run &lt;b&gt;&amp;&quot;" in text
    # the visible text is exactly what was in the file
    visible = "".join(page.text)
    assert EVIL in visible and "<img src=x onerror=y>" in visible
    assert "tutorial rerun (2 seeds)" in visible


def test_report_works_without_plots_or_graphs(tmp_path):
    folder = write_results(tmp_path / "bare", minimal_results())
    text = write_report(folder).read_text(encoding="utf-8")
    page = assert_self_contained(text)
    assert page.named("img") == [] and page.named("a") == []
    assert "<td>0.9500 ± 0.0100</td>" in text and "<td>0.01</td>" in text


@pytest.mark.parametrize("payload", list(PAYLOADS))
def test_report_never_puts_a_graph_file_into_its_markup(tmp_path, payload):
    folder = write_results(tmp_path / "hostile", minimal_results())
    svg = f'<?xml version="1.0"?>\n{PAYLOADS[payload]}\n'
    (folder / "graph.svg").write_text(svg)
    (folder / "graph_collapsed.svg").write_text(PAYLOADS[payload])
    text = write_report(folder).read_text(encoding="utf-8")
    page = assert_self_contained(text)
    for fragment in ("alert", "onload", "javascript:", "iframe", "srcdoc", "foreignobject"):
        assert fragment not in text.lower(), fragment
    # the files are shown as images, unchanged: an image runs no script
    assert svg_images(page) == [PAYLOADS[payload].encode(), svg.encode()]


def test_a_1_mib_graph_is_embedded_quickly(tmp_path):
    # the old clean-up was quadratic: a file of unclosed '<script' tags took minutes
    folder = write_results(tmp_path / "big", minimal_results())
    body = "<script " * ((1 << 20) // 8)
    (folder / "graph.svg").write_text(f'<svg xmlns="http://www.w3.org/2000/svg">{body}</svg>')
    code = (
        "import sys; from tinygrad_nn.digits.report import write_report; write_report(sys.argv[1])"
    )
    # a generous bound, not a timing claim: it takes milliseconds (see the report's note)
    subprocess.run([sys.executable, "-c", code, str(folder)], check=True, timeout=60)
    page = assert_self_contained((folder / "report.html").read_text(encoding="utf-8"))
    assert svg_images(page) == [(folder / "graph.svg").read_bytes()]


def test_too_large_a_graph_is_linked_not_embedded(tmp_path, monkeypatch):
    from tinygrad_nn.digits import report

    folder = write_results(tmp_path / "huge", minimal_results())
    (folder / "graph.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"></svg>')
    monkeypatch.setattr(report, "MAX_EMBED_BYTES", 10)
    page = assert_self_contained(write_report(folder).read_text(encoding="utf-8"))
    assert svg_images(page) == [] and [a["href"] for a in page.named("a")] == ["graph.svg"]


# ----------------------------------------------------------------------------- a real browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@contextlib.contextmanager
def chromium_page(report: Path):
    """A headless Chromium page showing ``report``, offline; yields (page, events) where
    events lists console errors, page errors, dialogs, frames and outside requests."""
    from playwright.sync_api import sync_playwright

    events: dict[str, list[str]] = {"console": [], "errors": [], "dialogs": [], "outside": []}

    def route(r):
        url = r.request.url
        if url.startswith(("file:", "data:")):
            r.continue_()
        else:
            events["outside"].append(url)
            r.abort()

    def dialog(d):
        events["dialogs"].append(d.message)
        d.dismiss()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on(
                "console", lambda m: events["console"].append(m.text) if m.type == "error" else None
            )
            page.on("pageerror", lambda e: events["errors"].append(str(e)))
            page.on("dialog", dialog)
            page.route("**/*", route)
            page.goto(report.as_uri(), wait_until="load")
            yield page, events
        finally:
            browser.close()


IMAGES_JS = """() => Array.from(document.images).map(i => {
    const r = i.getBoundingClientRect();
    const box = i.parentElement.getBoundingClientRect();
    return {src: i.src.slice(0, 30), w: r.width, h: r.height, right: r.right,
            box_right: box.right, nw: i.naturalWidth, ok: i.complete};
})"""


@needs_dot
@needs_chromium
def test_report_renders_in_headless_chromium(run_dir, tmp_path):
    import matplotlib.image

    shot = tmp_path / "report.png"
    with chromium_page(run_dir / "report.html") as (page, events):
        images = page.evaluate(IMAGES_JS)
        svgs = page.evaluate("() => document.querySelectorAll('svg').length")
        widths = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        title = page.title()
        page.screenshot(path=str(shot), full_page=True)

    assert events["console"] == [] and events["errors"] == [] and events["outside"] == []
    assert title == "tinygrad_nn digits run"
    assert len(images) == 5 and svgs == 0
    for img in images:
        assert img["ok"] and img["nw"] > 0 and img["w"] > 0 and img["h"] > 0, img
        assert img["right"] <= img["box_right"] + 0.5, img  # nothing is cut off on the right
    graphs = [img for img in images if img["src"].startswith("data:image/svg+xml")]
    assert len(graphs) == 2
    for g in graphs:  # shown at most at full size: a wider graph is scaled down to fit
        assert g["w"] <= g["nw"] + 2.5, g  # (its box includes a 1 px border each side)
    assert widths[0] <= widths[1]  # no horizontal scrolling

    shutil.copyfile(shot, SCREENSHOT_COPY)
    pixels = matplotlib.image.imread(str(shot))
    rgb = pixels[..., :3]
    assert rgb.shape[0] > 900  # full page: taller than the window
    assert rgb.std() > 0.02
    not_white = (rgb < 0.98).any(axis=-1)
    assert not_white.mean() > 0.02, "screenshot is (nearly) all white"


@needs_chromium
@pytest.mark.parametrize(
    "pair",
    [("unquoted onload", "foreignObject iframe"), ("slash onload", "javascript href")],
    ids=["onload-iframe", "onload-href"],
)
def test_hostile_graphs_run_nothing_in_headless_chromium(tmp_path, pair):
    folder = write_results(tmp_path / "hostile", minimal_results())
    (folder / "graph.svg").write_text(PAYLOADS[pair[0]])
    (folder / "graph_collapsed.svg").write_text(PAYLOADS[pair[1]])
    write_report(folder)
    with chromium_page(folder / "report.html") as (page, events):
        page.wait_for_timeout(300)
        frames = len(page.frames)
        for image in page.query_selector_all("img"):
            image.click()
        page.wait_for_timeout(300)
    assert events["dialogs"] == [] and events["errors"] == [] and events["outside"] == []
    assert frames == 1
