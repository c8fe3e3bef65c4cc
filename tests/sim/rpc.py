"""A tiny JSON-RPC client for the sim tests (real HTTP via httpx)."""

from __future__ import annotations

from typing import Any

import httpx

TIMEOUT = httpx.Timeout(2.0)


async def call_raw(
    url: str, method: str, params: list[Any] | None = None, client_timeout: float = 2.0
) -> dict[str, Any]:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": [] if params is None else params}
    async with httpx.AsyncClient(timeout=client_timeout) as client:
        response = await client.post(url, json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def call(url: str, method: str, *params: Any) -> Any:
    """The result; fails the test on a JSON-RPC error."""
    answer = await call_raw(url, method, list(params))
    assert "error" not in answer, f"{method}: {answer['error']}"
    return answer["result"]


async def error(url: str, method: str, *params: Any) -> tuple[int, str]:
    """The (code, message) of a call that must fail."""
    answer = await call_raw(url, method, list(params))
    assert "error" in answer, f"{method} unexpectedly returned {answer.get('result')!r}"
    return answer["error"]["code"], answer["error"]["message"]
