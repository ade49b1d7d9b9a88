"""`email.send`: one queued email out through Resend, exactly once.

The request recorded the email and deferred this job in its transaction. The job reads the email, sends it with
the email's idempotency key as Resend's `Idempotency-Key`, then records the provider id: a job run again after
a crash between the send and the record sends the same key, and Resend answers with the first email instead of
sending a second. A job run after the record finds the email no longer queued and does nothing. No transaction
is held across the call to Resend.
"""

from platform_server.email.sender import EmailSendFailed
from platform_server.email.service import SEND_EMAIL_TASK, email_service
from platform_server.jobs.backoff import backoff
from platform_server.jobs.registry import JobContext, RetryLater, task
from platform_server.sqlite_inline import PreparedTransaction

SEND_ATTEMPTS = 8


@task(SEND_EMAIL_TASK, queue="email", max_attempts=SEND_ATTEMPTS)
async def send_email(ctx: JobContext, email_id: str) -> None:
    resources = ctx.resources
    async with PreparedTransaction.begin(resources.engine) as transaction:
        message = await email_service.outbound(transaction, resources.settings, email_id)
    if message is None:
        return
    try:
        provider_id = await resources.email_sender.send(message)
    except EmailSendFailed as failure:
        if failure.transient and ctx.attempt < SEND_ATTEMPTS:
            raise RetryLater(str(failure), backoff(ctx.attempt, failure.retry_after)) from failure
        reason = str(failure) if not failure.transient else f"{failure} (gave up after {ctx.attempt} attempts)"
        async with resources.sessionmaker() as session, session.begin():
            await email_service.record_failed(session, email_id, reason)
        return
    async with PreparedTransaction.begin(resources.engine) as transaction:
        await email_service.record_sent(transaction, email_id, provider_id)
