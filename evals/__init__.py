"""tfagent.evals: measure endpoints (quants) on a suite, in rooms whose imports point one way
(scripts/check_imports.py enforces it; docs/design.md draws it):

    tasks → judging → importers, running → reporting → ladder

- ``tasks/``: what is asked — suites (``suite.py``), their fields (``fields.py``), the fair judge's
  corrections (``corrections.py``), tasks that start from a folder (``folder.py``).
- ``judging/``: whether an answer is right — the strict and fair judges, stored verdicts, the intent audit.
- ``importers/``: other benchmarks' task files → suites (checks each reference with the judge).
- ``running/``: cells over endpoints — the runner, its executors (local, Ray), the SQLite store.
- ``reporting/``: pure metrics and the reports (md/html/json, JUnit, the HTML checked in a browser).
- ``ladder/``: quantize, serve and run each rung; the ladder's own metrics and report.

Data: ``suites/<name>/`` (shipped suites) and ``calibration/`` (the imatrix text). The ``tfagent eval``
commands live in ``agent/cli/eval_*.py``; nothing here imports click.
"""
