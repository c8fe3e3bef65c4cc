"""The TLS trust for HTTPS endpoints: the system's CAs plus a clusters file's `cert_path`, if any."""

from __future__ import annotations

import ssl
from pathlib import Path


def ssl_context(cert_path: Path | None, https: bool = True) -> ssl.SSLContext:
    """A client context trusting the system CAs and, when given, the PEM bundle at `cert_path`.

    op-conductor-ops points `REQUESTS_CA_BUNDLE` at the bundle, which replaces the system CAs; adding to
    them instead keeps public endpoints (an RPC provider's) working beside internal ones.
    With `https=False` (no https endpoint to reach) the context trusts no CA at all: loading the system
    store costs a noticeable part of a `conductor-bot status` run, and an https URL reached anyway fails
    verification instead of passing unverified.
    Raises `OSError` / `ssl.SSLError` when the bundle cannot be read.
    """
    if not https:
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies certificates and hostnames; trusts none
    context = ssl.create_default_context()
    if cert_path is not None:
        context.load_verify_locations(cafile=str(cert_path))
    return context
