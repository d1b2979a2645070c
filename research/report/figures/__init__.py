"""Figures for a paper: readable fonts (>= 10 pt), labelled axes with units, legends; each saved
as PNG (embedded in the HTML) and PDF (for LaTeX).

matplotlib's object API (`Figure`, no pyplot) keeps the process free of global figure state,
and the Agg renderer needs no display.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

from research.report.figures.colors import palette

__all__ = ["FigureFile", "new_figure", "palette", "save", "style"]

STYLE = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 12,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "figure.titlesize": 13,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 1.8,
    "pdf.fonttype": 42,  # TrueType in the PDF: journals reject Type 3 fonts
    "savefig.bbox": "tight",
}
DPI = 150


@dataclass(frozen=True)
class FigureFile:
    name: str
    title: str
    caption: str
    png: Path
    pdf: Path

    def png_base64(self) -> str:
        return base64.b64encode(self.png.read_bytes()).decode("ascii")

    def css_width(self) -> int:
        """Width in CSS pixels (96 per inch) that shows the figure at its printed size, so
        its 10-12 pt fonts read as 10-12 pt on screen."""
        width_px = int.from_bytes(self.png.read_bytes()[16:20], "big")  # PNG IHDR width
        return round(width_px * 96 / DPI)


@contextmanager
def style() -> Iterator[None]:
    with matplotlib.rc_context(STYLE):
        yield


def new_figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def save(fig: Figure, out_dir: Path, name: str, title: str, caption: str) -> FigureFile:
    png, pdf = out_dir / f"{name}.png", out_dir / f"{name}.pdf"
    with style():
        fig.savefig(png, dpi=DPI)
        fig.savefig(pdf)
    return FigureFile(name, title, caption, png, pdf)
