"""Discord bot (discord.py): every channel is a tutor thread; messages that mention the
bot, DMs, and messages starting with '/' or '!tutor' go to the tutor's chat endpoint."""

from __future__ import annotations

import io
import logging

import discord

from tutor.bots.client import Platform, TutorClient, converse

log = logging.getLogger(__name__)
DISCORD_LIMIT = 2000


def wants_tutor(message: discord.Message, me: discord.abc.User | None) -> str | None:
    """The text meant for the tutor, or None if the message is not for the bot."""
    if message.author.bot:
        return None
    text = message.content or ""
    if isinstance(message.channel, discord.DMChannel):
        return text
    if me is not None and me in message.mentions:
        return text.replace(f"<@{me.id}>", "").replace(f"<@!{me.id}>", "").strip()
    if text.startswith("!tutor"):
        return text[len("!tutor"):].strip()
    if text.startswith("/"):
        return text
    return None


async def handle(message: discord.Message, client: TutorClient, me=None) -> str | None:
    text = wants_tutor(message, me)
    if text is None:
        return None
    if not text.strip():
        text = "/help"

    async def send_text(t: str):
        return await message.channel.send(t)

    async def edit_text(handle, t: str):
        try:
            await handle.edit(content=t)
        except discord.HTTPException as e:
            log.debug("edit failed: %s", e)

    async def send_photo(data: bytes, name: str, caption: str):
        await message.channel.send(caption, file=discord.File(io.BytesIO(data), filename=name))

    platform = Platform(send_text, edit_text, send_photo, DISCORD_LIMIT)
    return await converse(client, platform, f"dc-{message.channel.id}", f"dc{message.author.id}", text)


class TutorDiscord(discord.Client):
    def __init__(self, tutor: TutorClient, **kwargs) -> None:
        intents = discord.Intents.default()
        intents.message_content = True
        super().__init__(intents=intents, **kwargs)
        self.tutor = tutor

    async def on_message(self, message: discord.Message) -> None:
        await handle(message, self.tutor, self.user)


def main(settings) -> int:
    if not settings.discord_token:
        print("error: set TUTOR_DISCORD_TOKEN", flush=True)
        return 2
    client = TutorClient(settings.bot_api_url, settings.bot_api_key)
    TutorDiscord(client).run(settings.discord_token)
    return 0
