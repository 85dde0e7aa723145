"""The built book, both editions, in a real browser (Debian's chromium through playwright), served from localhost.

    .venv/bin/python -m pytest -m slow tests/test_book_site.py          # builds both editions first
    COURSE_REUSE_BUILD=1 .venv/bin/python -m pytest tests/test_book_site.py   # test the builds as they are

The browser tests are marked slow; fast tests check the book's Sphinx extension
(book/_ext/course_book.py) on its own. By default the instructor edition is built
with ``scripts/build_book.sh`` (which fails on any warning) into ``_build/html``,
then the student edition with ``scripts/build_student_edition.py`` from the same
executed notebooks into ``_build/html-student``, with a test repository URL so
that its launch buttons are on. ``COURSE_REUSE_BUILD=1`` tests existing builds
instead. ``COURSE_CHROMIUM`` overrides the browser (default: ``chromium`` on the
PATH). Without chromium the test fails and says how to install it.

Checked, on each edition: every page of the table of contents loads with its
images; the search page finds "autoencoder"; no internal link (``href``/``src``
of every page reachable from the landing page) is broken, on disk or over HTTP;
no page carries widget JavaScript, a stderr block or a traceback; no page says
how the course was made; the launch buttons appear exactly when a repository URL
is configured. The instructor edition's solutions start collapsed and open on a
click; the student edition holds no line of any solution in its HTML, its
search index or its downloadable notebooks, and its Colab button opens the
student branch. A screenshot of the first lesson is saved in
``<build>/_screenshots/``.
"""
from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from build_student_edition import toc_files  # noqa: E402  (one reading of the table of contents)

BUILDS = {"instructor": ROOT / "_build" / "html", "student": ROOT / "_build" / "html-student"}
# The student edition is built with launch buttons on, pointing at a repository that only has to look real.
TEST_REPOSITORY = "https://github.com/example-org/autoencoder-course"
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
    """Every page of _toc.yml, as the path of its HTML file relative to the build."""
    return [f"{page}.html" for page in toc_files(yaml.safe_load((ROOT / "_toc.yml").read_text()))]


def notebook_pages() -> list[str]:
    return [p for p in toc_pages() if (ROOT / p).with_suffix(".ipynb").exists()]


def repository_url(edition: str) -> str:
    if edition == "student":
        return TEST_REPOSITORY
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    return ((config.get("repository") or {}).get("url") or "").strip()


def build(command: list[str], what: str) -> None:
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    assert result.returncode == 0, f"the {what} build failed:\n" + (result.stdout + result.stderr)[-8000:]


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def browser_path():
    return chromium_path()  # first: no point building the book without a browser


@pytest.fixture(scope="module")
def built(browser_path):
    """Both editions, built once: the student edition reuses the instructor build's executed notebooks."""
    if os.environ.get("COURSE_REUSE_BUILD") != "1":
        build(["bash", "scripts/build_book.sh"], "instructor edition")
        build([sys.executable, "scripts/build_student_edition.py", "--repository-url", TEST_REPOSITORY],
              "student edition")
    for edition, html in BUILDS.items():
        assert (html / "index.html").exists(), f"no {edition} edition at {html}"
    return BUILDS


@pytest.fixture(scope="module", params=list(BUILDS))
def edition(request):
    return request.param


@pytest.fixture(scope="module")
def site(built, edition):
    return built[edition]


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
def test_notebook_pages_are_clean_and_have_reader_features(browser, server, site, edition):
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
        if repository_url(edition) and launch == 0:
            problems.append(f"{rel}: a repository URL is set but there is no launch button")
        if not repository_url(edition) and launch:
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
def test_solutions_start_collapsed_and_open_on_click(browser, server, edition):
    if edition == "student":
        return  # the student edition has no solution to open: see test_the_student_edition_holds_no_solution
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
def test_screenshot_of_a_lesson(browser, server, site):
    rel = notebook_pages()[0]
    page = open_page(browser, server + rel)
    screenshots = site / "_screenshots"
    screenshots.mkdir(parents=True, exist_ok=True)
    target = screenshots / (Path(rel).stem + ".png")
    page.screenshot(path=str(target), full_page=False)
    page.close()
    assert target.stat().st_size > 10_000


# ----------------------------------------------------------------------------- editions and words (slow)
# Words that describe how the course was made rather than autoencoders; none belongs in the book.
MAKING_OF = re.compile(r"\b(issues?|tracker|workplace|sessions?|as the task)\b", re.I)


def _page_text(html: str) -> str:
    """The readable text of a page's article (theme chrome and scripts left out)."""
    article = re.search(r"<article[^>]*>(.*)</article>", html, re.S)
    text = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", article.group(1) if article else "", flags=re.S)
    return re.sub(r"<[^>]+>", " ", text)


@pytest.mark.slow
def test_no_page_speaks_of_how_the_course_was_made(site):
    found = []
    for rel in toc_pages():
        for match in MAKING_OF.finditer(_page_text((site / rel).read_text(encoding="utf-8"))):
            found.append(f"{rel}: ...{match.string[max(0, match.start() - 60):match.end() + 60]!r}...")
    assert found == []


def _solution_lines() -> dict[str, list[str]]:
    """Per notebook page, the lines of its solutions that no student copy keeps.

    A line that the student copies hold anyway (an import, ``model.eval()`` inside a lesson cell of
    any notebook) is no leak: only lines found in solutions and nowhere in the student notebooks count.
    """
    import nbformat
    from make_student_copies import student_copy, tags

    notebooks = {rel: nbformat.read(ROOT / Path(rel).with_suffix(".ipynb"), as_version=4) for rel in notebook_pages()}
    kept = "\n".join(cell.source for nb in notebooks.values() for cell in student_copy(nb).cells)
    return {rel: sorted({line.strip() for cell in nb.cells if "solution" in tags(cell)
                         for line in cell.source.splitlines()
                         if len(line.strip()) >= 12 and line.strip() not in kept})
            for rel, nb in notebooks.items()}


@pytest.mark.slow
def test_the_student_edition_holds_no_solution(built):
    site = built["student"]
    everything = [site / rel for rel in notebook_pages()]
    everything += [site / "searchindex.js"] + sorted((site / "_sources").rglob("*.ipynb"))
    texts = {path: path.read_text(encoding="utf-8", errors="replace") for path in everything}
    # the notebooks' JSON escapes quotes: compare with the lines of their cells, not their raw text
    for path in texts:
        if path.suffix == ".ipynb":
            texts[path] = {line.strip() for c in json.loads(texts[path])["cells"] for line in "".join(c["source"]).splitlines()}
    import html as html_lib

    leaks = []
    solution_lines = _solution_lines()
    assert sum(map(len, solution_lines.values())) > 20, "too few solution lines found: is the test looking?"
    for rel, lines in solution_lines.items():
        for line in lines:
            for path, text in texts.items():
                if isinstance(text, set):
                    leaked = line in text
                else:
                    leaked = line in text or html_lib.escape(line) in text or html_lib.escape(line, quote=False) in text
                if leaked:
                    leaks.append(f"{path.relative_to(site)} holds a line of a solution of {rel}: {line!r}")
    assert leaks == []
    with_exercises = [rel for rel, lines in solution_lines.items() if lines]
    for rel in with_exercises:  # the download is the student copy: stubs where the solutions were
        download = site / "_sources" / Path(rel).with_suffix(".ipynb")
        assert any("NotImplementedError" in line for line in texts[download]), f"{download.relative_to(site)} has no exercise stub"


@pytest.mark.slow
def test_the_student_colab_button_opens_the_student_branch(built):
    # the launch buttons are plain links in the page's HTML (sphinx-book-theme writes them at build time)
    rel = notebook_pages()[0]
    html = (built["student"] / rel).read_text(encoding="utf-8")
    links = re.findall(r'href="(https://colab\.research\.google\.com/[^"]+)"', html)
    assert links, f"{rel}: no Colab button in the student edition"
    owner_repo = TEST_REPOSITORY.removeprefix("https://github.com/")
    assert links[0] == f"https://colab.research.google.com/github/{owner_repo}/blob/student/{Path(rel).with_suffix('.ipynb')}"
