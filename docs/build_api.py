"""Build the API reference with pdoc (numpy docstrings) into the folder given, every module of
`toolkit/` by name, and fail on any warning.

    python docs/build_api.py docs/api        (what `make docs` runs)

Every module is named because pdoc walks a package's submodules only as far as its `__all__` lists
them (toolkit.steps and toolkit.report list their functions, not their modules); naming a module
that pdoc also reached through its package is the one warning allowed.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def modules() -> list[str]:
    """Every module of the library by name (the package's __main__ excepted)."""
    names = []
    for path in (ROOT / "toolkit").rglob("*.py"):
        if path.name == "__main__.py":
            continue
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return sorted(names)


def main(output: str) -> None:
    # pdoc refuses a subprocess started while a module imports, unless allowed: numpy 1.26's
    # numpy.testing (imported by scipy.stats) runs `lscpu` on import. The toolkit's own modules
    # start none.
    os.environ.setdefault("PDOC_ALLOW_EXEC", "1")
    warnings.simplefilter("error")
    warnings.filterwarnings("ignore", message=r"The module specification '.*' adds a module named")
    import pdoc
    pdoc.render.configure(docformat="numpy")
    pdoc.pdoc(*modules(), output_directory=Path(output))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python docs/build_api.py OUTPUT_FOLDER")
    main(sys.argv[1])
