"""tfagent.agent.publish"""
