"""The fake Discord (tests/fakediscord/) against the real discord.py client: a plain Client and
CommandTree defined here log in to it, sync, answer interactions, post, edit, read history and
meet the failures it injects, as a bot does against Discord."""

from __future__ import annotations

import asyncio
import io
import time
import warnings
from collections.abc import AsyncIterator

import pytest

from tests.fakediscord import (
    DEFAULT_USER_ID,
    DEFERRED_CHANNEL_MESSAGE,
    EPHEMERAL,
    FakeDiscord,
    FakeGuild,
    point_discord_at,
)

with warnings.catch_warnings():
    # discord.py imports audioop, deprecated since Python 3.11.
    warnings.simplefilter("ignore", DeprecationWarning)
    import discord
    from discord import app_commands

ALPHA, BETA = 700_000_000_000_000_001, 700_000_000_000_000_002
NEWS, OPS, LOBBY = 710_000_000_000_000_001, 710_000_000_000_000_002, 710_000_000_000_000_003
GUILDS = [
    FakeGuild(ALPHA, "Alpha", {NEWS: "news", OPS: "ops"}),
    FakeGuild(BETA, "Beta", [LOBBY]),
]
TOPICS = ["ukraine", "uganda", "sudan", "yemen"]


class AckView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Ack", custom_id="ack")
    async def ack(
        self, interaction: discord.Interaction, button: discord.ui.Button[AckView]
    ) -> None:
        await interaction.response.edit_message(
            content=f"acked by {interaction.user.id}", view=None
        )


class MiniBot(discord.Client):
    """A plain discord.py client, not our bot: each command exercises one feature of the fake."""

    def __init__(self) -> None:
        super().__init__(intents=discord.Intents.default(), guild_ready_timeout=0.05)
        self.tree = app_commands.CommandTree(self)
        self.seen: list[discord.Message] = []
        self.resumed = asyncio.Event()
        self.errors: list[app_commands.AppCommandError] = []
        self._add_commands()

    async def on_message(self, message: discord.Message) -> None:
        if message.author.id == self.user.id:  # type: ignore[union-attr]
            return
        self.seen.append(message)
        if self.user in message.mentions:
            await message.reply(f"hello {message.author.id}")

    async def on_resumed(self) -> None:
        self.resumed.set()

    def _add_commands(self) -> None:
        tree = self.tree

        @tree.error
        async def on_error(
            interaction: discord.Interaction, error: app_commands.AppCommandError
        ) -> None:
            self.errors.append(error)

        @tree.command(description="Answers pong, only to you")
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("pong", ephemeral=True)

        @tree.command(description="Thinks, then answers")
        @app_commands.describe(how="followup or edit")
        async def slow(interaction: discord.Interaction, how: str = "followup") -> None:
            await interaction.response.defer(thinking=True)
            await asyncio.sleep(0.01)
            if how == "edit":
                await interaction.edit_original_response(content="done (edited)")
            else:
                await interaction.followup.send("done (followup)")
                await interaction.followup.send("and a second followup", ephemeral=True)

        @tree.command(description="Answers too late")
        async def late(interaction: discord.Interaction) -> None:
            await asyncio.sleep(0.3)
            await interaction.response.send_message("too late")

        feed = app_commands.Group(name="feed", description="Feeds")

        @feed.command(name="add", description="Adds a feed")
        async def feed_add(
            interaction: discord.Interaction, url: str, channel: discord.TextChannel | None = None
        ) -> None:
            where = channel.name if channel else "here"
            await interaction.response.send_message(f"added {url} to {where}")

        tree.add_command(feed)

        @tree.command(description="Searches a topic")
        async def search(interaction: discord.Interaction, topic: str, limit: int = 5) -> None:
            await interaction.response.send_message(f"{topic} x{limit}")

        @search.autocomplete("topic")
        async def topic_choices(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            return [
                app_commands.Choice(name=t.title(), value=t)
                for t in TOPICS
                if t.startswith(current)
            ]

        @tree.command(description="Posts a panel with a button")
        async def panel(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("panel", view=AckView())

        @tree.context_menu(name="Flag")
        async def flag(interaction: discord.Interaction, message: discord.Message) -> None:
            await interaction.response.send_message(
                f"flagged {message.id}: {message.content}", ephemeral=True
            )

        @tree.command(description="Only in Alpha")
        @app_commands.guilds(ALPHA)
        async def local(interaction: discord.Interaction) -> None:
            await interaction.response.send_message(f"local in {interaction.guild_id}")


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(GUILDS) as server:
        with point_discord_at(server):
            yield server


async def _run(client: discord.Client, fake: FakeDiscord) -> asyncio.Task[None]:
    await client.login(fake.token)
    task = asyncio.create_task(client.connect(reconnect=False))
    await asyncio.wait_for(client.wait_until_ready(), 5)
    return task


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[MiniBot]:
    client = MiniBot()
    task = await _run(client, fake)
    try:
        yield client
    finally:
        await client.close()
        await asyncio.wait_for(task, 5)


async def test_login_ready_two_guilds_with_text_channels(fake: FakeDiscord, bot: MiniBot) -> None:
    assert bot.user is not None and bot.user.id == fake.bot_user_id
    assert bot.application_id == fake.application_id
    assert {g.id: g.name for g in bot.guilds} == {ALPHA: "Alpha", BETA: "Beta"}
    alpha = bot.get_guild(ALPHA)
    assert alpha is not None and alpha.me is not None
    assert [(c.id, c.name) for c in alpha.text_channels] == [(NEWS, "news"), (OPS, "ops")]
    lobby = bot.get_channel(LOBBY)
    assert isinstance(lobby, discord.TextChannel) and lobby.guild.id == BETA
    assert fake.identify_payload is not None
    assert fake.identify_payload["intents"] == discord.Intents.default().value
    assert fake.ready.is_set() and fake.connected
    # discord.py 2.7 logs in with two REST calls and never asks GET /gateway.
    logins = [(r.method, r.path, r.status) for r in fake.requests]
    assert logins == [("GET", "/users/@me", 200), ("GET", "/oauth2/applications/@me", 200)]


async def test_wrong_token_is_refused(fake: FakeDiscord) -> None:
    client = discord.Client(intents=discord.Intents.default())
    with pytest.raises(discord.LoginFailure):
        await client.login("not-the-token")
    await client.close()
    assert fake.requests[-1].status == 401


async def test_sync_global_and_per_guild(fake: FakeDiscord, bot: MiniBot) -> None:
    synced = await bot.tree.sync()
    local = await bot.tree.sync(guild=discord.Object(ALPHA))
    names = ["Flag", "feed", "late", "panel", "ping", "search", "slow"]
    assert sorted(c.name for c in synced) == names
    assert [c.name for c in local] == ["local"]
    assert fake.sync_counts == {None: 1, ALPHA: 1} and fake.sync_count == 2
    assert {c.id for c in synced} == {int(c["id"]) for c in fake.synced[None]}
    assert fake.synced[ALPHA][0]["guild_id"] == str(ALPHA)
    feed = next(c for c in fake.synced[None] if c["name"] == "feed")
    assert feed["options"][0]["name"] == "add" and feed["options"][0]["type"] == 1
    assert [c.name for c in await bot.tree.fetch_commands(guild=discord.Object(ALPHA))] == ["local"]

    again = await bot.tree.sync()  # same names keep their ids, as on Discord
    assert {c.id for c in again} == {c.id for c in synced}

    rec = await fake.invoke("local", channel_id=NEWS)
    assert rec.payload["data"]["guild_id"] == str(ALPHA)
    assert (await rec.final())["content"] == f"local in {ALPHA}"


async def test_slash_command_answered_ephemeral(fake: FakeDiscord, bot: MiniBot) -> None:
    rec = await fake.invoke("ping", channel_id=NEWS)
    response = await rec.response()
    assert response["type"] == 4 and response["data"]["flags"] & EPHEMERAL
    final = await rec.final()
    assert final["content"] == "pong" and rec.ephemeral
    assert rec.responded_after_s is not None and rec.responded_after_s < 3
    assert final["interaction_metadata"]["user"]["id"] == str(DEFAULT_USER_ID)
    assert fake.messages(NEWS, include_ephemeral=False) == []
    assert [m["content"] for m in fake.messages(NEWS)] == ["pong"]


@pytest.mark.parametrize(
    ("how", "text"), [("followup", "done (followup)"), ("edit", "done (edited)")]
)
async def test_deferred_command_then_followup_or_edit(
    fake: FakeDiscord, bot: MiniBot, how: str, text: str
) -> None:
    rec = await fake.invoke("slow", {"how": how}, channel_id=OPS)
    assert (await rec.response())["type"] == DEFERRED_CHANNEL_MESSAGE
    final = await rec.final()
    assert final["content"] == text and not rec.ephemeral
    assert final["id"] == str(rec.original_id)  # the "thinking" message became the answer
    if how == "followup":
        # discord.py sends followups to /webhooks/{app}/{token}; the first replaces the
        # thinking message, the next are new messages.
        followups = await fake.wait_for_messages(OPS, 2)
        assert [m["content"] for m in followups] == [text, "and a second followup"]
        assert [f["id"] for f in rec.followups] == [m["id"] for m in followups]
        assert rec.followups[1]["flags"] & EPHEMERAL
    else:
        assert [e.changes["content"] for e in fake.edits] == [text]
    assert fake.messages(OPS, include_ephemeral=False)[0]["content"] == text


async def test_subcommand_with_required_option(fake: FakeDiscord, bot: MiniBot) -> None:
    # Unsynced: option types come from Python values.
    rec = await fake.invoke("feed add", {"url": "https://a.example/rss"}, channel_id=NEWS)
    assert (await rec.final())["content"] == "added https://a.example/rss to here"
    sub = rec.payload["data"]["options"][0]
    assert (sub["type"], sub["name"]) == (1, "add")
    assert sub["options"] == [{"type": 3, "name": "url", "value": "https://a.example/rss"}]

    # Synced: the command id and option types (a channel, resolved) come from the definition.
    await bot.tree.sync()
    rec = await fake.invoke(
        "feed add", {"url": "https://b.example", "channel": OPS}, channel_id=NEWS
    )
    assert (await rec.final())["content"] == "added https://b.example to ops"
    feed = next(c for c in fake.synced[None] if c["name"] == "feed")
    assert rec.payload["data"]["id"] == feed["id"]
    with pytest.raises(ValueError, match="no subcommand"):
        await fake.invoke("feed remove", {"url": "x"}, channel_id=NEWS)


async def test_autocomplete_returns_the_bots_choices(fake: FakeDiscord, bot: MiniBot) -> None:
    await bot.tree.sync()
    choices = await fake.autocomplete("search", {"topic": "u"}, focused="topic", channel_id=NEWS)
    assert choices == [
        {"name": "Ukraine", "value": "ukraine"},
        {"name": "Uganda", "value": "uganda"},
    ]
    rec = await fake.invoke("search", {"topic": "sudan", "limit": 3}, channel_id=NEWS)
    assert (await rec.final())["content"] == "sudan x3"


async def test_context_menu_on_a_message(fake: FakeDiscord, bot: MiniBot) -> None:
    await bot.tree.sync()
    posted = await fake.post_user_message(NEWS, "suspicious link")
    rec = await fake.context_menu("Flag", int(posted["id"]))
    final = await rec.final()
    assert final["content"] == f"flagged {posted['id']}: suspicious link" and rec.ephemeral


async def test_button_press_on_a_message_with_a_view(fake: FakeDiscord, bot: MiniBot) -> None:
    rec = await fake.invoke("panel", channel_id=NEWS)
    panel = await rec.final()
    assert panel["components"][0]["components"][0]["custom_id"] == "ack"

    press = await fake.press(panel, "ack", user_id=42)
    assert (await press.response())["type"] == 7
    updated = await press.final()
    assert updated["id"] == panel["id"] and updated["content"] == "acked by 42"
    assert updated["components"] == []
    assert fake.edits[-1].message_id == int(panel["id"])

    # A view sent with a plain channel message works the same way.
    channel = bot.get_channel(OPS)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("second panel", view=AckView())
    press = await fake.press(fake.get_message(sent.id), "ack")
    assert (await press.final())["content"] == f"acked by {DEFAULT_USER_ID}"


async def test_same_nonce_twice_makes_one_message(fake: FakeDiscord, bot: MiniBot) -> None:
    channel = bot.get_channel(NEWS)
    assert isinstance(channel, discord.TextChannel)
    first = await channel.send("alert 1", nonce="alert-1")
    second = await channel.send("alert 1", nonce="alert-1")
    assert first.id == second.id
    assert len(fake.requests_to("POST", rf"/channels/{NEWS}/messages")) == 2
    assert [m["nonce"] for m in fake.messages(NEWS)] == ["alert-1"]

    fake.nonce_window_s = 0.0  # past the window the nonce no longer dedupes
    await asyncio.sleep(0.01)
    third = await channel.send("alert 1", nonce="alert-1")
    assert third.id != first.id and len(fake.messages(NEWS)) == 2


async def test_edit_in_place(fake: FakeDiscord, bot: MiniBot) -> None:
    channel = bot.get_channel(NEWS)
    assert isinstance(channel, discord.TextChannel)
    message = await channel.send("v1", embed=discord.Embed(title="Event"))
    edited = await message.edit(content="v2", embed=discord.Embed(title="Event (updated)"))
    assert edited.content == "v2" and edited.edited_at is not None
    [stored] = fake.messages(NEWS)
    assert stored["content"] == "v2" and stored["embeds"][0]["title"] == "Event (updated)"
    assert [(e.message_id, e.changes["content"]) for e in fake.edits] == [(message.id, "v2")]


async def test_history_newest_first_without_nonce(fake: FakeDiscord, bot: MiniBot) -> None:
    channel = bot.get_channel(NEWS)
    assert isinstance(channel, discord.TextChannel)
    sent = [await channel.send(f"m{i}") for i in range(5)]
    latest = [m async for m in channel.history(limit=3)]
    assert [m.content for m in latest] == ["m4", "m3", "m2"]
    assert all(m.nonce is None for m in latest)  # Discord returns no nonce in history
    after = [m async for m in channel.history(after=sent[1], oldest_first=True)]
    assert [m.content for m in after] == ["m2", "m3", "m4"]
    before = [m async for m in channel.history(before=sent[2])]
    assert [m.content for m in before] == ["m1", "m0"]
    fetched = await channel.fetch_message(sent[0].id)
    assert fetched.content == "m0" and fetched.author.id == fake.bot_user_id


async def test_failing_channel_raises_forbidden_then_not_found(
    fake: FakeDiscord, bot: MiniBot
) -> None:
    channel = bot.get_channel(OPS)
    assert isinstance(channel, discord.TextChannel)
    fake.fail_channel(OPS, 403)
    with pytest.raises(discord.Forbidden) as forbidden:
        await channel.send("x")
    assert forbidden.value.code == 50001
    fake.fail_channel(OPS, 404)
    with pytest.raises(discord.NotFound) as not_found:
        await channel.send("x")
    assert not_found.value.code == 10003
    fake.restore_channel(OPS)
    await channel.send("back")
    assert [m["content"] for m in fake.messages(OPS)] == ["back"]


async def test_rate_limit_is_waited_out_and_retried(fake: FakeDiscord, bot: MiniBot) -> None:
    channel = bot.get_channel(NEWS)
    assert isinstance(channel, discord.TextChannel)
    fake.rate_limit("POST", r"/channels/\d+/messages", retry_after=0.2, times=2)
    started = time.monotonic()
    await channel.send("after the wait")
    posts = fake.requests_to("POST", r"/channels/\d+/messages")
    assert [r.status for r in posts] == [429, 429, 200]
    assert posts[2].time - posts[0].time >= 0.4 and time.monotonic() - started >= 0.4
    assert len(fake.messages(NEWS)) == 1


async def test_mention_reaches_on_message_and_is_replied_to(
    fake: FakeDiscord, bot: MiniBot
) -> None:
    plain = await fake.post_user_message(NEWS, "no mention here", author_id=77)
    asked = await fake.post_user_message(NEWS, f"{fake.bot_mention} status?", author_id=77)
    _, _, reply = await fake.wait_for_messages(NEWS, 3)
    assert reply["content"] == "hello 77" and reply["type"] == 19
    assert reply["message_reference"]["message_id"] == asked["id"]
    assert reply["referenced_message"]["id"] == asked["id"]
    # Without the MESSAGE_CONTENT intent the bot sees content only when mentioned.
    assert [m.content for m in bot.seen] == ["", f"{fake.bot_mention} status?"]
    assert bot.seen[0].id == int(plain["id"])


async def test_three_second_rule(fake: FakeDiscord, bot: MiniBot) -> None:
    fake.interaction_window_s = 0.1
    rec = await fake.invoke("late", channel_id=NEWS)
    with pytest.raises(TimeoutError):
        await rec.response(timeout=0.5)
    [callback] = fake.requests_to("POST", r"/interactions/\d+/[^/]+/callback")
    assert callback.status == 404
    await asyncio.sleep(0.05)
    assert any(
        isinstance(e.__cause__, discord.NotFound) and e.__cause__.code == 10062 for e in bot.errors
    )


async def test_resume_after_reconnect_request(fake: FakeDiscord, bot: MiniBot) -> None:
    session = fake.identify_payload
    await fake.send_reconnect()
    await asyncio.wait_for(bot.resumed.wait(), 5)
    assert fake.identify_payload is session  # resumed, not identified again
    rec = await fake.invoke("ping", channel_id=LOBBY)
    assert (await rec.final())["content"] == "pong"


async def test_heartbeats_are_acknowledged() -> None:
    async with FakeDiscord(GUILDS, heartbeat_interval_ms=50) as fake:
        with point_discord_at(fake):
            client = MiniBot()
            task = await _run(client, fake)
            await fake.wait_until(lambda: True if fake.heartbeats >= 3 else None, 5, "heartbeats")
            assert client.latency < 1
            await client.close()
            await asyncio.wait_for(task, 5)


async def test_closing_cleanly(fake: FakeDiscord) -> None:
    client = MiniBot()
    task = await _run(client, fake)
    assert fake.connected
    await client.close()
    await asyncio.wait_for(task, 5)  # connect() returns without raising
    await fake.wait_disconnected()
    assert not fake.connected and client.is_closed()
    assert all(r.status < 500 for r in fake.requests)


async def test_dispatch_sends_any_event(fake: FakeDiscord, bot: MiniBot) -> None:
    renamed = fake.channel_payload(NEWS) | {"name": "breaking-news", "topic": "Alerts"}
    await fake.dispatch("CHANNEL_UPDATE", renamed)
    channel = bot.get_channel(NEWS)
    assert isinstance(channel, discord.TextChannel)
    await fake.wait_until(lambda: True if channel.name == "breaking-news" else None, 5)
    assert channel.topic == "Alerts"


async def test_files_deletes_and_invalid_messages(fake: FakeDiscord, bot: MiniBot) -> None:
    channel = bot.get_channel(LOBBY)
    assert isinstance(channel, discord.TextChannel)
    # With a file discord.py sends multipart/form-data with a payload_json part.
    sent = await channel.send("report", file=discord.File(io.BytesIO(b"a,b\n1,2\n"), "r.csv"))
    [attachment] = sent.attachments
    assert (attachment.filename, attachment.size) == ("r.csv", 8)
    assert await attachment.read() == b"a,b\n1,2\n"
    assert fake.requests_to("POST", rf"/channels/{LOBBY}/messages")[0].json["content"] == "report"

    await sent.delete()
    assert fake.messages(LOBBY) == [] and fake.get_message(sent.id)["deleted"]
    with pytest.raises(discord.NotFound) as gone:
        await channel.fetch_message(sent.id)
    assert gone.value.code == 10008

    with pytest.raises(discord.HTTPException) as too_long:
        await channel.send("x" * 2001)
    assert too_long.value.code == 50035
    fake.fail("POST", r"/channels/\d+/messages", status=400, message="Bad", code=50035)
    with pytest.raises(discord.HTTPException):
        await channel.send("fine")
    await channel.send("fine")
    assert [m["content"] for m in fake.messages(LOBBY)] == ["fine"]


async def test_followup_edited_and_deleted_by_id(fake: FakeDiscord, bot: MiniBot) -> None:
    @bot.tree.command(description="Followups")
    async def steps(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("step 0")
        first = await interaction.followup.send("step 1", wait=True)
        await first.edit(content="step 1 (done)")
        second = await interaction.followup.send("step 2", wait=True)
        await second.delete()
        original = await interaction.original_response()
        await original.edit(content=f"all done after {first.id}")

    rec = await fake.invoke("steps", channel_id=NEWS)
    await fake.wait_until(lambda: True if rec.original_edits else None, 5)
    followups = rec.followups
    assert [f["content"] for f in followups] == ["step 1 (done)", "step 2"]
    assert followups[1]["deleted"]
    assert [m["content"] for m in fake.messages(NEWS)] == [
        f"all done after {followups[0]['id']}",
        "step 1 (done)",
    ]
