"""Report formats other tools read: SARIF 2.1.0 (code scanning) and JUnit XML (CI dashboards).

Pure functions from verdicts to text; no I/O, no CLI. Writing a file is the caller's job (atomic).
"""
