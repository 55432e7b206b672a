"""Importers: other benchmarks' task files → tfagent suites (see ``iac_eval``; imports tasks, and judging to
check each reference). Their command is ``agent/cli/eval_import.py``."""

from tfagent.evals.importers.iac_eval import ImportReport, import_iac_eval

__all__ = ["ImportReport", "import_iac_eval"]
