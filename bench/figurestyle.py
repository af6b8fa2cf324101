"""The look every figure shares (report and history alike): headless matplotlib, the
colour-blind-safe Okabe-Ito palette, file formats, and files that the same data draws alike."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: selectable, searchable, smaller
matplotlib.rcParams["svg.hashsalt"] = "ci-cache-bench"  # the same records draw the same file

OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"]
# For series drawn as markers: the palette without its yellow, which is faint on white.
SERIES = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000"]
FORMATS = ("png", "svg")

__all__ = ["FORMATS", "OKABE_ITO", "SERIES", "plt"]
