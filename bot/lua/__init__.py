"""Lua scripts for atomic Redis transitions; loaded by `bot.store` with importlib.resources."""
