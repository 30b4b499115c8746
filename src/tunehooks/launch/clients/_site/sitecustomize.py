"""tunehooks launch: patch ``wandb`` / ``sigopt`` as a trial imports them (see
tunehooks.launch.clients). Runs the ``sitecustomize`` this one hides, if any."""

import importlib.machinery
import importlib.util
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))


def _chain():
    rest = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


def _install():
    if _HERE not in sys.path:
        sys.path.append(_HERE)
    import _tunehooks_clients

    _tunehooks_clients.install()


try:
    _chain()
finally:
    if os.environ.get("TUNEHOOKS_CLIENTS"):
        _install()
