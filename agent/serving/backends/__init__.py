"""Model-server backends `tfagent serve` can start (llama.cpp's llama-server, llama-cpp-python)."""
