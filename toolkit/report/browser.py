"""Headless Chromium, offline: finding it, and printing the report to one PDF.

The flags keep Chromium off the network (no background requests, no updates, no sync) with a fresh
profile per run, so printing a client's report never sends anything anywhere and never reuses
another run's state.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from toolkit.base.exceptions import ToolkitError

__all__ = ["find_browser", "offline_flags", "print_pdf"]


def find_browser() -> str | None:
    """Headless Chromium's executable: `/usr/bin/chromium` if present, else on the PATH.

    Returns
    -------
    str or None
        Its path; None when there is none.
    """
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


# Every host name resolves to nothing: a remote resource that slipped into a page (the escaping and
# the last-resort check both missing it) still cannot be fetched while the report is printed.
HOST_RULES = "--host-resolver-rules=MAP * ~NOTFOUND"


def offline_flags(profile: str | Path) -> list[str]:
    """Chromium's flags for a headless run that loads nothing from outside, with its own profile:
    no background requests, and no host name resolves.

    Parameters
    ----------
    profile : str or Path
        A private profile folder.

    Returns
    -------
    list of str
        The command-line flags.
    """
    return ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", "--hide-scrollbars", "--disable-extensions", HOST_RULES,
            f"--user-data-dir={profile}"]


def print_pdf(page: str | Path, pdf: str | Path, *, browser: str | None = None,
              timeout: float = 180.0) -> Path:
    """Print one HTML page (the report's ``print.html``) to `pdf` with headless Chromium.

    The page's own CSS lays out the print: A4, a page break before every step, the engagement
    and date in the header and "page x of y" in the footer (CSS ``@page`` margin boxes);
    Chromium's own header and footer, which would show the file's path on the machine, are
    switched off.

    Parameters
    ----------
    page : str or Path
        The HTML page.
    pdf : str or Path
        The PDF to write.
    browser : str, optional
        Chromium's executable; default :func:`find_browser`.
    timeout : float, default 180
        Seconds before the print is given up.

    Returns
    -------
    Path
        The PDF.

    Raises
    ------
    ToolkitError
        Chromium is missing, fails or takes too long: naming the fix.
    """
    found = browser or find_browser()
    if found is None:
        raise ToolkitError("--pdf needs headless Chromium to print the report, and it was not "
                           "found. Fix: install it (apt-get install chromium), or run without "
                           "--pdf: the HTML report is complete without it.")
    source, target = Path(page).resolve(), Path(pdf).resolve()
    target.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="funnel-pdf-") as profile:
        command = [found, *offline_flags(profile), "--no-pdf-header-footer",
                   "--run-all-compositor-stages-before-draw", f"--print-to-pdf={target}",
                   source.as_uri()]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise ToolkitError(f"Chromium took more than {timeout:g} s to print the report to "
                               f"PDF. Fix: run again on a less busy machine, or without --pdf "
                               f"(the HTML report is complete).") from None
        except OSError as exc:
            raise ToolkitError(f"Chromium ({found}) could not start: {exc}. Fix: check the "
                               f"installation (apt-get install chromium), or run without --pdf."
                               ) from None
    if not target.is_file() or target.stat().st_size == 0 or not target.read_bytes().startswith(
            b"%PDF"):
        tail = " ".join(done.stderr.strip().splitlines()[-2:])[:300]
        raise ToolkitError(f"Chromium wrote no PDF (exit code {done.returncode}; {tail}). Fix: "
                           f"run without --pdf, and report this with the line above.")
    return target
