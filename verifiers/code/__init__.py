"""tfagent.verifiers.code"""
