"""`python -m chaoslab_operator operator run ...`: the same commands without the `chaoslab` root."""

from __future__ import annotations

import argparse
import sys

from chaoslab_operator.command import register


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaoslab_operator")
    register(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
