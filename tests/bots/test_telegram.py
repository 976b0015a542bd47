"""The Telegram bot (aiogram 3) end to end: updates are fed to the real Dispatcher, the real
Bot sends its requests over HTTP (aiohttp session) to a fake Bot API on loopback, and the
tutor API behind it is a live server."""

import itertools
import re

import pytest
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from tests.bots.conftest import wait_until
from tests.api.conftest import free_port
from tutor.bots.client import TutorClient, utf16_len
from tutor.bots.telegram import TELEGRAM_LIMIT, build

TOKEN = "123456:TEST-token"
_update_ids = itertools.count(1)


class Telegram:
    """One bot wired to the fake Bot API; `say` delivers a user's message in a chat."""

    def __init__(self, fake, base: str, key: str) -> None:
        self.fake = fake
        self.client = TutorClient(base, key)
        self.session = AiohttpSession(api=TelegramAPIServer.from_base(fake.url))
        self.bot, self.dp = build(TOKEN, self.client, session=self.session)

    async def say(self, chat_id: int, text: str, user_id: int | None = None):
        """Feed one message update and return the successful Bot API calls it caused in that chat."""
        n = len(self.fake.calls)
        user_id = user_id or abs(chat_id)
        chat = {"id": chat_id, "type": "private", "first_name": "Student"} if chat_id > 0 else \
            {"id": chat_id, "type": "supergroup", "title": "DL course"}
        update = {"update_id": next(_update_ids), "message": {
            "message_id": next(_update_ids), "date": 1767225600, "chat": chat, "text": text,
            "from": {"id": user_id, "is_bot": False, "first_name": "Student", "language_code": "ru"}}}
        await self.dp.feed_raw_update(self.bot, update)
        return [c for c in self.fake.calls[n:] if c.status < 300 and c.chat == str(chat_id)]

    async def close(self):
        await self.client.close()
        await self.session.close()


@pytest.fixture
async def telegram(tutor_api, fake_telegram):
    bots = []

    def make(key: str = "telegram", base: str | None = None) -> Telegram:
        bots.append(Telegram(fake_telegram, base or tutor_api["base"], tutor_api["keys"].get(key, key)))
        return bots[-1]

    yield make
    for b in bots:
        await b.close()


def texts(calls, method="sendMessage"):
    return [c.text for c in calls if c.method == method]


async def test_question_gets_a_cited_answer(telegram):
    tg = telegram()
    calls = await tg.say(101, "Зачем нужен паддинг в свёрточной сети?")
    assert calls[0].method == "sendChatAction" and calls[0].fields["action"] == "typing"
    answer = "\n".join(texts(calls))
    assert "[1]" in answer and re.search(r"\[1\] corpus/lectures/04_cnn\.md — ", answer)


async def test_run_command_edits_a_status_message_and_sends_plots(telegram, api):
    tg = telegram()
    calls = await tg.say(102, "/run cnn smoke")
    sent = [c for c in calls if c.method == "sendMessage"]
    status = sent[0].text
    job_id = re.fullmatch(r"⏳ cnn: job ([0-9a-f]{12}) queued", status).group(1)
    edits = [c for c in calls if c.method == "editMessageText"]
    assert {c.fields["message_id"] for c in edits} == {str(sent[0].result["message_id"])}  # one status message
    assert edits[-1].text == f"✅ cnn {job_id}: succeeded"
    # progress edits are throttled (one per 2 s): which progress event is shown depends on timing,
    # the first one always is, before the final status (progress_text is checked on its own below)
    assert len(edits) >= 2 and all(e.text.startswith("⏳ ") for e in edits[:-1]), edits
    report = "\n".join(t for t in texts(calls)[1:])
    assert report.startswith(f"Готово: cnn, задача {job_id}.") and "точность на тесте" in report
    photos = [c for c in calls if c.method == "sendPhoto"]
    names = [c.files["photo"][0] for c in photos]
    assert "learning_curves.png" in names and len(names) == len(set(names))
    assert all(c.files["photo"][1][:8] == b"\x89PNG\r\n\x1a\n" for c in photos)
    assert api.get(f"/v1/jobs/{job_id}").json()["owner"] == "telegram:tg102"

    # /jobs lists it for this student only
    assert job_id in "\n".join(texts(await tg.say(102, "/jobs")))
    assert job_id not in "\n".join(texts(await tg.say(103, "/jobs")))


async def test_cancel_only_your_own_job(telegram, api):
    tg = telegram()
    job = api.post("/v1/jobs", json={"tool": "dqn", "preset": "full", "user": "telegram:tg104"}).json()
    assert job["owner"] == "telegram:tg104"
    other = "\n".join(texts(await tg.say(105, f"/cancel {job['id']}")))
    assert "не найдена" in other
    mine = "\n".join(texts(await tg.say(104, f"/cancel@tutor_test_bot {job['id']}")))  # group-style command
    assert f"Задача {job['id']}: " in mine
    assert wait_until(lambda: api.get(f"/v1/jobs/{job['id']}").json()["status"] == "cancelled", 30)


async def test_mode_and_one_thread_per_chat(telegram):
    tg = telegram()
    assert texts(await tg.say(106, "/mode hint")) == ["Режим: hint."]
    assert "Сейчас: hint" in texts(await tg.say(106, "/mode"))[0]
    # another chat of the same person is another thread
    assert "Сейчас: explain" in texts(await tg.say(-1001106, "/mode", user_id=106))[0]


async def test_long_answers_are_split_at_the_limit(telegram):
    tg = telegram()
    names = [f"p{i:03d}_" + "x" * 55 for i in range(64)]
    message = "/run cnn " + " ".join(f"{n}=1" for n in names)
    assert utf16_len(message) <= TELEGRAM_LIMIT  # a message Telegram would deliver
    parts = texts(await tg.say(107, message))
    assert len(parts) >= 2 and all(utf16_len(p) <= TELEGRAM_LIMIT for p in parts)
    joined = " ".join(parts)
    assert joined.startswith("У инструмента cnn нет параметров: ")
    assert [n for n in names if n in joined] == names


async def test_api_errors_become_friendly_messages(telegram, fake_telegram):
    bad_key = telegram("tk_not-a-key")
    assert texts(await bad_key.say(108, "Что такое dropout?")) == [
        "⚠️ Бот не может обратиться к тьютору: его ключ API недействителен. Сообщите преподавателю."]

    tight = telegram("tight")  # 3 requests per minute
    replies = [texts(await tight.say(109, "/help")) for _ in range(4)]
    assert all("Команды" in r[0] for r in replies[:3])
    assert re.fullmatch(r"⏳ Слишком много запросов\. Повторите через \d+ с\.", replies[3][0]), replies[3]

    down = telegram("telegram", base=f"http://127.0.0.1:{free_port()}")
    assert texts(await down.say(110, "What is dropout in neural networks?")) == [
        "⚠️ The tutor is not reachable right now. Please try again later."]

    # Telegram's flood control: the bot waits retry_after and sends again
    fake_telegram.flood["sendMessage"] = 1
    calls = await telegram().say(111, "/mode")
    assert [c.status for c in fake_telegram.calls if c.method == "sendMessage" and c.chat == "111"] == [429, 200]
    assert "Режимы" in texts(calls)[0]


def test_progress_text_shows_the_step_and_metrics():
    from tutor.bots.client import progress_text

    ev = {"type": "job_progress", "step": 1, "total": 3, "unit": "epoch",
          "metrics": {"val_accuracy": 0.91234, "train_loss": 0.25, "lr": 0.001, "grad_norm": 1.5, "extra": 9}}
    assert progress_text(ev) == "⏳ epoch 1/3: val_accuracy=0.9123, train_loss=0.25, lr=0.001, grad_norm=1.5"
    assert progress_text({"message": "loading data"}) == "⏳ loading data"
    assert progress_text({"step": 7, "metrics": {"return": 20}}) == "⏳ step 7: return=20"
