"""Running a suite over endpoints: the runner, its executors and the store (imports tasks, judging)."""
