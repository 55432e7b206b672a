"""What the eval asks: suites and their tasks (imports no other eval room)."""
