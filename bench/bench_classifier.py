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


# Ordinary news without two countries (most of a real feed): domestic politics, economy, weather.
DOMESTIC = {
    "ar": [
        "أعلنت وزارة الصحة عن افتتاح مستشفى جديد في العاصمة بطاقة مئتي سرير.",
        "ارتفعت أسعار الخضار في الأسواق المحلية بسبب موجة الحر التي تضرب البلاد.",
        "قال رئيس البلدية إن أعمال صيانة الطرق ستنتهي قبل نهاية الشهر الجاري.",
    ],
    "fa": [
        "شهردار تهران از آغاز عملیات ساخت خط جدید مترو در جنوب شهر خبر داد.",
        "قیمت طلا در بازار امروز نسبت به هفته گذشته کاهش یافت.",
        "هواشناسی برای آخر هفته بارش باران در استان‌های شمالی پیش‌بینی کرد.",
    ],
    "fr": [
        "Le conseil municipal a voté le budget de la commune pour l'année prochaine.",
        "Les prix de l'énergie ont légèrement baissé au cours du dernier trimestre.",
        "Une forte tempête est attendue ce week-end sur la côte atlantique.",
    ],
    "en": [
        "The city council approved a new budget for road repairs on Tuesday.",
        "Local schools will reopen next week after the winter holidays.",
        "The central bank kept interest rates unchanged at its monthly meeting.",
    ],
    "ru": [
        "Мэрия объявила о ремонте нескольких улиц в центре города.",
        "Цены на бензин выросли на два процента за последний месяц.",
    ],
    "zh": [
        "市政府宣布将在明年扩建城市公园。",
        "本周全国大部分地区气温偏高。",
    ],
    "tr": [
        "Belediye, şehir merkezinde yeni bir park yapılacağını açıkladı.",
        "Merkez bankası faiz oranlarını sabit tuttu.",
    ],
}


def make_articles(
    n: int, size: int, seed: int = 7, domestic_share: float = 0.0
) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    paths = sorted(SEEDS.glob("*.txt")) if SEEDS.exists() else []
    seeds = [p.read_text(encoding="utf-8") for p in paths]
    articles: list[tuple[str, str]] = []
    langs = sorted(SENTENCES)
    for i in range(n):
        if seeds and i % 8 == 0:
            body = rng.choice(seeds)[:size]
            articles.append((body.split("\n", 1)[0][:120], body))
            continue
        lang = langs[i % len(langs)]
        pool = DOMESTIC[lang] if rng.random() < domestic_share else SENTENCES[lang]
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
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--size", type=int, default=2048)
    args = parser.parse_args()
    print(f"cold start (import -> first result, fresh process): {cold_start():.3f} s")
    sys.path.insert(0, str(ROOT))
    from worker.core.classifier import classify  # noqa: PLC0415 - imported after the cold-start probe

    for label, share in (
        ("feed-like mix, half domestic news", 0.5),
        ("dense mix, every article full of cues", 0.0),
    ):
        articles = make_articles(args.n, args.size, domestic_share=share)
        classify(*articles[0])
        start = time.perf_counter()
        cpu_start = time.process_time()
        positives = 0
        for title, text in articles:
            positives += classify(title, text).is_cooperation
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
        mean_chars = sum(len(t) + len(x) for t, x in articles) / len(articles)
        print(
            f"{label}: {len(articles)} articles, mean {mean_chars:.0f} chars, {positives} positive"
        )
        print(
            f"  throughput: {len(articles) / elapsed:.0f} articles/s wall, "
            f"{len(articles) / cpu:.0f} articles/s CPU time, one core"
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
