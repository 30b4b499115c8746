"""``tunehooks dashboard``: a live web page of a storage's experiments.

A read-only local web server (:mod:`.server`) answers JSON (:mod:`.api`) that the
page polls; the figures are Plotly specifications built in Python (:mod:`.figures`)
and drawn by the plotly.js of the installed ``plotly`` package (``pip install
"tunehooks[dashboard]"``), so it works offline. Importing this package starts nothing.
"""

from __future__ import annotations

from tunehooks.dashboard.server import DashboardServer, plotly_js, serve

__all__ = ["DashboardServer", "plotly_js", "serve"]
