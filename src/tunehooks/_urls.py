"""Database URLs as they may be shown: the password replaced by ``***``."""

from __future__ import annotations

import re

__all__ = ["mask_url"]

_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^@\s]*(?P<at>@)")


def mask_url(url: str) -> str:
    """``url`` with its password hidden (SQLAlchemy's own rendering), for logs and errors.

    Example:
        >>> mask_url("postgresql://tuner:s3cret@db.example:5432/sweeps")
        'postgresql://tuner:***@db.example:5432/sweeps'
        >>> mask_url("sqlite:///tunehooks.db")
        'sqlite:///tunehooks.db'
    """
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
    except Exception:  # not a URL SQLAlchemy reads: hide anything between ':' and '@'
        return _USERINFO.sub(r"\g<head>***\g<at>", str(url))
    if parsed.password is None:
        return str(url)
    return parsed.render_as_string(hide_password=True)
