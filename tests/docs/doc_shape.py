# SPDX-License-Identifier: MIT
"""The user pages stay short: README.md and every docs/**/*.md but the maintainers' pages
(ARCHITECTURE, CONTRIBUTING, PERFORMANCE, CHANGELOG, and pages under a folder named for maintainers,
internals or development) weigh at most MAXKB (250) KB in all, hold no date (YYYY-MM-DD), and have
no unit over LIMIT (600) characters. A unit is a paragraph (consecutive non-blank lines), a list
item with its continuation lines, or a table cell; fenced code is not counted.

    python3 tests/docs/doc_shape.py        (from the source folder; exit 1 when a rule is broken)
"""
import os
import re
import sys

LIMIT = int(os.environ.get("LIMIT", 600))
MAXKB = int(os.environ.get("MAXKB", 250))
MAINTAINERS = re.compile(r"(ARCHITECTURE|CONTRIBUTING|PERFORMANCE|CHANGELOG)[^/]*\.md$", re.I)
MAINTAINER_FOLDER = re.compile(r"maint|intern|develop", re.I)
DATE = re.compile(r"\b20\d\d-[01]\d-[0-3]\d\b")
ITEM = re.compile(r"^([-*+]|\d+\.)\s")


def user_pages():
    pages = ["README.md"]
    for folder, _, files in os.walk("docs"):
        if MAINTAINER_FOLDER.search(folder):
            continue
        pages += sorted(os.path.join(folder, f) for f in files
                        if f.endswith(".md") and not MAINTAINERS.search(f))
    return pages


def units(text):
    """(line, unit) for every paragraph, list item and table cell outside code fences."""
    found, unit, start, fence = [], [], 0, False

    def flush():
        if unit:
            found.append((start, " ".join(unit)))

    for number, line in enumerate(text.split("\n"), 1):
        s = line.strip()
        if s.startswith("```"):
            flush()
            unit, fence = [], not fence
            continue
        if fence:
            continue
        if s.startswith("|"):
            flush()
            unit = []
            found += [(number, cell.strip()) for cell in s.strip("|").split(" | ")]
            continue
        if not s or s.startswith("#") or ITEM.match(s):
            flush()
            unit = [s] if s and not s.startswith("#") else []
            start = number
            continue
        if not unit:
            start = number
        unit.append(s)
    flush()
    return found


def main():
    total, over, dates = 0, [], []
    for page in user_pages():
        text = open(page, encoding="utf-8", errors="replace").read()
        total += len(text.encode())
        dates += [f"{page}: {d}" for d in DATE.findall(text)]
        over += [(len(u), f"{page}:{n}", u[:70]) for n, u in units(text) if len(u) > LIMIT]
    print(f"user pages: {len(user_pages())}, {total // 1024} KB (at most {MAXKB}); "
          f"units over {LIMIT} characters: {len(over)}; dates: {len(dates)}")
    for size, where, start in sorted(over, reverse=True):
        print(f"  {size} characters at {where}: {start}...")
    for d in dates:
        print(f"  a date in {d}")
    return 0 if not over and not dates and total <= MAXKB * 1024 else 1


if __name__ == "__main__":
    sys.exit(main())
