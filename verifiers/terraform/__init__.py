"""tfagent.verifiers.terraform"""
