"""tutor.agent.followup: follow-ups are rewritten into standalone questions from the thread."""

from langchain_core.messages import AIMessage

from tests.agent.conftest import scripted
from tutor.agent.followup import is_follow_up, rule_standalone, standalone_query

THREAD = [("user", "что такое коллапс мод в GAN?"), ("assistant", "Коллапс мод — генератор выдаёт одинаковые образцы [1].")]


def test_what_counts_as_a_follow_up():
    for msg in ["объясни проще", "приведи пример", "а зачем?", "как с ним бороться?", "how do I fix it?", "why?",
                "а какое дз к нему?"]:
        assert is_follow_up(msg, THREAD), msg
    assert not is_follow_up("что такое dropout?", THREAD, course_words=["dropout"])  # a new topic
    assert not is_follow_up("объясни проще", [])  # nothing to follow
    assert not is_follow_up("Чем отличается BatchNorm от LayerNorm и когда какой использовать в трансформерах и CNN?",
                            THREAD)


def test_rule_rewrite_keeps_the_topic():
    assert rule_standalone("объясни проще", THREAD) == THREAD[0][1]
    # the message's own question replaces the previous one's «что такое»: the why is what is asked now
    assert rule_standalone("а зачем?", THREAD) == "коллапс мод в GAN а зачем"
    assert rule_standalone("как с ним бороться?", THREAD).startswith("коллапс мод в GAN как с")
    assert rule_standalone("а чем она лучше лстм?", [("user", "что такое гру"), ("assistant", "GRU — ячейка [1].")]) \
        == "гру а чем лучше лстм"
    assert rule_standalone("а для LSTM?", THREAD) == THREAD[0][1] + " а для LSTM"  # no question of its own


async def test_llm_rewrite_is_used_when_it_is_a_question_about_the_thread():
    chat, _ = scripted(AIMessage(content="Как бороться с коллапсом мод в GAN?"))
    q, how = await standalone_query("как с ним бороться?", THREAD, chat, "ru")
    assert (q, how) == ("Как бороться с коллапсом мод в GAN?", "llm")


async def test_a_bad_llm_rewrite_falls_back_to_the_rule():
    chat, _ = scripted(AIMessage(content="Тьютор: коллапс мод лечат WGAN [1]"))
    q, how = await standalone_query("как с ним бороться?", THREAD, chat, "ru")
    assert how == "rule" and "коллапс мод" in q
    q, how = await standalone_query("что такое паддинг?", THREAD, chat, "ru", course_words=["паддинг"])
    assert (q, how) == ("что такое паддинг?", "as_is")


def test_a_new_topic_inside_a_thread_stands_alone():
    gan_homework = [("user", "кагда дз по ганам и что там сдлеать?"),
                    ("assistant", "Курс 2: домашнее задание — сгенерировать самолёты GAN на базе AIRPLANES [1].")]
    assert not is_follow_up("а зачем дропаут?", gan_homework, course_words=["дропаут"])
    assert not is_follow_up("а как работает батчнорм?", gan_homework, course_words=["батчнорм"])
    # the same topic, a pronoun, or no question of its own: the thread is needed
    assert is_follow_up("а зачем там самолёты?", gan_homework, course_words=["самолёты"])
    assert is_follow_up("а для LSTM?", gan_homework, course_words=["lstm"])
    assert is_follow_up("а как с ним бороться?", THREAD, course_words=[])
    assert is_follow_up("а как это связано с дропаутом?", gan_homework, course_words=["дропаутом"])


async def test_a_bare_request_takes_the_thread_question_without_asking_the_model():
    chat, _ = scripted(AIMessage(content="Объясни проще, что такое коллапс мод в GAN?"))
    q, how = await standalone_query("объясни проще", THREAD, chat, "ru")
    assert (q, how) == (THREAD[0][1], "rule") and not chat.seen  # no second prompt for nothing to search
