"""Timed routes: when a target moving along a route could have been inside each lens's field of view.

Officers know when the target passed some points of its route (a witness, a GPS trace, a first clip). Between
two timed vertices the target moved at some speed within the range, so at a distance s along the route it
passed no earlier than the fastest and no later than the slowest allowed movement from either end; before the
first and after the last timed vertex the speed range alone bounds it. A lens is then asked for the times the
target could have been on a stretch of the route it sees, widened by the margin and clipped to the request's
window. Pure: the routing rule calls it with the lenses it routes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from shapely.geometry import LineString

from ..geo.sectors import LensView
from ..geo.stretches import stretches_in_view, vertex_metres

#: Walking pace to a motorbike in town traffic: the speeds a target is assumed to have moved at, km/h.
DEFAULT_MIN_SPEED_KMH = 3.0
DEFAULT_MAX_SPEED_KMH = 60.0
#: Added before and after each lens's window: clocks of witnesses and recorders are off by a minute or two.
DEFAULT_MARGIN_MINUTES = 2.0
MAX_SPEED_KMH = 200.0
MAX_MARGIN_MINUTES = 120.0

Window = tuple[datetime, datetime]


@dataclass(frozen=True)
class RouteTiming:
    """The times at a route's vertices (None where unknown), the speed range and the margin."""

    times: tuple[datetime | None, ...]
    min_speed_kmh: float = DEFAULT_MIN_SPEED_KMH
    max_speed_kmh: float = DEFAULT_MAX_SPEED_KMH
    margin_minutes: float = DEFAULT_MARGIN_MINUTES

    def stored(self) -> dict:
        """As the request keeps it (JSON), so a draft opened later is routed with the same timing."""
        return {
            "times": [None if t is None else t.astimezone(UTC).isoformat() for t in self.times],
            "speed_kmh": {"min": self.min_speed_kmh, "max": self.max_speed_kmh},
            "margin_minutes": self.margin_minutes,
        }

    @classmethod
    def restored(cls, value: dict) -> RouteTiming:
        return cls(
            tuple(None if t is None else datetime.fromisoformat(t) for t in value["times"]),
            value["speed_kmh"]["min"],
            value["speed_kmh"]["max"],
            value["margin_minutes"],
        )


def passing_band(vertex_m: np.ndarray, timing: RouteTiming, along_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The earliest and latest moments (POSIX seconds) the target could have been `along_m` metres along the route.

    Both rise with the distance, and meet at each timed vertex (or span the stop, where two timed vertices are
    at one place). Where two timed vertices are farther apart than the speed range allows in their time, the
    times are trusted: that leg's range widens to their speed.
    """
    timed = [i for i, t in enumerate(timing.times) if t is not None]
    known_m = vertex_m[timed]
    known_s = np.array([timing.times[i].timestamp() for i in timed])
    slow, fast = timing.min_speed_kmh / 3.6, timing.max_speed_kmh / 3.6
    along_m = np.asarray(along_m, dtype=float)

    def leg_band(side: str) -> tuple[np.ndarray, np.ndarray]:
        """The band on the leg holding each distance; a distance at a stop is on the leg arriving (`left`) or
        the one leaving (`right`)."""
        leg = np.clip(np.searchsorted(known_m, along_m, side=side) - 1, 0, len(timed) - 2)
        m_a, m_b, s_a, s_b = known_m[leg], known_m[leg + 1], known_s[leg], known_s[leg + 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            speed = (m_b - m_a) / (s_b - s_a)
            low, high = np.minimum(slow, speed), np.maximum(fast, speed)
            from_a, to_b = along_m - m_a, m_b - along_m
            # fmax/fmin pass over 0/0, which only a stop gives: its own end of the leg decides.
            return (
                np.fmax(s_a + from_a / high, s_b - to_b / low),
                np.fmin(s_a + from_a / low, s_b - to_b / high),
            )

    early, late = leg_band("left")[0], leg_band("right")[1]
    before, after = along_m < known_m[0], along_m > known_m[-1]
    early = np.where(before, known_s[0] - (known_m[0] - along_m) / slow, early)
    late = np.where(before, known_s[0] - (known_m[0] - along_m) / fast, late)
    early = np.where(after, known_s[-1] + (along_m - known_m[-1]) / fast, early)
    late = np.where(after, known_s[-1] + (along_m - known_m[-1]) / slow, late)
    return early, late


def merged_windows(intervals: Sequence[tuple[float, float]], start: datetime, end: datetime) -> list[Window]:
    """POSIX-second intervals joined where they overlap or touch, clipped to [start, end]; empty ones dropped."""
    windows: list[list[float]] = []
    for low, high in sorted(intervals):
        low, high = max(low, start.timestamp()), min(high, end.timestamp())
        if low > high:
            continue
        if windows and low <= windows[-1][1]:
            windows[-1][1] = max(windows[-1][1], high)
        else:
            windows.append([low, high])
    return [(datetime.fromtimestamp(low, UTC), datetime.fromtimestamp(high, UTC)) for low, high in windows]


def lens_windows(
    route: LineString,
    timing: RouteTiming,
    lenses: Sequence[LensView],
    radius_m: float,
    window_start: datetime,
    window_end: datetime,
) -> list[list[Window]]:
    """For each lens, when the target could have been in its view: one window per stretch of the route it sees,
    each widened by the margin, joined where they overlap (a route entering the view twice close in time gives
    one), clipped to the request's window. An empty list: the target was never in view within the window."""
    stretches = stretches_in_view(route, lenses, radius_m)
    ends = np.array([stretch for found in stretches for stretch in found], dtype=float).reshape(-1, 2)
    margin = timing.margin_minutes * 60
    vertex_m = vertex_metres(route)
    early = passing_band(vertex_m, timing, ends[:, 0])[0] - margin
    late = passing_band(vertex_m, timing, ends[:, 1])[1] + margin
    windows, first = [], 0
    for found in stretches:
        last = first + len(found)
        windows.append(merged_windows(list(zip(early[first:last], late[first:last])), window_start, window_end))
        first = last
    return windows
