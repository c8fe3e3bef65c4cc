"""Lua scripts for atomic Redis transitions; loaded by `store.gateway` with importlib.resources."""
