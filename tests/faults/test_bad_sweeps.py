"""Malformed and hostile sweep files: one line naming the YAML path, exit code 2, fast.

A small fuzz: every key of a valid sweep replaced by values of the wrong kind or
size, every key removed, and files built to hurt a YAML loader (deep nesting, an
alias bomb, huge numbers, binary junk, a folder).
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tunehooks.cli import main

BASE: dict[str, Any] = {
    "name": "fuzz",
    "program": "train.py",
    "command": ["${interpreter}", "${program}", "${args}"],
    "method": "random",
    "metric": {"name": "y", "goal": "maximize"},
    "parameters": {
        "lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 0.1},
        "width": {"min": 8, "max": 64},
        "opt": {"values": ["sgd", "adam"]},
    },
    "budget": {"trials": 4},
    "resources": {"workers": 2, "gpus_per_trial": 0},
    "on_failure": {"retries": 1},
    "seed": 3,
}

WEIRD: list[Any] = [None, -5, 0, 1e24, 10**30, float("inf"), float("nan"), "", [], {}, True,
                    "x" * 5000, [[[1]]], {"a": {"b": 1}}, -1e308]  # fmt: skip


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = []
    if isinstance(data, dict):
        for k, v in data.items():
            out.append((*prefix, k))
            out += _paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out.append((*prefix, i))
            out += _paths(v, (*prefix, i))
    return out


def _set(data: Any, path: tuple[Any, ...], value: Any, *, delete: bool = False) -> Any:
    data = copy.deepcopy(data)
    node = data
    for p in path[:-1]:
        node = node[p]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


def _cases() -> list[tuple[str, str]]:
    cases = []
    for path in _paths(BASE):
        where = ".".join(map(str, path))
        cases.append((f"del {where}", yaml.safe_dump(_set(BASE, path, None, delete=True))))
        for v in WEIRD:
            cases.append((f"{where}={v!r:.20}", yaml.safe_dump(_set(BASE, path, v))))
    special = {
        "log_uniform max 1000": {"lr": {"distribution": "log_uniform", "min": 0, "max": 1000}},
        "int bounds 1e300": {"w": {"min": -(10**300), "max": 10**300}},
        "float bounds huge": {"w": {"min": -1e308, "max": 1e308}},
        "q_uniform q 0": {"w": {"distribution": "q_uniform", "min": 0, "max": 10, "q": 0}},
        "values of dicts": {"w": {"values": [{"a": 1}, {"b": 2}]}},
        "values nested lists": {"w": {"values": [[1], [2]]}},
        "step 0": {"w": {"min": 0, "max": 10, "step": 0}},
    }
    for name, params in special.items():
        cases.append((name, yaml.safe_dump({**BASE, "parameters": params})))
    for name, extra in {
        "optimizer_options bogus": {"optimizer_options": {"bogus": 1}},
        "bayes optimizer_options bogus": {"method": "bayes", "optimizer_options": {"bogus": 1}},
        "command empty string": {"command": ""},
        "command unbalanced quote": {"command": "python 'train.py"},
        "command blank item": {"command": [" ", "${args}"]},
        "workers 1e24": {"resources": {"workers": 1e24}},
        "workers 10**30": {"resources": {"workers": 10**30}},
        "gpus 10**6": {"resources": {"gpus_per_trial": 10**6}},
        "seed -5": {"seed": -5},
        "retries 10**9": {"on_failure": {"retries": 10**9}},
        "storage_timeout -1": {"storage_timeout": -1},
        "fidelity eta 1": {"fidelity": {"min": 1, "max": 9, "eta": 1}},
        "fidelity max 1e308": {"fidelity": {"min": 1, "max": 1e308}},
        "enqueue junk": {"enqueue": [{"lr": "fast"}]},
        "unknown macro": {"command": ["python", "${nope}"]},
        "name dots": {"name": ".."},
    }.items():
        cases.append((name, yaml.safe_dump({**BASE, **extra})))
    deep_list = "parameters: " + "[" * 100_000 + "]" * 100_000 + "\n"
    deep_map = "parameters: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n"
    bomb = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    prev = "a"
    for n in "bcdefghi":
        bomb += f"{n}: &{n} [" + ",".join([f"*{prev}"] * 9) + "]\n"
        prev = n
    cases += [
        ("100,000-deep list", deep_list),
        ("5,000-deep mapping", deep_map),
        ("1 KB alias bomb", bomb),
        ("5,000-digit seed", "seed: " + "9" * 5000 + "\n" + yaml.safe_dump(BASE)),
        ("top level list", "- a\n- b\n"),
        ("empty file", ""),
        ("tabs", "name:\tx\n\tprogram: y\n"),
        ("not yaml", "{{{{ ]]]] :::: ,,,,"),
        ("2 MiB file", "# " + "x" * (2 << 20) + "\n" + yaml.safe_dump(BASE)),
    ]
    return cases


CASES = _cases()


def _one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    t0 = time.time()
    code = main(argv)
    took = time.time() - t0
    captured = capsys.readouterr()
    assert took < 20, f"took {took:.0f}s"
    return code, captured.err


@pytest.mark.slow
def test_a_fuzz_of_malformed_sweep_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text("print('never run')\n")
    bad: list[str] = []
    refused = 0
    for i, (name, text) in enumerate(CASES):
        path = tmp_path / f"case{i}.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            code, err = _one_line_error(capsys, ["launch", str(path), "--dry-run"])
        except BaseException as e:  # a traceback is the bug
            bad.append(f"{name}: raised {type(e).__name__}: {str(e)[:200]}")
            continue
        lines = err.strip().splitlines()
        if code == 0:
            continue  # a valid sweep after all (e.g. a key that is optional)
        refused += 1
        if code != 2 or len(lines) != 1 or not lines[0].startswith("tunehooks launch: error: "):
            bad.append(f"{name}: exit {code}, stderr {err[:300]!r}")
        elif len(lines[0]) > 400:
            bad.append(f"{name}: a {len(lines[0])}-character line")
    assert not bad, "\n".join(bad)
    assert refused > len(CASES) // 2
    assert not (tmp_path / "tunehooks.db").exists()  # a dry run writes nothing


def test_the_hostile_files_fail_fast_with_their_yaml_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    by_name = dict(CASES)
    expected = {
        "100,000-deep list": "parameters[0][0][0][0][0]…(depth 50): nested deeper than 50",
        "5,000-deep mapping": "parameters.a.a.a.a.a…(depth 50): nested deeper than 50",
        "1 KB alias bomb": "expands to more than 100,000 values",
        "log_uniform max 1000": "parameters.lr.max: log_uniform bounds are exponents",
        "optimizer_options bogus": "optimizer_options.bogus: not an option of the random",
        "command empty string": "command: empty",
        "workers 1e24": "resources.workers:",
        "seed -5": "seed: must be between 0 and 2**32-1",
        "2 MiB file": "larger than 1 MiB",
    }
    for name, message in expected.items():
        path = tmp_path / "s.yaml"
        path.write_text(by_name[name])
        t0 = time.time()
        assert main(["launch", str(path), "--dry-run"]) == 2, name
        assert time.time() - t0 < 5, name
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, (name, err)
    assert main(["launch", str(tmp_path), "--dry-run"]) == 2  # a folder
    assert "is a folder" in capsys.readouterr().err


def test_workers_on_the_command_line_are_bounded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text("print('never run')\n")
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(BASE))
    t0 = time.time()
    assert main(["launch", "sweep.yaml", "--workers", str(10**9)]) == 2
    assert time.time() - t0 < 5
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "tunehooks launch: error: --workers: must be between 1 and 1024 (got 1000000000)"
    ]
    assert not (tmp_path / "tunehooks.db").exists()
