from collections.abc import Sequence
from typing import cast

from platform_server.assistant.models import AiConversation, AiMessage
from platform_server.ids import is_valid_id
from platform_server.pagination import PageParams
from platform_server.repository import TeamScopedRepository


class ConversationRepository(TeamScopedRepository[AiConversation]):
    model = AiConversation

    async def get_own(self, workspace_id: str, user_id: str, conversation_id: str) -> AiConversation | None:
        """Conversations are private: someone else's, like another team's, is not found."""
        if not is_valid_id(conversation_id):
            return None
        result: AiConversation | None = await self.session.scalar(
            self.scoped().where(
                AiConversation.id == conversation_id,
                AiConversation.workspace_id == workspace_id,
                AiConversation.user_id == user_id,
            )
        )
        return result

    async def list_page(
        self, workspace_id: str, user_id: str, params: PageParams
    ) -> tuple[Sequence[AiConversation], int]:
        statement = self.scoped().where(AiConversation.workspace_id == workspace_id, AiConversation.user_id == user_id)
        return await self.paginate(
            statement.order_by(AiConversation.updated_at.desc(), AiConversation.id.desc()), params
        )


class MessageRepository(TeamScopedRepository[AiMessage]):
    model = AiMessage

    async def list_page(self, conversation_id: str, params: PageParams) -> tuple[Sequence[AiMessage], int]:
        statement = self.scoped().where(AiMessage.conversation_id == conversation_id)
        return await self.paginate(statement.order_by(AiMessage.id), params)

    async def latest(self, conversation_id: str, limit: int) -> list[AiMessage]:
        """The conversation's last `limit` messages, oldest first."""
        statement = (
            self.scoped().where(AiMessage.conversation_id == conversation_id).order_by(AiMessage.id.desc()).limit(limit)
        )
        newest_first = cast(Sequence[AiMessage], (await self.session.scalars(statement)).all())
        return list(reversed(newest_first))
