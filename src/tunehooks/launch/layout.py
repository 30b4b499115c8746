"""How a trial's parameters reach its program: nested or flat, and the flag style of ``${args}``.

The search space has flat names; a W&B file's nested groups are dotted names
(``optimizer.lr``). The program gets them nested again (``wandb.config``,
``${args_json}``, ``params.json``) and, on the command line, as dotted flags
(``--optimizer.lr=0.01``) or, for a W&B file, as W&B's agent passes them
(``--optimizer={'lr': 0.01}``), so its programs parse them unchanged.

Example:
    >>> ParamLayout(nested=True).program_params({"optimizer.lr": 0.1, "bs": 32})
    {'optimizer': {'lr': 0.1}, 'bs': 32}
    >>> ParamLayout(nested=True, flag_style="wandb").flags({"optimizer.lr": 0.1, "bs": 32})
    [('optimizer', {'lr': 0.1}), ('bs', 32)]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["NULL", "ParamLayout"]

NULL = "None"
"""A W&B ``null`` choice, stored as this text; the program gets ``None``."""


@dataclass(frozen=True)
class ParamLayout:
    """``nested``: dotted names are nested groups; ``flag_style``: ``dotted`` or ``wandb``;
    ``nulls``: the text :data:`NULL` stands for ``None`` (a W&B ``null`` choice)."""

    nested: bool = False
    flag_style: str = "dotted"
    nulls: bool = False

    def program_value(self, v: Any) -> Any:
        """One value as the program gets it (a W&B ``null`` choice is ``None``)."""
        return None if self.nulls and v == NULL else v

    def program_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The parameters as the program gets them (nested when the file nested them)."""
        if not self.nested:
            return {k: self.program_value(v) for k, v in params.items()}
        out: dict[str, Any] = {}
        for name, v in params.items():
            node = out
            *groups, leaf = name.split(".")
            for g in groups:
                node = node.setdefault(g, {})
            node[leaf] = self.program_value(v)
        return out

    def flags(self, params: Mapping[str, Any]) -> list[tuple[str, Any]]:
        """(name, value) of each ``--name=value`` flag."""
        if self.flag_style == "wandb":
            return list(self.program_params(params).items())
        return [(k, self.program_value(v)) for k, v in params.items()]
