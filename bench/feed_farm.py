"""A local feed farm for benchmarks: N feeds over HTTP, plus a webhook and an SMTP sink.

    .venv/bin/python bench/feed_farm.py --feeds 1000 [--port 0] [--smtp-port 0]
        [--latency-ms 0] [--error-rate 0] [--seed 1]

Prints one JSON line when ready: {"http": PORT, "smtp": PORT, "feeds": N}.

Feeds: ``/feeds/{i}.xml``; even ``i`` is RSS 2.0, odd is Atom. Each feed has 20–50 items in
one of English, French, Persian or Arabic (Arabic and French from the seed articles in
``shared/seeds``, the others written here); about a quarter of the items announce technology
cooperation between two countries (Iran–China, Iran–Russia, ...), so watchlists match.
Every answer carries an ETag and Last-Modified; ``If-None-Match``/``If-Modified-Since`` get a
304. ``--latency-ms`` delays every feed answer; ``--error-rate`` answers that share of feed
requests with a 500.

Control (JSON answers):
- ``POST /_control/reset?feeds=N``: regenerate the farm with N feeds (deterministic by seed),
  reset the tick counter and the statistics.
- ``POST /_control/tick``: 10% of the feeds gain 3 new items (one of them a cooperation
  announcement); answers the number of feeds and items changed.
- ``GET /_stats``: requests by status, bytes sent, sink counters (webhook and SMTP, with the
  time of the first and last message), the farm's own CPU time.
- ``POST /_sink/{name}``: the webhook sink (Apprise ``json://`` posts here).

The SMTP sink is a minimal SMTP server (HELO/EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) that
counts messages; it lets a peer that sends e-mail (rss2email) deliver for real.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import random
import re
import socket
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from aiohttp import web

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
LANGS = ("en", "fr", "fa", "ar")

COUNTRIES = {
    "en": {
        "IR": "Iran",
        "CN": "China",
        "RU": "Russia",
        "AM": "Armenia",
        "RS": "Serbia",
        "IN": "India",
    },
    "fr": {
        "IR": "L'Iran",
        "CN": "la Chine",
        "RU": "la Russie",
        "AM": "l'Arménie",
        "RS": "la Serbie",
        "IN": "l'Inde",
    },
    "fa": {
        "IR": "ایران",
        "CN": "چین",
        "RU": "روسیه",
        "AM": "ارمنستان",
        "RS": "صربستان",
        "IN": "هند",
    },
    "ar": {
        "IR": "إيران",
        "CN": "الصين",
        "RU": "روسيا",
        "AM": "أرمينيا",
        "RS": "صربيا",
        "IN": "الهند",
    },
}
SECTORS = {
    "en": ["artificial intelligence", "5G networks", "cybersecurity", "data centres", "satellites"],
    "fr": [
        "l'intelligence artificielle",
        "les réseaux 5G",
        "la cybersécurité",
        "les centres de données",
        "les satellites",
    ],
    "fa": ["هوش مصنوعی", "شبکه‌های نسل پنجم", "امنیت سایبری", "مراکز داده", "ماهواره"],
    "ar": ["الذكاء الاصطناعي", "شبكات الجيل الخامس", "الأمن السيبراني", "مراكز البيانات"],
}
COOP_TITLES = {
    "en": [
        "{a} and {b} sign memorandum of understanding on {s}",
        "{a} and {b} hold first joint working group meeting on {s}",
        "Minister of communications of {a} meets ambassador of {b} to expand cooperation in {s}",
    ],
    "fr": [
        "{a} et {b} signent un protocole d'accord de coopération dans {s}",
        "{a} et {b} tiennent la première réunion de leur groupe de travail conjoint sur {s}",
    ],
    "fa": [
        "تفاهم‌نامه همکاری {a} و {b} در زمینه {s} امضا شد",
        "نشست کارگروه مشترک {a} و {b} در حوزه {s} برگزار شد",
        "وزیر ارتباطات {a} در دیدار با سفیر {b} بر توسعه همکاری در {s} تأکید کرد",
    ],
    "ar": [
        "{a} و{b} توقعان مذكرة تفاهم للتعاون في مجال {s}",
        "عقد الاجتماع المشترك الأول بين {a} و{b} في مجال {s}",
    ],
}
COOP_BODIES = {
    "en": [
        "The ministers of {a} and {b} signed a memorandum of understanding on cooperation in {s} "
        "on Monday.",
        "The two countries agreed to set up a joint working group on {s} and to meet again "
        "next year.",
    ],
    "fr": [
        "Les ministres de {a} et de {b} ont signé un protocole d'accord sur la coopération "
        "dans {s}.",
        "Les deux pays ont convenu de créer un groupe de travail conjoint sur {s}.",
    ],
    "fa": [
        "وزیران {a} و {b} روز دوشنبه تفاهم‌نامه همکاری در زمینه {s} را امضا کردند.",
        "دو کشور توافق کردند کارگروه مشترکی برای توسعه همکاری در حوزه {s} تشکیل دهند.",
    ],
    "ar": [
        "وقع وزيرا {a} و{b} مذكرة تفاهم للتعاون في مجال {s} يوم الاثنين.",
        "واتفق البلدان على تشكيل فريق عمل مشترك لتوسيع التعاون في مجال {s}.",
    ],
}
FILLER = {
    "en": [
        "Heavy rain is expected in the capital on Friday, the weather service said.",
        "The national football team won its qualifying match two goals to one.",
        "Prices of fresh vegetables rose by four percent in the last month.",
        "The city council approved a new budget for public transport.",
        "A new exhibition of contemporary painting opened at the national museum.",
        "Officials said the new hospital wing would open in the spring.",
    ],
    "fr": [
        "De fortes pluies sont attendues vendredi dans la capitale, selon la météo nationale.",
        "L'équipe nationale de football a remporté son match de qualification.",
        "Les prix des légumes frais ont augmenté de quatre pour cent le mois dernier.",
        "Le conseil municipal a adopté un nouveau budget pour les transports publics.",
        "Une exposition de peinture contemporaine s'est ouverte au musée national.",
    ],
    "fa": [
        "سازمان هواشناسی برای روز جمعه بارش شدید باران در پایتخت پیش‌بینی کرد.",
        "تیم ملی فوتبال در دیدار مقدماتی با نتیجه دو بر یک به پیروزی رسید.",
        "قیمت سبزیجات تازه در ماه گذشته چهار درصد افزایش یافت.",
        "شورای شهر بودجه جدید حمل‌ونقل عمومی را تصویب کرد.",
        "نمایشگاه نقاشی معاصر در موزه ملی گشایش یافت.",
    ],
    "ar": [
        "توقعت هيئة الأرصاد الجوية هطول أمطار غزيرة في العاصمة يوم الجمعة.",
        "فاز المنتخب الوطني لكرة القدم في مباراته التأهيلية بهدفين مقابل هدف.",
        "ارتفعت أسعار الخضروات الطازجة بنسبة أربعة في المئة خلال الشهر الماضي.",
        "وافق مجلس المدينة على ميزانية جديدة للنقل العام.",
    ],
}
PAIRS = [("IR", "CN"), ("IR", "RU"), ("IR", "AM"), ("IR", "RS"), ("CN", "RU"), ("IN", "IR")]
_SENTENCE_END = re.compile(r"(?<=[.!؟?])\s+")


def _seed_sentences() -> dict[str, list[str]]:
    """Sentences of the seed articles, by script: Arabic-script ones go to "ar", Latin to "fr"."""
    found: dict[str, list[str]] = {"ar": [], "fr": []}
    if not SEEDS.is_dir():
        return found
    for path in sorted(SEEDS.glob("*.txt")):
        for raw in _SENTENCE_END.split(path.read_text("utf-8")):
            sentence = " ".join(raw.split())
            if 40 <= len(sentence) <= 400:
                arabic = any("\u0600" <= ch <= "\u06ff" for ch in sentence)
                found["ar" if arabic else "fr"].append(sentence)
    return found


@dataclass(slots=True)
class Item:
    guid: str
    title: str
    body: str
    published: datetime
    link: str


@dataclass(slots=True)
class Feed:
    index: int
    lang: str
    atom: bool
    items: list[Item]
    body: bytes = b""
    etag: str = ""
    last_modified: str = ""
    modified_at: float = 0.0


@dataclass(slots=True)
class Stats:
    requests: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    bytes_sent: int = 0
    webhook: int = 0
    webhook_first: float | None = None
    webhook_last: float | None = None
    smtp: int = 0
    smtp_first: float | None = None
    smtp_last: float | None = None

    def as_json(self) -> dict[str, object]:
        cpu = os.times()
        return {
            "requests": self.requests,
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "bytes_sent": self.bytes_sent,
            "webhook": self.webhook,
            "webhook_first": self.webhook_first,
            "webhook_last": self.webhook_last,
            "smtp": self.smtp,
            "smtp_first": self.smtp_first,
            "smtp_last": self.smtp_last,
            "cpu": cpu.user + cpu.system,
            "time": time.time(),
        }


class Farm:
    def __init__(self, seed: int, base_url: str) -> None:
        self.seed = seed
        self.base_url = base_url
        self.feeds: list[Feed] = []
        self.ticks = 0
        self.stats = Stats()
        self.seeds = _seed_sentences()
        self.epoch = datetime(2026, 11, 1, tzinfo=UTC)

    # -- content ------------------------------------------------------------------------

    def _sentences(self, rng: random.Random, lang: str, n: int) -> list[str]:
        pool = FILLER[lang] + (self.seeds.get(lang, []) if lang in ("ar", "fr") else [])
        return [rng.choice(pool) for _ in range(n)]

    def _item(self, rng: random.Random, feed: int, serial: int, lang: str, coop: bool) -> Item:
        when = self.epoch + timedelta(minutes=17 * serial + feed % 60)
        if coop:
            a, b = (COUNTRIES[lang][c] for c in rng.choice(PAIRS))
            sector = rng.choice(SECTORS[lang])
            title = rng.choice(COOP_TITLES[lang]).format(a=a, b=b, s=sector)
            lead = rng.choice(COOP_BODIES[lang]).format(a=a, b=b, s=sector)
            body = " ".join([lead, *self._sentences(rng, lang, rng.randint(1, 3))])
        else:
            parts = self._sentences(rng, lang, rng.randint(2, 4))
            title, body = parts[0][:90], " ".join(parts)
        return Item(
            guid=f"farm-{feed}-{serial}",
            title=title,
            body=body,
            published=when,
            link=f"{self.base_url}/articles/{feed}/{serial}",
        )

    def reset(self, n: int) -> None:
        self.feeds = []
        self.ticks = 0
        self.stats = Stats()
        for i in range(n):
            rng = random.Random(self.seed * 1_000_003 + i)
            lang = LANGS[i % len(LANGS)]
            count = rng.randint(20, 50)
            items = [self._item(rng, i, s, lang, rng.random() < 0.25) for s in range(count)]
            items.reverse()  # newest first
            feed = Feed(index=i, lang=lang, atom=i % 2 == 1, items=items)
            self._render(feed, time.time())
            self.feeds.append(feed)

    def tick(self) -> dict[str, int]:
        """10% of the feeds gain 3 new items; the first of them announces cooperation."""
        self.ticks += 1
        rng = random.Random(self.seed * 7919 + self.ticks)
        chosen = rng.sample(range(len(self.feeds)), max(1, len(self.feeds) // 10))
        now = time.time()
        for i in chosen:
            feed = self.feeds[i]
            serial = max(int(it.guid.rsplit("-", 1)[1]) for it in feed.items) + 1
            fresh = [
                self._item(rng, i, serial + k, feed.lang, coop=k == 0 or rng.random() < 0.25)
                for k in range(3)
            ]
            fresh.reverse()
            feed.items = fresh + feed.items
            # A second apart from the previous version at least, so If-Modified-Since sees it.
            self._render(feed, max(now, feed.modified_at + 1))
        return {"feeds": len(chosen), "items": 3 * len(chosen)}

    def _render(self, feed: Feed, when: float) -> None:
        url = f"{self.base_url}/feeds/{feed.index}.xml"
        title = f"Farm feed {feed.index} ({feed.lang})"
        if feed.atom:
            entries = "".join(
                f"<entry><id>urn:{it.guid}</id><title>{escape(it.title)}</title>"
                f'<link href="{it.link}"/><updated>{it.published.isoformat()}</updated>'
                f"<summary>{escape(it.body)}</summary></entry>"
                for it in feed.items
            )
            text = (
                '<?xml version="1.0" encoding="utf-8"?>'
                f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{feed.lang}">'
                f"<title>{escape(title)}</title><id>{url}</id>"
                f'<link href="{url}" rel="self"/>'
                f"<updated>{feed.items[0].published.isoformat()}</updated>{entries}</feed>"
            )
        else:
            entries = "".join(
                f'<item><guid isPermaLink="false">{it.guid}</guid>'
                f"<title>{escape(it.title)}</title><link>{it.link}</link>"
                f"<pubDate>{format_datetime(it.published)}</pubDate>"
                f"<description>{escape(it.body)}</description></item>"
                for it in feed.items
            )
            text = (
                '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>{escape(title)}</title><link>{url}</link>"
                f"<description>benchmark feed</description><language>{feed.lang}</language>"
                f"{entries}</channel></rss>"
            )
        feed.body = text.encode("utf-8")
        feed.etag = '"' + hashlib.sha256(feed.body).hexdigest()[:20] + '"'
        feed.modified_at = float(int(when))
        feed.last_modified = format_datetime(datetime.fromtimestamp(int(when), UTC), usegmt=True)


def _count(stats: Stats, status: int, size: int) -> None:
    stats.requests += 1
    stats.by_status[status] = stats.by_status.get(status, 0) + 1
    stats.bytes_sent += size


def make_app(farm: Farm, latency: float, error_rate: float) -> web.Application:
    errors = random.Random(farm.seed)

    async def feed(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        try:
            index = int(name)
            item = farm.feeds[index]
        except (ValueError, IndexError):
            _count(farm.stats, 404, 0)
            return web.Response(status=404)
        if latency > 0:
            await asyncio.sleep(latency)
        if error_rate > 0 and errors.random() < error_rate:
            _count(farm.stats, 500, 0)
            return web.Response(status=500)
        headers = {"ETag": item.etag, "Last-Modified": item.last_modified}
        inm = request.headers.get("If-None-Match")
        ims = request.if_modified_since
        if (inm is not None and inm == item.etag) or (
            inm is None and ims is not None and ims.timestamp() >= item.modified_at
        ):
            _count(farm.stats, 304, 0)
            return web.Response(status=304, headers=headers)
        _count(farm.stats, 200, len(item.body))
        ctype = "application/atom+xml" if item.atom else "application/rss+xml"
        return web.Response(body=item.body, headers=headers, content_type=ctype, charset="utf-8")

    async def sink(request: web.Request) -> web.Response:
        await request.read()
        now = time.time()
        s = farm.stats
        s.webhook += 1
        s.webhook_first = s.webhook_first or now
        s.webhook_last = now
        return web.json_response({})

    async def reset(request: web.Request) -> web.Response:
        n = int(request.query.get("feeds", "0"))
        started = time.perf_counter()
        farm.reset(n)
        return web.json_response({"feeds": n, "seconds": time.perf_counter() - started})

    async def tick(_request: web.Request) -> web.Response:
        return web.json_response(farm.tick())

    async def stats(_request: web.Request) -> web.Response:
        return web.json_response(farm.stats.as_json())

    app = web.Application()
    app.router.add_get("/feeds/{name}.xml", feed)
    app.router.add_post("/_sink/{name}", sink)
    app.router.add_post("/_control/reset", reset)
    app.router.add_post("/_control/tick", tick)
    app.router.add_get("/_stats", stats)
    return app


async def _smtp_session(
    farm: Farm, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    async def say(line: str) -> None:
        writer.write(line.encode() + b"\r\n")
        await writer.drain()

    await say("220 farm ESMTP sink")
    try:
        for _ in range(1_000_000):  # bounded: one session never runs forever
            line = await asyncio.wait_for(reader.readline(), timeout=60)
            if not line:
                break
            verb = line[:4].upper()
            if verb == b"EHLO":
                await say("250-farm\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 52428800")
            elif verb == b"DATA":
                await say("354 end with <CRLF>.<CRLF>")
                while True:
                    data = await asyncio.wait_for(reader.readline(), timeout=60)
                    if not data or data in (b".\r\n", b".\n"):
                        break
                now = time.time()
                s = farm.stats
                s.smtp += 1
                s.smtp_first = s.smtp_first or now
                s.smtp_last = now
                await say("250 OK queued")
            elif verb == b"QUIT":
                await say("221 bye")
                break
            else:  # HELO, MAIL, RCPT, RSET, NOOP: accept
                await say("250 OK")
    except (TimeoutError, ConnectionError):
        pass
    finally:
        writer.close()


async def serve(args: argparse.Namespace) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(4096)
    port = sock.getsockname()[1]
    farm = Farm(args.seed, f"http://127.0.0.1:{port}")
    farm.reset(args.feeds)
    runner = web.AppRunner(make_app(farm, args.latency_ms / 1000, args.error_rate), access_log=None)
    await runner.setup()
    site = web.SockSite(runner, sock, backlog=4096)
    await site.start()
    smtp = await asyncio.start_server(
        lambda r, w: _smtp_session(farm, r, w), "127.0.0.1", args.smtp_port, backlog=1024
    )
    smtp_port = smtp.sockets[0].getsockname()[1]
    print(json.dumps({"http": port, "smtp": smtp_port, "feeds": args.feeds}), flush=True)
    deadline = time.monotonic() + args.max_seconds
    try:
        while time.monotonic() < deadline:  # bounded lifetime; the bench terminates it earlier
            await asyncio.sleep(1)
    finally:
        smtp.close()
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--smtp-port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-seconds", type=float, default=4 * 3600)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
