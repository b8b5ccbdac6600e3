"""Optional dependencies: one clear error when an extra is missing, and the progress bar.

The core needs numpy alone. Drawing needs ``graphviz`` (extra ``viz``), the estimator
scikit-learn (``sklearn``), the digits application scikit-learn, matplotlib, tqdm, joblib
and threadpoolctl (``digits``).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterable, Iterator
from types import ModuleType
from typing import Any

__all__ = ["MissingExtraError", "progress_bar", "require"]


class MissingExtraError(ImportError):
    """A feature needs a package that is not installed; the message says what to install."""


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        top = module.split(".")[0]
        raise MissingExtraError(
            f"{feature} needs the '{top}' package: pip install \"tinygrad-nn[{extra}]\""
        ) from None


class _NoBar:
    """Stands in for a tqdm bar when progress is off or tqdm is not installed."""

    def __init__(self, iterable: Iterable | None) -> None:
        self.iterable = iterable

    def __iter__(self) -> Iterator:
        return iter(self.iterable if self.iterable is not None else ())

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        """Does nothing."""

    def update(self, n: int = 1) -> None:
        """Does nothing."""

    def close(self) -> None:
        """Does nothing."""


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel" not in sys.modules:
        return False
    ip = shell.get_ipython()
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def progress_bar(
    iterable: Iterable | None = None,
    *,
    total: int | None = None,
    desc: str = "",
    enabled: bool = True,
    leave: bool = False,
    unit: str = "it",
    initial: int = 0,
) -> Any:
    """A tqdm bar over ``iterable`` on a terminal or in Jupyter, else a silent stand-in.

    In Jupyter the widget bar is used only when ipywidgets is installed (otherwise tqdm
    warns), and the text bar otherwise; in a script the bar shows only on a terminal.
    Without tqdm (it comes with the ``digits`` extra) there is no bar.
    """
    notebook = _in_notebook()
    if not enabled or importlib.util.find_spec("tqdm") is None:
        return _NoBar(iterable)
    if not notebook and not sys.stderr.isatty():
        return _NoBar(iterable)
    if notebook and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.notebook import tqdm
    else:
        from tqdm.std import tqdm
    return tqdm(iterable, total=total, desc=desc, leave=leave, unit=unit, initial=initial)
