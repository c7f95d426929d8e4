"""The population default profile, for a user who has not calibrated.

Derivation (re-run with `posture evaluate LABELS.csv --write-population PATH`):
the labelled dev set's `good` images are measured and grouped by the camera
view the metrics detect. Within a view, each source (one camera set-up, often
one person) first gets its own median per metric, so a source with many
images counts once; a metric seen in fewer than MIN_SOURCES sources is left
out. The population baseline is the median of those source medians, and its
spread the MAD across sources. The tolerance is the widest a personal one can
be (each metric's maximum margin, `calibration.baseline.MARGINS`): people
differ from each other more than one person's sittings do, and a spread
measured across a handful of sources is itself unreliable (with three sources
that happen to agree it collapsed to the minimum margin and flagged a fourth
person's upright frames as reclined). An uncalibrated verdict is deliberately
less sensitive. Metrics that depend on camera framing are left out
(`FRAMING_METRICS`).

Every output that uses these profiles says so.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from functools import cache
from importlib import resources
from statistics import median

from calibration.baseline import BASELINE_METRICS, baseline_of, tolerance_for
from calibration.profile import Profile
from posture.errors import ProfileError
from posture.metrics import PostureMetrics
from posture.vocabulary import View

POPULATION_FILE = "population.json"
# A population needs more than one person: a metric seen in fewer sources is left
# out rather than letting one camera set-up stand for everybody.
MIN_SOURCES = 2
# Metrics that say where the camera is as much as how the person sits: the head's
# share of the picture depends on the lens and on how close the camera stands, the
# shoulders' height in it on where the camera points, so across people they say
# nothing about posture (close-framed webcams were judged "too close"). A
# population leaves them out; a personal calibration, taken with the camera where
# it will stay, keeps them.
FRAMING_METRICS = frozenset({"head_size_frac", "shoulder_level_ratio"})
POPULATION_NAME = "population-default"


def derive_population(samples: Iterable[tuple[str, PostureMetrics]]) -> dict[View, Profile]:
    """Population profiles per view from (source, metrics) pairs of upright people."""
    by_view: dict[View, dict[str, list[PostureMetrics]]] = defaultdict(lambda: defaultdict(list))
    for source, metrics in samples:
        by_view[metrics.view][source].append(metrics)
    profiles: dict[View, Profile] = {}
    for view, sources in by_view.items():
        baselines = {}
        for metric in BASELINE_METRICS:
            if metric in FRAMING_METRICS:
                continue
            source_medians = []
            for frames in sources.values():
                values = [v for f in frames if (v := getattr(f, metric)) is not None]
                if values:
                    source_medians.append(median(values))
            found = baseline_of(metric, source_medians)
            if found is not None and found.count >= MIN_SOURCES:
                widest = replace(found, tolerance=tolerance_for(metric, found.median, math.inf))
                baselines[metric] = widest
        if not baselines:
            continue
        profiles[view] = Profile(
            name=POPULATION_NAME,
            view=view,
            metrics=baselines,
            source=f"population: {len(sources)} sources of upright people",
            frame_count=sum(len(frames) for frames in sources.values()),
            population_default=True,
        )
    return profiles


def population_to_json(profiles: dict[View, Profile]) -> str:
    """The bundled population file's text, views in a fixed order so that a new
    derivation's diff shows only the numbers that moved."""
    payload = {view.value: profile.to_json() for view, profile in sorted(profiles.items())}
    return json.dumps(payload, indent=2) + "\n"


@cache
def population_profiles() -> dict[View, Profile]:
    """The bundled population profiles, one per view; a missing view borrows a neighbour."""
    try:
        data = json.loads((resources.files("calibration") / POPULATION_FILE).read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ProfileError(
            f"bundled population profile is unreadable ({error}); reinstall posture"
        ) from None
    profiles = {
        View(key): Profile.from_json(value, "bundled population profile")
        for key, value in data.items()
    }
    if not profiles:
        raise ProfileError("bundled population profile is empty; reinstall posture")
    return with_every_view(profiles)


def with_every_view(profiles: dict[View, Profile]) -> dict[View, Profile]:
    """`profiles` with a missing view borrowing its nearest neighbour's profile."""
    if not profiles:
        raise ValueError("no population profile to borrow from")
    neighbours = {
        View.OBLIQUE: (View.FRONTAL, View.SIDE),
        View.FRONTAL: (View.OBLIQUE, View.SIDE),
        View.SIDE: (View.OBLIQUE, View.FRONTAL),
    }
    filled = dict(profiles)
    for view, options in neighbours.items():
        if view not in filled:
            filled[view] = next(profiles[o] for o in options if o in profiles)
    return filled
