#!/usr/bin/env python3
"""The repository speaks of itself: no documentation page, header, example, test or tool
refers to files outside the repository or to the project's working notes (its issue threads and
reports). A reader has only the repository.

usage: self_contained.py SOURCE_ROOT"""
import pathlib
import re
import sys

# Spelled in pieces so that this file does not match itself.
PATTERNS = [
    r"\.\./" + "shared",
    r"(?-i:KINKS)" + r"\.md",
    r"closing " + "note",
    r"the " + r"issue('s)?\b",
    r"this " + r"session",
    r"optional " + r"item",
]
FOLDERS = ["README.md", "include", "examples", "tests", "tools", "bench", "docs", ".ci"]
SUFFIXES = {".md", ".hpp", ".cpp", ".py", ".sh", ".build", ".in", ".txt", ""}


def main() -> int:
    root = pathlib.Path(sys.argv[1])
    bad = []
    for entry in FOLDERS:
        base = root / entry
        files = [base] if base.is_file() else [p for p in base.rglob("*") if p.is_file()]
        for f in files:
            if f.suffix not in SUFFIXES or f.stat().st_size > 2_000_000:
                continue
            try:
                text = f.read_text()
            except UnicodeDecodeError:
                continue
            for n, line in enumerate(text.splitlines(), 1):
                for p in PATTERNS:
                    if re.search(p, line, re.I):
                        bad.append(f"{f.relative_to(root)}:{n}: {line.strip()[:120]}")
    for b in bad:
        print(b)
    print(f"{0 if bad else 1} passed, {1 if bad else 0} failed ({len(bad)} references outside the repository)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
