"""tfagent.prompts"""
