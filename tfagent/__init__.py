"""tfagent: a sentence in, verified infrastructure code out.

The code lives in the card's top-level folders (agent/, verifiers/, prompts/, evals/), installed as
subpackages of this one import package so none of them collides with a PyPI distribution.
"""

__version__ = "0.1.0"
