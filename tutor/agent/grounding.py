"""Is a generated answer backed by the passages it cites? Checked sentence by sentence,
before the sentence is shown.

A small model writes fluent explanations but sometimes reverses a passage («dropout
works at test time»), swaps two things (BatchNorm ↔ LayerNorm), changes a number or
adds a fact from nowhere. An entailment model would be the textbook check; none is
packaged offline, and a second LLM call per sentence would double the answer time. So
each claim sentence is compared with the passages by evidence that can be computed in
milliseconds and explained:

- **terms**: the share of the sentence's content words (stemmed, with the student-
  wording corrections of index.wording) found in the passage — a sentence about things
  the passage never mentions is not supported by it;
- **meaning**: the cosine of the sentence to the passage's sentences with the same
  multilingual encoder as retrieval (it also bridges an English answer to a Russian
  passage, where terms cannot);
- **numbers**: every number in the claim (dates, sizes, counts, coefficients) must be in
  the passage — a changed number is the most common factual slip, and cheap to catch;
- **polarity**: against the passage sentence it is closest to, the claim must not flip
  a direction («увеличивает» ↔ «уменьшает», «включён» ↔ «выключен», "only" ↔ "all")
  or add/drop a negation.

A claim is supported when its numbers are in a cited passage, no polarity flips, and
terms and meaning are high enough (thresholds calibrated on
tests/evals/grounding_statements.jsonl: planted paraphrases vs planted wrong statements;
`tests/evals/test_grounding_eval.py` measures the check's precision and recall there).
Sentences that claim nothing (a question back to the student, "Например:", a heading)
are not checked. Citations are repaired on the way: a citation of a passage that does
not exist is dropped, and a supported sentence without one gets the passage that
supports it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from index.bm25 import tokenize
from index.search import Hit

# calibrated on tests/evals/grounding_statements.jsonl (see the module doc)
TERMS_SUPPORTED = 0.6  # share of content words in the passage that alone supports a claim
MEANING_SUPPORTED = 0.75  # cosine that alone supports it
TERMS_WITH_MEANING = (0.34, 0.5)  # both at least these
CROSS_LINGUAL_MEANING = 0.55  # answer and passage in different languages: meaning only

_CITE = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[\"«(\[]?[A-ZА-ЯЁ0-9*`])|\n+")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[ \u00a0\u202f]\d{3})*(?:[.,]\d+)?(?![\w])")
_META = re.compile(r"^(например|пример|итак|вот|таким образом|то есть|кратко|по материалам|for example|example|"
                   r"in short|so|here is|here's|to sum up)\b[^.]{0,40}[:.]?$", re.IGNORECASE)

# generic words of explanations that say nothing about the topic
_GENERIC = frozenset(tokenize(
    "это этот эта эти такой который которая которые также тоже очень можно нужно помогает позволяет используется "
    "используют является являются называется например пример поэтому потому так образом значит важно случае "
    "модель модели сеть сети нейросеть данные данных помощью служит делает метод способ техника приём "
    "this that these those which also very can may helps allows used using called example therefore thus "
    "so important case model network data makes method technique way approach"))

# Direction words. Each pair's two sides are opposites (stems, matched as word prefixes;
# prefixes of up to 3 letters as whole words). A claim flips its passage when it ties one side
# to a thing («снижает обобщающую способность») that the passage ties only to the other side
# («повышает обобщающую способность»).
_POLAR = [
    (("увелич", "повыш", "рост", "раст", "ускор", "улучш", "больш", "выше", "increas", "rais", "grow", "speed",
      "improv", "higher", "larger"),
     ("уменьш", "сниж", "пада", "замедл", "ухудш", "меньш", "ниже", "сокращ", "decreas", "reduc", "lower", "slow",
      "wors", "fewer", "smaller", "shrink")),
    (("включ", "активн", "enabl", "active", "stay", "on"), ("выключ", "отключ", "неактив", "disabl", "off", "inactiv")),
    (("сохран", "оставл", "добавл", "keep", "kept", "add", "preserv", "retain"),
     ("удал", "убира", "отбрас", "уменьш", "remov", "discard", "delet")),
    (("все", "всех", "всем", "вся", "весь", "целиком", "all", "every", "whole", "entire"),
     ("только", "лишь", "единствен", "частичн", "only", "just", "single", "part")),
    (("разнообраз", "различн", "divers", "varied", "different"), ("одинаков", "ident", "same")),
    (("прошл", "past"), ("будущ", "future")),
    (("конкатен", "concaten"), ("усредн", "averag")),
    (("сход", "converg"), ("расход", "diverg")),
    (("устойчив", "стабил", "stabl", "steady"), ("колеба", "неустойчив", "раскач", "oscillat", "unstabl", "unstable")),
    (("затуха", "исчеза", "vanish"), ("взрыв", "explod")),
    (("случайн", "random", "shuffl"), ("порядк", "подряд", "последовательн", "sequential", "order")),
    (("детермин", "determin"), ("случайн", "стохаст", "сэмпл", "шум", "random", "stochast", "sampl", "nois")),
    (("слива", "слия", "объедин", "merg"), ("разби", "раздел", "split")),
    (("частот", "частую", "частая", "частые", "частых", "частое", "чаще", "frequent", "common"), ("редк", "rare")),
    (("кажд", "every", "each"), ("реже", "раз в", "заморож", "less often", "frozen", "periodic")),
]
# words that deny what follows («без X», «нет X», "no X", "without X") or what precedes («X нельзя»)
_DENY_NEXT = frozenset("не нет ни без никогда not no never without".split())
_DENY_PREV = frozenset("нельзя запрещено cannot".split())
_WINDOW = 3
_CONJUNCTIONS = frozenset("и или либо and or".split())
_RAW_WORD = re.compile(r"[a-zа-я0-9]+")  # «кодировщик-декодировщик» states both


def _key(word: str) -> str:
    """A word's comparison key: its stem's first 6 letters (перемешать ~ перемешивать)."""
    from index.bm25 import _stem

    return _stem(word)[:6]


def _polar_side(word: str) -> list[tuple[int, int]]:
    out = []
    for k, pair in enumerate(_POLAR):
        for side, prefixes in enumerate(pair):
            if any(word == p if len(p) <= 3 else word.startswith(p) for p in prefixes if " " not in p):
                out.append((k, side))
    return out


@dataclass
class Polarity:
    """What a text says in which direction: (pair, side, thing) for direction words with the
    things next to them in the same clause, the things it denies, and the things it states plainly."""

    directed: set[tuple[int, int, str]]
    denied: set[str]
    plain: set[str]


_CLAUSE = re.compile(r"[,;:—–.!?]|\s-\s|\bа\b|\bно\b|\bbut\b|\bwhile\b|\bwhereas\b")


def polarity(text: str) -> Polarity:
    from index.bm25 import STOPWORDS

    directed, denied, plain = set(), set(), set()
    for clause in _CLAUSE.split(text.lower().replace("ё", "е")):
        words = _RAW_WORD.findall(clause)
        sides = [_polar_side(w) for w in words]
        for k, pair in enumerate(_POLAR):  # multi-word markers («раз в»)
            for side, prefixes in enumerate(pair):
                for p in prefixes:
                    if " " in p and p in clause:
                        first = p.split()[0]
                        for i, w in enumerate(words):
                            if w == first:
                                sides[i].append((k, side))
        things = [None if (w in STOPWORDS or len(w) < 3 or w.isdigit()) else _key(w) for w in words]
        scope = [False] * len(words)  # inside a denial
        for i, w in enumerate(words):
            if w in _DENY_NEXT:
                for j in range(i + 1, min(len(words), i + 1 + _WINDOW)):
                    scope[j] = True
            if w in _DENY_PREV:
                for j in range(max(0, i - 2 * _WINDOW), i):
                    scope[j] = True
        for i, w in enumerate(words):
            if things[i] and not sides[i]:
                (denied if scope[i] else plain).add(things[i])
            # the things around a direction word, not across a conjunction: «предотвращения переобучения
            # и улучшения качества» does not say that overfitting improves
            lo, hi = max(0, i - _WINDOW), min(len(words), i + _WINDOW + 1)
            for j in range(i - 1, lo - 1, -1):
                if words[j] in _CONJUNCTIONS:
                    lo = j + 1
                    break
            for j in range(i + 1, hi):
                if words[j] in _CONJUNCTIONS:
                    hi = j
                    break
            near = [things[j] for j in range(lo, hi) if j != i and things[j] and not sides[j]]
            negated = i > 0 and words[i - 1] in _DENY_NEXT  # «не только» = «все», "not only"
            for k, side in sides[i]:
                directed.update((k, 1 - side if negated else side, t) for t in near)
    return Polarity(directed, denied, plain)


def flips(claim: str, passage: str) -> str:
    """How the claim reverses the passage ("" when it does not): a direction word tied to a thing
    the passage ties only to the opposite direction; a thing the passage denies stated plainly;
    an existence the passage states denied («нет декодировщика», "without a decoder")."""
    c, p = polarity(claim), polarity(passage)
    for k, side, thing in sorted(c.directed):
        if (k, 1 - side, thing) in p.directed and (k, side, thing) not in p.directed:
            return f"says «{_POLAR[k][side][0]}…» about «{thing}…» where the passage says «{_POLAR[k][1 - side][0]}…»"
    for thing in sorted(c.plain & p.denied - p.plain):
        return f"states «{thing}…» that the passage denies"
    low = claim.lower().replace("ё", "е")
    for m in re.finditer(r"\b(нет|без|no|without)\s+([a-zа-я]+)", low):
        thing = _key(m.group(2))
        if thing in p.plain and thing not in p.denied:
            return f"denies «{m.group(2)}» that the passage states"
    return ""


@dataclass
class SentenceCheck:
    text: str  # the sentence as it will be shown (citations repaired)
    claim: bool  # says something checkable
    cited: list[int] = field(default_factory=list)  # valid citations after repair
    dropped_citations: list[int] = field(default_factory=list)  # cited passages that do not exist
    supported: bool = True
    best: int | None = None  # the passage (1-based) that supports it best
    terms: float = 0.0
    meaning: float = 0.0
    reason: str = ""  # why it is not supported


@dataclass
class Verdict:
    ok: bool
    text: str  # the answer with unsupported sentences removed and citations repaired
    sentences: list[SentenceCheck]
    language_ok: bool = True
    reason: str = ""

    @property
    def unsupported(self) -> list[SentenceCheck]:
        return [s for s in self.sentences if s.claim and not s.supported]

    @property
    def claims(self) -> list[SentenceCheck]:
        return [s for s in self.sentences if s.claim]


_GREEK = {"alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε", "eta": "η",
          "theta": "θ", "lambda": "λ", "mu": "μ", "sigma": "σ", "tau": "τ", "phi": "φ", "pi": "π", "odot": "⊙",
          "cdot": "·", "times": "×", "sum": "Σ", "prod": "Π", "nabla": "∇", "partial": "∂", "top": "ᵀ",
          "leftarrow": "←", "rightarrow": "→", "to": "→", "approx": "≈", "le": "≤", "ge": "≥", "infty": "∞"}


def plain_math(text: str) -> str:
    """LaTeX in an answer ($\\sqrt{d_k}$, $\\frac{a}{b}$) read as the course text writes formulas
    (√d_k, a/b), so that a formula is compared with the passage's, not its markup."""
    if "$" not in text and "\\" not in text:
        return text
    t = re.sub(r"\\(?:text|mathrm|operatorname|mathbf|mathit|boldsymbol)\{([^{}]*)\}", r"\1", text)
    for _ in range(3):
        t = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}",
                   lambda m: "/".join(x if re.fullmatch(r"[\w.]+", x) else f"({x})" for x in m.groups()), t)
        t = re.sub(r"\\sqrt\{([^{}]*)\}", r"√\1", t)
    t = re.sub(r"\^\{?(T|\\top)\}?", "ᵀ", t)
    t = re.sub(r"\\([a-zA-Z]+)", lambda m: _GREEK.get(m.group(1), "" if m.group(1) in ("left", "right") else m.group(1)), t)
    return t.replace("$", "").replace("{", "").replace("}", "")


def numbers_in(text: str) -> set[str]:
    """Numbers as written in course text: «1 792» = 1792, «0,5» = 0.5; citation marks excluded."""
    text = _CITE.sub(" ", text)
    out = set()
    for m in _NUMBER.finditer(text):
        n = re.sub(r"[ \u00a0\u202f]", "", m.group(0)).replace(",", ".")
        out.add(n.rstrip("0").rstrip(".") if "." in n else n)
    return out


def split_sentences(text: str) -> list[str]:
    """An answer cut into sentences and list items; a citation after the full stop
    ("… сохраняется. [1]") stays with its sentence; code blocks stay whole."""
    parts: list[str] = []
    for block in re.split(r"(```.*?```)", text, flags=re.S):
        if block.startswith("```"):
            parts.append(block)
            continue
        for piece in _SENTENCE_END.split(block):
            piece = piece.strip()
            if not piece:
                continue
            lead = re.match(r"^((?:\[\d+(?:\s*[,;]\s*\d+)*\]\s*[.,;]?\s*)+)(.*)$", piece, re.S)
            if parts and lead:  # "… сохраняется. [1] Далее": the citation belongs to the sentence before
                parts[-1] = parts[-1] + " " + lead.group(1).strip()
                piece = lead.group(2).strip()
            if piece:
                parts.append(piece)
    return parts


def citations(sentence: str) -> list[int]:
    out = []
    for m in _CITE.finditer(sentence):
        out += [int(n) for n in re.split(r"\s*[,;]\s*", m.group(1))]
    return list(dict.fromkeys(out))


def _content_terms(text: str) -> set[str]:
    from tutor.agent.answer import QUESTION_WORDS

    return {t for t in tokenize(_CITE.sub(" ", text)) if t not in QUESTION_WORDS and t not in _GENERIC and not t.isdigit()}


def is_claim(sentence: str) -> bool:
    bare = _CITE.sub("", sentence).strip(" *#-:")
    if not bare or bare.startswith("```") or bare.endswith("?") or _META.match(bare):
        return False
    return len(_content_terms(bare)) >= 2 or bool(numbers_in(bare))


class Grounder:
    """The passages of one turn, prepared once; `check(sentence)` runs per generated sentence
    (a few ms: one sentence vector, set operations)."""

    def __init__(self, hits: list[Hit], lang: str, embedder=None, normalizer=None) -> None:
        from tutor.agent.router import detect_language

        self.hits = hits
        self.lang = lang
        self.embedder = embedder
        self.normalizer = normalizer
        self.passage_terms = [set(tokenize(f"{h.section} {h.text}")) for h in hits]
        self.passage_keys = [{t[:6] for t in terms if len(t) >= 6} for terms in self.passage_terms]
        self.passage_numbers = [numbers_in(f"{h.section} {h.text}") for h in hits]
        self.passage_lang = [detect_language(h.text) for h in hits]
        self._sentences: dict[int, tuple[list[str], np.ndarray | None]] = {}

    def passage_sentences(self, i: int) -> tuple[list[str], "np.ndarray | None"]:
        """Sentences of passage i (0-based) and their vectors, encoded on first use: most answers
        cite one or two of the five passages. The vectors are those of the extractive choice
        (same texts, shared cache), so passages already ranked for the prompt cost nothing."""
        from tutor.agent.answer import encode_cached, sentence_contexts

        if i not in self._sentences:
            sents, contexts = sentence_contexts(self.hits[i])
            if not sents:
                sents = contexts = [" ".join(self.hits[i].text.split())]
            vecs = encode_cached(self.embedder, contexts) if self.embedder is not None else None
            self._sentences[i] = (sents, vecs)
        return self._sentences[i]

    def _terms(self, sentence: str) -> list[set[str]]:
        """The sentence's content words, each with the forms it may take in a passage: «дропаут» is
        found as dropout, «батчнорм» as BatchNorm or нормализация по батчу. One word is one term,
        however it is spelled: «Дропаут предотвращает …» and «Dropout предотвращает …» score alike."""
        bare = _CITE.sub(" ", sentence)
        groups = {t: {t} for t in _content_terms(bare)}
        if self.normalizer is not None:
            for word, reading in self.normalizer.normalize(bare).fixes.items():
                stems = tokenize(word)
                if stems and stems[0] in groups:
                    groups[stems[0]] |= set(tokenize(reading))
        return list(groups.values())

    def _vector(self, sentence: str) -> np.ndarray:
        from tutor.agent.answer import encode_cached

        return encode_cached(self.embedder, [_CITE.sub(" ", sentence).strip()])[0]

    def score(self, sentence: str, n: int) -> tuple[float, float, str]:
        """(terms share, meaning, problem) of the sentence against passage n (1-based)."""
        i = n - 1
        terms = self._terms(sentence)
        have = self.passage_terms[i]
        # stems first, then their 6-letter keys: the stemmer leaves «уменьшить» and «уменьшает»
        # as уменьш and уменьша
        keys = self.passage_keys[i]
        share = sum(any(t in have or t[:6] in keys for t in forms) for forms in terms) / len(terms) if terms else 0.0
        meaning = 0.0
        if self.embedder is not None:
            sents, vecs = self.passage_sentences(i)
            if vecs is not None and len(vecs):
                meaning = float(np.max(vecs @ self._vector(sentence)))
        missing = numbers_in(sentence) - self.passage_numbers[i]
        if missing:
            return share, meaning, f"numbers not in the passage: {', '.join(sorted(missing))}"
        flip = flips(_CITE.sub(" ", sentence), self.hits[i].text)
        if flip:
            return share, meaning, flip
        return share, meaning, ""

    def supports(self, share: float, meaning: float, n: int, sentence_lang: str) -> bool:
        if self.passage_lang[n - 1] != sentence_lang:
            return meaning >= CROSS_LINGUAL_MEANING or share >= TERMS_SUPPORTED
        return (share >= TERMS_SUPPORTED or meaning >= MEANING_SUPPORTED
                or (share >= TERMS_WITH_MEANING[0] and meaning >= TERMS_WITH_MEANING[1]))

    def check(self, sentence: str) -> SentenceCheck:
        from tutor.agent.router import detect_language

        cited = citations(sentence)
        valid = [n for n in cited if 1 <= n <= len(self.hits)]
        dropped = [n for n in cited if n not in valid]
        text = sentence
        if dropped:  # a citation must point at a real passage
            text = _CITE.sub(lambda m: "" if not set(citations(m.group(0))) & set(valid) else
                             "[" + ", ".join(str(n) for n in citations(m.group(0)) if n in valid) + "]", text)
            text = re.sub(r"\s+([.,;!?])", r"\1", text).strip()
        if not is_claim(plain_math(text)) or not self.hits:
            return SentenceCheck(text=text, claim=False, cited=valid, dropped_citations=dropped)
        plain = plain_math(text)  # scored as plain text; shown with its LaTeX
        lang = detect_language(plain)
        # cited passages first; a sentence without a usable citation may be backed by any passage
        order = valid or list(range(1, len(self.hits) + 1))
        best, best_key, problems = None, None, []
        for n in order:
            share, meaning, problem = self.score(plain, n)
            ok = not problem and self.supports(share, meaning, n, lang)
            key = (ok, share + meaning)
            if best_key is None or key > best_key:
                best, best_key = (n, share, meaning, ok, problem), key
            if problem:
                problems.append(f"[{n}] {problem}")
        if valid and not best[3]:
            # the claim cites the wrong passage («например, 0.3 [1]» where [3] says 0.3): the passage
            # that backs it gets the citation; the claim is still checked in full against it
            for n in range(1, len(self.hits) + 1):
                if n in valid:
                    continue
                share, meaning, problem = self.score(plain, n)
                if not problem and self.supports(share, meaning, n, lang):
                    best = (n, share, meaning, True, "")
                    text = _attach_citation(re.sub(r"\s+([.,;!?])", r"\1", _CITE.sub("", text)).strip(), n)
                    valid = [n]
                    problems = []
                    break
        n, share, meaning, ok, _ = best
        if ok and not valid:
            text = _attach_citation(text, n)
            valid = [n]
        reason = "" if ok else ("; ".join(problems) or f"weak support (terms {share:.2f}, meaning {meaning:.2f})")
        return SentenceCheck(text=text, claim=True, cited=valid, dropped_citations=dropped, supported=ok, best=n,
                             terms=share, meaning=meaning, reason=reason)


def _attach_citation(sentence: str, n: int) -> str:
    m = re.search(r"([.!?…:;]*)\s*$", sentence)
    end = m.start() if m else len(sentence)
    return f"{sentence[:end].rstrip()} [{n}]{sentence[end:]}"


def language_ok(text: str, lang: str) -> bool:
    """The answer is in the student's language (formulas and English terms in a Russian
    answer are fine: the share of Cyrillic letters decides)."""
    from tutor.agent.router import detect_language

    bare = re.sub(r"```.*?```|`[^`]*`|\[\d+\]", " ", text, flags=re.S)
    letters = re.findall(r"[a-zа-яё]", bare.lower())
    if len(letters) < 20:
        return True
    return detect_language(bare) == lang


MIN_SUPPORTED_SHARE = 0.5  # fewer supported claims than this: the answer is replaced


def check_answer(text: str, hits: list[Hit], lang: str, embedder=None, normalizer=None,
                 grounder: Grounder | None = None) -> Verdict:
    """The whole answer: language, citations, support of every claim. `text` of the verdict
    keeps the sentences that passed (unsupported ones are removed, citations repaired);
    `ok` is False when the language is wrong, nothing supported is left, or fewer than
    half of the claims are supported."""
    g = grounder or Grounder(hits, lang, embedder, normalizer)
    checks = [g.check(s) for s in split_sentences(text)]
    kept = [c.text for c in checks if c.supported]
    claims = [c for c in checks if c.claim]
    good = [c for c in claims if c.supported]
    lang_ok = language_ok(text, lang)
    reason = ""
    if not lang_ok:
        reason = f"answer not in {lang}"
    elif not good:
        reason = "no supported claim" if claims else "no claim"
    elif len(good) < MIN_SUPPORTED_SHARE * len(claims):
        reason = f"{len(claims) - len(good)} of {len(claims)} claims unsupported"
    return Verdict(ok=not reason, text=join_sentences(kept), sentences=checks, language_ok=lang_ok, reason=reason)


def separator(previous: str, sentence: str) -> str:
    """What goes between two shown sentences: a line break before list items and code."""
    if sentence.startswith(("```", "-", "*", "•")) or re.match(r"^\d+[.)]\s", sentence) or previous.endswith("```"):
        return "\n"
    return " "


def join_sentences(sentences: list[str]) -> str:
    """Sentences back into text (the same separators as the stream)."""
    out = ""
    for i, s in enumerate(sentences):
        out += (separator(sentences[i - 1], s) if i else "") + s
    return out
