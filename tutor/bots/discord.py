"""Discord bot (discord.py): every channel is a tutor thread; messages that mention the
bot, DMs, and messages starting with '/' or '!tutor' go to the tutor's chat endpoint."""

from __future__ import annotations

import asyncio
import io
import logging

import discord

from tutor.bots.client import Platform, TutorClient, converse

log = logging.getLogger(__name__)
DISCORD_LIMIT = 2000
# the tutor echoes student text (/search QUERY...): never let it ping @everyone, roles or users
NO_PINGS = discord.AllowedMentions.none()


def wants_tutor(message: discord.Message, me: discord.abc.User | None) -> str | None:
    """The text meant for the tutor, or None if the message is not for the bot."""
    if message.author.bot or (me is not None and message.author.id == me.id):
        return None
    text = message.content or ""
    if isinstance(message.channel, discord.DMChannel):
        return text.strip()
    if me is not None and me in message.mentions:
        return text.replace(f"<@{me.id}>", "").replace(f"<@!{me.id}>", "").strip()
    if text.startswith("!tutor"):
        return text[len("!tutor"):].strip()
    if text.startswith("/"):
        return text.strip()
    return None


async def handle(message: discord.Message, client: TutorClient, me=None) -> str | None:
    text = wants_tutor(message, me)
    if text is None:
        return None
    if not text:
        text = "/help"
    channel = message.channel

    async def send_text(t: str):
        return await channel.send(t, allowed_mentions=NO_PINGS)

    async def edit_text(handle, t: str):
        try:
            await handle.edit(content=t, allowed_mentions=NO_PINGS)
        except discord.HTTPException as e:
            log.debug("edit failed: %s", e)

    async def send_photo(data: bytes, name: str, caption: str):
        await channel.send(caption, file=discord.File(io.BytesIO(data), filename=name), allowed_mentions=NO_PINGS)

    async def typing():
        await channel.typing()  # shows "typing…" for up to 10 s

    platform = Platform(send_text, edit_text, send_photo, DISCORD_LIMIT, typing=typing)
    return await converse(client, platform, f"dc-{channel.id}", f"dc{message.author.id}", text)


class TutorDiscord(discord.Client):
    def __init__(self, tutor: TutorClient, **kwargs) -> None:
        intents = discord.Intents.default()
        intents.message_content = True
        super().__init__(intents=intents, **kwargs)
        self.tutor = tutor

    async def on_message(self, message: discord.Message) -> None:
        await handle(message, self.tutor, self.user)

    async def close(self) -> None:
        await super().close()
        await self.tutor.close()


def main(settings) -> int:
    if not settings.discord_token:
        print("error: set TUTOR_DISCORD_TOKEN", flush=True)
        return 2
    if not settings.bot_api_key:
        print("warning: TUTOR_BOT_API_KEY is not set; the tutor API will refuse the bot unless its auth is off",
              flush=True)

    async def run():
        bot = TutorDiscord(TutorClient(settings.bot_api_url, settings.bot_api_key))
        async with bot:
            await bot.start(settings.discord_token)

    asyncio.run(run())
    return 0
