"""index.priors: query-type priors for the first hit."""

from index.priors import is_usage_page, prior


def test_logistics_questions_prefer_course_pages_and_concepts_the_lectures():
    assert prior("когда дз 3?", "1") > prior("когда дз 3?", "")
    assert prior("что такое dropout", "") > prior("что такое dropout", "1")
    assert prior("чем LSTM лучше GRU", "") > prior("чем LSTM лучше GRU", "", usage_page=True)
    assert prior("dropout", "") == 0.0  # neither kind: no prior


def test_usage_pages():
    assert is_usage_page("«обучи LSTM прогнозировать CO2», «/run rnn task=forecast cell=gru»")
    assert not is_usage_page("LSTM и GRU решают проблему затухающего градиента; запустить их можно командой /run.")
