"""Decision rules: partner salience, cooperation detection, sectors and event type.

Input is a `ScannedDoc` (sentences plus accepted lexicon hits). Everything here works on cue
categories and country codes, never on language-specific strings.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from worker.core.classifier.lexicon import (
    ADJECTIVE,
    CITY,
    COMPANY,
    COUNTRY,
    ORG,
    PAIR,
    Lexicon,
)
from worker.core.classifier.scan import Hit, ScannedDoc

_CLAUSE_BREAK = re.compile(r"[,،؛;:]")
# 'in (March) 2021', 'en 2019', 'في عام 2020', 'در سال 1399', 'в 2021 году': an act dated by year
_DATED = re.compile(
    r"(?:\b(?:in|en|since|depuis)|(?<!\w)(?:في|فی|در|منذ|عام|سنه|سال|в))\s+(?:\w+\s+){0,2}?"
    r"(?:1[34]\d\d|19\d\d|20\d\d)(?![\d–-])"
)
# after a city that opens a sentence: an optional agency in brackets, then a dash
_DATELINE_PLACE = re.compile(r"\s*\w[\w-]{1,24},\s*")  # 'wuzhen, ' before 'china (mehr) –'
_DATELINE = re.compile(r"\s*(?:\([^()\n]{1,30}\)\s*)?[–—-]\s")
DEFAULT_SECTOR = "research_education"
EVENT_PRIORITY = ("agreement", "joint_body", "visit", "meeting", "event", "intent")
COOP_CATEGORIES = frozenset({"coop", "joint", "agreement_noun", "joint_body"})
ACT_CATEGORIES = frozenset({"sign_past", "visit", "meeting", "event", "intent", "joint_body"})
RELEVANT_CATEGORIES = COOP_CATEGORIES | ACT_CATEGORIES
PARTY_CATEGORIES = COOP_CATEGORIES | {"sign_past", "meeting", "visit"}  # salience bonus
TITLE_WEIGHT = 3.0
LEAD_WEIGHT = 2.0
BODY_WEIGHT = 1.0
PARTY_CONTEXT_BONUS = 1.0
PARTNER_MIN_SALIENCE = 2.0
LIST_SIZE = 4  # a sentence naming this many countries is a list: its mentions weigh less
LIST_FACTOR = 0.5
# an expo in a partner city is an event, not a trip: "event" is not an interaction here
INTERACTION_CUES = ("meeting", "visit_weak", "session", "coop", "joint", "sign_past")
PARTNER_RELATIVE = 0.3
MAX_PARTNERS = 12
PRESS_COVERS = ("meeting", "event", "session")
EVENT_ABSORBS = ("visit", "meeting")
PARTICIPANT_CATEGORIES = frozenset({"joint_body", "session"})
NOT_PARTICIPANT = frozenset({"event", "background"})  # expo guests, past sessions
# a place where a trip or signing happens hosts it (the leg of a tour); summits and expos in
# a third country do not make the venue a party
HOST_CATEGORIES = frozenset({"visit", "sign_past", "concluded"})
THIRD_PARTY_VENUE = frozenset({"sideline", "event", "future", "future_visit"})
HOST_WEIGHT = 0.5
BACKGROUND_FACTOR = 0.5
COMPARE_FACTOR = 0.25  # a country given as an example or a comparison
COMPARE_LOOKBACK = 25
# conjunctions and articles that may join two countries of one list ('Turkey and the UAE')
_LIST_GLUE = frozenset(
    [
        "و",
        "and",
        "et",
        "и",
        "y",
        "e",
        "ou",
        "or",
        "یا",
        "او",
        "the",
        "la",
        "le",
        "les",
        "l'",
        "el",
        "los",
        "las",
        "il",
        "lo",
        "gli",
        "i",
    ]
)
OFFER_CREDIT = 1.0
# a genre label opens the title ('Analysis: ...', 'رأي | ...'): at most this many characters
# before it, then a separator within KICKER_SPAN characters
KICKER_START = 3
KICKER_SPAN = 24
_KICKER_SEPARATOR = re.compile(r"[|:：–—-]")


@dataclass(slots=True)
class SentenceFacts:
    """What one sentence contains: cue categories, countries, sector terms."""

    index: int
    cues: dict[str, int] = field(default_factory=dict)
    countries: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    sectors_strong: set[str] = field(default_factory=set)
    sectors_weak: set[str] = field(default_factory=set)
    orgs: set[str] = field(default_factory=set)
    venue_cities: set[str] = field(default_factory=set)
    first: dict[str, int] = field(default_factory=dict)
    text: str = ""  # the joined normalised document (positions in `first` refer to it)

    def later_clause(self, category: str, *others: str) -> bool:
        """Whether cue `category` is absent or sits in a later clause (after a comma) than
        every cue of `others`: a future marker there does not undo an act reported before."""
        if category not in self.first:
            return True
        pos = self.first[category]
        for other in others:
            start = self.first.get(other, -1)
            if start >= pos or not _CLAUSE_BREAK.search(self.text, start, pos):
                return False
        return True

    def has(self, *categories: str) -> bool:
        return not self.cues.keys().isdisjoint(categories)

    def has_any(self, categories: frozenset[str]) -> bool:
        return not self.cues.keys().isdisjoint(categories)


@dataclass(frozen=True, slots=True)
class Mention:
    code: str
    sentence: int
    category: str
    venue: bool
    compared: bool = False  # 'countries such as China and Russia': an example, not a party


@dataclass(slots=True)
class Facts:
    sentences: list[SentenceFacts]
    mentions: list[Mention]
    salience: dict[str, float]
    venue_only: set[str]
    author: bool = False  # an author speaks in the first person ('in my view')


@dataclass(frozen=True, slots=True)
class Decision:
    is_cooperation: bool
    score: float
    partners: tuple[str, ...]
    sectors: tuple[str, ...]
    event_type: str | None
    deciding_sentences: tuple[int, ...]
    diagnostics: dict[str, object]


def _position_weight(sentence: int) -> float:
    if sentence == 0:
        return TITLE_WEIGHT
    return LEAD_WEIGHT if sentence == 1 else BODY_WEIGHT


def _previous_word(joined: str, start: int) -> str:
    end = start
    while end > 0 and joined[end - 1] == " ":
        end -= 1
    if end == start:
        return ""
    begin = end
    while begin > 0 and not joined[begin - 1].isspace() and end - begin < 12:
        begin -= 1
    return joined[begin:end]


def _is_venue(lex: Lexicon, doc: ScannedDoc, hit: Hit) -> bool:
    """A city or country written as a location: after 'in/à/في/در/в', Arabic ب-, or in (...)."""
    before = doc.joined[max(0, hit.start - 3) : hit.start]
    if "(" in before:
        return True
    if _previous_word(doc.joined, hit.start) in lex.venue_words:
        return True
    if hit.entry.category != CITY:
        return False
    return doc.joined[_word_start(doc.joined, hit.start) : hit.start] in ("ب", "وب", "في")


def _word_start(joined: str, pos: int) -> int:
    """Where the word holding `pos` begins: before an article or clitics glued to a match."""
    while pos > 0 and joined[pos - 1].isalpha():
        pos -= 1
    return pos


def _ends_with_word(text: str, words: tuple[str, ...]) -> bool:
    """`text` ends with one of `words`, and that word starts at a word boundary."""
    for word in words:
        cut = len(text) - len(word)
        if text.endswith(word) and (cut == 0 or not text[cut - 1].isalpha()):
            return True
    return False


def _after_capital_word(lex: Lexicon, joined: str, hit: Hit) -> bool:
    return _previous_word(joined, _word_start(joined, hit.start)) in lex.capital_words


def _after_compare_word(lex: Lexicon, joined: str, hit: Hit) -> bool:
    """'countries such as Turkey', 'کشورهایی مانند ترکیه', 'comme la Corée du Sud'."""
    word_start = _word_start(joined, hit.start)
    before = joined[max(0, word_start - COMPARE_LOOKBACK) : word_start].rstrip()
    if _ends_with_word(before, lex.compare_words):
        return True
    # one article or determiner between: 'comme la Turquie', 'like the UAE'
    head, _, last = before.rpartition(" ")
    return len(last) <= 3 and _ends_with_word(head, lex.compare_words)


def _list_goes_on(joined: str, compared_end: int, start: int) -> bool:
    """'such as Turkey and Saudi Arabia': the next country of the same list is compared too."""
    if compared_end < 0 or start < compared_end or start - compared_end > 12:
        return False
    gap = joined[compared_end:start].replace(",", " ").replace("،", " ").replace("'", "' ")
    return all(token in _LIST_GLUE for token in gap.split())


def _dateline(doc: ScannedDoc, hit: Hit) -> bool:
    """The place that opens a dispatch ('BAKU –', 'طهران – إرنا –', 'WUZHEN, China (Mehr) –')
    says where it was filed: not a party, and not a host either."""
    if hit.sentence == 0:
        return False  # a title 'Iran – Russia: ...' pairs the parties, it has no dateline
    lead = doc.joined[doc.sentences[hit.sentence].norm_start : hit.start]
    opens = len(lead) <= 1 or _DATELINE_PLACE.fullmatch(lead) is not None
    return opens and _DATELINE.match(doc.joined, hit.end) is not None


def _apposition(joined: str, city_end: int, start: int) -> bool:
    """A country right after a venue city ('in Barcelona, Spain', 'در بارسلون اسپانیا',
    'à Kazan (Russie)') names where the city is: it is a venue too."""
    if city_end < 0 or start < city_end:
        return False
    while city_end < start and joined[city_end].isalpha():
        city_end += 1  # the rest of the word: a suffix after the matched form ('القطريه')
    return start - city_end <= 3 and joined[city_end:start].strip(" ,،(") == ""


def _discount_press(cues: dict[str, int]) -> None:
    """'press conference' is not a meeting, event or session: its matches of those
    categories ('نشست خبری' also matches 'نشست') are taken back."""
    press = cues["press"]
    for category in PRESS_COVERS:
        if category in cues:
            left = cues[category] - press
            if left <= 0:
                del cues[category]
            else:
                cues[category] = left


def _rescope_cues(doc: ScannedDoc) -> bool:
    """Per-sentence corrections before the rules run: press conferences (see
    `_discount_press`), and a signing, session or visit dated to a year ('signed in Tehran in March
    2021', 'en 2019', 'عام 2022') is background: new acts are dated by weekday, not by year. Returns
    whether an author speaks in the first person anywhere (an opinion piece)."""
    joined = doc.joined
    author = False
    for i, terms in enumerate(doc.terms):
        cues = terms.cues
        if not cues:
            continue
        if "author" in cues:
            author = True
        if "earlier" in cues:
            cues["background"] = 1
            cues["dated"] = 1  # 'had met last year': an earlier meeting or trip, not this one
        if "press" in cues:
            _discount_press(cues)
        if "sign_past" in cues or "session" in cues or "visit" in cues:
            start = doc.sentences[i].norm_start
            end = doc.sentences[i + 1].norm_start if i + 1 < len(doc.sentences) else len(joined)
            seg = joined[start:end]
            if ("20" in seg or "19" in seg or "13" in seg or "14" in seg) and _DATED.search(seg):
                cues["background"] = 1
                cues["dated"] = 1  # 'during the president's visit in 2022': not this trip
    return author


def collect_facts(lex: Lexicon, doc: ScannedDoc) -> Facts:
    author = _rescope_cues(doc)
    sentences = [
        SentenceFacts(
            s.index,
            t.cues,
            sectors_strong=t.sectors_strong,
            sectors_weak=t.sectors_weak,
            first=t.first,
            text=doc.joined,
        )
        for s, t in zip(doc.sentences, doc.terms, strict=True)
    ]
    mentions: list[Mention] = []
    venue_city_end = -1
    compared_end = -1  # end of the last mention that followed 'such as' (a list goes on)
    for hit in doc.hits:
        facts = sentences[hit.sentence]
        entry = hit.entry
        if entry.kind == ORG:
            facts.orgs.add(entry.value)
        elif entry.kind == COUNTRY:
            dateline = entry.category in (CITY, "name") and _dateline(doc, hit)
            venue = entry.category in (CITY, "name") and (
                _is_venue(lex, doc, hit) or _apposition(doc.joined, venue_city_end, hit.start)
            )
            # 'في العاصمة المصرية', 'dans la capitale égyptienne': the adjective names a place
            capital = entry.category == ADJECTIVE and _after_capital_word(lex, doc.joined, hit)
            if capital:
                venue = True
                venue_city_end = hit.end  # 'العاصمة المصرية القاهرة': the city that follows too
            if venue and entry.category == CITY:
                facts.venue_cities.add(entry.value)
                venue_city_end = hit.end
            venue = venue or dateline
            compared = _after_compare_word(lex, doc.joined, hit) or _list_goes_on(
                doc.joined, compared_end, hit.start
            )
            if compared:
                compared_end = hit.end
            for code in entry.value.split("+"):
                facts.countries[code] += 1
                mentions.append(Mention(code, hit.sentence, entry.category, venue, compared))
    salience, venue_only = _salience(sentences, mentions)
    return Facts(sentences, mentions, salience, venue_only, author)


def _session_roll_call(facts: SentenceFacts) -> bool:
    """A sentence listing the countries that take part in a session (not expo guests)."""
    return facts.has_any(PARTICIPANT_CATEGORIES) and not facts.has_any(NOT_PARTICIPANT)


def _salience(
    sentences: list[SentenceFacts], mentions: list[Mention]
) -> tuple[dict[str, float], set[str]]:
    salience: dict[str, float] = defaultdict(float)
    non_venue: set[str] = set()
    for m in mentions:
        if m.venue:
            if sentences[m.sentence].has_any(HOST_CATEGORIES) and not sentences[m.sentence].has_any(
                THIRD_PARTY_VENUE
            ):
                salience[m.code] += HOST_WEIGHT * _position_weight(m.sentence)
            continue
        non_venue.add(m.code)
        weight = _position_weight(m.sentence)
        facts = sentences[m.sentence]
        listed = len(facts.countries) >= LIST_SIZE and m.category != COMPANY
        # delegations of a session named one by one are its participants (LABELS.md)
        if listed and not _session_roll_call(facts):
            weight *= LIST_FACTOR
        elif listed or facts.has_any(PARTY_CATEGORIES):
            weight += PARTY_CONTEXT_BONUS
        if m.compared:
            weight *= COMPARE_FACTOR
        if "background" in facts.cues and facts.has("sign_past", "agreement_noun", "concluded"):
            weight *= BACKGROUND_FACTOR  # named with an earlier agreement: context, not a party
        if m.category == CITY:
            weight *= 0.75
        elif m.category == COMPANY:
            weight *= 1.5
        salience[m.code] += weight
    venue_only = {m.code for m in mentions} - non_venue
    return dict(salience), venue_only


def select_partners(facts: Facts) -> tuple[str, ...]:
    ranked = sorted(facts.salience.items(), key=lambda kv: (-kv[1], kv[0]))
    if not ranked:
        return ()
    top = ranked[0][1]
    threshold = max(PARTNER_MIN_SALIENCE, PARTNER_RELATIVE * top)
    chosen = [code for code, value in ranked if value >= threshold][:MAX_PARTNERS]
    return tuple(sorted(chosen))


def _named_beside_a_body(facts: Facts, partners: tuple[str, ...]) -> tuple[str, ...]:
    """When the title or lead is about a multilateral body (the D-8, the UPU congress, the
    ECO), a country named only by a city or as a place is where the body meets, not a
    counterpart (LABELS.md: a body with no named counterpart country is not enough).
    Countries named by name or adjective stay partners."""
    if not any(s.orgs for s in facts.sentences[:3]):
        return partners
    named = {m.code for m in facts.mentions if m.category != CITY and not m.venue}
    return tuple(code for code in partners if code in named)


def _relevant(facts: Facts, partners: tuple[str, ...]) -> list[SentenceFacts]:
    """Title plus sentences that name a partner or carry a cooperation cue."""
    wanted = set(partners)
    return [
        s
        for s in facts.sentences
        if s.index == 0 or wanted & set(s.countries) or s.has_any(RELEVANT_CATEGORIES)
    ]


def find_sectors(relevant: list[SentenceFacts]) -> tuple[str, ...]:
    """Strong terms count anywhere relevant; weak (generic) terms only in a title that speaks
    of cooperation ('... scientific cooperation'), or when nothing more specific was found:
    'digital' or 'scientific' in a lead sentence is mostly an office or a slogan."""
    found: set[str] = set()
    weak: set[str] = set()
    for s in relevant:
        found |= s.sectors_strong
        if s.index == 0 and s.has("coop", "joint", "agreement_noun"):
            found |= s.sectors_weak
        weak |= s.sectors_weak
    return tuple(sorted(found or weak))


def _intent_before(s: SentenceFacts, *categories: str) -> bool:
    """An intent cue that precedes the act cues ('called for a meeting in Astana')."""
    start = s.first.get("intent")
    if start is None:
        return False
    return all(s.first.get(c, start + 1) > start for c in categories)


def _hosted_by_partner(s: SentenceFacts, partners: frozenset[str]) -> bool:
    """A partner's city is the venue and another partner takes part: a visit, unless the
    foreign side is a resident ambassador."""
    if not s.venue_cities:
        return False  # no host city (the common case)
    hosts = s.venue_cities & partners
    guests = {c for c in s.countries if c in partners} - hosts
    interaction = s.has(*INTERACTION_CUES)
    planned = s.has("future", "background") or _intent_before(s, "meeting", "session")
    elsewhere = s.has("ambassador", "sideline")  # a resident envoy; a summit's sidelines
    return bool(hosts and guests) and interaction and not elsewhere and not planned


def _sentence_event(s: SentenceFacts, partners: frozenset[str]) -> str | None:
    cues = s.cues  # `category in cues` is `s.has(category)`, inlined: this runs per sentence
    if not cues:
        return None
    future = "future" in cues
    background = "background" in cues
    signed = ("agreement_noun" in cues and "sign_past" in cues) or "concluded" in cues
    sign_first = s.later_clause("future", "sign_past", "agreement_noun") or (
        "concluded" in cues and s.later_clause("future", "concluded")
    )
    if signed and sign_first and not background and "negation" not in cues:
        return "agreement"  # unless 'no document was signed during the visit'
    session = "joint_body" in cues and "session" in cues and not future and not background
    if session and not _intent_before(s, "joint_body", "session"):  # not 'proposed to convene'
        return "joint_body"
    if "future_visit" in cues:
        return "intent"
    if "visit" in cues and (not s.later_clause("future", "visit") or _intent_before(s, "visit")):
        return "intent"  # 'will visit', 'during the visit next month', 'proposed a visit'
    if ("visit" in cues and "dated" not in cues) or (
        "milestone" not in cues and _hosted_by_partner(s, partners)
    ):
        # a launch or first production in a partner's city is no trip; a video session is
        # a meeting wherever its sides sit (LABELS.md)
        return "meeting" if "online" in cues else "visit"
    if ("meeting" in cues or ("visit_weak" in cues and "ambassador" in cues)) and (
        "dated" not in cues
    ):
        return "meeting" if not future else "intent"
    if "milestone" in cues or ("event" in cues and not background):
        # 'ready to launch', 'will open': the milestone or event is still to come
        planned = future or _intent_before(s, "milestone", "event")
        return "intent" if planned else "event"
    if "intent" in cues or future:
        return "intent"
    return None


def find_event_type(
    sentences: list[SentenceFacts], partners: tuple[str, ...]
) -> tuple[str | None, list[int]]:
    best: str | None = None
    where: list[int] = []
    partner_set = frozenset(partners)
    for s in sentences:
        event = _sentence_event(s, partner_set)
        if event is None:
            continue
        if best is None or EVENT_PRIORITY.index(event) < EVENT_PRIORITY.index(best):
            best, where = event, [s.index]
        elif event == best and len(where) < 2:
            where.append(s.index)
    if best in EVENT_ABSORBS and _event_story(sentences, partner_set):
        # the title reports an expo or forum: its B2B meetings and guests are part of it
        return "event", [0, *where[:1]]
    if best in EVENT_ABSORBS and _trip_announced(sentences[:2], partner_set):
        # 'X will travel to Minsk next week ... During the trip, X is to meet ...': the
        # body describes the programme of the announced trip
        return "intent", [s.index for s in sentences[:2] if "future_visit" in s.cues][:1]
    return best, where


def _trip_announced(lead: list[SentenceFacts], partners: frozenset[str]) -> bool:
    """The title or first sentence announces a future trip and reports none that happened."""
    events = [_sentence_event(s, partners) for s in lead]
    return any("future_visit" in s.cues for s in lead) and "visit" not in events


def _event_story(sentences: list[SentenceFacts], partners: frozenset[str]) -> bool:
    """The title announces an exhibition or forum (not a milestone) and no sentence reports
    a trip in so many words (a delegation that travels for an expo is a visit; a guest
    touring the pavilions is not)."""
    if not sentences or "event" not in sentences[0].cues:
        return False
    if _sentence_event(sentences[0], partners) != "event":
        return False
    return not any("visit" in s.cues and "event" not in s.cues for s in sentences)


def _kicker(title: SentenceFacts) -> bool:
    """The title opens with a genre label ('Analysis:', 'رأي |', 'یادداشت |'): an opinion
    piece. The same words inside a title ('یادداشت تفاهم', a memorandum) are not labels."""
    start = title.first.get("kicker")
    if start is None or start > KICKER_START:
        return False
    return _KICKER_SEPARATOR.search(title.text, start, start + KICKER_SPAN) is not None


def _countering(s: SentenceFacts, cyber_story: bool) -> bool:
    """'a joint working group to counter cyber threats': attacks and threats are the subject
    of a cooperation here, not a conflict story (also in any cooperation sentence of an item
    whose title is about cybersecurity)."""
    countering = "counter" in s.cues or "cybersecurity" in s.sectors_strong or cyber_story
    return countering and s.has("coop", "joint", "agreement_noun", "joint_body")


def _cue_between(s: SentenceFacts, partners: tuple[str, ...], cue: str) -> bool:
    """Cue `cue` in a sentence naming two partner countries."""
    return cue in s.cues and sum(1 for c in partners if c in s.countries) >= 2


def _score(
    facts: Facts,
    relevant: list[SentenceFacts],
    sectors: tuple[str, ...],
    partners: tuple[str, ...],
    event: str | None,
) -> tuple[float, dict[str, float]]:
    title = facts.sentences[0] if facts.sentences else SentenceFacts(0)
    lead = facts.sentences[:3]
    parts: dict[str, float] = {}
    parts["partners"] = 2.0 if len(partners) >= 2 else -4.0
    parts["coop"] = 1.5 if any(s.has(*COOP_CATEGORIES) for s in relevant) else 0.0
    # an invitation, offer or proposal made to the partner is cooperation proposed; an
    # exhibition of one partner's technology in the other's country ('Dakar hosts an
    # exhibition of Iranian technology') is a joint event aimed at the host's market
    if not parts["coop"] and any(_cue_between(s, partners, "intent") for s in relevant):
        parts["coop"] = OFFER_CREDIT
    expo = event == "event" and any(_cue_between(s, partners, "event") for s in relevant)
    if not parts["coop"] and expo:
        parts["coop"] = OFFER_CREDIT
    parts["act"] = 1.0 if event in EVENT_PRIORITY[:4] else (0.5 if event else 0.0)
    generic_tech = any(s.has("tech") for s in relevant)
    strong_sector = any(s.sectors_strong for s in relevant)
    if strong_sector:
        parts["tech"] = 1.5
    else:
        parts["tech"] = 0.5 if sectors or generic_tech else -2.0
    cyber_story = "cybersecurity" in title.sectors_strong
    conflict = sum(s.cues.get("neg_conflict", 0) for s in lead if not _countering(s, cyber_story))
    offtopic = sum(s.cues.get("neg_offtopic", 0) for s in relevant)
    tech_terms = sum(len(s.sectors_strong) + s.cues.get("tech", 0) for s in relevant)
    conflict_story = title.has("neg_conflict") or conflict >= 2
    parts["conflict"] = -1.5 * min(2, conflict) if conflict_story else 0.0
    parts["offtopic"] = 0.0
    if offtopic > tech_terms:
        heavy = offtopic >= 2 * tech_terms + 3 or (
            title.has("neg_offtopic") and not title.sectors_strong
        )
        parts["offtopic"] = -3.0 if heavy else -1.5
    # opinion labels count in the title and lead; an author speaking in the first person
    # ('in my view', 'به نظر نگارنده') marks an opinion piece wherever it is
    opinion = any(s.has("opinion") for s in lead[:2])
    opinion = opinion or facts.author or _kicker(title)
    parts["opinion"] = -2.5 if opinion else 0.0
    return sum(parts.values()) - 4.0, parts


def _office_named(lex: Lexicon, doc: ScannedDoc) -> bool:
    return lex.office_before is not None and lex.office_before.search(doc.joined) is not None


def _too_few_countries(doc: ScannedDoc) -> Decision:
    counts: dict[str, int] = defaultdict(int)
    for hit in doc.hits:
        if hit.entry.kind == COUNTRY:
            for code in hit.entry.value.split("+"):
                counts[code] += 1
    diagnostics: dict[str, object] = {
        "salience": dict(sorted(counts.items())),  # plain mention counts
        "reason": "fewer than two countries named",
    }
    return Decision(False, 0.01, (), (), None, (), diagnostics)


def decide(lex: Lexicon, doc: ScannedDoc, home: str | None = None) -> Decision:
    """`home`: the country a language's press leaves unnamed or names only in passing
    (Persian news: 'the minister of communications travelled to Beijing' means Iran's). When
    exactly one other country stands out as a partner and the text names a minister or
    ministry (the home country's official: not a story about the other country alone), the
    home country is the other party."""
    if not doc.terms_scanned:
        return _too_few_countries(doc)
    facts = collect_facts(lex, doc)
    partners = _named_beside_a_body(facts, select_partners(facts))
    if home and len(partners) == 1 and home not in partners and _office_named(lex, doc):
        partners = tuple(sorted((*partners, home)))
    if len(partners) < 2:
        diagnostics: dict[str, object] = {
            "salience": {k: round(v, 2) for k, v in sorted(facts.salience.items())},
            "venue_only": sorted(facts.venue_only),
            "candidate_partners": list(partners),
            "reason": "fewer than two partner countries",
        }
        return Decision(False, 0.02, (), (), None, (), diagnostics)
    relevant = _relevant(facts, partners)
    sectors = find_sectors(relevant)
    event, where = find_event_type(facts.sentences, partners)
    raw, parts = _score(facts, relevant, sectors, partners, event)
    is_coop = raw > 0 and len(partners) >= 2
    score = 1.0 / (1.0 + pow(2.718281828, -raw))
    diagnostics = {
        "salience": {k: round(v, 2) for k, v in sorted(facts.salience.items())},
        "venue_only": sorted(facts.venue_only),
        "score_parts": parts,
        "candidate_partners": list(partners),
        "candidate_sectors": list(sectors),
        "candidate_event_type": event,
        "orgs": sorted({o for s in facts.sentences for o in s.orgs}),
    }
    if not is_coop:
        return Decision(False, score, (), (), None, tuple(where), diagnostics)
    deciding = where or [s.index for s in relevant[:1]]
    # A true item has a sector; generic science-and-technology cooperation is research_education.
    sectors = sectors or (DEFAULT_SECTOR,)
    return Decision(True, score, partners, sectors, event or "intent", tuple(deciding), diagnostics)


__all__ = ["ADJECTIVE", "PAIR", "Decision", "decide"]
