"""Importers: other benchmarks' task files → tfagent suites (see ``iac_eval``)."""

from tfagent.evals.importers.iac_eval import ImportReport, import_iac_eval, import_iac_eval_command

__all__ = ["ImportReport", "import_iac_eval", "import_iac_eval_command"]
