"""Reports: what happened against the plan, per session and across the cohorts of a show.

The figures are computed from what was recorded (control log, firings, presence, chat, poll
answers, commitments) by pure functions (:mod:`.session`, :mod:`.cohort`) over a
:class:`~facilbot.reports.data.SessionData` bundle; :mod:`.load` reads that bundle through the
store, and :mod:`.render` turns a report into text, JSON, CSV or HTML with an SVG timeline.
"""
