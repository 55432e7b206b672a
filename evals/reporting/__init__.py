"""Figures and reports of a stored run: pure metrics, md/html/json, JUnit, the browser check
(imports tasks, judging, running)."""
