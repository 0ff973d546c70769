"""The program: its argument parser, its entry points (`main`, the `funnel` command) and the crash
log a bug leaves."""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
from pathlib import Path
from typing import TextIO, cast

from toolkit.base.exceptions import ToolkitError
from toolkit.base.version import VERSION as __version__
from toolkit.cli.terminal import SafeStream, terminal_safe


# Each command's module is imported when the command runs: they import the steps, pandas' and
# matplotlib's worlds, which `funnel --help` or a mistyped argument should not wait for.
def cmd_new(args: argparse.Namespace) -> int:
    from toolkit.cli.new import cmd_new as command

    return command(args)


def cmd_validate(args: argparse.Namespace) -> int:
    from toolkit.cli.validate import cmd_validate as command

    return command(args)


def cmd_kpis(args: argparse.Namespace) -> int:
    from toolkit.cli.kpis import cmd_kpis as command

    return command(args)


def cmd_reveal(args: argparse.Namespace) -> int:
    from toolkit.cli.reveal import cmd_reveal as command

    return command(args)


def cmd_notebooks(args: argparse.Namespace) -> int:
    from toolkit.cli.run import cmd_notebooks as command

    return command(args)


def cmd_run(args: argparse.Namespace) -> int:
    from toolkit.cli.run import cmd_run as command

    return command(args)


def cmd_demo(args: argparse.Namespace) -> int:
    from toolkit.cli.run import cmd_demo as command

    return command(args)


def cmd_compare(args: argparse.Namespace) -> int:
    from toolkit.cli.run import cmd_compare as command

    return command(args)


def steps_of(text: str) -> list[int]:
    steps: set[int] = set()
    bad: list[object] = []
    for part in text.split(","):
        try:
            if "-" in part:
                a, b = (int(x) for x in part.split("-", 1))
                bad += [x for x in (a, b) if not 1 <= x <= 7]  # before a range of billions is made
                steps.update(range(max(a, 1), min(b, 7) + 1))
            elif part.strip():
                steps.add(int(part))
        except ValueError:
            bad.append(part)
    bad += sorted(s for s in steps if not 1 <= s <= 7)
    if bad or not steps:
        raise argparse.ArgumentTypeError(f"steps must be within 1-7, like '1-7' or '4,5'; got "
                                         f"{text!r}")
    return sorted(steps)




def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `funnel` command and its subcommands.

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(
        prog="funnel", description="Optimise a commercial process: from suspect to order, "
                                   "measured right. Seven steps, one engagement YAML.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("new", help="start a client engagement from a commented template",
                       description="Create data/clients/NAME/engagement.yaml and a .gitignore.")
    p.add_argument("name", metavar="NAME", help="engagement name, e.g. acme-2026")
    p.add_argument("--preset", choices=["salesforce"], help="fill in a CRM preset")
    p.add_argument("--history", help="stage-history export (for --preset)")
    p.add_argument("--records", help="per-record export, e.g. Salesforce Opportunity.csv")
    p.add_argument("--folder", help="parent folder (default: data/clients)")
    p.add_argument("--force", action="store_true", help="overwrite an existing engagement.yaml")
    # Dutch by default: the method and its consultants are Dutch, so a report for a Dutch client
    # needs no flag; `--language en` for a client who reads English.
    p.add_argument("--language", choices=["nl", "en"], default="nl",
                   help="the report's language written into the YAML: nl (Dutch, default) or en; "
                        "the phase labels of the template are in it too")
    p.set_defaults(func=cmd_new)

    p = sub.add_parser("validate", help="load, reconcile and audit an engagement",
                       description="Load every source, reconcile rows in = used + quarantined, "
                                   "audit the stage history. Exits 1 when unusable.")
    p.add_argument("engagement", metavar="ENGAGEMENT.yaml")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("kpis", help="compute the KPI table",
                       description="Compute every KPI with n and a 95% interval.")
    p.add_argument("engagement", metavar="ENGAGEMENT.yaml")
    p.add_argument("--by", metavar="ATTR", help="split by a segment attribute")
    p.add_argument("--period", choices=["month", "quarter", "year"], help="split by period")
    p.add_argument("--out", metavar="FILE.csv|.xlsx", help="write the table to a file")
    p.set_defaults(func=cmd_kpis)

    p = sub.add_parser("reveal", help="write the private map from pseudonyms back to names",
                       description="Write pseudonym -> name for every pseudonymised attribute "
                                   "(the owner, the sources' `personal:` columns) to a CSV for "
                                   "the consultant: beside the engagement YAML by default, never "
                                   "into a report folder or a folder git would commit.")
    p.add_argument("engagement", metavar="ENGAGEMENT.yaml")
    p.add_argument("--out", metavar="FILE.csv",
                   help="where to write it (default: pseudonym-key-map.csv beside the YAML)")
    p.set_defaults(func=cmd_reveal)

    p = sub.add_parser("notebooks", help="write the seven notebooks in a language",
                       description="Write the seven step notebooks with their text (method notes, "
                                   "exercises, model answers) in the engagement's language, from "
                                   "the report's catalogue; the code stays as it is. Given an "
                                   "engagement, its path becomes the notebooks' default.")
    p.add_argument("engagement", metavar="ENGAGEMENT.yaml", nargs="?",
                   help="the engagement the notebooks open (default: the demo)")
    p.add_argument("--language", choices=["nl", "en"],
                   help="default: the engagement's language (the demo's: nl)")
    p.add_argument("--out", metavar="FOLDER", help="where to write them (default: "
                   "reports/notebooks-<language>; never over the notebooks/ originals)")
    p.set_defaults(func=cmd_notebooks)

    for name, help_text in (("run", "run the seven steps and render the report"),
                            ("demo", "run the whole method on the demo company")):
        p = sub.add_parser(name, help=help_text, description=help_text.capitalize() + ".")
        if name == "run":
            p.add_argument("engagement", metavar="ENGAGEMENT.yaml")
        else:
            p.add_argument("--baseline-only", action="store_true",
                           help="print the baseline funnel and KPIs, skip the report")
        p.add_argument("--steps", type=steps_of, default=list(range(1, 8)), metavar="1-7",
                       help="which steps to run, e.g. 1-7 or 4,5 (default all)")
        p.add_argument("--out", metavar="DIR",
                       help="output folder (default reports/<engagement>/<date>/)")
        p.add_argument("--quiet", action="store_true", help="no progress bar")
        p.add_argument("--edition", choices=["client", "training"],
                       help="client: for the board; training: adds exercises, checks and method "
                            "notes (default: the YAML's report.edition; the demo's is training)")
        p.add_argument("--language", choices=["nl", "en"],
                       help="the report's language (default: the YAML's `language`)")
        p.add_argument("--pdf", action="store_true",
                       help="also print the report to one PDF (headless Chromium, offline)")
        p.add_argument("--notebooks", action="store_true",
                       help="also execute the seven step notebooks into <out>/notebooks "
                            "(slower; the report is rendered from the step results either way)")
        if name == "run":
            p.add_argument("--since", metavar="PREVIOUS_REPORT_FOLDER",
                           help="compare with this earlier report (page 'Since the last "
                                "report'); default: the report already in --out, else the "
                                "newest report of the same engagement beside it")
        else:
            p.add_argument("--no-followup", action="store_true",
                           help="skip the demo's second export six months later (the page "
                                "'Since the last report')")
        p.set_defaults(func=cmd_run if name == "run" else cmd_demo)

    p = sub.add_parser("compare", help="the page 'Since the last report' for any two runs",
                       description="Compare two report folders written by `funnel run` (their "
                                   "run-state.json.gz): the started actions, the scorecard then "
                                   "and now, findings new or gone, records added, removed or "
                                   "restated.")
    p.add_argument("old", metavar="OLD_RUN", help="the earlier report folder")
    p.add_argument("new", metavar="NEW_RUN", help="the later report folder")
    p.add_argument("--out", metavar="DIR",
                   help="where to write since.html (default: NEW_RUN-since-OLD_RUN beside it)")
    p.add_argument("--language", choices=["nl", "en"], help="the page's language (default nl)")
    p.add_argument("--edition", choices=["client", "training"], help="default client")
    p.set_defaults(func=cmd_compare)
    return parser


def _run_with_notes(args: argparse.Namespace) -> int:
    """Run a command; Python warnings become one `Note:` line each (the message, not a source
    line or stack level a CLI user cannot act on), printed once after the command's output."""
    import warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = args.func(args)
    seen: set[str] = set()
    for w in caught:
        text = " ".join(str(w.message).split())
        if text not in seen:
            seen.add(text)
            print(f"Note: {terminal_safe(text)}", file=sys.stderr)
    return code


# Control characters from the data (ESC starts a terminal escape sequence that can recolour,
# retitle or rewrite the screen) are shown as \x.. escapes, never sent to the terminal; so are the
# direction controls (a right-to-left override makes "exe.txt" read as "txt.exe") as \u.. escapes.
def command() -> int:
    """The `funnel` command on a terminal: `main`, with Python's garbage collector told to leave
    alone what will not become garbage.

    The libraries' objects (pandas, scipy, matplotlib: millions) are frozen once imported, so a
    full collection during the run does not walk them; and what the run made is frozen when it
    ends, so Python's exit does not walk it all in a last collection (about 0.4 s). Freezing
    only takes the objects that exist at that moment out of the cycle collector's sight:
    memory freed by reference counting is freed as before.

    Returns
    -------
    int
        The exit code of :func:`main`.
    """
    gc.freeze()
    code = main()
    gc.freeze()
    return code


def main(argv: list[str] | None = None) -> int:
    """The `funnel` command: parse `argv`, run the command, and turn every error into one line.

    A ToolkitError (bad data or configuration) or an OS error prints ``error: ...`` with the
    fix; a bug prints one line and writes the traceback to a ``funnel-crash-*.log`` file.

    Parameters
    ----------
    argv : list of str, optional
        The arguments; default the process's.

    Returns
    -------
    int
        The exit code: 0 on success, 2 on an error, 3 on a bug, 130 when interrupted.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        # a stream in all but name (it writes and delegates the rest); older typeshed asks for IO
        with contextlib.redirect_stdout(cast(TextIO, SafeStream(sys.stdout))):
            return _run_with_notes(args)
    except BrokenPipeError:
        # `funnel kpis ... | head` closed the pipe: stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except ToolkitError as exc:
        print(f"error: {terminal_safe(str(exc))}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"error: {exc}. Fix: check the path.", file=sys.stderr)
        return 2
    except OSError as exc:  # the machine, not the toolkit: a read-only folder, a full disk
        # a write that fails on a full disk names no file: name the output the command writes
        target = exc.filename or getattr(args, "out", None)
        where = f" {target}" if target else ""
        print(f"error: cannot write or read{where}: {exc.strerror or exc}. Fix: check that the "
              f"folder exists and is writable and that the disk has room (or pass another "
              f"--out).", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: nothing half-written was left in place (a report is built in "
              "<out>.partial and only moved into place when complete)", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug in the toolkit: say so plainly, keep the traceback for the team
        log = _write_crash_log(argv)
        print(f"internal error: {type(exc).__name__}: {exc}\nThis is a bug in the toolkit, not in "
              f"your data or YAML. The traceback is in {log}; please send it to the toolkit team "
              f"(read it first: messages can quote values from the data).", file=sys.stderr)
        return 3


def _write_crash_log(argv: list[str] | None) -> Path:
    import tempfile
    import traceback
    fd, name = tempfile.mkstemp(prefix="funnel-crash-", suffix=".log")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(f"funnel {' '.join(argv if argv is not None else sys.argv[1:])}\n\n")
        handle.write(traceback.format_exc())
    return Path(name)


