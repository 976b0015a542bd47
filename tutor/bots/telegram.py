"""Telegram bot (aiogram 3): every chat is a tutor thread; plain messages and the commands
/run, /jobs, /status, /cancel, /compare, /mode, /help go to the tutor's chat endpoint."""

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.base import BaseSession
from aiogram.types import BufferedInputFile, Message

from tutor.bots.client import Platform, TutorClient, converse

log = logging.getLogger(__name__)
TELEGRAM_LIMIT = 4096


def build_router(client: TutorClient) -> Router:
    router = Router(name="tutor")

    @router.message()
    async def on_message(message: Message, bot: Bot) -> None:
        text = message.text or message.caption or ""
        if not text.strip():
            await message.answer("Пришлите вопрос текстом или команду /help.")
            return
        if text.startswith("/start"):
            text = "/help"
        text = text.split("@", 1)[0] if text.startswith("/") and "@" in text.split(" ", 1)[0] else text

        async def send_text(t: str):
            return await bot.send_message(message.chat.id, t)

        async def edit_text(handle, t: str):
            try:
                await bot.edit_message_text(t, chat_id=message.chat.id, message_id=handle.message_id)
            except Exception as e:  # "message is not modified" and friends
                log.debug("edit failed: %s", e)

        async def send_photo(data: bytes, name: str, caption: str):
            await bot.send_photo(message.chat.id, BufferedInputFile(data, filename=name), caption=caption)

        platform = Platform(send_text, edit_text, send_photo, TELEGRAM_LIMIT)
        user = f"tg{message.from_user.id}" if message.from_user else "tg-anon"
        await converse(client, platform, f"tg-{message.chat.id}", user, text)

    return router


def build(token: str, client: TutorClient, session: BaseSession | None = None) -> tuple[Bot, Dispatcher]:
    bot = Bot(token=token, session=session) if session is not None else Bot(token=token)
    dp = Dispatcher()
    dp.include_router(build_router(client))
    return bot, dp


def main(settings) -> int:
    if not settings.telegram_token:
        print("error: set TUTOR_TELEGRAM_TOKEN", flush=True)
        return 2
    client = TutorClient(settings.bot_api_url, settings.bot_api_key)
    bot, dp = build(settings.telegram_token, client)

    async def run():
        try:
            await dp.start_polling(bot)
        finally:
            await client.close()

    asyncio.run(run())
    return 0
