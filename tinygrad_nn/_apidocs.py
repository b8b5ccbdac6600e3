"""Write the API reference (HTML, one page per module) from the docstrings with pdoc.

``make docs`` runs ``python -m tinygrad_nn._apidocs docs/api``. Every public module is
documented (private ones, whose names start with ``_``, are left out).
"""

from __future__ import annotations

import pkgutil
import sys
import warnings
from pathlib import Path

import tinygrad_nn

from ._optional import require


def public_modules() -> list[str]:
    """The package and every submodule without a ``_``-prefixed part in its name."""
    names = ["tinygrad_nn"]
    for info in pkgutil.walk_packages(tinygrad_nn.__path__, "tinygrad_nn."):
        if not any(part.startswith("_") for part in info.name.split(".")[1:]):
            names.append(info.name)
    return names


def write(out: Path) -> Path:
    """Render every public module to ``out`` and return the path of its index page."""
    pdoc = require("pdoc", "dev", "the API reference")
    pdoc.render.configure(docformat="restructuredtext", footer_text="tinygrad_nn")
    with warnings.catch_warnings():
        # the package's page already brings the modules named in its __all__
        warnings.filterwarnings("ignore", message=".*adds a module named", category=UserWarning)
        pdoc.pdoc(*public_modules(), output_directory=out)
    return out / "index.html"


if __name__ == "__main__":
    print(f"wrote {write(Path(sys.argv[1] if len(sys.argv) > 1 else 'docs/api'))}")
