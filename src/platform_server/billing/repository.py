from collections.abc import Sequence

from sqlalchemy import bindparam, select

from platform_server.billing.models import StripeSubscription
from platform_server.ids import is_valid_id
from platform_server.repository import Repository
from platform_server.teams.models import Role, Team, User

# Built once: every Stripe event runs them, and building a statement costs more than running it on SQLite.
_subscription_team_id = select(StripeSubscription.team_id).where(
    StripeSubscription.stripe_subscription_id == bindparam("stripe_subscription_id")
)
_lock_team = (
    select(Team).where(Team.id == bindparam("team_id")).with_for_update().execution_options(populate_existing=True)
)
_team_subscriptions = (
    select(StripeSubscription)
    .where(StripeSubscription.team_id == bindparam("team_id"))
    .execution_options(populate_existing=True)
)


class BillingRepository(Repository[StripeSubscription]):
    """Queries for Stripe webhooks, which act for the platform: the team is what the event resolves to."""

    model = StripeSubscription

    async def subscription_team_id(self, stripe_subscription_id: str) -> str | None:
        team_id: str | None = await self.session.scalar(
            _subscription_team_id, {"stripe_subscription_id": stripe_subscription_id}
        )
        return team_id

    async def lock_team(self, team_id: str) -> Team | None:
        """The row lock serializes concurrent events for a team on PostgreSQL; SQLite's write lock does so."""
        if not is_valid_id(team_id):
            return None
        team: Team | None = await self.session.scalar(_lock_team, {"team_id": team_id})
        return team

    async def lock_team_by_customer(self, stripe_customer_id: str) -> Team | None:
        team: Team | None = await self.session.scalar(
            select(Team)
            .where(Team.stripe_customer_id == stripe_customer_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return team

    async def customer_is_taken(self, stripe_customer_id: str) -> bool:
        statement = select(Team.id).where(Team.stripe_customer_id == stripe_customer_id)
        found = await self.session.scalar(statement)
        return found is not None

    async def team_subscriptions(self, team_id: str) -> list[StripeSubscription]:
        rows = await self.session.scalars(_team_subscriptions, {"team_id": team_id})
        return list(rows)

    async def team_owners(self, team_id: str) -> Sequence[User]:
        rows = await self.session.scalars(
            select(User).where(User.team_id == team_id, User.role == Role.owner).order_by(User.id)
        )
        return rows.all()
