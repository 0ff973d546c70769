"""The report folder: a run builds its report in `<out>.partial` under a lock, marks the files it
wrote, and moves it into place; the user's own files go with it and a changed report file is
refused."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from toolkit.base.exceptions import ToolkitError
from toolkit.base.paths import file_name  # noqa: F401 (the report's name for it)


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read a megabyte at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


RUN_MARKER = ".funnel-run"  # in `<out>.partial` while a run builds it: holds the run's lock


# Written by every run into its report folder, last: the files the run wrote and their sha256, and
# the steps it made pages for. Only a folder holding it is a report a later run may replace (a
# `manifest.json` alone proves nothing: anybody can copy one), and only the files it lists are the
# toolkit's: everything else in the folder is the user's and is carried into the new report.
_REPORT_MARKER = ".funnel-report"


def write_report_marker(out: Path, steps: Sequence[int]) -> None:
    files = {path.relative_to(out).as_posix(): file_sha256(path) for path in _files_in(out)
             if path.name not in (RUN_MARKER, _REPORT_MARKER)}
    (out / _REPORT_MARKER).write_text(json.dumps(
        {"made_by": "funnel-toolkit", "steps": sorted(steps), "files": files}, indent=1) + "\n",
        encoding="utf-8")


def _files_in(folder: Path) -> list[Path]:
    """Every file under `folder`, links included as files and never followed."""
    found = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        found += [Path(root) / name for name in files]
        found += [Path(root) / name for name in dirs if (Path(root) / name).is_symlink()]
    return sorted(found)


def _report_marker(folder: Path) -> dict | None:
    """The marker of a report an earlier run wrote into `folder`, or None when it is not one."""
    marker = folder / _REPORT_MARKER
    if folder.is_symlink() or not folder.is_dir() or marker.is_symlink() or not marker.is_file():
        return None
    try:
        content = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not (isinstance(content, dict) and content.get("made_by") == "funnel-toolkit"
            and isinstance(content.get("files"), dict) and isinstance(content.get("steps"), list)):
        return None
    return content


def _is_report(folder: Path) -> bool:
    """Whether `folder` is a report an earlier `funnel run` wrote (it holds the run's marker)."""
    return _report_marker(folder) is not None


def _users_files(folder: Path, marker: dict) -> tuple[list[Path], list[Path]]:
    """The files in a report folder the toolkit did not write, and the ones it wrote that were
    changed since (a workbook edited and saved in place)."""
    added, changed = [], []
    for path in _files_in(folder):
        name = path.relative_to(folder).as_posix()
        if name == _REPORT_MARKER:
            continue
        if name not in marker["files"]:
            added.append(path)
        elif path.is_symlink() or not path.is_file() or file_sha256(path) != marker["files"][name]:
            changed.append(path)
    return added, changed


def _step_list(steps: Sequence[int]) -> str:
    return ", ".join(str(step) for step in sorted(steps))


def check_replaceable(final: Path, steps: Sequence[int] | None = None) -> None:
    """Refuse, before anything is written, an output folder (or its `.old` sibling) that is not
    a report of an earlier run: a folder the toolkit did not create is never touched. A report is
    refused too when this run would drop pages it holds (fewer steps) or a file the user changed."""
    if final.exists() and (not final.is_dir() or (any(final.iterdir()) and not _is_report(final))):
        raise ToolkitError(
            f"The output folder {final} exists and is not a report of an earlier run (it has no "
            f"{_REPORT_MARKER} marker, which every run writes), so it will not be replaced. Fix: "
            f"pass an empty or new folder as --out; nothing was written.")
    marker = _report_marker(final) if final.exists() else None
    if marker is not None:
        dropped = sorted(set(marker["steps"]) - set(steps or marker["steps"]))
        if dropped:
            raise ToolkitError(
                f"The report in {final} holds the pages of step(s) {_step_list(dropped)}, which "
                f"this run (--steps {_step_list(steps or ())}) does not make: replacing the report "
                f"would delete them. Fix: run those steps too (leave out --steps to run all "
                f"seven), or pass a new folder as --out; nothing was written.")
        changed = _users_files(final, marker)[1]
        if changed:
            names = ", ".join(str(p.relative_to(final)) for p in changed[:5])
            raise ToolkitError(
                f"{names} in {final} changed since the run that wrote it, so a new report would "
                f"overwrite your changes. Fix: move or rename the changed file(s) (files the "
                f"toolkit did not write are kept), then run again; nothing was written.")
    old = final.with_name(final.name + ".old")
    if (old.exists() or old.is_symlink()) and not _is_report(old):
        raise ToolkitError(
            f"{old} exists and is not a report of an earlier run, so it will not be touched (a "
            f"run uses that name for a moment while it replaces {final.name}). Fix: move or "
            f"rename {old}, or pass another --out; nothing was written.")


@contextlib.contextmanager
def run_folder(final: Path) -> Iterator[Path]:
    """A fresh `<out>.partial` folder beside `final` to build the report in, locked for this run.

    Building elsewhere and moving the finished folder into place means a run that fails or is
    interrupted never leaves a half report that looks complete, nor stale pages of an older run
    next to new ones. The folder holds a marker file locked (flock) while the run lives: a second
    run on the same --out is refused instead of deleting the first one's work; the remains of a
    killed run (marker present, lock free) are cleared; a `.partial` folder without the marker was
    not made by a run and is never touched.
    """
    partial = final.with_name(final.name + ".partial")
    if partial.exists() or partial.is_symlink():
        marker = partial / RUN_MARKER
        if partial.is_symlink() or not partial.is_dir() or not marker.is_file():
            raise ToolkitError(
                f"{partial} exists and was not made by `funnel run`, so it will not be touched. "
                f"Fix: move or rename it, or pass another --out; nothing was written.")
        with marker.open("r+", encoding="utf-8") as stale:
            if not _try_lock(stale):
                raise ToolkitError(
                    f"Another `funnel run` (process {stale.read().strip() or '?'}) is writing a "
                    f"report into {partial} now. Fix: wait until it has finished, or pass another "
                    f"--out; nothing was written.")
            shutil.rmtree(partial)  # the remains of an interrupted run
    try:
        partial.mkdir(parents=True)
    except FileExistsError:
        raise ToolkitError(f"Another `funnel run` started writing into {partial} at the same "
                           f"moment. Fix: wait until it has finished, or pass another --out."
                           ) from None
    try:
        with (partial / RUN_MARKER).open("w", encoding="utf-8") as lock:
            _try_lock(lock)
            lock.write(f"{os.getpid()}\n")
            lock.flush()
            yield partial
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        # A full disk: the half-written report only takes the room the next try needs.
        shutil.rmtree(partial, ignore_errors=True)
        raise ToolkitError(
            f"The disk is full: the report could not be written into {partial} ({exc.strerror}"
            f"{'; ' + str(exc.filename) if exc.filename else ''}). Fix: free space on that disk, "
            f"or pass --out a folder on another disk; the half-written report was removed and "
            f"{final} was not changed.") from None


def _try_lock(handle: IO[Any]) -> bool:
    """An exclusive, non-blocking lock on an open file; the system frees it when the process ends
    (also on kill -9), so a crashed run never blocks the next one.

    Why not the `filelock` package (issue 22 asked): it would not be the same lock. Its Unix lock
    opens the lock file with O_TRUNC, so a second run trying the lock would erase the process
    number the first run wrote into the marker (the refusal names that process), and on Windows it
    deletes the file on release; a separate lock file would add a file to every `.partial` folder
    for the same flock(2) this function calls. Ten lines of the standard library are kept.
    """
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; the marker file still guards the folder
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def move_into_place(partial: Path, final: Path, steps: Sequence[int] | None = None) -> None:
    """Replace the report in `final` by the complete one in `partial`: the files of the user in
    `final` (any file the earlier run did not write) are moved into the new report first, and of
    the earlier report only the files its run wrote are deleted."""
    # Two renames on one file system; an interruption between them leaves `<out>.old` (the complete
    # earlier report) and `<out>.partial` (the complete new one), never a mix of the two.
    check_replaceable(final, steps)  # nothing appeared at those names while the steps ran
    marker = _report_marker(final) if final.exists() else None
    if marker is not None:
        added = _users_files(final, marker)[0]
        clash = [p for p in added if (partial / p.relative_to(final)).exists()
                 or (partial / p.relative_to(final)).is_symlink()]
        if clash:
            raise ToolkitError(
                f"{clash[0].relative_to(final)} in {final} is not the toolkit's, and the new "
                f"report has a file of that name. Fix: move or rename yours; the new report is "
                f"complete in {partial} and {final} was not changed.")
        for path in added:  # the user's files go with the report
            target = partial / path.relative_to(final)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
    (partial / RUN_MARKER).unlink(missing_ok=True)
    old = final.with_name(final.name + ".old")
    if old.exists():
        _remove_report(old)
    if final.exists():
        final.rename(old)
    partial.rename(final)
    if old.exists():
        _remove_report(old)


def _remove_report(folder: Path) -> None:
    """Delete a report folder the toolkit wrote: the files its marker lists, then the folders left
    empty. A file it does not list stays, and so does its folder."""
    marker = _report_marker(folder)
    if marker is None:  # an empty folder (a run's rename left it) is all it can be here
        with contextlib.suppress(OSError):
            folder.rmdir()
        return
    for name in marker["files"]:
        parts = Path(name).parts
        if Path(name).is_absolute() or ".." in parts or not parts:
            continue  # a marker that points outside its folder was not written by a run
        path = folder / name
        if path.is_file() or path.is_symlink():
            path.unlink()
    (folder / _REPORT_MARKER).unlink(missing_ok=True)
    for root, _dirs, _files in sorted(os.walk(folder, topdown=False), reverse=True):
        with contextlib.suppress(OSError):
            Path(root).rmdir()
