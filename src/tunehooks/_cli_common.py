"""What the command line's modules share: the user-facing error, checking that a database
is there before reading it, printing URLs and tables."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

__all__ = ["CLIError", "fmt", "require_database", "shown_url", "table"]


class CLIError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


def require_database(storage: str | None) -> str:
    """The storage URL, after checking that a SQLite file is there (nothing is created)."""
    import sqlalchemy as sa

    from tunehooks.storage import default_storage_url

    url = storage or default_storage_url()
    try:
        parsed = sa.make_url(url)
    except Exception:
        return url  # the storage names what is wrong with it
    db = parsed.database
    if parsed.get_backend_name() == "sqlite" and db and db != ":memory:":
        path = os.path.abspath(db)
        if not os.path.isfile(path):
            raise CLIError(
                f"no database at {path}: nothing has run with this storage yet "
                "(give --storage URL or set TUNEHOOKS_STORAGE)"
            )
    return url


def shown_url(url: str) -> str:
    """``url`` with any password hidden, for printing."""
    from tunehooks._urls import mask_url

    return mask_url(url)


def fmt(v: Any) -> str:
    from tunehooks._format import format_number

    return format_number(v)


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(line.rstrip() for line in lines)
