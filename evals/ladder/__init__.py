"""The quant ladder (`tfagent eval ladder`): ``run.py`` orchestrates (resumable) → ``quant.py`` (rungs,
imatrix) + the serving room (servers) + ``running/runner.py`` (cells) → ``metrics.py`` (pure) →
``report.py`` (md/html/json). Imports every other eval room but importers."""
