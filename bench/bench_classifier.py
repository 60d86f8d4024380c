"""Benchmark the cooperation classifier: throughput, peak RSS and cold start.

    .venv/bin/python bench/bench_classifier.py [--n 3000] [--size 2048]

Articles of about `size` characters are assembled from short sentences written for this
benchmark (ar, fa, fr, en, ru, zh, tr) plus the seed articles in shared/seeds when present.
Runs on one core in this process; cold start (import to first result) is measured in a fresh
subprocess. Not a test: it prints numbers.
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT.parent / "shared/seeds"

SENTENCES = {
    "ar": [
        "وقّع وزير الاتصالات الإيراني ونظيره الروسي مذكرة تفاهم في مجال الذكاء الاصطناعي.",
        "بحث الجانبان سبل توسيع التعاون في الأمن السيبراني والحكومة الإلكترونية.",
        "أعلنت وزارة الصناعة عن افتتاح معرض محلي للشركات القائمة على المعرفة في طهران.",
        "وأكد المسؤول أن البلدين يعملان على إنشاء مراكز بيانات مشتركة خلال العام المقبل.",
    ],
    "fa": [
        "وزیر ارتباطات در دیدار با سفیر چین بر توسعه همکاری در فیبر نوری تأکید کرد.",
        "تفاهم‌نامه همکاری میان پارک فناوری پردیس و دانشگاه صنعتی شریف امضا شد.",
        "هیئت ایرانی برای شرکت در نمایشگاه فناوری اطلاعات راهی مسکو شد.",
        "معاون علمی رئیس‌جمهور از پیشرفت شرکت‌های دانش‌بنیان در حوزه نانو خبر داد.",
    ],
    "fr": [
        "Le Maroc et la France ont signé un accord de coopération dans le numérique.",
        "Le ministre tunisien a reçu une délégation chinoise pour discuter de la 5G.",
        "Une conférence sur l'intelligence artificielle s'est tenue à Dakar mardi.",
        "Les sanctions américaines visent plusieurs entreprises accusées de piratage.",
    ],
    "en": [
        "India and the UAE signed a memorandum of understanding on artificial intelligence.",
        "The ministers discussed cooperation on satellites and remote sensing.",
        "The football federations of the two countries held a friendly meeting.",
        "Officials said the new data centre would open in Riyadh next year.",
    ],
    "ru": [
        "Россия и Египет подписали соглашение о строительстве атомной электростанции.",
        "Стороны обсудили сотрудничество в области искусственного интеллекта.",
        "Хакеры атаковали сайты нескольких министерств, сообщили власти.",
    ],
    "zh": [
        "中伊双方在北京签署了人工智能合作备忘录。",
        "两国部长讨论了在卫星和遥感领域的合作。",
        "伊朗发布了国产大数据平台。",
    ],
    "tr": [
        "Türkiye ile İran arasında siber güvenlik alanında işbirliği anlaşması imzalandı.",
        "Bakanlar yapay zeka ve veri merkezleri konusunda görüştü.",
        "İki ülkenin futbol federasyonları dostluk maçı düzenledi.",
    ],
}


def make_articles(n: int, size: int, seed: int = 7) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    seeds = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))] if SEEDS.exists() else []
    articles: list[tuple[str, str]] = []
    langs = sorted(SENTENCES)
    for i in range(n):
        if seeds and i % 8 == 0:
            body = rng.choice(seeds)[:size]
            articles.append((body.split("\n", 1)[0][:120], body))
            continue
        pool = SENTENCES[langs[i % len(langs)]]
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < size:
            parts.append(rng.choice(pool))
        articles.append((parts[0], " ".join(parts[1:])))
    return articles


def cold_start() -> float:
    code = (
        "import time; t=time.perf_counter();"
        "from worker.core.classifier import classify;"
        "classify('Iran and China sign AI MoU', 'They signed it in Beijing.');"
        "print(time.perf_counter()-t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--size", type=int, default=2048)
    args = parser.parse_args()
    print(f"cold start (import -> first result, fresh process): {cold_start():.3f} s")
    sys.path.insert(0, str(ROOT))
    from worker.core.classifier import classify

    articles = make_articles(args.n, args.size)
    classify(*articles[0])
    start = time.perf_counter()
    positives = 0
    for title, text in articles:
        positives += classify(title, text).is_cooperation
    elapsed = time.perf_counter() - start
    mean_chars = sum(len(t) + len(x) for t, x in articles) / len(articles)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"articles: {len(articles)}, mean size {mean_chars:.0f} chars, positives {positives}")
    print(f"throughput: {len(articles) / elapsed:.0f} articles/s on one core")
    print(f"peak RSS: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
