"""posture: a local, private posture coach.

The pipeline, one module per stage, data flowing one way::

    sources ──Frame──▶ pose ──PoseResult──▶ metrics ──PostureMetrics──▶ (scoring, monitor, store)

The whole loop over a recorded session, in a few lines::

    from posture.sources import open_source
    from posture.analysis import analyze_frames, estimator_for

    with open_source("samples/session.mp4", stride=5) as source:
        with estimator_for(source) as estimator:
            for row in analyze_frames(source, estimator):
                if row.metrics is not None:
                    print(row.t_ms, row.metrics.view.value, row.metrics.neck_inclination_deg)

Nothing here writes a frame anywhere: frames live only in memory, long enough
to be measured.
"""

__version__ = "0.1.0"
