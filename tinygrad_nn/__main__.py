"""``python -m tinygrad_nn`` and the ``tinygrad-nn`` command: the digits application's CLI.

The CLI needs the ``digits`` extra; without it this prints one line saying what to install
and exits 1.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ._optional import MissingExtraError


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``tinygrad-nn`` (see ``tinygrad_nn.digits.cli``); returns the exit status."""
    try:
        from .digits.cli import main as cli_main
    except MissingExtraError as err:
        print(f"tinygrad-nn: error: {err}", file=sys.stderr)
        return 1
    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
