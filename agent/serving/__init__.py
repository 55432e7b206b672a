"""tfagent.agent.serving"""
