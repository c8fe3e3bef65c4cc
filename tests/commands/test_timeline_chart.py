"""The timeline picture: one series per node, a band per leader and active spell, a marker per event,
and a real PNG of the expected size."""

from __future__ import annotations

import math
import struct

import numpy as np
from matplotlib.collections import PolyCollection

from commands.timeline import operation_markers, parse_window
from commands.timeline_chart import (
    ALERT_GID,
    DPI,
    HEAD_GID,
    HEIGHT_IN,
    OPERATION_GID,
    WIDTH_IN,
    Marker,
    alert_markers,
    build_figure,
    intervals,
    merge_markers,
    render_png,
)
from store.audit import AuditEntry, AuditKind
from store.history import HistoryPoint

END = 1_800_000_000.0
NODES = ("seq-0", "seq-1", "seq-2")


def failover_history() -> list[HistoryPoint]:
    """10 minutes at 2 s: seq-0 leads, stalls at minute 5 and seq-1 takes over; seq-2 is silent 20 s."""
    points = []
    for i in range(300):
        at = END - 600 + i * 2
        stalled = i >= 150
        leader = "seq-1" if stalled else "seq-0"
        heads: dict[str, int | None] = {
            "seq-0": 150 if stalled else i,
            "seq-1": i,
            "seq-2": None if 200 <= i < 210 else i - 1,
        }
        fired = ("leader_change", "unsafe_head_stalled") if i == 150 else ()
        points.append(HistoryPoint(at=at, heads=heads, leaders=(leader,), active=(leader,), fired=fired))
    return points


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def test_one_head_series_per_node_with_gaps_where_a_node_was_silent() -> None:
    points = failover_history()
    fig = build_figure("sim-1", points, alert_markers(points), END - 600, END)
    heads_ax = fig.axes[0]
    series = [line for line in heads_ax.lines if line.get_gid() == HEAD_GID]
    assert [line.get_label() for line in series] == list(NODES)
    behind = {str(line.get_label()): np.asarray(line.get_ydata(), dtype=float).tolist() for line in series}
    # seq-0 stalls at block 150 while seq-1 keeps going: it falls 149 blocks behind by the end.
    assert behind["seq-0"][149] == 0 and behind["seq-0"][-1] == 149
    assert behind["seq-1"][-1] == 0
    assert sum(math.isnan(y) for y in behind["seq-2"]) == 10


def test_leader_and_active_bands_and_markers() -> None:
    points = failover_history()
    markers = [*alert_markers(points), Marker(END - 120, "operation", "resume sim-1 all")]
    fig = build_figure("sim-1", points, markers, END - 600, END)
    heads_ax, bands_ax = fig.axes[0], fig.axes[1]
    bands = {str(c.get_gid()): c for c in bands_ax.collections if isinstance(c, PolyCollection)}
    assert sorted(bands) == sorted(f"{k}:{n}" for k in ("active", "leader", "silent") for n in NODES)
    # seq-0 led for the first 5 minutes, seq-1 after; seq-2 never did, and once did not answer.
    assert len(bands["leader:seq-0"].get_paths()) == 1
    assert len(bands["leader:seq-1"].get_paths()) == 1
    assert len(bands["leader:seq-2"].get_paths()) == 0
    assert [len(bands[f"silent:{n}"].get_paths()) for n in NODES] == [0, 0, 1]
    for ax in (heads_ax, bands_ax):
        kinds = [str(line.get_gid()) for line in ax.lines if line.get_gid() in (ALERT_GID, OPERATION_GID)]
        # The two alerts of one tick share a marker, so their labels do not print over each other.
        assert sorted(kinds) == [ALERT_GID, OPERATION_GID]
    labels = [t.get_text() for t in heads_ax.texts]
    assert labels == ["leader_change, unsafe_head_stalled", "resume sim-1 all"]


def test_the_png_has_the_figure_size_and_real_content() -> None:
    points = failover_history()
    png = render_png("sim-1", points, alert_markers(points), END - 600, END)
    assert png_size(png) == (int(WIDTH_IN * DPI), int(HEIGHT_IN * DPI))
    assert 10_000 < len(png) < 200_000


def test_an_empty_window_still_renders() -> None:
    png = render_png("sim-1", [], [], END - 600, END)
    assert png_size(png) == (int(WIDTH_IN * DPI), int(HEIGHT_IN * DPI))


def test_markers_of_one_moment_and_kind_merge() -> None:
    markers = [
        Marker(5.0, "alert", "b"),
        Marker(5.0, "operation", "pause"),
        Marker(1.0, "alert", "a"),
        Marker(5.0, "alert", "c"),
        Marker(5.0, "alert", "b"),
    ]
    assert merge_markers(markers) == [
        Marker(1.0, "alert", "a"),
        Marker(5.0, "alert", "b, c"),
        Marker(5.0, "operation", "pause"),
    ]


def test_intervals_hold_until_the_next_point() -> None:
    points = [HistoryPoint(at=float(t), heads={}) for t in (0, 2, 4, 6)]
    assert intervals(points, [True, True, False, True], end=8.0) == [(0.0, 4.0), (6.0, 2.0)]
    assert intervals(points, [False] * 4, end=8.0) == []


def test_operation_markers_are_executions_inside_the_window() -> None:
    def entry(at: float, kind: AuditKind) -> AuditEntry:
        return AuditEntry(at=at, network="sim-1", kind=kind, message="m", data={"command": f"pause @{at}"})

    entries = [
        entry(END - 700, AuditKind.EXECUTE),
        entry(END - 60, AuditKind.EXECUTE),
        entry(END, AuditKind.STEP),
    ]
    assert operation_markers(entries, END - 600, END) == [Marker(END - 60, "operation", f"pause @{END - 60}")]


def test_window_argument() -> None:
    assert parse_window([]) == 1800.0
    assert parse_window(["2h"]) == 7200.0
