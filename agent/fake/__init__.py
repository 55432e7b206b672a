"""tfagent.agent.fake: the scripted model server, the one fake (for tfagent's tests and users' tests).

`server.py` (`ScriptedServer`, a real HTTP server) and `transport.py` (`ScriptedTransport`, the same
in-process as an httpx transport) both play `protocol.answer`; `context.py` plays each real server's
context overflow; `cli.py` is `python -m tfagent.agent.fake.cli --reply-file F`. Only tests, benchmarks
and users' tests import this room; nothing in tfagent's own code does.
"""
