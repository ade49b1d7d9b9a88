from fastapi import Depends, Request

from platform_server.limits.limiter import request_limiter


async def public_rate_limit(request: Request) -> None:
    """Per client address (RATE_LIMIT_PUBLIC_PER_MINUTE), for routes without an API key."""
    await request_limiter(request.app.state).enforce_public(request.scope)


# Add to unauthenticated routes (webhooks, OAuth callbacks): `dependencies=[PublicRateLimit]`.
PublicRateLimit = Depends(public_rate_limit)
