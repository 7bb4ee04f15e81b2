"""``facilbot schema``: print the run-of-show JSON Schema (for editors and CI)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        help="write the schema to this file instead of standard output",
    )


def run(args: argparse.Namespace) -> int:
    from runofshow.jsonschema import schema_text

    text = schema_text()
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as error:
        print(f"facilbot schema: cannot write {args.output}: {error.strerror}", file=sys.stderr)
        return 2
    return 0
