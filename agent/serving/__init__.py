"""Serving a model on this machine: server backends, quantize, GGUF facts, bench, model fetch."""
