"""Whether an answer is right: the strict and fair judges, stored verdicts, the intent audit (imports tasks)."""
