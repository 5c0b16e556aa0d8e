"""The class report's charts, as inline SVG strings.

matplotlib is imported here only, and only when a chart is drawn, so the rest
of examiner (and `examiner report --format csv`) never pays for it. Figures are
drawn with the object API on the Agg-free SVG canvas: no pyplot, no global
state, no display needed. Text stays text in the SVG (`svg.fonttype: none`), so
the charts are crisp at any zoom, printable and small; matplotlib escapes it.

Every function is pure: numbers in, an `<svg …>` string out. Each figure gets
its own id salt so that several inline SVGs never share element ids.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from ..models import CORRECT_AT, PARTIAL_AT
from .palette import COVERAGE_CMAP, HIGHLIGHT, LABEL_COLOURS, NEUTRAL
from .views import CardStats, KeyPointStats

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["card_spread", "coverage_heatmap", "score_histogram", "student_histogram"]

_FONT = ["DejaVu Sans", "Helvetica Neue", "Arial", "Liberation Sans", "sans-serif"]
_RC: dict[str, Any] = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": _FONT,
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.edgecolor": "#444444",
    "axes.labelcolor": "#1b1b1b",
    "xtick.color": "#333333",
    "ytick.color": "#333333",
}


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _svg(fig: Figure, name: str, label: str) -> str:
    """The figure as an inline `<svg>` element with an accessible name."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.DOTALL)
    # Sized by the page's CSS; the viewBox keeps the aspect ratio.
    text = re.sub(r'\s(width|height)="[\d.]+pt"', "", text, count=2)
    attrs = f'<svg class="plot plot-{name}" role="img" aria-label="{escape(label)}"'
    return text.replace("<svg", attrs, 1)


def _draw(name: str, label: str, width: float, height: float, paint: Any) -> str:
    """Paint a new figure and return it as SVG, all under the reports' style."""
    import matplotlib

    style: Any = {**_RC, "svg.hashsalt": f"examiner-{name}"}  # one salt per figure: unique ids
    with matplotlib.rc_context(style):
        fig = _figure(width, height)
        paint(fig)
        return _svg(fig, name, label)


def score_histogram(scores: Sequence[float]) -> str:
    """Answers by score, in tenths, each bar in the colour of its label."""
    edges = [i / 10 for i in range(11)]
    counts = [0] * 10
    for s in scores:
        counts[min(int(s * 10 + 1e-9), 9)] += 1

    def paint(fig: Figure) -> None:
        ax = fig.add_subplot()
        for i, n in enumerate(counts):
            left = edges[i]
            label = (
                "correct"
                if left >= CORRECT_AT - 1e-9
                else "partial"
                if left >= PARTIAL_AT - 1e-9
                else "incorrect"
            )
            ax.bar(
                left,
                n,
                width=0.1,
                align="edge",
                color=LABEL_COLOURS[label],
                edgecolor="white",
                linewidth=1,
                label=label,
            )
        handles, names = ax.get_legend_handles_labels()
        unique = dict(zip(names, handles, strict=True))
        ax.legend(
            [unique[k] for k in ("correct", "partial", "incorrect") if k in unique],
            [k for k in ("correct", "partial", "incorrect") if k in unique],
            frameon=False,
            loc="upper left",
        )
        ax.set_xlim(0, 1)
        ax.set_xticks(edges)
        ax.set_xlabel("score")
        ax.set_ylabel("answers")
        ax.set_title("Answers by score")
        ax.yaxis.set_major_locator(_integers())

    return _draw("scores", f"Histogram of {len(scores)} answer scores", 6.0, 3.2, paint)


def student_histogram(percents: Sequence[float]) -> str:
    """Students by total, in bands of ten percent."""
    counts = [0] * 10
    for p in percents:
        counts[min(int(p / 10 + 1e-9), 9)] += 1

    def paint(fig: Figure) -> None:
        ax = fig.add_subplot()
        ax.bar(
            [i * 10 for i in range(10)],
            counts,
            width=10,
            align="edge",
            color=NEUTRAL,
            edgecolor="white",
            linewidth=1,
        )
        ax.set_xlim(0, 100)
        ax.set_xticks(range(0, 101, 10))
        ax.set_xlabel("total (% of the points possible)")
        ax.set_ylabel("students")
        ax.set_title("Students by total")
        ax.yaxis.set_major_locator(_integers())

    return _draw("students", f"Histogram of {len(percents)} student totals", 6.0, 3.2, paint)


def card_spread(stats: Sequence[CardStats]) -> str:
    """Per card: the scores' box, each answer as a dot, and the mean as a diamond."""
    shown = [s for s in stats if s.answers]

    def paint(fig: Figure) -> None:
        ax = fig.add_subplot()
        positions = list(range(len(shown), 0, -1))  # card 1 at the top
        if shown:
            ax.boxplot(
                [list(s.scores) for s in shown],
                positions=positions,
                orientation="horizontal",
                widths=0.6,
                showfliers=False,
                patch_artist=True,
                boxprops={"facecolor": "#e3f0f8", "edgecolor": "#0072B2"},
                medianprops={"color": "#0072B2", "linewidth": 2},
                whiskerprops={"color": "#555555"},
                capprops={"color": "#555555"},
            )
            for pos, s in zip(positions, shown, strict=True):
                n = len(s.scores)
                offsets = [((i % 5) - 2) * 0.06 for i in range(n)]
                ax.scatter(
                    list(s.scores),
                    [pos + o for o in offsets],
                    s=10,
                    color="#333333",
                    alpha=0.55,
                    linewidths=0,
                    zorder=3,
                )
                ax.scatter(
                    [s.mean],
                    [pos],
                    marker="D",
                    s=36,
                    color=LABEL_COLOURS["partial"],
                    edgecolor="#1b1b1b",
                    linewidths=0.8,
                    zorder=4,
                )
        ax.set_yticks(positions, [_short(f"{s.card.number}. {s.card.id}") for s in shown])
        ax.set_xlim(-0.02, 1.02)
        ax.set_xlabel("score (box: quartiles, bar: median, ◆ mean, dots: answers)")
        ax.set_title("Scores per card")
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)

    height = 1.0 + 0.32 * max(len(shown), 1)
    return _draw("cards", f"Score spread of {len(shown)} cards", 6.4, height, paint)


def coverage_heatmap(stats: Sequence[KeyPointStats], highlight: int = 5) -> str:
    """Cards × key points: the share of the credit the class earned on each point.

    Cells show their value; the `highlight` most-missed points are outlined.
    """
    import numpy as np

    cards = list(dict.fromkeys(s.card for s in stats if s.answers))
    width = max((s.position for s in stats), default=1)
    grid = np.full((len(cards), width), np.nan)
    index = {c.id: i for i, c in enumerate(cards)}
    for s in stats:
        if s.answers and s.card.id in index:
            grid[index[s.card.id], s.position - 1] = s.coverage
    worst = sorted(
        (s for s in stats if s.answers and s.missing),
        key=lambda s: (-s.missed, s.coverage, s.card.number, s.position),
    )[:highlight]

    def paint(fig: Figure) -> None:
        import matplotlib
        from matplotlib.colors import Colormap
        from matplotlib.patches import Rectangle

        ax = fig.add_subplot()
        cmap: Colormap = matplotlib.colormaps[COVERAGE_CMAP].with_extremes(bad="#f2f2f2")
        image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0, vmax=1, aspect="auto")
        for (row, col), value in np.ndenumerate(grid):
            if np.isnan(value):
                continue
            r, g, b, _ = cmap(float(value))
            dark = 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5
            ax.text(
                col,
                row,
                f"{value:.0%}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if dark else "#1b1b1b",
            )
        for s in worst:
            row, col = index[s.card.id], s.position - 1
            ax.add_patch(
                Rectangle(
                    (col - 0.5, row - 0.5), 1, 1, fill=False, edgecolor=HIGHLIGHT, linewidth=3
                )
            )
        ax.set_xticks(range(width), [f"KP {i + 1}" for i in range(width)])
        ax.set_yticks(range(len(cards)), [_short(f"{c.number}. {c.id}") for c in cards])
        ax.tick_params(length=0)
        for side in ("left", "bottom"):
            ax.spines[side].set_visible(False)
        ax.xaxis.tick_top()
        ax.set_title(f"Key-point coverage (outlined: the {len(worst)} most-missed)", pad=8)
        bar = fig.colorbar(image, ax=ax, fraction=0.05, pad=0.02)
        bar.set_label("credit earned by the class")
        bar.ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))

    height = 1.2 + 0.34 * max(len(cards), 1)
    fig_width = min(3.2 + 0.75 * width, 7.5)
    return _draw(
        "heatmap",
        f"Heatmap of key-point coverage for {len(cards)} cards",
        fig_width,
        height,
        paint,
    )


def _integers() -> Any:
    """Counts are whole numbers: no 0.5 student on an axis."""
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def _short(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
