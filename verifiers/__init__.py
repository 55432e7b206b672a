"""tfagent.verifiers"""
