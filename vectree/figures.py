"""Figures written to files: matplotlib drawing off-screen, and the one way a figure is saved.

Every plot of the library (experiment reports, learning curves) and of ``benchmarks/`` starts with
:func:`pyplot` and ends with :func:`save_figure`. matplotlib is the ``plot`` extra: it is imported
only when a figure is drawn.

>>> plt = pyplot()
>>> fig, ax = plt.subplots(figsize=(2, 2))
>>> _ = ax.plot([0, 1], [0, 1])
>>> path = save_figure(fig, "line.png", dpi=50)
>>> path.name, path.stat().st_size > 0
('line.png', True)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the off-screen Agg backend (files only, never a window).

    >>> pyplot().get_backend().lower()
    'agg'
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | Path, *, dpi: float | None = None, tight_box: bool = False) -> Path:
    """Lay ``fig`` out tightly, write it to ``path`` (format from the suffix), close it; return the path.

    ``dpi``: pixels per inch of the file (default: the figure's own); ``tight_box``: crop the file to
    what is drawn (``bbox_inches="tight"``), for labels that reach past the axes.

    >>> fig, _ = pyplot().subplots(figsize=(1, 1), dpi=40)
    >>> save_figure(fig, "empty.png", tight_box=True).exists()
    True
    """
    import matplotlib.pyplot as plt

    path = Path(path)
    fig.tight_layout()
    fig.savefig(path, **({} if dpi is None else {"dpi": dpi}), **({"bbox_inches": "tight"} if tight_box else {}))
    plt.close(fig)
    return path
