"""How the fake Slack Web API reads a request and drops a connection, as Slack's HTTP edge would."""

from __future__ import annotations

import json
import socket
import struct
from urllib.parse import parse_qsl

from aiohttp import web

from sim.slack_channels import Call


async def request_params(request: web.Request) -> Call:
    """A Web API call's parameters, wherever the client put them: query, form or JSON body."""
    params: Call = dict(request.query)
    body = await request.read()
    if not body:
        return params
    if request.content_type == "application/json":
        params.update(json.loads(body))
    else:
        params.update(dict(parse_qsl(body.decode())))
    return params


def reset(request: web.Request) -> None:
    """Drop the connection with a TCP reset (SO_LINGER 0), so the client sees no answer at all."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
