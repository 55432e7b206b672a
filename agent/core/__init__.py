"""tfagent.agent.core"""
