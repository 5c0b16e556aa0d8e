"""Answers not in the model's language, and typing slips: what the embedding model \
cannot read as written.

The embedding model was trained on English: a right answer in French lands far
from the English key points and would fail silently, so `answer_language` names
the language and the answer goes to a teacher instead. A typo-heavy answer fails
more quietly: the tokenizer reads "gradint" as unrelated word pieces, so a right
answer scores like a vague one; `respell` repairs the slips against the card's
own words first. Pure functions, standard library only: no model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from examiner.text import STOPWORDS, stem, words

__all__ = ["Speller", "answer_language", "respell"]

# --- answer_language: function-word profiles ------------------------------------------------

# Function words: every sentence needs them whatever its subject, so even a technical
# answer full of borrowed terms ("ReLU", "softmax") shows its language.
_PROFILES = """
English: the of and to is are was were be been being it its this that these those with for
    from by as at on in an a or but if then than so not no we you they he she their our your
    there which what when where how why who will would can could should does do did has have
    had into over between each all also only just more most very about after before through
    while because such other any some both same may must whose
French: le la les l' a un une des du de d' au aux et ou mais donc car ni que qu' qui dont où
    ce cet cette ces c' il ils elle elles on nous vous leur leurs son sa ses se s' ne n' pas
    plus très est sont été être avoir ont fait peut peuvent permet pour par avec dans sur
    sous sans entre chaque comme aussi lorsque quand selon afin vers ainsi cela ceci y en
German: der die das den dem des ein eine einen einem einer eines und oder aber ist sind wird
    werden wurde war hat haben kann können muss nicht kein keine mit von zu zum zur auf für
    bei beim nach aus durch über unter zwischen im vom am an in als wie wenn weil dass damit
    dadurch sich es er sie wir man auch nur noch so also jede jeder jedes diese dieser
    dieses welche welcher sehr mehr um
Spanish: el la los las lo a un una unos unas del al de en y que es son está están ser fue ha
    han hay puede pueden por para con sin sobre entre hacia desde hasta como pero porque
    cuando donde se su sus le les nos este esta estos estas ese esa eso cada muy más también
    según mediante cual cuales qué cómo ya otro otra sí no tiene tienen
Italian: il lo la gli le i a e un uno una di da con su per tra fra del della dello dei degli
    delle al alla allo ai agli alle dal dalla dai nel nella nello nei negli nelle sul sulla
    sui è ed che non come ma anche più ogni questo questa questi queste quello quella quelli
    quelle sono essere ha hanno viene vengono può possono si ci cui quando dove perché molto
    se suo sua loro dopo senza quindi ovvero cioè l' dell' all' nell' dall' sull' un'
Portuguese: o os a as e um uma uns umas de do da dos das em no na nos nas num numa ao aos à
    às pelo pela pelos pelas por para com sem sobre entre que é são está estão ser foi tem
    têm ou mas se seu sua seus suas como quando onde porque muito mais também cada pode
    podem isso isto este esta esse essa não já ele ela eles elas através após cujo cuja
    assim então
"""
_SPLIT = re.split(r"^(\w+):", _PROFILES, flags=re.MULTILINE)
_LANGUAGES = dict(zip(_SPLIT[1::2], map(str.split, _SPLIT[2::2]), strict=True))
# Words that are also English (or English notation: "sin", "del", "et al.", "per"):
# half a hit, so an English answer that uses them does not read as foreign.
_WEAK = frozenset("con sin del come per son y o e i et est plus man hat um once".split())
# Letters each language writes and English does not; a word holding one adds half a hit.
_LETTERS = {"French": "éèêëàâîïôûùœç", "German": "äöüß", "Spanish": "ñáéíóú"}
_LETTERS |= {"Italian": "àèéìòù", "Portuguese": "ãõçáâêôéíóúà"}
_LETTER_CAP = 2.0  # letters tell languages apart; they must not outvote the words
_MIN_WORDS = 6  # below this, a handful of shared words decides nothing
_MIN_HITS, _OVER_ENGLISH = 3.0, 2.0  # a foreign profile needs 3 hits, and twice English's
_WORD = re.compile(r"[^\W\d_]+")


def _weights() -> dict[str, dict[str, float]]:
    """Word → {language: weight}; a word in English and another profile counts half."""
    foreign = {w for name, listed in _LANGUAGES.items() if name != "English" for w in listed}
    table: dict[str, dict[str, float]] = {}
    for name, listed in _LANGUAGES.items():
        for w in listed:
            shared = (w in _LANGUAGES["English"] and w in foreign) or w in _WEAK
            table.setdefault(w, {})[name] = 0.5 if shared else 1.0
    return table


_TABLE = _weights()


def _tokens(text: str) -> list[str]:
    """Words, with an elided article split off as its own token ("l'image" → "l'", "image")."""
    out: list[str] = []
    for token in words(text):
        head, apostrophe, rest = token.partition("'")
        if apostrophe and rest:
            out.append(head + "'")
        out.extend(re.split(r"[-']", rest if apostrophe and rest else token))
    return out


def _scores(text: str) -> dict[str, float]:
    scores = dict.fromkeys(_LANGUAGES, 0.0)
    for token in _tokens(text):
        for language, weight in _TABLE.get(token, {}).items():
            scores[language] += weight
    runs = _WORD.findall(text.lower())  # not casefold: that turns "ß" into "ss"
    for language, letters in _LETTERS.items():
        marked = sum(1 for run in runs if any(c in letters for c in run))
        scores[language] += min(_LETTER_CAP, 0.5 * marked)
    if "¿" in text or "¡" in text:
        scores["Spanish"] += 1.0
    return scores


def answer_language(text: str) -> str | None:
    """The language of an answer that is clearly not English ("French"), else None.

    The embedding model reads English only, so a right answer in another language
    would fail without a word; the caller flags it for a teacher instead. "Clearly":
    a short answer, a list of terms or English with a few foreign-looking words is
    None, because a false flag takes an ordinary answer away from the grader.
    """
    if len(words(text)) < _MIN_WORDS:
        return None
    scores = _scores(text)
    english = scores.pop("English")
    language, best = max(scores.items(), key=lambda item: item[1])
    if best >= _MIN_HITS and best >= _OVER_ENGLISH * english:
        return language
    return None


# --- respell: typing slips against the card's words -----------------------------------------

# Everyday words one slip away from a technical one ("less"/"loss", "three"/"tree"):
# correct as written, so never replaced; and STOPWORDS, the function words.
_COMMON = STOPWORDS | frozenset(
    """
    less lose lost last cost form mode note code none done gone line fine nine three four
    five seven eight zero half twice double height width wide side later brain keep need
    seen seem best rest text next work world word taken read hear held dead call tell tells
    sell fell late date gave game match watch catch lift card harm hold told cold simple
    share tool tools cool poll print joint mask math mean means meant near rate right light
    sight might step stop slow fast good high lower higher large small close point part look
    find give gives take takes move moves goes come comes show shows know think says said
    first back even ever never always often whole another number order result change level
    start rather quite long short deep turn turns learn learns learned
    """.split()
)
_INFLECTIONS = frozenset(["s", "es", "ed", "d", "ing", "er", "ers", "ly", "al"])


def _deletions(word: str, depth: int) -> set[str]:
    """The word and every string made from it by deleting up to `depth` letters."""
    found = frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        found |= frontier
    return found


def _distance(a: str, b: str) -> int:
    """Damerau–Levenshtein distance (optimal string alignment: a swap of neighbours is one)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def _inflected(a: str, b: str) -> bool:
    """Whether one word is a form of the other ("computed", "compute"): not a slip."""
    short, long = sorted((a, b), key=len)
    return (long.startswith(short) and long[len(short) :] in _INFLECTIONS) or stem(a) == stem(b)


class Speller:
    """Repairs typing slips against one card's vocabulary.

    Indexes each card word under every string it gives with up to two letters deleted,
    once: a misspelt word meets only the few words sharing a deletion with it.
    """

    def __init__(self, vocabulary: Iterable[str]) -> None:
        """`vocabulary`: words or whole texts (question, reference answer, key points)."""
        self.vocabulary = frozenset(w.lower() for item in vocabulary for w in _WORD.findall(item))
        self._stems = frozenset(stem(w) for w in self.vocabulary)
        self._index: dict[str, set[str]] = {}
        for w in self.vocabulary:  # a word under 3 letters is never within reach: harmless
            for variant in _deletions(w, 2):
                self._index.setdefault(variant, set()).add(w)
        self._memo: dict[str, str | None] = {}

    def respell(self, text: str) -> str:
        """The text with each slip replaced; every other character kept as it was."""
        return _WORD.sub(self._replace, text)

    def _replace(self, match: re.Match[str]) -> str:
        word = match.group()
        if word.islower():
            return self.correction(word) or word
        if word[0].isupper() and word[1:].islower():  # "Gradint"; not "ReLU", "CNN"
            fixed = self.correction(word.lower())
            return fixed.capitalize() if fixed else word
        return word

    def correction(self, word: str) -> str | None:
        """The vocabulary word a lowercase `word` is a slip of, or None to leave it."""
        if word not in self._memo:
            fixed = self._nearest(word)
            base = self._nearest(word[:-1]) if word.endswith("s") and len(word) > 4 else None
            if base and not base[0].endswith("s") and (not fixed or base[1] < fixed[1]):
                fixed = (base[0] + "s", base[1])  # "weigths" → "weights", not "weight"
            self._memo[word] = fixed[0] if fixed else None
        return self._memo[word]

    def _nearest(self, word: str) -> tuple[str, int] | None:
        # Left: short words, right ones, and forms of a card word ("gradients", "gradient").
        if len(word) < 4 or word in self.vocabulary or word in _COMMON or stem(word) in self._stems:
            return None
        limit = 1 if len(word) <= 6 else 2
        candidates = {c for v in _deletions(word, limit) for c in self._index.get(v, ())}
        near: dict[str, int] = {}
        for candidate in candidates:
            d = _distance(word, candidate)
            if d <= limit and (d == 1 or candidate[0] == word[0]):
                near[candidate] = d
        if not near or any(_inflected(word, c) for c in near):
            return None
        best = min(near.values())
        closest = [c for c, d in near.items() if d == best]
        return (closest[0], best) if len(closest) == 1 else None


@lru_cache(maxsize=64)
def _speller(vocabulary: frozenset[str]) -> Speller:
    return Speller(vocabulary)


def respell(text: str, vocabulary: Iterable[str]) -> str:
    """`text` with typing slips repaired against `vocabulary` (the card's words).

    The embedding model splits an unknown spelling into word pieces that mean
    something else, so "the gradint" no longer matches "the gradient". A word
    neither on the card nor common English becomes the one card word a slip
    away (one edit at 4–6 letters, two from 7; shorter words are left); a tie
    leaves it. Spellers are cached per vocabulary: one index per card.
    """
    return _speller(frozenset(vocabulary)).respell(text)
