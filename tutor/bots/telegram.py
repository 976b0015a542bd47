"""Telegram bot (aiogram 3): every chat is a tutor thread; plain messages and the commands
/run, /jobs, /status, /cancel, /compare, /search, /mode, /help go to the tutor's chat endpoint."""

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.base import BaseSession
from aiogram.exceptions import TelegramBadRequest, TelegramRetryAfter
from aiogram.types import BufferedInputFile, Message

from tutor.bots.client import Platform, TutorClient, converse, utf16_len

log = logging.getLogger(__name__)
TELEGRAM_LIMIT = 4096  # UTF-16 code units per message
CAPTION_LIMIT = 1024


async def _retrying(call, attempts: int = 3):
    """Telegram answers flood control with 429 retry_after: wait and try again."""
    for i in range(attempts):
        try:
            return await call()
        except TelegramRetryAfter as e:
            if i == attempts - 1:
                raise
            await asyncio.sleep(min(e.retry_after, 30))


def command_text(text: str) -> str:
    """'/jobs@tutor_bot' (commands in groups name the bot) → '/jobs', keeping the arguments."""
    if not text.startswith("/"):
        return text
    cmd, sep, rest = text.partition(" ")
    cmd = cmd.split("@", 1)[0]
    if cmd == "/start":
        return "/help"
    return cmd + sep + rest


def build_router(client: TutorClient) -> Router:
    router = Router(name="tutor")

    @router.message()
    async def on_message(message: Message, bot: Bot) -> None:
        text = (message.text or message.caption or "").strip()
        if not text:
            await message.answer("Пришлите вопрос текстом или команду /help.")
            return
        text = command_text(text)
        chat_id = message.chat.id

        async def send_text(t: str):
            return await _retrying(lambda: bot.send_message(chat_id, t))

        async def edit_text(handle, t: str):
            try:
                await bot.edit_message_text(t, chat_id=chat_id, message_id=handle.message_id)
            except (TelegramBadRequest, TelegramRetryAfter) as e:  # "message is not modified", flood control
                log.debug("edit failed: %s", e)

        async def send_photo(data: bytes, name: str, caption: str):
            await _retrying(lambda: bot.send_photo(chat_id, BufferedInputFile(data, filename=name),
                                                   caption=caption[:CAPTION_LIMIT]))

        async def typing():
            await bot.send_chat_action(chat_id, "typing")

        platform = Platform(send_text, edit_text, send_photo, TELEGRAM_LIMIT, typing=typing, length=utf16_len)
        user = f"tg{message.from_user.id}" if message.from_user else "tg-anon"
        await converse(client, platform, f"tg-{chat_id}", user, text)

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
    if not settings.bot_api_key:
        print("warning: TUTOR_BOT_API_KEY is not set; the tutor API will refuse the bot unless its auth is off",
              flush=True)

    async def run():
        client = TutorClient(settings.bot_api_url, settings.bot_api_key)
        bot, dp = build(settings.telegram_token, client)
        try:
            await dp.start_polling(bot)
        finally:
            await client.close()
            await bot.session.close()

    asyncio.run(run())
    return 0
