"""Where a webhook may be sent: asked when an endpoint is saved (``services/webhooks.py``) and again
before each delivery (``services/background/webhooks.py``), since a name may resolve elsewhere later.

Below both (it imports neither ``Runtime`` nor the worker), so neither reaches the other through it.
"""

from __future__ import annotations

import asyncio
import socket

from entitle.domain.webhooks import check_url_shape, refused_address


async def destination_refusal(url: str, allow_private: bool) -> str | None:
    """Why a request to ``url`` may not be sent now (resolved at this moment), or None."""
    _, host = check_url_shape(url)
    if allow_private:
        return None
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return f"the host {host!r} does not resolve"
    for info in infos:
        reason = refused_address(str(info[4][0]))
        if reason is not None:
            return f"{host} resolves to {reason}; set ENTITLE_WEBHOOK_ALLOW_PRIVATE=true to allow it"
    return None
