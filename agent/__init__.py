"""tfagent.agent"""
