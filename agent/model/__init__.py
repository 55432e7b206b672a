"""tfagent.agent.model"""
