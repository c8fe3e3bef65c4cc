"""The TLS trust for HTTPS endpoints: the system's CAs plus a clusters file's `cert_path`, if any."""

from __future__ import annotations

import ssl
from pathlib import Path


def ssl_context(cert_path: Path | None) -> ssl.SSLContext:
    """A client context trusting the system CAs and, when given, the PEM bundle at `cert_path`.

    op-conductor-ops points `REQUESTS_CA_BUNDLE` at the bundle, which replaces the system CAs; adding to
    them instead keeps public endpoints (an RPC provider's) working beside internal ones.
    Raises `OSError` / `ssl.SSLError` when the bundle cannot be read.
    """
    context = ssl.create_default_context()
    if cert_path is not None:
        context.load_verify_locations(cafile=str(cert_path))
    return context
