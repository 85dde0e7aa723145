"""The built book, in a real browser (Debian's chromium through playwright), served from localhost.

    .venv/bin/python -m pytest -m slow tests/test_book_site.py          # builds the book first
    COURSE_REUSE_BUILD=1 .venv/bin/python -m pytest tests/test_book_site.py   # test _build/html as it is

The browser tests are marked slow; two fast tests check the book's Sphinx
extension (book/_ext/course_book.py) on its own. By default the book is built with ``scripts/build_book.sh`` (which fails on any
warning); ``COURSE_REUSE_BUILD=1`` tests an existing ``_build/html`` instead.
``COURSE_CHROMIUM`` overrides the browser (default: ``chromium`` on the PATH).
Without chromium the test fails and says how to install it.

Checked: every page of the table of contents loads with its images; the search
page finds "autoencoder"; solutions start collapsed and open on a click; no
internal link (``href``/``src`` of every page reachable from the landing page)
is broken, on disk or over HTTP; no page carries widget JavaScript, a stderr
block or a traceback; the launch buttons appear exactly when a repository URL
is configured. A screenshot of the first lesson is saved in
``_build/html/_screenshots/``.
"""
from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import threading
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
SCREENSHOTS = HTML / "_screenshots"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]
# The only outside address a page may ask for: MathJax, for pages with formulas (the
# reader's browser fetches it; offline, formulas stay as TeX source).
ALLOWED_EXTERNAL = ("https://cdn.jsdelivr.net/npm/mathjax@3/",)
BUILD_TIMEOUT = int(os.environ.get("COURSE_BUILD_TIMEOUT", "10800"))
INSTALL_HINT = ("Debian's chromium is needed for the browser test: install it with\n"
                "    sudo apt-get update && sudo apt-get install -y chromium chromium-driver\n"
                "(scripts/setup.sh does this when run as root), or point COURSE_CHROMIUM at a chromium binary. "
                "Do not use `playwright install`: it downloads a browser and does not work offline.")


def chromium_path() -> str:
    path = os.environ.get("COURSE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path or not os.access(path, os.X_OK):
        pytest.fail(f"chromium not found. {INSTALL_HINT}", pytrace=False)
    return path


def toc_pages() -> list[str]:
    """Every page of _toc.yml, as the path of its HTML file relative to _build/html."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                pages.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    walk(toc.get("parts", []))
    walk(toc.get("chapters", []))
    return [f"{page}.html" for page in pages]


def notebook_pages() -> list[str]:
    return [p for p in toc_pages() if (ROOT / p).with_suffix(".ipynb").exists()]


def repository_url() -> str:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    return ((config.get("repository") or {}).get("url") or "").strip()


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def browser_path():
    return chromium_path()  # first: no point building the book without a browser


@pytest.fixture(scope="module")
def site(browser_path):
    if os.environ.get("COURSE_REUSE_BUILD") == "1":
        assert (HTML / "index.html").exists(), "COURSE_REUSE_BUILD=1 but there is no _build/html/index.html"
    else:
        result = subprocess.run(["bash", "scripts/build_book.sh"], cwd=ROOT, capture_output=True, text=True,
                                timeout=BUILD_TIMEOUT)
        assert result.returncode == 0, "the book build failed:\n" + (result.stdout + result.stderr)[-8000:]
    return HTML


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser(server, browser_path, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    external, failed = [], []
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=browser_path,
            headless=True, args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900})

        def route(r):
            url = r.request.url
            if url.startswith(server) or url.startswith("data:") or url.startswith("blob:"):
                r.continue_()
            else:  # never leave the machine; remember what was asked for
                external.append(url)
                r.abort()

        context.route("**/*", route)
        context.on("response", lambda response: failed.append(f"{response.status} {response.url}")
                   if response.url.startswith(server) and response.status >= 400 else None)
        context.external_requests, context.failed_responses = external, failed
        yield context
        context.close()


def open_page(browser, url):
    page = browser.new_page()
    response = page.goto(url, wait_until="load")
    assert response is not None and response.ok, f"{url}: HTTP {response.status if response else 'no response'}"
    return page


IMAGES_JS = """async () => {
    const images = Array.from(document.images);
    images.forEach(i => { i.loading = 'eager'; });
    await Promise.all(images.map(i => i.decode().catch(() => null)));
    return images.map(i => ({src: i.currentSrc || i.src, width: i.naturalWidth}));
}"""


# ----------------------------------------------------------------------------- the book's extension (fast)
def _course_book():
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("course_book", ROOT / "book" / "_ext" / "course_book.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("course_book", module)
    spec.loader.exec_module(module)
    return module


def _tqdm_state(left="training:\u2007100%", value=24.0, right="\u200724/24\u2007[00:08&lt;00:00]",
                visibility=None):
    """Widget state as ipywidgets 8 saves it for one tqdm.notebook bar (model ids shortened)."""
    return {
        "box": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_l", "IPY_MODEL_p", "IPY_MODEL_r"],
                                                     "layout": "IPY_MODEL_lay"}},
        "lay": {"model_name": "LayoutModel", "state": {"visibility": visibility, "display": None}},
        "l": {"model_name": "HTMLModel", "state": {"value": left}},
        "p": {"model_name": "FloatProgressModel", "state": {"value": value, "min": 0.0, "max": 24.0}},
        "r": {"model_name": "HTMLModel", "state": {"value": right}},
    }


def test_tqdm_widget_becomes_its_final_line():
    cb = _course_book()
    assert cb.tqdm_text("box", _tqdm_state()) == "training: 100%|██████████| 24/24 [00:08<00:00]"
    assert cb.tqdm_text("box", _tqdm_state(left="x: 50%", value=12.0)).startswith("x: 50%|█████     |")
    assert cb._hidden("box", _tqdm_state(visibility="hidden"))
    assert not cb._hidden("box", _tqdm_state())
    slider = {"s": {"model_name": "IntSliderModel", "state": {"value": 3}}}
    assert cb.tqdm_text("s", slider) is None  # any other widget is reported, not rendered


class _Config:
    def __init__(self, **theme_options):
        self.html_theme_options = theme_options


def test_buttons_follow_the_repository_url():
    cb = _course_book()
    launch = {"colab_url": "https://colab.research.google.com", "binderhub_url": "https://mybinder.org"}
    empty = _Config(repository_url="", launch_buttons=dict(launch), use_repository_button=False)
    cb.configure_buttons(None, empty)
    assert "launch_buttons" not in empty.html_theme_options and "repository_url" not in empty.html_theme_options
    assert empty.html_theme_options["use_repository_button"] is False
    filled = _Config(repository_url=" https://github.com/owner/course ", launch_buttons=dict(launch),
                     use_repository_button=False, use_issues_button=False)
    cb.configure_buttons(None, filled)
    assert filled.html_theme_options["repository_url"] == "https://github.com/owner/course"
    assert filled.html_theme_options["launch_buttons"] == launch
    assert filled.html_theme_options["use_repository_button"] is True
    assert filled.html_theme_options["use_issues_button"] is True


# ----------------------------------------------------------------------------- the site in a browser (slow)
@pytest.mark.slow
def test_chromium_is_installed():
    """Fails (never skips) without Debian's chromium, saying how to install it."""
    assert Path(chromium_path()).exists()


@pytest.mark.slow
def test_landing_page_has_logo_and_favicon(browser, server):
    page = open_page(browser, server)  # index.html sends the reader to the introduction
    page.wait_for_url("**/book/intro.html")
    images = page.evaluate(IMAGES_JS)
    assert any("logo" in i["src"] for i in images), images
    assert all(i["width"] > 0 for i in images), images
    favicon = page.locator("link[rel='icon']").first.get_attribute("href")
    assert favicon and urllib.request.urlopen(urljoin(page.url, favicon)).status == 200
    assert "Autoencoders" in page.title()
    page.close()


@pytest.mark.slow
def test_every_page_loads_with_its_images(browser, server):
    problems = []
    for rel in toc_pages():
        page = open_page(browser, server + rel)
        for image in page.evaluate(IMAGES_JS):
            if image["width"] <= 0:
                problems.append(f"{rel}: image did not load: {image['src']}")
        if page.locator("article h1").count() == 0:
            problems.append(f"{rel}: no title")
        page.close()
    assert problems == []
    assert browser.failed_responses == []


@pytest.mark.slow
def test_notebook_pages_are_clean_and_have_reader_features(browser, server, site):
    pages = notebook_pages()
    assert pages, "no notebook page in _toc.yml exists"
    problems = []
    for rel in pages:
        html = (site / rel).read_text(encoding="utf-8")
        for needle, what in [("application/vnd.jupyter.widget", "ipywidgets output or state"),
                             ("@jupyter-widgets", "widget JavaScript"),
                             ('class="output stderr', "a stderr block"),
                             ('class="output traceback', "a traceback"),
                             ("&lt;Figure size", "a matplotlib figure shown as text instead of an image")]:
            if needle in html:
                problems.append(f"{rel}: {what}")
        page = open_page(browser, server + rel)
        download = page.locator("a[href*='_sources/'][href$='.ipynb']")
        if download.count() == 0:
            problems.append(f"{rel}: no .ipynb download button")
        else:
            href = urljoin(page.url, download.first.get_attribute("href"))
            if urllib.request.urlopen(href).status != 200:
                problems.append(f"{rel}: the .ipynb download is broken")
        page.wait_for_selector("button.copybtn", state="attached", timeout=15_000)
        launch = page.locator("a[href*='colab.research.google.com'], a[href*='mybinder.org']").count()
        if repository_url() and launch == 0:
            problems.append(f"{rel}: a repository URL is set but there is no launch button")
        if not repository_url() and launch:
            problems.append(f"{rel}: launch buttons without a repository URL (they cannot work)")
        page.close()
    assert problems == []


@pytest.mark.slow
def test_search_finds_autoencoder(browser, server):
    page = open_page(browser, server + "search.html?q=autoencoder")
    page.wait_for_selector("#search-results ul.search li", timeout=30_000)
    assert page.locator("#search-results ul.search li").count() > 0
    page.close()


@pytest.mark.slow
def test_solutions_start_collapsed_and_open_on_click(browser, server):
    seen = 0
    for rel in notebook_pages():
        page = open_page(browser, server + rel)
        solutions = page.locator("div.cell.tag_solution")
        for i in range(solutions.count()):
            cell = solutions.nth(i)
            details = cell.locator("details").first
            assert details.count() == 1, f"{rel}: solution {i} is not in a collapsible block"
            assert details.evaluate("d => d.open") is False, f"{rel}: solution {i} starts open"
            code = cell.locator("div.cell_input pre").first
            assert not code.is_visible(), f"{rel}: the code of solution {i} is visible"
            summary = details.locator("summary")
            assert "Show solution" in summary.inner_text()
            summary.click()
            assert code.is_visible(), f"{rel}: solution {i} does not open"
            seen += 1
        page.close()
    assert seen > 0, "no solution block in any notebook page (cells tagged `solution`)"


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        if tag == "meta" and dict(attrs).get("http-equiv", "").lower() == "refresh":
            content = dict(attrs).get("content") or ""
            if "url=" in content.lower():  # index.html: <meta http-equiv="Refresh" content="0; url=...">
                self.links.append(content[content.lower().index("url=") + 4:].strip())
        for name, value in attrs:
            if value and ((name == "href" and tag in ("a", "link")) or
                          (name == "src" and tag in ("img", "script", "source", "iframe"))):
                self.links.append(value)


@pytest.mark.slow
def test_no_internal_link_is_broken(site, server):
    """Crawl from index.html: every internal href/src target exists on disk and serves 200."""
    start = server + "index.html"
    queue, seen_pages, targets, broken = [start], {start}, set(), []
    while queue:
        url = queue.pop()
        path = site / unquote(urlsplit(url).path.lstrip("/"))
        parser = _Links()
        parser.feed(path.read_text(encoding="utf-8", errors="replace"))
        for link in parser.links:
            if link.startswith(("#", "mailto:", "javascript:", "data:")):
                continue
            absolute = urljoin(url, link)
            if not absolute.startswith(server):
                continue  # external: not ours to check offline
            target = absolute.split("#")[0].split("?")[0]
            file = site / unquote(urlsplit(target).path.lstrip("/"))
            if file.is_dir():
                file = file / "index.html"
            if not file.is_file():
                broken.append(f"{url}: {link} (no {file.relative_to(site)})")
                continue
            targets.add(target)
            if file.suffix == ".html" and target not in seen_pages:
                seen_pages.add(target)
                queue.append(target)
    for target in sorted(targets):
        try:
            status = urllib.request.urlopen(target).status
        except urllib.error.HTTPError as error:
            status = error.code
        if status != 200:
            broken.append(f"{target}: HTTP {status}")
    assert broken == []
    crawled = {urlsplit(u).path.lstrip("/") for u in seen_pages}
    assert set(toc_pages()) <= crawled, f"pages not reachable from the landing page: {set(toc_pages()) - crawled}"


@pytest.mark.slow
def test_no_request_leaves_the_machine_except_mathjax(browser, server):
    for rel in ["search.html", *toc_pages()]:
        open_page(browser, server + rel).close()
    unexpected = [u for u in browser.external_requests if not u.startswith(ALLOWED_EXTERNAL)]
    assert unexpected == []


@pytest.mark.slow
def test_screenshot_of_a_lesson(browser, server):
    rel = notebook_pages()[0]
    page = open_page(browser, server + rel)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / (Path(rel).stem + ".png")
    page.screenshot(path=str(target), full_page=False)
    page.close()
    assert target.stat().st_size > 10_000
