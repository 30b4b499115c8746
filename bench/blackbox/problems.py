"""Benchmark problems: synthetic functions with known optima and cheap scikit-learn tuning.

Every problem is minimized. Its search space is a tunehooks ``SearchSpace``;
peers receive ``space.to_dict()`` (plain JSON) and translate it to their own
representation, so every method sees the same parameters, scales and
conditions. Objectives always run in the benchmark's own process (tunehooks'
environment), so every method is scored by the same code and library versions.

Example:
    >>> p = PROBLEMS["branin"]
    >>> round(p.evaluate({"x1": 3.14159265, "x2": 2.275}), 4)
    0.3979
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunehooks.params import Categorical, Float, Int
from tunehooks.space import SearchSpace

__all__ = ["PROBLEMS", "Problem"]


@dataclass(frozen=True)
class Problem:
    """A named objective to minimize over a search space.

    ``optimum`` is the known global minimum (``None`` for tuning problems,
    whose best value is the best any method found); ``kind`` is "synthetic" or
    "sklearn".
    """

    name: str
    space: SearchSpace
    fn: Callable[[Mapping[str, Any]], float]
    optimum: float | None
    kind: str
    description: str

    def evaluate(self, params: Mapping[str, Any]) -> float:
        return float(self.fn(params))


# -- synthetic functions ------------------------------------------------------------------
def _vec(params: Mapping[str, Any], d: int) -> np.ndarray:
    return np.array([float(params[f"x{i}"]) for i in range(1, d + 1)])


def _box(d: int, low: float, high: float) -> SearchSpace:
    return SearchSpace({f"x{i}": Float(low, high) for i in range(1, d + 1)})


def branin(p: Mapping[str, Any]) -> float:
    x1, x2 = float(p["x1"]), float(p["x2"])
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
HARTMANN6_ARGMIN = (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)


def hartmann6(p: Mapping[str, Any]) -> float:
    x = _vec(p, 6)
    return float(-np.sum(_H6_ALPHA * np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1))))


def ackley(p: Mapping[str, Any]) -> float:
    x = _vec(p, len(p))
    d = len(x)
    s1 = np.sqrt(np.sum(x**2) / d)
    s2 = np.sum(np.cos(2 * math.pi * x)) / d
    return float(-20 * np.exp(-0.2 * s1) - np.exp(s2) + 20 + math.e)


def rosenbrock(p: Mapping[str, Any]) -> float:
    x = _vec(p, len(p))
    return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


def levy(p: Mapping[str, Any]) -> float:
    x = _vec(p, len(p))
    w = 1 + (x - 1) / 4
    head = math.sin(math.pi * w[0]) ** 2
    mid = np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(math.pi * w[:-1] + 1) ** 2))
    tail = (w[-1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[-1]) ** 2)
    return float(head + mid + tail)


# The mixed problem: a categorical branch with its own conditional parameter, a
# log-scaled float, a log integer, a power of two and an unordered categorical whose
# values are deliberately not monotone in their listed order.
_ACT_OFFSET = {"relu": 0.25, "tanh": 0.6, "gelu": 0.0, "elu": 0.4}
MIXED_ARGMIN = {
    "branch": "a",
    "alpha": 0.7,
    "lr": 10**-2.5,
    "layers": 8,
    "width": 64,
    "act": "gelu",
}


def mixed(p: Mapping[str, Any]) -> float:
    f = 0.5 * (math.log10(float(p["lr"])) + 2.5) ** 2
    f += 0.15 * (math.log2(int(p["layers"])) - 3) ** 2
    f += 0.1 * (math.log2(int(p["width"])) - 6) ** 2
    f += _ACT_OFFSET[str(p["act"])]
    branch = p["branch"]
    if branch == "a":
        f += 3.0 * (float(p["alpha"]) - 0.7) ** 2
    elif branch == "b":
        f += 0.3 + 0.05 * (int(p["depth"]) - 7) ** 2
    else:
        f += 1.0
    return f


MIXED_SPACE = SearchSpace(
    {
        "branch": Categorical(["c", "b", "a"]),
        "alpha": Float(0.0, 1.0, condition={"branch": ["a"]}),
        "depth": Int(1, 12, condition={"branch": ["b"]}),
        "lr": Float(1e-5, 1.0, log=True),
        "layers": Int(1, 64, log=True),
        "width": Int(8, 1024, power_of_two=True),
        "act": Categorical(["relu", "tanh", "gelu", "elu"]),
    }
)


# -- scikit-learn tuning problems -----------------------------------------------------------
# Each evaluation is a 3-fold cross-validated error with fixed folds: deterministic, and a
# few tens of milliseconds on one core.


@functools.cache
def _data(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    loaders = {
        "breast_cancer": datasets.load_breast_cancer,
        "wine": datasets.load_wine,
        "digits": datasets.load_digits,
        "diabetes": datasets.load_diabetes,
    }
    X, y = loaders[name](return_X_y=True)
    keep = {"digits": 900, "breast_cancer": 400}.get(name)
    if keep:  # a fixed subsample keeps one evaluation near ~50 ms
        idx = np.random.default_rng(0).permutation(len(y))[:keep]
        X, y = X[idx], y[idx]
    return np.asarray(X, dtype=float), np.asarray(y)


@functools.cache
def _folds(data: str) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import KFold, StratifiedKFold

    X, y = _data(data)
    cv: Any = KFold(3, shuffle=True, random_state=0) if data == "diabetes" else None
    cv = cv or StratifiedKFold(3, shuffle=True, random_state=0)
    return list(cv.split(X, y))


def _cv_error(model: Any, data: str, *, regression: bool = False) -> float:
    """Mean 3-fold error: 1 - accuracy, or MSE / Var(y) for regression (1.0 = predict the mean)."""
    import warnings

    from sklearn.base import clone

    X, y = _data(data)
    errors = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for train, test in _folds(data):
            pred = clone(model).fit(X[train], y[train]).predict(X[test])
            if regression:
                errors.append(float(np.mean((pred - y[test]) ** 2) / np.var(y)))
            else:
                errors.append(float(np.mean(pred != y[test])))
    return float(np.mean(errors))


_CACHE: dict[str, float] = {}


def _cached(name: str, fn: Callable[[Mapping[str, Any]], float]) -> Callable[..., float]:
    def run(p: Mapping[str, Any]) -> float:
        key = name + json.dumps(dict(p), sort_keys=True, default=str)
        if key not in _CACHE:
            _CACHE[key] = fn(p)
        return _CACHE[key]

    return run


def svc_breast_cancer(p: Mapping[str, Any]) -> float:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    model = make_pipeline(
        StandardScaler(),
        SVC(C=float(p["C"]), gamma=float(p["gamma"]), kernel="rbf", max_iter=20000),
    )
    return _cv_error(model, "breast_cancer")


def gb_wine(p: Mapping[str, Any]) -> float:
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(
        max_iter=int(p["max_iter"]),
        learning_rate=float(p["learning_rate"]),
        max_leaf_nodes=int(p["max_leaf_nodes"]),
        min_samples_leaf=int(p["min_samples_leaf"]),
        l2_regularization=float(p["l2_regularization"]),
        early_stopping=False,
        random_state=0,
    )
    return _cv_error(model, "wine")


def knn_digits(p: Mapping[str, Any]) -> float:
    from sklearn.decomposition import PCA
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline

    knn = KNeighborsClassifier(
        n_neighbors=int(p["n_neighbors"]), weights=str(p["weights"]), p=int(p["p"])
    )
    model = make_pipeline(PCA(int(p["n_components"]), random_state=0), knn)
    return _cv_error(model, "digits")


def elasticnet_diabetes(p: Mapping[str, Any]) -> float:
    from sklearn.linear_model import ElasticNet
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

    model = make_pipeline(
        PolynomialFeatures(int(p["degree"]), include_bias=False),
        StandardScaler(),
        ElasticNet(alpha=float(p["alpha"]), l1_ratio=float(p["l1_ratio"]), max_iter=300, tol=1e-3),
    )
    return _cv_error(model, "diabetes", regression=True)


def _problems() -> dict[str, Problem]:
    out = [
        Problem("branin", SearchSpace({"x1": Float(-5, 10), "x2": Float(0, 15)}), branin,
                0.397887357729739, "synthetic", "Branin, 2-d"),
        Problem("hartmann6", _box(6, 0, 1), hartmann6, -3.322368011391339, "synthetic",
                "Hartmann, 6-d"),
        Problem("ackley5", _box(5, -32.768, 32.768), ackley, 0.0, "synthetic", "Ackley, 5-d"),
        Problem("rosenbrock4", _box(4, -5, 10), rosenbrock, 0.0, "synthetic",
                "Rosenbrock, 4-d (values up to ~1e6)"),
        Problem("levy8", _box(8, -10, 10), levy, 0.0, "synthetic", "Levy, 8-d"),
        Problem("mixed", MIXED_SPACE, mixed, 0.0, "synthetic",
                "3-way categorical branch with conditional float/int, log float, log int, "
                "power of two, unordered categorical"),
        Problem("svc_breast_cancer", SearchSpace({
            "C": Float(1e-2, 1e3, log=True), "gamma": Float(1e-5, 1.0, log=True)}),
            _cached("svc", svc_breast_cancer), None, "sklearn",
            "SVC (RBF) on breast_cancer, 3-fold CV error"),
        Problem("gb_wine", SearchSpace({
            "max_iter": Int(5, 30, log=True),
            "learning_rate": Float(1e-3, 1.0, log=True),
            "max_leaf_nodes": Int(2, 16, log=True),
            "min_samples_leaf": Int(1, 40, log=True),
            "l2_regularization": Float(1e-6, 10.0, log=True)}),
            _cached("gb", gb_wine), None, "sklearn",
            "histogram gradient boosting on wine, 3-fold CV error"),
        Problem("knn_digits", SearchSpace({
            "n_components": Int(2, 64, log=True),
            "n_neighbors": Int(1, 60, log=True),
            "weights": Categorical(["uniform", "distance"]),
            "p": Categorical([1, 2])}),
            _cached("knn", knn_digits), None, "sklearn",
            "PCA + k-NN on digits (900 samples), 3-fold CV error"),
        Problem("elasticnet_diabetes", SearchSpace({
            "alpha": Float(1e-5, 10.0, log=True), "l1_ratio": Float(0.0, 1.0),
            "degree": Int(1, 2)}),
            _cached("enet", elasticnet_diabetes), None, "sklearn",
            "polynomial features + ElasticNet on diabetes, 3-fold CV MSE / Var(y)"),
    ]  # fmt: skip
    from suite import suite_problems

    out += suite_problems(Problem, _cached)
    return {p.name: p for p in out}


PROBLEMS: dict[str, Problem] = _problems()
