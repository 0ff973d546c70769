"""The checks of a rendered report: every page statically (no active content, no remote or
missing resource, no broken local link) and in headless Chromium (it renders, a screenshot)."""

from __future__ import annotations

import base64
import binascii
import html
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from toolkit.base.exceptions import OptionError, ToolkitError
from toolkit.report.browser import find_browser, offline_flags


@dataclass
class ReportCheck:
    """What :func:`check_report` found.

    Attributes
    ----------
    pages : the HTML files checked (index first)
    images : the number of ``<img>`` elements over all pages
    problems : one sentence per problem (page: what); empty when the report is fine
    screenshots : the screenshots kept (index first); empty when none were asked for or taken
    screenshot_skipped : why no browser check ran, or None when it did
    """

    pages: list[Path]
    images: int
    problems: list[str]
    screenshots: list[Path] = field(default_factory=list)
    screenshot_skipped: str | None = None
    _rows: list[dict[str, Any]] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        """True when no problem was found (a skipped screenshot is not a problem)."""
        return not self.problems

    @property
    def pages_checked(self) -> int:
        return len(self.pages)

    @property
    def images_found(self) -> int:
        return self.images

    @property
    def summary(self) -> pd.DataFrame:
        """One row per page: `page, images, problems, screenshot`."""
        return pd.DataFrame(self._rows, columns=["page", "images", "problems", "screenshot"])

    def _repr_html_(self) -> str:
        state = "no problems" if self.ok else f"{len(self.problems)} problem(s)"
        shots = (f"screenshots skipped: {html.escape(self.screenshot_skipped)}"
                 if self.screenshot_skipped else f"{len(self.screenshots)} screenshot(s)")
        items = "".join(f"<li>{html.escape(p)}</li>" for p in self.problems)
        return (f"<p><b>Report check</b>: {self.pages_checked} page(s), {self.images} image(s), "
                f"{state}; {shots}.</p>" + (f"<ul>{items}</ul>" if items else "")
                + self.summary.to_html(index=False))


# Elements a report of tables, text and PNG figures never needs; each could run or load something.
_ACTIVE_TAGS = {"script", "iframe", "frame", "frameset", "object", "embed", "applet", "base",
                "form", "link", "svg", "math", "audio", "video", "source", "track"}
_URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "poster", "background",
                   "srcset", "xlink:href", "codebase", "cite", "longdesc", "lowsrc", "ping"}


def _css_unescaped(css: str) -> str:
    """CSS text with its escapes read (`u\\72l(` is `url(`), comments removed."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    css = re.sub(r"\\([0-9a-fA-F]{1,6})\s?", lambda m: chr(min(int(m.group(1), 16), 0x10FFFF)),
                 css)
    return re.sub(r"\\(.)", r"\1", css)


class _PageScan(HTMLParser):
    """Collects what the static check needs from one page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images: list[str | None] = []
        self.links: list[str] = []
        self.error_blocks = 0
        self.stderr_blocks = 0
        self.text: list[str] = []
        self.active: list[str] = []  # what could run or load something: never in a report
        self._in_head = False
        self._styles = 0
        self._style_text: list[str] | None = None  # the text of the <style> being read

    def _check_active(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Event handlers, script URLs, frames, style sheets other than the page's own, and
        anything loaded from outside the report or that is not an image of it."""
        if tag in _ACTIVE_TAGS or (tag == "meta" and any(n.lower() == "http-equiv" for n, _ in attrs)):
            self.active.append(f"a <{tag}> element")
        if tag == "style":
            self._styles += 1
            if not self._in_head or self._styles > 1:  # the template's one, in the head
                self.active.append("a <style> element besides the page's own style sheet")
            self._style_text = []
        for name, value in attrs:
            name, value = name.lower(), (value or "")
            url = re.sub(r"[\x00-\x20]+", "", value).lower()
            if name.startswith("on"):
                self.active.append(f"an event handler <{tag} {name}=...>")
            elif name in _URL_ATTRIBUTES and url.startswith(("javascript:", "vbscript:")):
                self.active.append(f"a script URL in <{tag} {name}>")
            elif name in _URL_ATTRIBUTES and url.startswith("data:"):
                if not (tag == "img" and url.startswith(("data:image/png;", "data:image/jpeg;"))):
                    self.active.append(f"a data: URL in <{tag} {name}> that is not a figure")
            elif name in _URL_ATTRIBUTES and tag != "a" and re.match(
                    r"^([a-z][a-z0-9+.-]*:|//|/|\\)", url):
                # any scheme (a browser reads `https:host` as https://host), a network path or
                # a path from the root of the disk
                self.active.append(f"<{tag} {name}> loads {value[:60]!r} from outside the report")
            elif name in _URL_ATTRIBUTES and tag != "a" and url and (
                    ".." in re.split(r"[/\\]", url.split("?")[0].split("#")[0]) or not re.search(
                        r"\.(png|jpe?g|gif|webp)$", url.split("?")[0].split("#")[0])):
                self.active.append(f"<{tag} {name}> loads {value[:60]!r}, which is not an image "
                                   f"of the report")
            elif name == "style" and re.search(r"url\(|expression\(|@import", re.sub(
                    r"[\x00-\x20]+", "", _css_unescaped(value)).lower()):
                self.active.append(f"a style on <{tag}> that loads or runs something")

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self._in_head = False
        elif tag == "style" and self._style_text is not None:
            css = re.sub(r"[\x00-\x20]+", "", _css_unescaped("".join(self._style_text))).lower()
            if re.search(r"url\(|@import|expression\(|behavior:|-moz-binding", css):
                self.active.append("a style sheet that loads or runs something")
            self._style_text = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "head":
            self._in_head = True
        elif tag == "body":
            self._in_head = False
        self._check_active(tag, attrs)
        attributes = dict(attrs)
        classes = set((attributes.get("class") or "").split())
        if tag == "img":
            self.images.append(attributes.get("src"))
        elif tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"] or "")
        if classes & {"output_error", "jp-OutputArea-error"}:
            self.error_blocks += 1
        if "output_stderr" in classes or (
                attributes.get("data-mime-type") == "application/vnd.jupyter.stderr"):
            self.stderr_blocks += 1

    def handle_data(self, data: str) -> None:
        if self._style_text is not None:
            self._style_text.append(data)
            return
        self.text.append(data)


def _image_problem(src: str | None, page: Path) -> str | None:
    if not src or not src.strip():
        return "an <img> without a src"
    if src.startswith("data:"):
        header, _, payload = src.partition(",")
        if not payload:
            return f"an <img> with an empty data URI ({header})"
        if ";base64" in header:
            try:
                raw = base64.b64decode(payload, validate=False)
            except (binascii.Error, ValueError):
                return f"an <img> whose base64 data does not decode ({header})"
            if not raw:
                return f"an <img> with an empty image ({header})"
            if "image/png" in header and not raw.startswith(b"\x89PNG\r\n\x1a\n"):
                return "an <img> whose data is not a PNG although it says image/png"
        return None
    if re.match(r"^[a-z]+://", src, re.IGNORECASE):
        return f"an <img> loaded from outside the report ({src[:80]}): the report must be self-contained"
    if not (page.parent / src.split("#")[0].split("?")[0]).is_file():
        return f"an <img> whose file {src!r} does not exist"
    return None


def _local_link(href: str) -> str | None:
    if re.match(r"^([a-z]+:|#|//)", href, re.IGNORECASE):
        return None
    target = href.split("#")[0].split("?")[0]
    return target or None


def _screenshot(browser: str, page: Path, png: Path, *, timeout: float) -> str | None:
    """Screenshot one page; returns a problem sentence, or None when the picture is fine."""
    from PIL import Image, ImageStat

    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="funnel-chromium-") as profile:
        command = [browser, *offline_flags(profile), f"--screenshot={png}",
                   "--window-size=1280,2000", page.resolve().as_uri()]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return f"Chromium took more than {timeout:g} s to render it"
        except OSError as exc:
            return f"Chromium could not start ({exc})"
    if not png.is_file() or png.stat().st_size == 0:
        tail = " ".join(done.stderr.strip().splitlines()[-2:])[:300]
        return f"Chromium wrote no screenshot (exit code {done.returncode}; {tail})"
    with Image.open(png) as image:
        spread = max(ImageStat.Stat(image.convert("L")).stddev)
    if spread < 2.0:
        return f"it renders blank in Chromium (pixel standard deviation {spread:.2f})"
    return None


def check_report(
    index_html: str | os.PathLike,
    *,
    screenshot: str | os.PathLike | None = None,
    browser: str | os.PathLike | Literal[False] | None = None,
    timeout: float = 60.0,
) -> ReportCheck:
    """Check a rendered report: statically on every page, and by eye-level screenshots.

    Parameters
    ----------
    index_html
        The report's ``index.html``; the pages it links to are checked too.
    screenshot
        Where to keep the index's screenshot (PNG); each step page's goes beside it as
        ``<stem>-<page>.png``. None takes them in a temporary folder and keeps none.
    browser
        Chromium's executable; None finds it (:func:`find_browser`); False skips the screenshots.
    timeout
        Seconds allowed per screenshot.

    Returns
    -------
    ReportCheck
        ``pages``, ``images``, ``problems`` (empty when fine), ``screenshots`` and
        ``screenshot_skipped`` (why no browser check ran, e.g. Chromium is not installed).

    Notes
    -----
    Static checks, per page: every ``<img>`` has a non-empty src that is a decodable ``data:`` URI
    (a PNG when it says so) or an existing file, never an outside address; no error output
    (class ``output_error``, or the text 'Traceback (most recent call last)'); no stderr block;
    every local link points to an existing file. The browser check screenshots each page at
    1280x2000 and calls a page blank when its grey levels vary by less than 2 (standard
    deviation), which a page with any text or figure exceeds by far.
    """
    index = Path(index_html)
    if not index.is_file():
        raise OptionError(f"The value for `index_html` must be the report's index.html, but "
                           f"{str(index)!r} does not exist. Fix: run render_report (or `funnel run`) first.")
    pages = [index]
    problems: list[str] = []
    rows: list[dict[str, Any]] = []
    images = 0
    position = 0
    while position < len(pages):
        page = pages[position]
        position += 1
        scan = _PageScan()
        scan.feed(page.read_text(encoding="utf-8"))
        page_problems = []
        for src in scan.images:
            problem = _image_problem(src, page)
            if problem:
                page_problems.append(problem)
        if scan.error_blocks:
            page_problems.append(f"{scan.error_blocks} error output(s): a cell failed")
        elif "Traceback (most recent call last)" in "".join(scan.text):
            page_problems.append("a Python traceback in the text: a cell failed")
        if scan.stderr_blocks:
            page_problems.append(f"{scan.stderr_blocks} stderr block(s) (warnings or logging)")
        for what in dict.fromkeys(scan.active):  # each kind once, in page order
            page_problems.append(f"{what}: a value from the data became markup")
        for href in scan.links:
            target = _local_link(href)
            if target is None:
                continue
            linked = (page.parent / target)
            if not linked.is_file():
                page_problems.append(f"a link to {target!r}, which does not exist")
            elif page == index and linked.suffix == ".html" and linked.resolve() not in {
                    p.resolve() for p in pages}:
                pages.append(linked)
        images += len(scan.images)
        problems += [f"{page.name}: {p}" for p in page_problems]
        rows.append({"page": page.name, "images": len(scan.images), "problems": len(page_problems),
                     "screenshot": None})

    shots: list[Path] = []
    skipped: str | None = None
    found = None if browser is False else (str(browser) if browser else find_browser())
    if browser is False:
        skipped = "screenshots not asked for (browser=False); the static check ran"
    elif found is None:
        skipped = ("Chromium was not found, so no screenshots were taken; the static check ran. "
                   "Fix: install it (apt-get install chromium)")
    else:
        with tempfile.TemporaryDirectory(prefix="funnel-shots-") as scratch:
            first = Path(screenshot) if screenshot is not None else Path(scratch) / "index.png"
            for row, page in zip(rows, pages, strict=True):
                png = first if page == index else first.with_name(f"{first.stem}-{page.stem}.png")
                problem = _screenshot(found, page, png, timeout=timeout)
                if problem:
                    problems.append(f"{page.name}: {problem}")
                elif screenshot is not None:
                    shots.append(png)
                    row["screenshot"] = str(png)
    return ReportCheck(pages=pages, images=images, problems=problems, screenshots=shots,
                       screenshot_skipped=skipped, _rows=rows)


def refuse_active_content(out: Path) -> None:
    """The last guard: a page holding an event handler, a script URL or a remote resource is not
    delivered (values are escaped where they meet the Markdown and the templates; this catches a
    place that was missed)."""
    for page in sorted(out.glob("*.html")):
        scan = _PageScan()
        scan.feed(page.read_text(encoding="utf-8"))
        if scan.active:
            raise ToolkitError(
                f"The rendered page {page.name} holds {scan.active[0]}: a value from the data or "
                f"the YAML became markup, so the report was not delivered (it is in {out}). This "
                f"is a bug in the toolkit; please send the page's name and that line to the "
                f"toolkit team. Fix meanwhile: remove the markup from that value.")


