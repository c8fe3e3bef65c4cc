"""Placeholder: being written in parallel; registers nothing yet."""

from __future__ import annotations

from commands.router import VerbRegistry


def register(registry: VerbRegistry) -> None:
    del registry
