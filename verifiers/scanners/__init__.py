"""tfagent.verifiers.scanners"""
