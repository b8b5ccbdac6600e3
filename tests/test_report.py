"""report.html: written by a short digits run, rewritten by ``tinygrad-nn report``,
self-contained and escaped, and rendered for real in headless Chromium."""

from __future__ import annotations

import base64
import json
import os
import shutil
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
    for attrs in page.named("img"):
        assert (attrs.get("src") or "").startswith("data:image/png;base64,")
    return page


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
    assert len(imgs) == 3
    # the images are the run's plots, byte for byte
    embedded = {base64.b64decode(a["src"].split(",", 1)[1]) for a in imgs}
    for name in ("lambda_curve.png", "loss_curves.png", "confusion_matrix.png"):
        assert (run_dir / name).read_bytes() in embedded, name
    # both graphs are inline, whole
    assert page.top_svgs == 2
    for name in ("graph.svg", "graph_collapsed.svg"):
        svg = (run_dir / name).read_text(encoding="utf-8")
        assert svg[svg.index("<svg") :].strip() in text, name
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
    assert Page(text).top_svgs == 1


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
    assert page.named("img") == [] and page.top_svgs == 0
    assert "<td>0.9500 ± 0.0100</td>" in text and "<td>0.01</td>" in text


def test_report_drops_scripts_from_a_hostile_graph_file(tmp_path):
    folder = write_results(tmp_path / "hostile", minimal_results())
    (folder / "graph.svg").write_text(
        '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
        '<script href="https://example.com/evil.js"/>'
        "<g onclick='alert(2)'><text>kept</text></g>"
        "<SCRIPT type='text/javascript'>alert(3)</SCRIPT></svg>\n"
    )
    (folder / "graph_collapsed.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg"><script href="evil.js" /><text>also</text>'
        # removing the inner tags splices an outer one together: it must go too
        '<scr</script>ipt href="evil2.js"></scr</script>ipt></svg>'
    )
    text = write_report(folder).read_text(encoding="utf-8")
    assert_self_contained(text)
    assert "alert" not in text and "evil.js" not in text and "evil2.js" not in text
    assert "<text>kept</text>" in text and "<text>also</text>" in text


# ----------------------------------------------------------------------------- a real browser


@needs_dot
@needs_chromium
def test_report_renders_in_headless_chromium(run_dir, tmp_path):
    import matplotlib.image
    from playwright.sync_api import sync_playwright

    report = run_dir / "report.html"
    console_errors: list[str] = []
    page_errors: list[str] = []
    outside: list[str] = []
    shot = tmp_path / "report.png"

    def route(r):
        url = r.request.url
        if url.startswith(("file:", "data:")):
            r.continue_()
        else:
            outside.append(url)
            r.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=shutil.which("chromium"),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on(
                "console", lambda m: console_errors.append(m.text) if m.type == "error" else None
            )
            page.on("pageerror", lambda e: page_errors.append(str(e)))
            page.route("**/*", route)
            page.goto(report.as_uri(), wait_until="load")
            images = page.evaluate(
                """() => Array.from(document.images).map(i => {
                    const r = i.getBoundingClientRect();
                    return {w: r.width, h: r.height, nw: i.naturalWidth, ok: i.complete};
                })"""
            )
            svgs = page.evaluate(
                """() => Array.from(document.querySelectorAll('svg'))
                    .filter(s => !s.parentElement.closest('svg'))
                    .map(s => { const r = s.getBoundingClientRect();
                                return {w: r.width, h: r.height}; })"""
            )
            title = page.title()
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()

    assert console_errors == [] and page_errors == []
    assert outside == []
    assert title == "tinygrad_nn digits run"
    assert len(images) == 3
    for img in images:
        assert img["ok"] and img["nw"] > 0 and img["w"] > 0 and img["h"] > 0, img
    assert len(svgs) == 2
    for svg in svgs:
        assert svg["w"] > 0 and svg["h"] > 0, svg

    shutil.copyfile(shot, SCREENSHOT_COPY)
    pixels = matplotlib.image.imread(str(shot))
    rgb = pixels[..., :3]
    assert rgb.shape[0] > 900  # full page: taller than the window
    assert rgb.std() > 0.02
    not_white = (rgb < 0.98).any(axis=-1)
    assert not_white.mean() > 0.02, "screenshot is (nearly) all white"
