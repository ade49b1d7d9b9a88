"""The settings page in a real browser: Chromium against a live server whose providers are the sandbox's."""

import re
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from tests.web.conftest import Account, LiveServer, screenshot

pytestmark = pytest.mark.browser


async def sign_in(page: Any, account: Account) -> None:
    await page.goto("/settings/sign-in")
    await page.get_by_label("API key").fill(account.api_key)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(r"/settings/integrations$"))


async def connect_github(page: Any, *, approve: bool = True) -> None:
    await page.get_by_role("button", name="Connect GitHub").click()
    await expect(page).to_have_url(re.compile(r"/sandbox/github/login/oauth/authorize\?"))
    await page.get_by_role("button", name="Approve" if approve else "Deny").click()
    await expect(page).to_have_url(re.compile(r"/settings/integrations\?(success|error)="))


def card(page: Any, name: str) -> Any:
    return page.locator("article.integration").filter(has=page.get_by_role("heading", name=name, exact=True))


async def test_sign_in_and_sign_out(page: Any, account: Account) -> None:
    await page.goto("/settings/integrations")
    await expect(page).to_have_url(re.compile(r"/settings/sign-in$"))
    await screenshot(page, "sign-in")
    # Keyboard only: the key field has focus, Enter submits.
    await expect(page.get_by_label("API key")).to_be_focused()
    await page.keyboard.type(account.api_key)
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(r"/settings/integrations$"))
    await expect(page.get_by_role("heading", name="Integrations", level=1)).to_be_visible()
    await expect(page.get_by_text("Nothing is connected yet")).to_be_visible()
    await expect(page.locator(".provider")).to_have_count(6)
    await screenshot(page, "empty")

    cookies = {cookie["name"]: cookie for cookie in await page.context.cookies()}
    assert cookies["platform_session"]["httpOnly"] is True
    assert cookies["platform_session"]["sameSite"] == "Lax"
    assert await page.evaluate("document.cookie") == "", "session cookies must be invisible to scripts"

    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(re.compile(r"/settings/sign-in\?notice=signed_out$"))
    await expect(page.get_by_role("status")).to_have_text("You have signed out.")
    await page.goto("/settings/integrations")
    await expect(page).to_have_url(re.compile(r"/settings/sign-in$"))


async def test_connect_github_through_the_sandbox_consent_page(page: Any, account: Account) -> None:
    await sign_in(page, account)
    await page.get_by_role("button", name="Connect GitHub").click()
    await expect(page).to_have_url(re.compile(r"/sandbox/github/login/oauth/authorize\?"))
    await screenshot(page, "sandbox-consent")
    await page.get_by_role("button", name="Approve").click()

    await expect(page).to_have_url(re.compile(r"/settings/integrations\?success=github$"))
    await expect(page.get_by_role("status").first).to_contain_text("GitHub is connected")
    github = card(page, "GitHub")
    await expect(github.get_by_test_id("status")).to_have_text(re.compile(r"Connected"))
    await expect(github.get_by_test_id("account")).to_have_text("acme-corp")
    await expect(github.locator(".chips")).to_contain_text("repo")
    await screenshot(page, "connected")


async def test_every_provider_connects_from_the_page(page: Any, account: Account) -> None:
    await sign_in(page, account)
    names = {"github": "GitHub", "jira": "Jira", "linear": "Linear", "notion": "Notion", "slack": "Slack"}
    for provider, name in {**names, "figma": "Figma"}.items():
        await page.get_by_role("button", name=f"Connect {name}").click()
        await expect(page).to_have_url(re.compile(rf"/sandbox/{provider}/"))
        await page.get_by_role("button", name="Approve").click()
        await expect(page).to_have_url(re.compile(rf"/settings/integrations\?success={provider}$"))
        await expect(card(page, name).get_by_test_id("status")).to_have_text(re.compile(r"Connected"))
    await expect(page.locator("article.integration[data-status=connected]")).to_have_count(6)
    await screenshot(page, "all-connected")


async def test_denying_consent_shows_the_error_banner(page: Any, account: Account) -> None:
    await sign_in(page, account)
    await connect_github(page, approve=False)
    await expect(page).to_have_url(re.compile(r"\?error=access_denied$"))
    await expect(page.get_by_role("alert")).to_contain_text("You cancelled the authorization, so nothing was connected")
    # The page agrees with the banner: no card is left behind for the refused attempt.
    await expect(page.locator("article.integration")).to_have_count(0)
    await expect(page.get_by_text("Nothing is connected yet")).to_be_visible()
    await screenshot(page, "denied")

    await connect_github(page)
    await expect(page).to_have_url(re.compile(r"\?success=github$"))
    await expect(page.locator("article.integration")).to_have_count(1)
    await expect(card(page, "GitHub").get_by_test_id("status")).to_have_text(re.compile(r"Connected"))


async def test_a_link_opened_before_sign_in_connects_after_it(
    page: Any, account: Account, live_server: LiveServer
) -> None:
    """The API starts the flow; a browser that is not signed in opens oauthUrl, approves, signs in, and the
    connection completes with its banner."""
    async with httpx.AsyncClient(base_url=live_server.base_url) as api:
        created = await api.post(
            "/api/integrations",
            json={"provider": "github"},
            headers={"Authorization": f"Bearer {account.api_key}"},
        )
    assert created.status_code == 201, created.text
    await page.goto(created.json()["oauthUrl"])
    await page.get_by_role("button", name="Approve").click()

    await expect(page).to_have_url(re.compile(r"/settings/sign-in\?notice=sign_in_to_connect&next="))
    await expect(page.get_by_role("status")).to_contain_text("Sign in to finish connecting the integration")
    assert "code=" not in page.url
    assert "state=" not in page.url
    await screenshot(page, "sign-in-to-connect")
    await page.get_by_label("API key").fill(account.api_key)
    await page.get_by_role("button", name="Sign in").click()

    await expect(page).to_have_url(re.compile(r"/settings/integrations\?success=github$"))
    await expect(page.get_by_role("status").first).to_contain_text("GitHub is connected")
    await expect(card(page, "GitHub").get_by_test_id("status")).to_have_text(re.compile(r"Connected"))
    cookies = {cookie["name"] for cookie in await page.context.cookies()}
    assert "platform_oauth_callback" not in cookies


async def test_a_link_approved_in_another_teams_browser_connects_nothing(
    page: Any, account: Account, other_account: Account, live_server: LiveServer
) -> None:
    """A lured approval: the link of one team's pending integration, approved in a browser signed in to another
    team, is refused and links nothing into either team."""
    async with httpx.AsyncClient(base_url=live_server.base_url) as api:
        created = await api.post(
            "/api/integrations",
            json={"provider": "github"},
            headers={"Authorization": f"Bearer {account.api_key}"},
        )
        await sign_in(page, other_account)
        await page.goto(created.json()["oauthUrl"])
        await page.get_by_role("button", name="Approve").click()
        await expect(page).to_have_url(re.compile(r"/settings/integrations\?error=wrong_account$"))
        await expect(page.get_by_role("alert")).to_contain_text("started by another user")
        await expect(page.locator("article.integration")).to_have_count(0)
        listed = await api.get("/api/integrations", headers={"Authorization": f"Bearer {account.api_key}"})
    [pending] = listed.json()["integrations"]
    assert pending["status"] == "pending"
    assert pending.get("providerAccountName") is None


async def test_enable_tools_for_a_workspace_and_run_a_sync(page: Any, account: Account) -> None:
    await sign_in(page, account)
    await connect_github(page)
    github = card(page, "GitHub")
    workspace = github.locator("details.workspace").filter(has_text="Product")
    await workspace.locator("summary").click()
    tools = workspace.get_by_role("checkbox")
    total = await tools.count()
    assert total >= 2, "GitHub brings tools to choose from"
    # Every tool is offered with its description, and all are ticked until someone chooses.
    for index in range(total):
        await expect(tools.nth(index)).to_be_checked()
        assert await tools.nth(index).get_attribute("aria-describedby")
    await tools.nth(0).uncheck()
    await workspace.get_by_label("Default project").fill("acme/website")
    await screenshot(page, "enable-tools")
    await workspace.get_by_role("button", name="Enable for Product").click()

    await expect(page.get_by_role("status").first).to_contain_text("enabled for the workspace")
    github = card(page, "GitHub")
    workspace = github.locator("details.workspace").filter(has_text="Product")
    await expect(workspace.locator("summary")).to_contain_text(f"Enabled · {total - 1} of {total} tools")
    await workspace.locator("summary").click()
    await expect(workspace.get_by_role("checkbox").nth(0)).not_to_be_checked()
    await expect(workspace.get_by_label("Default project")).to_have_value("acme/website")

    await workspace.get_by_role("button", name="Run sync").click()
    result = page.get_by_role("status").first
    await expect(result).to_contain_text(re.compile(r"Sync of GitHub completed: \d+ items? synced in"))
    history = card(page, "GitHub").locator("details.history").filter(has_text="Recent syncs")
    await history.locator("summary").click()
    await expect(history.get_by_role("row").nth(1)).to_contain_text("completed")
    await expect(card(page, "GitHub").locator("time").first).to_be_visible()
    await screenshot(page, "synced")


async def test_disconnect_asks_for_confirmation(page: Any, account: Account) -> None:
    await sign_in(page, account)
    await connect_github(page)
    await card(page, "GitHub").get_by_role("link", name="Disconnect GitHub").click()
    await expect(page.get_by_role("heading", name="Disconnect GitHub?")).to_be_visible()
    await screenshot(page, "disconnect-confirm")
    # Cancel changes nothing.
    await page.get_by_role("link", name="Cancel").click()
    await expect(page.locator("article.integration")).to_have_count(1)

    await card(page, "GitHub").get_by_role("link", name="Disconnect GitHub").click()
    await page.get_by_role("button", name="Disconnect GitHub").click()
    await expect(page).to_have_url(re.compile(r"\?notice=disconnected$"))
    await expect(page.get_by_role("status").first).to_contain_text("The integration was disconnected")
    await expect(page.locator("article.integration")).to_have_count(0)
    await expect(page.get_by_text("Nothing is connected yet")).to_be_visible()


async def test_query_values_are_shown_as_text_never_as_markup(page: Any, account: Account) -> None:
    await sign_in(page, account)
    payload = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    await page.goto(f"/settings/integrations?error={payload}&success=<b>bold</b>")
    await expect(page.get_by_role("alert")).to_contain_text("Connecting the integration failed.")
    await expect(page.locator(".banner-detail")).to_have_text(f"Error code: {payload}")
    await expect(page.get_by_role("status").first).to_have_text("The integration is connected.")
    assert await page.locator("main script, main img[src='x'], main b").count() == 0
    await screenshot(page, "escaped-error")


async def test_a_post_without_the_csrf_token_is_refused(page: Any, account: Account) -> None:
    await sign_in(page, account)
    form = page.locator("form").filter(has=page.get_by_role("button", name="Connect GitHub"))
    await form.locator("input[name=csrf_token]").evaluate("input => input.remove()")
    async with page.expect_response(re.compile(r"/settings/integrations/connect$")) as refused:
        await page.get_by_role("button", name="Connect GitHub").click()
    assert (await refused.value).status == 403
    await expect(page.get_by_role("heading", name="This form has expired")).to_be_visible()
    await page.goto("/settings/integrations")
    await expect(page.get_by_text("Nothing is connected yet")).to_be_visible()


async def test_readable_at_phone_width(page: Any, account: Account, live_server: LiveServer) -> None:
    await page.set_viewport_size({"width": 375, "height": 812})
    await sign_in(page, account)
    await connect_github(page)
    await expect(card(page, "GitHub")).to_be_visible()
    overflow = await page.evaluate("document.documentElement.scrollWidth - innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at phone width"
    await screenshot(page, "phone")
    # Every asset comes from this server: nothing from a CDN.
    sources = await page.evaluate(
        "[...document.querySelectorAll('link[href], script[src], img[src]')].map(e => e.href || e.src)"
    )
    assert sources
    assert all(source.startswith(live_server.base_url) for source in sources), sources


async def test_skip_link_comes_first_for_keyboard_users(page: Any, account: Account) -> None:
    await sign_in(page, account)
    await page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    await expect(skip).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("main")).to_be_focused()
