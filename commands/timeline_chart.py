"""The picture of an incident: a PNG of one network's recent history (`store.history` points).

Top panel: the unsafe head of every sequencer over time, one line each, drawn as blocks behind the
best head of the moment (0 when in sync; a stalled node climbs away from 0; a gap is a node that did
not answer), with the best head itself in grey on the right axis (flat when the chain halts).
Bottom panel: one row per sequencer with a band where it led raft and a thinner band where it was
the active sequencer (grey where it did not answer). Vertical
markers: red dashed where an alert started firing, blue where an approved operation started to
execute. Time runs in UTC, as node and bot logs do.

Pure: a function of the points, the markers and the window, returning PNG bytes. matplotlib is
imported lazily (it costs about half a second) and only its object-oriented API with the Agg canvas
is used, never pyplot, so no global figure state is shared between concurrent renderings.
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, NamedTuple

from chat.text import duration
from store.history import HistoryPoint

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

WIDTH_IN, HEIGHT_IN, DPI = 10.0, 6.0, 100
# matplotlib's default colour cycle has ten colours; more nodes reuse them with another line style.
_STYLES = ("-", "--", ":", "-.")
LEADER_COLOUR, ACTIVE_COLOUR, SILENT_COLOUR = "#f2b705", "#2e9e44", "#9e9e9e"
ALERT_COLOUR, OPERATION_COLOUR = "#d62728", "#1f5fbf"
# Gid of each artist kind, so tests (and anyone inspecting a figure) can count the series.
HEAD_GID, BEST_GID = "head", "best"
LEADER_GID, ACTIVE_GID, SILENT_GID = "leader", "active", "silent"
ALERT_GID, OPERATION_GID = "alert", "operation"
MAX_LABEL = 40


MarkerKind = Literal["alert", "operation"]


class Marker(NamedTuple):
    """A moment worth a vertical line: an alert starting to fire or an operation starting to run."""

    at: float
    kind: MarkerKind
    label: str


def alert_markers(points: Sequence[HistoryPoint]) -> list[Marker]:
    return [Marker(p.at, "alert", rule) for p in points for rule in p.fired]


def merge_markers(markers: Sequence[Marker]) -> list[Marker]:
    """One marker per kind and moment, labels joined: alerts of one tick would print over each other."""
    merged: dict[tuple[MarkerKind, float], list[str]] = {}
    for marker in sorted(markers, key=lambda m: m.at):
        labels = merged.setdefault((marker.kind, marker.at), [])
        if marker.label not in labels:
            labels.append(marker.label)
    return [Marker(at, kind, ", ".join(labels)) for (kind, at), labels in merged.items()]


def node_ids(points: Sequence[HistoryPoint]) -> list[str]:
    """Every sequencer seen in the window, in the order first seen (topology order)."""
    return list(dict.fromkeys(node for p in points for node in p.heads))


def intervals(points: Sequence[HistoryPoint], holds: Sequence[bool], end: float) -> list[tuple[float, float]]:
    """(start, width) spans where `holds[i]` was true; point i holds until point i+1, the last until `end`."""
    spans: list[tuple[float, float]] = []
    start: float | None = None
    for i, held in enumerate(holds):
        if held and start is None:
            start = points[i].at
        if not held and start is not None:
            spans.append((start, points[i].at - start))
            start = None
    if start is not None:
        spans.append((start, max(end - start, 0.0)))
    return spans


def build_figure(
    network: str, points: Sequence[HistoryPoint], markers: Sequence[Marker], start: float, end: float
) -> Figure:
    """The figure, before it becomes a PNG (tests count its series)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    # Fixed margins: constrained layout costs about 0.3 s a picture for the same result here.
    fig.subplots_adjust(left=0.08, right=0.91, top=0.94, bottom=0.09, hspace=0.08)
    heads_ax, bands_ax = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    nodes = node_ids(points)
    _draw_heads(heads_ax, points, nodes, end)
    _draw_bands(bands_ax, points, nodes, end)
    for ax in (heads_ax, bands_ax):
        _draw_markers(
            ax, merge_markers([m for m in markers if start <= m.at <= end]), end, label=ax is heads_ax
        )
        ax.set_xlim(_minutes(start, end), 0.0)
        ax.grid(True, axis="x", alpha=0.3)
    when = datetime.fromtimestamp(end, UTC).strftime("%Y-%m-%d %H:%M UTC")
    heads_ax.set_title(f"{network} · last {duration(end - start)} · until {when}", loc="left")
    bands_ax.set_xlabel("minutes before " + when)
    return fig


def render_png(
    network: str, points: Sequence[HistoryPoint], markers: Sequence[Marker], start: float, end: float
) -> bytes:
    """The timeline as PNG bytes (about 1000 × 600 pixels)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = build_figure(network, points, markers, start, end)
    FigureCanvasAgg(fig)  # attaches itself as the figure's canvas: Agg, whatever the default backend
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _minutes(at: float, end: float) -> float:
    return (at - end) / 60.0


def _draw_heads(ax: Axes, points: Sequence[HistoryPoint], nodes: Sequence[str], end: float) -> None:
    """Each node's unsafe head as blocks behind the best head of its tick (0 = in sync), and the best
    head itself in grey on the right axis, so a node falling behind and a halted chain both show."""
    xs = [_minutes(p.at, end) for p in points]
    best = [max((h for h in p.heads.values() if h is not None), default=None) for p in points]
    worst = 0.0
    for i, node in enumerate(nodes):
        ys = [_behind(p, node, top) for p, top in zip(points, best, strict=True)]
        worst = max([worst, *(y for y in ys if not math.isnan(y))])
        # Nodes in sync draw on top of each other: the first is the widest, so each stays visible.
        width = 1.5 + 2.5 * (len(nodes) - 1 - i) / max(len(nodes) - 1, 1)
        ax.plot(xs, ys, _STYLES[(i // 10) % len(_STYLES)], label=node, gid=HEAD_GID, linewidth=width)
    ax.set_ylabel("unsafe head: blocks behind the best")
    ax.set_ylim(-0.5, max(4.0, worst * 1.15))
    if nodes:
        # Above the panel, right of the title: inside it would cover the alert labels.
        ax.legend(
            loc="lower right",
            bbox_to_anchor=(1.0, 1.0),
            fontsize="small",
            ncols=min(len(nodes), 6),
            frameon=False,
        )
    chain = ax.twinx()
    chain.plot(xs, [math.nan if b is None else float(b) for b in best], color="grey", alpha=0.5, gid=BEST_GID)
    chain.set_ylabel("best unsafe head (block)", color="grey")
    chain.ticklabel_format(axis="y", style="plain", useOffset=False)
    chain.tick_params(axis="y", colors="grey")


def _behind(point: HistoryPoint, node: str, best: int | None) -> float:
    head = point.heads.get(node)
    # NaN leaves a gap in the line: the node did not answer.
    return float(best - head) if head is not None and best is not None else math.nan


def _draw_bands(ax: Axes, points: Sequence[HistoryPoint], nodes: Sequence[str], end: float) -> None:
    # The last point holds for one more tick, not up to `end`: a watcher that stopped recording
    # must not draw a leader it no longer sees.
    last = min(points[-1].at + _tick(points), end) if points else end
    for row, node in enumerate(nodes):
        for gid, colour, holds, height in (
            (LEADER_GID, LEADER_COLOUR, [node in p.leaders for p in points], 0.8),
            (ACTIVE_GID, ACTIVE_COLOUR, [node in p.active for p in points], 0.35),
            (SILENT_GID, SILENT_COLOUR, [p.heads.get(node) is None for p in points], 0.8),
        ):
            spans = [(_minutes(s, end), w / 60.0) for s, w in intervals(points, holds, last)]
            bars = ax.broken_barh(spans, (row - height / 2, height), facecolors=colour)
            bars.set_gid(f"{gid}:{node}")
    ax.set_yticks(range(len(nodes)), list(nodes))
    # One empty row below the nodes holds the legend, so it never covers a band.
    ax.set_ylim(-0.6, max(len(nodes), 1) + 0.6)
    ax.invert_yaxis()
    from matplotlib.patches import Patch

    ax.legend(
        handles=[
            Patch(color=LEADER_COLOUR, label="raft leader"),
            Patch(color=ACTIVE_COLOUR, label="active sequencer"),
            Patch(color=SILENT_COLOUR, label="no answer"),
        ],
        loc="lower left",
        fontsize="small",
        ncols=3,
    )


def _tick(points: Sequence[HistoryPoint]) -> float:
    """The usual gap between points (the median), i.e. the watcher's poll interval."""
    gaps = sorted(b.at - a.at for a, b in itertools.pairwise(points))
    return gaps[len(gaps) // 2] if gaps else 0.0


def _draw_markers(ax: Axes, markers: Sequence[Marker], end: float, *, label: bool) -> None:
    for marker in markers:
        colour = ALERT_COLOUR if marker.kind == "alert" else OPERATION_COLOUR
        style = "--" if marker.kind == "alert" else "-"
        x = _minutes(marker.at, end)
        ax.axvline(x, color=colour, linestyle=style, linewidth=1.2, gid=marker.kind)
        if label:
            text = marker.label if len(marker.label) <= MAX_LABEL else marker.label[: MAX_LABEL - 1] + "…"
            # Alerts are labelled from the top, operations from the bottom: they often share a moment.
            top = marker.kind == "alert"
            ax.annotate(
                text,
                (x, 0.99 if top else 0.01),
                xycoords=("data", "axes fraction"),
                rotation=90,
                va="top" if top else "bottom",
                ha="right",
                fontsize="x-small",
                color=colour,
            )
