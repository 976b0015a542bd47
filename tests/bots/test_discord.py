"""The Discord bot (discord.py) end to end: MESSAGE_CREATE gateway payloads go through the
real ConnectionState parser and event dispatch into TutorDiscord.on_message; the bot's
replies go through discord.py's own HTTP client to a fake Discord REST API on loopback
(only `Route.BASE` points elsewhere); the tutor API behind it is a live server."""

import itertools
import re

import discord
import pytest

from tests.api.conftest import free_port
from tests.bots.conftest import settle
from tutor.bots.client import TutorClient
from tutor.bots.discord import DISCORD_LIMIT, TutorDiscord

_ids = itertools.count(900_000)
STUDENT = {"id": "2001", "username": "student", "discriminator": "0", "global_name": "Student", "avatar": None}


class Discord:
    def __init__(self, fake, base: str, key: str) -> None:
        self.fake = fake
        self.bot = TutorDiscord(TutorClient(base, key))
        self.errors: list[str] = []

        async def on_error(event, *args, **kwargs):  # discord.py logs handler errors; the tests fail on them
            import traceback

            self.errors.append(traceback.format_exc())

        self.bot.on_error = on_error

    async def say(self, channel: int, text: str, guild: int | None = None, mention: bool = False,
                  author: dict = STUDENT):
        """Deliver a MESSAGE_CREATE as the gateway would; return the successful REST calls in that channel."""
        n = len(self.fake.calls)
        data = {"id": str(next(_ids)), "channel_id": str(channel), "author": author, "content": text,
                "timestamp": "2026-01-01T00:00:00+00:00", "edited_timestamp": None, "tts": False,
                "mention_everyone": False, "mentions": [self.fake.me] if mention else [], "mention_roles": [],
                "attachments": [], "embeds": [], "pinned": False, "type": 0}
        if guild is not None:
            data["guild_id"] = str(guild)
        self.bot._connection.parse_message_create(data)
        await settle("discord.py: on_message")
        assert not self.errors, self.errors[0]
        return [c for c in self.fake.calls[n:] if c.status < 300 and c.chat == str(channel)]


@pytest.fixture
async def discord_bot(tutor_api, fake_discord, monkeypatch):
    monkeypatch.setattr(discord.http.Route, "BASE", fake_discord.url + "/api/v10")
    bots = []

    async def make(key: str = "discord", base: str | None = None) -> Discord:
        d = Discord(fake_discord, base or tutor_api["base"], tutor_api["keys"].get(key, key))
        await d.bot.login("test-token")  # GET /users/@me and /oauth2/applications/@me on the fake
        bots.append(d)
        return d

    yield make
    for d in bots:
        await d.bot.close()


def posts(calls):
    return [c for c in calls if c.method.startswith("POST") and c.method.endswith("/messages")]


def texts(calls):
    return [c.text for c in posts(calls)]


async def test_dms_mentions_prefix_and_one_thread_per_channel(discord_bot):
    dc = await discord_bot()
    assert dc.bot.user.id == 1000
    calls = await dc.say(3000, "What is experience replay in DQN?")  # a DM: no guild
    assert calls[0].method == "POST /api/v10/channels/3000/typing"
    answer = "\n".join(texts(calls))
    assert "[1] corpus/lectures/17_rl_dqn.md — " in answer
    assert all(c.fields["allowed_mentions"]["parse"] == [] for c in posts(calls))

    assert await dc.say(3001, "hello everyone, who did the homework?", guild=77) == []  # not for the bot
    assert await dc.say(3001, "/help", guild=77, author={**STUDENT, "id": "2002", "bot": True}) == []  # a bot
    assert "Команды" in texts(await dc.say(3001, "<@1000> /help", guild=77, mention=True))[0]
    assert texts(await dc.say(3001, "!tutor /mode hint", guild=77)) == ["Режим: hint."]
    assert "Сейчас: hint" in texts(await dc.say(3001, "/mode", guild=77))[0]
    assert "Сейчас: explain" in texts(await dc.say(3002, "!tutor /mode", guild=77))[0]  # another channel


async def test_run_command_edits_a_status_message_and_uploads_plots(discord_bot):
    dc = await discord_bot()
    calls = await dc.say(3003, "/run cnn smoke", guild=77)
    sent = posts(calls)
    job_id = re.fullmatch(r"⏳ cnn: job ([0-9a-f]{12}) queued", sent[0].text).group(1)
    status_id = sent[0].result["id"]
    edits = [c for c in calls if c.method.startswith("PATCH")]
    assert {c.method for c in edits} == {f"PATCH /api/v10/channels/3003/messages/{status_id}"}
    assert edits[-1].text == f"✅ cnn {job_id}: succeeded"
    # progress edits are throttled (one per 2 s), so which progress event is shown depends on
    # timing; the first one always is, and it comes before the final status
    assert len(edits) >= 2 and all(e.text.startswith("⏳ ") for e in edits[:-1])
    uploads = [c for c in sent if c.files]
    names = [f[0] for c in uploads for f in c.files.values()]
    assert "learning_curves.png" in names and len(names) == len(set(names))
    assert all(data[:8] == b"\x89PNG\r\n\x1a\n" for c in uploads for _, data in c.files.values())
    report = "\n".join(c.text for c in sent[1:] if not c.files)
    assert report.startswith(f"Готово: cnn, задача {job_id}.")


async def test_long_answers_are_split_at_2000(discord_bot):
    dc = await discord_bot()
    names = [f"p{i:03d}_" + "x" * 55 for i in range(31)]
    message = "/run cnn " + " ".join(f"{n}=1" for n in names)
    assert len(message) <= DISCORD_LIMIT
    parts = texts(await dc.say(3004, message, guild=77))
    assert len(parts) >= 2 and all(len(p) <= DISCORD_LIMIT for p in parts)
    joined = " ".join(parts)
    assert joined.startswith("У инструмента cnn нет параметров: ") and [n for n in names if n in joined] == names


async def test_api_errors_and_mentions_are_safe(discord_bot, fake_discord):
    bad = await discord_bot("tk_not-a-key")
    assert texts(await bad.say(3005, "Что такое dropout?")) == [
        "⚠️ Бот не может обратиться к тьютору: его ключ API недействителен. Сообщите преподавателю."]
    down = await discord_bot(base=f"http://127.0.0.1:{free_port()}")
    assert texts(await down.say(3006, "Что такое dropout?")) == ["⚠️ Тьютор сейчас недоступен. Попробуйте позже."]
    # the tutor echoes the unknown command: "@everyone" must not ping anybody
    dc = await discord_bot()
    calls = await dc.say(3007, "!tutor /@everyone", guild=77)
    assert "@everyone" in texts(calls)[0] and posts(calls)[0].fields["allowed_mentions"]["parse"] == []
