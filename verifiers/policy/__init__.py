"""tfagent.verifiers.policy"""
