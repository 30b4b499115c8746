"""Reading a sweep file's YAML with limits: size, nesting depth, and alias expansion.

A sweep file is a few KB of plain keys. Before PyYAML builds any object, the
event stream is walked once (iteratively, so depth costs no recursion) to
refuse what would make the loader or the validation run away: a file over
:data:`MAX_BYTES`, nesting deeper than :data:`MAX_DEPTH`, or aliases that
expand to more than :data:`MAX_VALUES` values (a "billion laughs" bomb is a
1 KB file that expands to billions). Every refusal is one line with the YAML
path where it happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunehooks._extras import require
from tunehooks.launch._schema import SweepError

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_VALUES", "read_yaml"]

MAX_BYTES = 1 << 20
MAX_DEPTH = 50
MAX_VALUES = 100_000


@dataclass
class _Frame:
    is_map: bool
    segment: str
    start: int
    anchor: str | None
    index: int = 0
    key: str | None = None
    expect_key: bool = True


def _path(stack: list[_Frame], extra: str = "") -> str:
    parts = [f.segment for f in stack[1:]] + ([extra] if extra else [])
    if len(parts) > 8:
        parts = [*parts[:6], "…", f"(depth {len(parts)})"]
    text = ""
    for p in parts:
        text += p if p.startswith(("[", "…", "(")) or not text else f".{p}"
    return text or "(top level)"


def _segment(parent: _Frame | None) -> str:
    if parent is None:
        return ""
    if parent.is_map:
        return str(parent.key)[:40]
    return f"[{parent.index}]"


def _check_events(text: str, where: str) -> None:
    import yaml

    stack: list[_Frame] = []
    anchors: dict[str, int] = {}
    count = 0

    def value_done() -> None:
        if stack:
            top = stack[-1]
            if top.is_map:
                top.expect_key = True
            else:
                top.index += 1

    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        top = stack[-1] if stack else None
        is_key = top is not None and top.is_map and top.expect_key
        if isinstance(event, yaml.ScalarEvent | yaml.AliasEvent):
            size = 1 if isinstance(event, yaml.ScalarEvent) else anchors.get(event.anchor or "", 1)
            count += size
            if count > MAX_VALUES:
                raise SweepError(
                    f"{where}: {_path(stack, _segment(top) if not is_key else '')}: the YAML "
                    f"expands to more than {MAX_VALUES:,} values (aliases repeated inside "
                    "aliases?); a sweep file needs a few hundred"
                )
            if isinstance(event, yaml.ScalarEvent) and event.anchor:
                anchors[event.anchor] = 1
            if is_key and top is not None:
                top.key = str(getattr(event, "value", "*alias"))
                top.expect_key = False
            else:
                value_done()
        elif isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            segment = "?" if is_key else _segment(top)
            if is_key and top is not None:
                top.key, top.expect_key = "?", False
            count += 1
            stack.append(
                _Frame(isinstance(event, yaml.MappingStartEvent), segment, count, event.anchor)
            )
            if len(stack) > MAX_DEPTH:
                raise SweepError(
                    f"{where}: {_path(stack)}: nested deeper than {MAX_DEPTH} levels; a sweep "
                    "file needs a few"
                )
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            done = stack.pop()
            if done.anchor:
                anchors[done.anchor] = count - done.start + 1
            if not (stack and stack[-1].is_map and stack[-1].key == "?" and done.segment == "?"):
                value_done()


def read_yaml(path: str | Path) -> Any:
    """The parsed YAML of a sweep file, within the limits above; errors are one line."""
    yaml = require("yaml", extra="launch", what="reading a sweep file", package="pyyaml")

    p = Path(path)
    if p.is_dir():
        raise SweepError(f"{p}: is a folder; give the sweep file itself (e.g. {p / 'sweep.yaml'})")
    try:
        with open(p, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise FileNotFoundError(f"sweep file {str(p)!r} not found") from None
    except OSError as e:
        raise SweepError(f"{p}: cannot read the sweep file ({e.strerror or e})") from None
    if len(raw) > MAX_BYTES:
        raise SweepError(f"{p}: larger than {MAX_BYTES >> 20} MiB; a sweep file is a few KB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SweepError(f"{p}: not UTF-8 text (byte {e.start}); save it as UTF-8") from None
    try:
        _check_events(text, str(p))
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise SweepError(f"{p}: not valid YAML: {' '.join(str(e).split())[:300]}") from None
    except ValueError as e:  # a 5,000-digit integer
        if isinstance(e, SweepError):
            raise
        why = str(e)[:120]
        if "integer string conversion" in why:
            why = "a number with more than 4,300 digits"
        raise SweepError(f"{p}: a value cannot be read ({why})") from None
    except RecursionError:
        raise SweepError(f"{p}: nested too deeply") from None
