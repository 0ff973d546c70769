"""The executed step notebooks of a run (`funnel run --notebooks`): papermill runs the seven step
notebooks into the report folder, reading the run's step results; papermill and the kernel are
imported only here, so the rest of the report works without the notebook tooling."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from toolkit.base.exceptions import ConfigError, OptionError, ToolkitError
from toolkit.base.paths import NOTEBOOKS_DIR

_INLINE_BACKEND = "module://matplotlib_inline.backend_inline"

def _require(module: str, purpose: str) -> ModuleType:
    try:
        return __import__(module)
    except ImportError:
        raise ToolkitError(
            f"{purpose} needs the package `{module}`, which is not installed. Fix: install the "
            f"notebook tooling with `pip install -e \".[dev]\"` (or `pip install {module}`).") from None


class ExecutedNotebooks(list[Path]):
    """The executed notebooks, in step order, with each step's wall time in seconds.

    A plain list of paths that also carries ``timings``:
    ``{notebook file name: seconds}``, kernel start included (pass it to :func:`write_manifest`).
    """

    def __init__(self, paths: Iterable[Path] = (), timings: Mapping[str, float] | None = None
                 ) -> None:
        super().__init__(paths)
        self.timings: dict[str, float] = dict(timings or {})


def _find_notebook(step: int, notebooks_dir: Path) -> Path:
    if isinstance(step, bool) or not isinstance(step, int | np.integer) or not 1 <= step <= 99:
        raise OptionError(f"The value for `steps` must hold step numbers from 1 to 99, but {step!r} "
                           f"was passed.")
    found = sorted(notebooks_dir.glob(f"{int(step):02d}_*.ipynb"))
    if len(found) != 1:
        have = sorted(p.name for p in notebooks_dir.glob("[0-9][0-9]_*.ipynb"))
        what = "no notebook" if not found else f"{len(found)} notebooks ({[p.name for p in found]})"
        raise ToolkitError(
            f"Step {step} has {what} named `{int(step):02d}_*.ipynb` in {notebooks_dir} (found: "
            f"{have}). Fix: keep exactly one notebook per step number there, or pass `steps=` "
            f"with the steps that exist.")
    return found[0]


def _check_kernel(kernel_name: str) -> None:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    manager = KernelSpecManager()
    try:
        manager.get_kernel_spec(kernel_name)
    except NoSuchKernel:
        have = sorted(manager.find_kernel_specs())
        raise OptionError(
            f"The value for `kernel_name` must be an installed Jupyter kernel {have}, but "
            f"{kernel_name!r} was passed. Fix: install ipykernel and register it with "
            f"`{sys.executable} -m ipykernel install --sys-prefix`, or pass one of {have}."
        ) from None


@contextlib.contextmanager
def _inline_backend() -> Iterator[None]:
    """Let the kernels draw inline figures even when the caller's shell sets MPLBACKEND=Agg.

    ipykernel only picks its inline backend when MPLBACKEND is unset, and the kernel inherits our
    environment; a headless CI that exports Agg would otherwise give a report without figures.
    """
    old = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = _INLINE_BACKEND
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = old


def _quiet_kernel_manager() -> type:
    """A kernel manager whose kernels write their own log nowhere.

    A kernel's stderr is inherited from `funnel run`'s terminal, and ipykernel logs some things
    past `log_level` (tornado's "Uncaught exception in ZMQStream callback" with a traceback when a
    shutdown request races the control channel): a CLI user would read a Python traceback after a
    run that succeeded. Cell errors and outputs travel over the kernel protocol, not stderr, so
    nothing a step says is lost.
    """
    from jupyter_client import AsyncKernelManager

    class QuietKernelManager(AsyncKernelManager):
        # jupyter_client types start_kernel as KernelManager's synchronous one, and sets the
        # async one on AsyncKernelManager with an ignore of its own: an override cannot match
        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            kw.setdefault("stderr", subprocess.DEVNULL)
            await super().start_kernel(**kw)

    return QuietKernelManager


def execute_notebooks(
    engagement_path: str | os.PathLike,
    *,
    out_dir: str | os.PathLike,
    steps: Iterable[int] = range(1, 8),
    notebooks_dir: str | os.PathLike = NOTEBOOKS_DIR,
    progress: bool = True,
    kernel_name: str = "python3",
    run: str = "",
    report_dir: str | os.PathLike | None = None,
    previous_dir: str | os.PathLike | None = None,
) -> ExecutedNotebooks:
    """Execute the step notebooks for one engagement with papermill.

    Parameters
    ----------
    engagement_path
        The engagement YAML. Passed to each notebook as its ``engagement`` parameter, made
        absolute because the notebooks run with the notebooks folder as working directory.
    out_dir
        The run's output folder; the executed notebooks go to ``out_dir/notebooks/``.
    steps
        Step numbers to run; step ``k`` is the one notebook named ``kk_*.ipynb``.
    notebooks_dir
        Where the step notebooks are (default: the project's ``notebooks/``).
    progress
        Show a progress bar over the steps.
    kernel_name
        The Jupyter kernel to run them in.
    run
        The file of a `funnel run`'s step results (``toolkit.steps.store.run_file``), passed to
        each notebook as its ``run`` parameter: its step calls return those results instead of
        computing them again. Empty: each notebook computes its step.
    report_dir
        The folder the run's report goes to (``funnel run --out``; default `out_dir`), passed
        as the ``out`` parameter to the notebooks that declare one: step 7's "Since the
        previous report" looks for the previous report beside it, as the report's page does.
        (A run builds its report in a folder beside that one and moves it there when done.)
    previous_dir
        The previous report's folder the run compares with (``funnel run --since``, or the one
        its rule found), passed as the ``previous`` parameter to the notebooks that declare one,
        so step 7's comparison is the page's. None: the notebook finds it by the same rule.

    Returns
    -------
    ExecutedNotebooks
        The executed notebook paths in step order, with ``.timings`` (seconds per notebook).

    Raises
    ------
    ToolkitError
        When a step has no notebook, the kernel is not installed, or a notebook fails: the message
        names the notebook, the cell and the error, and where the executed notebook is. Later
        steps are not run, since each builds on the ones before.
    """
    pm = _require("papermill", "Executing the step notebooks")
    _require("ipykernel", "Executing the step notebooks")
    from papermill.exceptions import PapermillExecutionError
    from tqdm.auto import tqdm

    engagement = Path(engagement_path).resolve()
    if not engagement.is_file():
        raise ConfigError("engagement file not found", file=str(engagement),
                          fix="check the path, or create one with `funnel new NAME`")
    notebooks_dir = Path(notebooks_dir).resolve()
    if not notebooks_dir.is_dir():
        raise OptionError(f"The value for `notebooks_dir` must be a folder with the step notebooks, "
                           f"but {str(notebooks_dir)!r} does not exist.")
    # Find every notebook before running any, so a missing step fails in a second, not after six.
    inputs = [_find_notebook(step, notebooks_dir) for step in steps]
    _check_kernel(kernel_name)
    target = Path(out_dir).resolve() / "notebooks"
    report = str(Path(report_dir if report_dir is not None else out_dir).resolve())
    target.mkdir(parents=True, exist_ok=True)

    executed = ExecutedNotebooks()
    with _inline_backend(), tqdm(total=len(inputs), desc="notebooks", unit="step",
                                 disable=not progress) as bar:
        for source in inputs:
            bar.set_postfix_str(source.name)
            output = target / source.name
            start = time.perf_counter()
            parameters = {"engagement": str(engagement), "run": run}
            declared = pm.inspect_notebook(str(source))  # (an unknown one is warned about)
            if "out" in declared:
                parameters["out"] = report
            if "previous" in declared and previous_dir is not None:
                parameters["previous"] = str(Path(previous_dir).resolve())
            try:
                pm.execute_notebook(
                    str(source), str(output), parameters=parameters,
                    kernel_name=kernel_name, cwd=str(notebooks_dir), progress_bar=False,
                    log_output=False, start_timeout=120,
                    # The kernel's own log (e.g. "running over TCP without encryption" on a
                    # local kernel) is not for a CLI user: `funnel run` prints progress and
                    # results only; a failed cell still raises with its cell and error.
                    extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
                    kernel_manager_class=_quiet_kernel_manager())
            except PapermillExecutionError as exc:
                first_line = next((line for line in (exc.source or "").splitlines() if line.strip()),
                                  "")
                raise ToolkitError(
                    f"Step notebook {source.name} failed in cell In [{exc.exec_count}] "
                    f"(`{first_line.strip()[:80]}`): {exc.ename}: {exc.evalue}. Fix: open the executed "
                    f"notebook at {output} to see the cell and its traceback, correct the cause (often "
                    f"the engagement YAML or its data: {engagement}) and run again.") from exc
            except Exception as exc:
                raise ToolkitError(
                    f"Step notebook {source.name} could not be executed: {type(exc).__name__}: {exc}. "
                    f"Fix: open the executed notebook at {output} (if it was written) and check "
                    f"that the kernel {kernel_name!r} starts (`jupyter kernelspec list`).") from exc
            executed.append(output)
            executed.timings[source.name] = round(time.perf_counter() - start, 3)
            bar.update(1)
    return executed


