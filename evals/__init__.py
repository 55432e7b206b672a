"""tfagent.evals"""
