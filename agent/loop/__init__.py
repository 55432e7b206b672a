"""tfagent.agent.loop"""
