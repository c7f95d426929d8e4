"""The population default profile, for a user who has not calibrated.

Derivation (re-run with `posture evaluate LABELS.csv --write-population PATH`):
the labelled dev set's `good` images are measured and grouped by the camera
view the metrics detect. Within a view, each source (one camera set-up, often
one person) first gets its own median per metric, so a source with many
images counts once; a metric seen in fewer than MIN_SOURCES sources is left
out. The population baseline is the median of those source medians, and its
spread the MAD across sources, turned into a tolerance by the same rule as a
personal calibration (`calibration.baseline`). Across
people that spread is wide, so the tolerances mostly sit at their maximum
margins: an uncalibrated verdict is deliberately less sensitive.

Every output that uses these profiles says so.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from functools import cache
from importlib import resources
from statistics import median

from calibration.baseline import BASELINE_METRICS, baseline_of
from calibration.profile import Profile
from posture.errors import ProfileError
from posture.metrics import PostureMetrics
from posture.vocabulary import View

POPULATION_FILE = "population.json"
# A population needs more than one person: a metric seen in fewer sources is left
# out rather than letting one camera set-up stand for everybody.
MIN_SOURCES = 2
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
            source_medians = []
            for frames in sources.values():
                values = [v for f in frames if (v := getattr(f, metric)) is not None]
                if values:
                    source_medians.append(median(values))
            found = baseline_of(metric, source_medians)
            if found is not None and found.count >= MIN_SOURCES:
                baselines[metric] = found
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
