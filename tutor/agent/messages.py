"""Every fixed text the tutor says, in Russian and English, in one catalogue.

`say(key, lang, **values)` formats the entry; the nodes never hold their own strings, so a
translation or a wording fix is made here once."""

from __future__ import annotations

CATALOGUE: dict[str, tuple[str, str]] = {
    # ---- turn-level ------------------------------------------------------------------------
    "help": (
        "Я — помощник по курсу глубокого обучения. Что я умею:\n"
        "- отвечать на вопросы по материалам курса со ссылками на источники;\n"
        "- запускать настоящие эксперименты: «обучи CNN на 5 эпох с lr 0.01», «запусти DQN на CartPole», "
        "«сравни lr 0.1 и 0.001»;\n"
        "- показывать прогресс, графики, разбирать и сравнивать запуски («что с моим последним запуском?»);\n"
        "- распознавать присланные фото (классы ImageNet, лица, текст) или прогонять их через вашу модель.\n\n"
        "Команды: /run TOOL [smoke|quick|full] [key=value ...], /jobs, /status ID, /cancel ID, /compare TOOL, "
        "/search ЗАПРОС, /mode explain|hint, /course [ID], /help.\nИнструменты: {tools}.",
        "I am the tutor of a deep-learning course. I can:\n"
        "- answer questions from the course materials, citing the sources;\n"
        "- run real experiments: \"train a CNN for 5 epochs with lr 0.01\", \"run DQN on CartPole\", "
        "\"compare lr 0.1 and 0.001\";\n"
        "- stream progress and plots, read and compare runs (\"what happened in my last run?\");\n"
        "- look at photos you send (ImageNet classes, faces, text) or run them through your model.\n\n"
        "Commands: /run TOOL [smoke|quick|full] [key=value ...], /jobs, /status ID, /cancel ID, /compare TOOL, "
        "/search QUERY, /mode explain|hint, /course [ID], /help.\nTools: {tools}.",
    ),
    "message_too_long": ("Сообщение слишком длинное ({n} символов, максимум {limit}). Сократите вопрос.",
                         "The message is too long ({n} characters, at most {limit}). Please shorten it."),
    "bad_mode": ("Неизвестный режим «{mode}»: есть {modes}.", "Unknown mode '{mode}'; use one of {modes}."),
    "internal_error": ("Не получилось ответить из-за внутренней ошибки (код {ref}). Попробуйте ещё раз или сообщите "
                       "код преподавателю.",
                       "Could not answer because of an internal error (reference {ref}). Please try again or give the "
                       "reference to the course staff."),
    "empty": ("Пустое сообщение. Задайте вопрос по курсу или наберите /help.",
              "Empty message. Ask a question about the course or type /help."),
    "unknown_command": ("Неизвестная команда /{command}. Наберите /help.", "Unknown command /{command}. Type /help."),
    # ---- modes -----------------------------------------------------------------------------
    "mode_set": ("Режим: {mode}.", "Mode: {mode}."),
    "modes": ("Режимы: explain (объяснения) и hint (подсказки без готовых решений). Сейчас: {mode}.",
              "Modes: explain (explanations) and hint (hints, no finished solutions). Now: {mode}."),
    # ---- search ----------------------------------------------------------------------------
    "usage_search": ("Использование: /search ЗАПРОС", "Usage: /search QUERY"),
    "nothing_found": ("Ничего не найдено.", "Nothing found."),
    # ---- experiments -----------------------------------------------------------------------
    "unknown_tool": ("Не знаю инструмента «{tool}». Доступны: {tools}.", "Unknown tool '{tool}'. Available: {tools}."),
    "no_such_params": ("У инструмента {tool} нет параметров: {names}. Параметры: {fields}.",
                       "Tool {tool} has no parameters: {names}. Parameters: {fields}."),
    "unsupported_named": ("Не поддерживается инструментом {tool}: {names} — эти параметры я не применяю.",
                          "Not supported by {tool}: {names} — I am not applying these."),
    "cannot_run": ("Не могу запустить {tool}: {detail}", "Cannot run {tool}: {detail}"),
    "too_big": ("Не могу запустить {tool}: такой конфигурации нужно около {need} памяти ({params} параметров), а "
                "одному запуску здесь доступно {limit}. Уменьшите {what}.",
                "Cannot run {tool}: this config needs about {need} of memory ({params} parameters), and one run may "
                "use {limit} here. Reduce {what}."),
    "on_gpu": ("на GPU", "on the GPU"),
    "on_cpu": ("на CPU", "on the CPU"),
    "plan": ("План: {tool}, пресет {preset}, {where}, ~{duration}; будет измерено: {measures}. Конфигурация: {config}.",
             "Plan: {tool}, preset {preset}, {where}, ~{duration}; it will measure: {measures}. Config: {config}."),
    "confirm_one": ("Запущу {tool} (пресет {preset}) {where}: это займёт примерно {duration}. Параметры: {config}.",
                    "I will run {tool} (preset {preset}) {where}: about {duration}. Parameters: {config}."),
    "confirm_ask": ("Запустить? Ответьте «да» или «нет».", "Run it? Reply \"yes\" or \"no\"."),
    "confirm_many": ("Запущу {n} эксперимента, всего примерно {duration}:", "I will run {n} experiments, about {duration} in all:"),
    "nothing_to_confirm": ("Нечего подтверждать: сначала попросите запустить эксперимент.",
                           "Nothing to confirm: ask me to run an experiment first."),
    "confirmation_not_yours": ("Это подтверждение ждёт ответа от {owner}: ваш ответ не засчитан. Чтобы запустить своё, "
                               "попросите об этом.",
                               "That confirmation is waiting for {owner}: your reply was not taken. Ask for your own run "
                               "to start one."),
    "declined": ("Хорошо, не запускаю.", "OK, not running it."),
    "submit_failed": ("Не удалось поставить задачу: {reason}", "Could not submit the job: {reason}"),
    "queued": ("Задача {job} поставлена в очередь ({tool}, {preset}).\n", "Job {job} queued ({tool}, {preset}).\n"),
    "job_ended": ("Задача {job} завершилась со статусом {status}: {reason}. Попробуйте пресет smoke или другие параметры.",
                  "Job {job} ended as {status}: {reason}. Try the smoke preset or other parameters."),
    "job_running": ("Задача {job} ещё выполняется. Проверить: /status {job}.",
                    "Job {job} is still running. Check with /status {job}."),
    "scheduler_started": ("(Планировщик задач не был запущен — запускаю его в этом процессе, пока идёт разговор.)\n",
                          "(No job scheduler was serving the database, so I started one in this process for this "
                          "session.)\n"),
    "done": ("Готово: {tool}, задача {job}.", "Done: {tool}, job {job}."),
    "theory": ("Теория к эксперименту: {refs}", "Theory behind it: {refs}"),
    "next_step": ("Что попробовать дальше: `{command}`", "What to try next: `{command}`"),
    "previous_run": ("По сравнению с прошлым запуском ({prev}): {metric} {old} → {new} ({verdict}); изменённые "
                     "параметры: {changed}.",
                     "Compared with your previous run ({prev}): {metric} {old} → {new} ({verdict}); changed parameters: "
                     "{changed}."),
    "better": ("лучше", "better"),
    "not_better": ("не лучше", "not better"),
    "no_changes": ("без изменений", "none"),
    "floor_met": ("порог качества {floor} достигнут", "meets the quality floor {floor}"),
    "floor_missed": ("ниже порога качества {floor}", "misses the quality floor {floor}"),
    "other_metrics": ("Другие метрики: {items}", "Other metrics: {items}"),
    "wall_time": ("Время: {seconds} с на {device}.", "Time: {seconds} s on {device}."),
    # ---- jobs ------------------------------------------------------------------------------
    "no_runs_yet": ("У вас пока нет запусков. Например: /run cnn smoke", "You have no runs yet. Try: /run cnn smoke"),
    "job_not_found": ("Задача «{job}» не найдена.", "Job '{job}' not found."),
    "job_status": ("Задача {job}: {status}.", "Job {job}: {status}."),
    "name_a_tool": ("Укажите инструмент: /compare {tools}", "Name a tool: /compare {tools}"),
    "nothing_to_compare": ("Пока нечего сравнивать: нет завершённых запусков {tool}. Запустите хотя бы два, например "
                           "«сравни lr 0.1 и 0.001 для {tool}».",
                           "Nothing to compare yet: no finished {tool} runs. Run at least two, e.g. \"compare lr 0.1 "
                           "and 0.001 for {tool}\"."),
    "comparison_head": ("Сравнение запусков {tool} ({n}):", "Comparison of {tool} runs ({n}):"),
    "plot_attached": ("График параллельных координат приложен.", "Parallel-coordinates plot attached."),
    # ---- uploads ---------------------------------------------------------------------------
    "no_checkpoint": ("Пока нет обученной модели {tool}. Обучите её: /run {tool} smoke (или quick), затем пришлите "
                      "изображение снова.",
                      "No trained {tool} model yet. Train one with /run {tool} smoke (or quick), then send the image "
                      "again."),
    "predict_failed": ("Не удалось обработать файл: {reason}", "Could not process the file: {reason}"),
    "model_from_job": ("(модель из задачи {job})", "(model from job {job})"),
    # ---- courses (tutor/courses) -----------------------------------------------------------
    "budget_share": ("{share} % вашего недельного лимита", "{share} % of your week"),
    "budget_exceeded": ("Этот запуск займёт ≈{need} {kind}-времени, а в вашем недельном лимите курса осталось {left} "
                        "из {budget} мин (использовано или в очереди: {used}). Выберите пресет поменьше (smoke) или "
                        "подождите, пока прошлые запуски выйдут из 7-дневного окна.",
                        "This run needs ≈{need} of {kind} time, and your course's weekly budget has {left} of {budget} "
                        "min left ({used} used or queued). Pick a smaller preset (smoke) or wait until earlier runs "
                        "leave the 7-day window."),
    "homework_locked": ("«{title}» — домашнее задание курса: до дедлайна ({deadline}) я не запускаю его проверяемую "
                        "конфигурацию ({config}). Измените параметры (например, другой датасет) или спросите подсказку.",
                        "“{title}” is graded homework of this course: until its deadline ({deadline}) I do not run its "
                        "graded configuration ({config}). Change the parameters (e.g. another dataset) or ask for a hint."),
    "homework_hints": ("Это вопрос по домашнему заданию «{title}»: до дедлайна ({deadline}) я даю только подсказки.",
                       "This is about the homework “{title}”: until its deadline ({deadline}) I give hints only."),
    "homework_hints_always": ("Это вопрос по домашнему заданию «{title}»: по правилам курса я даю только подсказки.",
                              "This is about the homework “{title}”: the course's rules allow hints only."),
    "course_current": ("Курс этого чата: {name} ({course}).", "This chat's course: {name} ({course})."),
    "course_set": ("Теперь этот чат относится к курсу {name} ({course}).", "This chat now belongs to the course {name} "
                   "({course})."),
    "course_bound": ("Ваша учётная запись относится к курсу {course}: сменить курс может только преподаватель.",
                     "Your account belongs to the course {course}: only the staff can change it."),
    "course_unknown": ("Курса «{course}» нет. Спросите идентификатор курса у преподавателя.",
                       "There is no course '{course}'. Ask the course staff for its id."),
    # answers without a model (tutor/agent/answer.py)
    "extractive_head": ("По материалам курса:", "From the course materials:"),
    "extractive_head_quoted": ("По материалам курса:", "From the course materials (quoted in the course's language):"),
    "not_covered": ("В материалах курса я не нашёл ответа на этот вопрос. Попробуйте переформулировать его или спросите "
                    "о темах, которые курс охватывает: {topics}.",
                    "I could not find this in the course materials. Try rephrasing, or ask about a topic the course "
                    "covers: {topics}."),
    "off_topic": ("Я помощник по курсу глубокого обучения и отвечаю только на вопросы о машинном и глубоком обучении и о "
                  "самом курсе. Могу рассказать, например, о темах: {topics} — или запустить эксперимент (/help).",
                  "I am the tutor of a deep-learning course, so I only answer questions about machine learning, deep "
                  "learning and the course itself. I can explain, for example: {topics} — or run an experiment (/help)."),
    # hint mode (tutor/agent/answer.hint_answer): guiding questions, never the solution
    "hint_intro": ("Режим подсказок: готового решения и кода я не дам, но помогу прийти к нему самостоятельно.",
                   "Hint mode: I will not give a finished solution or code, but I will help you get there yourself."),
    "hint_theory": ("С чего начать — вспомните теорию:\n{theory}", "Start from the theory:\n{theory}"),
    "hint_questions_head": ("Вопросы, которые стоит себе задать:", "Questions to ask yourself:"),
    "hint_reread": ("Перечитайте: {sections}.", "Reread: {sections}."),
    "hint_outro": ("Напишите, что получилось, — подскажу следующий шаг. Полное объяснение: /mode explain.",
                   "Tell me what you tried and I will suggest the next step. Full explanations: /mode explain."),
    "hint_item": ("Ваш вопрос относится к заданию {where}. Что из его требований вы уже сделали, а что нет?",
                  "Your question is about the homework item {where}. Which of its requirements have you done, "
                  "and which not yet?"),
    "hint_requirement": ("Пункт «{requirement}»: с чего вы начнёте и как проверите, что он выполнен?",
                         "The item “{requirement}”: where will you start, and how will you check it is done?"),
    "hint_steps": ("Какие шаги решения вы уже можете назвать, и на каком из них вы застряли?",
                   "Which steps of the solution can you already name, and where are you stuck?"),
    "hint_check": ("Как вы проверите, что решение работает: какую метрику посчитаете и с каким базовым решением "
                   "(baseline) сравните?", "How will you check that it works: which metric, compared with which baseline?"),
    "hint_shapes": ("Что именно требуется на входе и на выходе вашей модели или функции? Запишите размерности тензоров.",
                    "What exactly goes into and comes out of your model or function? Write down the tensor shapes."),
    "hint_section": ("Что в разделе {section} относится к вашему заданию?",
                     "What does the section {section} say that applies to your task?"),
}


def say(key: str, lang: str, **values) -> str:
    ru, en = CATALOGUE[key]
    return (ru if lang == "ru" else en).format(**values)


def duration(seconds: float, lang: str) -> str:
    if seconds < 90:
        return f"{seconds:.0f} с" if lang == "ru" else f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} мин" if lang == "ru" else f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} ч" if lang == "ru" else f"{seconds / 3600:.1f} h"
