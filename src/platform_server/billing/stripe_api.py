"""Stripe's API through the official library, for reading what webhooks may have missed."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import stripe

from platform_server.config import Settings

# The client retries connection errors, 429s and 5xx itself, honouring Stripe-Should-Retry.
_NETWORK_RETRIES = 2


class SubscriptionReader:
    def __init__(self, client: stripe.StripeClient) -> None:
        self._client = client

    async def subscription(self, subscription_id: str) -> dict[str, Any] | None:
        """The subscription as plain data, as a webhook carries it; None when Stripe has no such subscription."""
        try:
            found = await self._client.v1.subscriptions.retrieve_async(subscription_id)
        except stripe.InvalidRequestError as error:
            if error.http_status == 404:
                return None
            raise
        return found.to_dict()


@asynccontextmanager
async def subscription_reader(settings: Settings) -> AsyncIterator[SubscriptionReader | None]:
    """None while STRIPE_API_KEY is unset: nothing is read from Stripe then."""
    if settings.STRIPE_API_KEY is None or not settings.STRIPE_API_KEY.get_secret_value():
        yield None
        return
    http_client = stripe.HTTPXClient()
    client = stripe.StripeClient(
        settings.STRIPE_API_KEY.get_secret_value(),
        base_addresses={"api": settings.STRIPE_API_BASE_URL},
        max_network_retries=_NETWORK_RETRIES,
        http_client=http_client,
    )
    try:
        yield SubscriptionReader(client)
    finally:
        await http_client.close_async()  # type: ignore[no-untyped-call]
