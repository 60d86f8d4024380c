"""Classifier behaviour on short items written for these tests (not taken from the eval sets)."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from worker.core.classifier import CLASSIFIER_VERSION, classify
from worker.core.classifier.lexicon import expand_inner, get_lexicon
from worker.core.classifier.scan import _SENTENCE_END, split_sentences
from worker.core.classifier.scan import scan as scan_doc
from worker.core.evaluation import evaluate

DEV_SET = Path(__file__).parents[2].parent / "shared/eval/dev.jsonl"


@dataclass(frozen=True)
class Case:
    name: str
    title: str
    text: str
    coop: bool
    partners: tuple[str, ...] = ()
    sectors: tuple[str, ...] = ()
    event: str | None = None


POSITIVES = [
    Case(
        "ar-agreement-clitics",
        "إيران والصين توقعان مذكرة تفاهم في مجال الذكاء الاصطناعي",
        "وقّع وزير الاتصالات الإيراني ونظيره الصيني في بكين مذكرة تفاهم للتعاون في الذكاء "
        "الاصطناعي ومراكز البيانات. وأكد الجانبان أهمية التعاون بين طهران وبكين.",
        True,
        ("CN", "IR"),
        ("ai", "data_centers"),
        "agreement",
    ),
    Case(
        "ar-meeting-ambassador",
        "وزير الاتصالات العراقي يبحث مع السفير الإيراني التعاون في الأمن السيبراني",
        "بحث وزير الاتصالات العراقي مع السفير الإيراني في بغداد سبل توسيع التعاون الثنائي "
        "في الأمن السيبراني والحكومة الإلكترونية.",
        True,
        ("IQ", "IR"),
        ("cybersecurity", "e_government"),
        "meeting",
    ),
    Case(
        "fa-agreement-arabic-letters",
        "امضاي تفاهم‌نامه همكاري فضايي ايران و روسيه",
        "سازمان فضايي ايران و روس‌كاسموس روسيه تفاهم‌نامه همكاري در زمينه ساخت ماهواره امضا كردند.",
        True,
        ("IR", "RU"),
        ("space",),
        "agreement",
    ),
    Case(
        "fa-visit",
        "سفر وزیر ارتباطات به ارمنستان برای توسعه همکاری‌های فناوری",
        "وزیر ارتباطات و فناوری اطلاعات ایران در سفر به ایروان با همتای ارمنستانی خود درباره "
        "همکاری در هوش مصنوعی و فیبر نوری گفت‌وگو کرد.",
        True,
        ("AM", "IR"),
        ("ai", "telecom"),
        "visit",
    ),
    Case(
        "fr-agreement-adjectives",
        "Le Sénégal et la Chine signent un accord sur la 5G",
        "Le ministre sénégalais du Numérique et l'ambassadeur chinois ont signé mardi à Dakar "
        "un accord de coopération pour le déploiement de la 5G et de la fibre optique.",
        True,
        ("CN", "SN"),
        ("telecom",),
        "agreement",
    ),
    Case(
        "fr-joint-body",
        "Session de la commission mixte tuniso-algérienne sur la recherche scientifique",
        "La commission mixte tuniso-algérienne de coopération scientifique a tenu sa session "
        "à Alger ; les deux pays ont retenu douze projets de recherche conjoints entre "
        "universités tunisiennes et algériennes.",
        True,
        ("DZ", "TN"),
        ("research_education",),
        "joint_body",
    ),
    Case(
        "en-visit",
        "Vietnamese minister visits India to boost space cooperation",
        "Vietnam's science minister arrived in New Delhi on Monday for a three-day visit "
        "focused on satellite cooperation with India's space agency ISRO.",
        True,
        ("IN", "VN"),
        ("space",),
        "visit",
    ),
    Case(
        "en-intent",
        "Kazakhstan ready to cooperate with Iran on nanotechnology",
        "Kazakhstan's deputy science minister said his country is ready to expand cooperation "
        "with Iran in nanotechnology and invited Iranian knowledge-based firms to Astana.",
        True,
        ("IR", "KZ"),
        ("innovation", "nanotech"),
        "intent",
    ),
    Case(
        "ru-agreement",
        "Россия и Египет подписали соглашение о сотрудничестве в области атомной энергетики",
        "Россия и Египет подписали в Каире соглашение о строительстве атомной электростанции "
        "и подготовке египетских специалистов в российских университетах.",
        True,
        ("EG", "RU"),
        ("energy", "research_education"),
        "agreement",
    ),
    Case(
        "zh-fang-forms",
        "中伊签署人工智能合作备忘录",
        "中方与伊方在北京签署了人工智能和大数据领域合作备忘录。双方同意加强科技合作。",
        True,
        ("CN", "IR"),
        ("ai", "data_centers"),
        "agreement",
    ),
    Case(
        "tr-agreement-apostrophe",
        "Türkiye ile Azerbaycan arasında siber güvenlik anlaşması imzalandı",
        "Türkiye'nin ulaştırma bakanı ile Azerbaycan'ın dijital kalkınma bakanı Bakü'de siber "
        "güvenlik alanında işbirliği anlaşması imzaladı.",
        True,
        ("AZ", "TR"),
        ("cybersecurity",),
        "agreement",
    ),
]

POSITIVES += [
    Case(
        "ru-space-agencies",
        "Россия и Китай договорились о совместной лунной станции",
        "Роскосмос и Китайское национальное космическое управление подписали меморандум о "
        "создании международной научной лунной станции.",
        True,
        ("CN", "RU"),
        ("space",),
        "agreement",
    ),
    Case(
        "zh-space-agreement",
        "中国与埃及签署航天合作协议",
        "中国国家航天局与埃及航天局在开罗签署了卫星合作协议，双方将共同研发遥感卫星。",
        True,
        ("CN", "EG"),
        ("space",),
        "agreement",
    ),
    Case(
        "fa-nuclear-energy-visit",
        "ایران و روسیه در زمینه انرژی هسته‌ای همکاری می‌کنند",
        "رئیس سازمان انرژی اتمی ایران در دیدار با مدیرکل روس‌اتم در مسکو درباره ساخت "
        "نیروگاه‌های جدید هسته‌ای گفت‌وگو کرد.",
        True,
        ("IR", "RU"),
        ("energy",),
        "visit",
    ),
    Case(
        "en-generic-technology-defaults-to-research",
        "Iran, Venezuela discuss technology cooperation",
        "Iranian and Venezuelan officials met in Caracas and discussed expanding technology "
        "cooperation between the two countries.",
        True,
        ("IR", "VE"),
        ("research_education",),
        "visit",
    ),
]

KICKER_LOOKALIKES = [
    Case(
        "fa-baraye-is-not-arabic-opinion-label",
        "برای توسعه همکاری: ایران و چین تفاهم‌نامه امضا کردند",
        "وزیران ارتباطات ایران و چین در پکن تفاهم‌نامه همکاری در هوش مصنوعی امضا کردند.",
        True,
        ("CN", "IR"),
        ("ai",),
        "agreement",
    ),
    Case(
        "fa-memorandum-title-is-no-kicker",
        "یادداشت تفاهم همکاری در هوش مصنوعی میان ایران و صربستان امضا شد",
        "وزیران ارتباطات ایران و صربستان در بلگراد یادداشت تفاهم همکاری در حوزه هوش مصنوعی "
        "امضا کردند.",
        True,
        ("IR", "RS"),
        ("ai",),
        "agreement",
    ),
    Case(
        "en-city-country-apposition-is-venue",
        "Iran, Oman ICT ministers meet in Barcelona, Spain",
        "The ICT ministers of Iran and Oman met on the sidelines of a congress in Barcelona, "
        "Spain, and discussed cooperation on 5G networks.",
        True,
        ("IR", "OM"),
        ("telecom",),
        "meeting",
    ),
]
SECTOR_EDGES = [
    Case(
        "fa-vice-presidency-name-is-no-innovation",
        "دیدار معاون علمی رئیس‌جمهور با سفیر کوبا؛ تأکید بر همکاری در زیست‌فناوری",
        "رئیس معاونت علمی، فناوری و اقتصاد دانش‌بنیان ریاست جمهوری با سفیر کوبا در تهران دیدار "
        "کرد و دو طرف بر همکاری ایران و کوبا در زیست‌فناوری و تولید واکسن تأکید کردند.",
        True,
        ("CU", "IR"),
        ("health_biotech",),
        "meeting",
    ),
    Case(
        "fr-company-name-is-no-sector",
        "Algérie Télécom et Huawei signent une convention sur un centre de données",
        "Algérie Télécom et le chinois Huawei ont signé à Alger une convention pour la "
        "construction d'un centre de données national.",
        True,
        ("CN", "DZ"),
        ("data_centers",),
        "agreement",
    ),
    Case(
        "en-metro-trains-are-not-training",
        "Chinese-made metro trains delivered to Tehran",
        "China delivered 70 metro trains to Tehran under an Iran-China cooperation contract; "
        "the train cars feature automatic train operation.",
        True,
        ("CN", "IR"),
        ("transport",),
        "event",
    ),
    Case(
        "fa-online-shopping-is-e-commerce-not-telecom",
        "همکاری پست ایران و ارمنستان در مرسولات تجارت الکترونیک",
        "مدیرعامل شرکت ملی پست ایران با همتای ارمنی خود دیدار کرد و دو طرف درباره افزایش "
        "مرسولات خرید اینترنتی میان دو کشور گفت‌وگو کردند.",
        True,
        ("AM", "IR"),
        ("digital_economy", "post"),
        "meeting",
    ),
    Case(
        "en-smart-agriculture-is-agritech",
        "Iran, Uzbekistan sign MoU on smart agriculture",
        "Iran and Uzbekistan signed a memorandum on smart agriculture and drip irrigation "
        "technology in Tashkent on Monday.",
        True,
        ("IR", "UZ"),
        ("agritech",),
        "agreement",
    ),
    Case(
        "fr-digital-in-a-ministers-title-is-no-sector",
        "Le Maroc et l'Iran signent un accord sur l'intelligence artificielle",
        "Le ministre iranien des Communications et la ministre marocaine de la Transition "
        "numérique ont signé un accord de coopération sur l'intelligence artificielle.",
        True,
        ("IR", "MA"),
        ("ai",),
        "agreement",
    ),
]
BESIDE_A_BODY = [
    Case(
        "en-dateline-place-country-agency",
        "Iranian, Russian officials discuss cyber security in Wuzhen",
        "WUZHEN, China (Mehr) – Iran's deputy ICT minister met a Russian deputy minister of "
        "digital development on the sidelines of a conference and discussed cooperation in "
        "cyber security.",
        True,
        ("IR", "RU"),
        ("cybersecurity",),
        "meeting",
    ),
    Case(
        "ar-capital-adjective-then-city-is-the-venue",
        "هاشمي يلتقي المسؤول الطاجيكي على هامش مؤتمر في الدوحة",
        "التقى وزير الاتصالات الإيراني على هامش مؤتمر المندوبين المفوضين المنعقد في العاصمة "
        "القطرية الدوحة، نظيره الطاجيكي وبحثا التعاون في الألياف الضوئية.",
        True,
        ("IR", "TJ"),
        ("telecom",),
        "meeting",
    ),
    Case(
        "en-counterpart-named-beside-a-summit",
        "Iranian, Kazakh ICT ministers meet on sidelines of SCO meeting in Astana",
        "Iran's ICT minister met his Kazakh counterpart on the sidelines of the SCO digital "
        "ministers' meeting in Astana and discussed cooperation on data centres.",
        True,
        ("IR", "KZ"),
        ("data_centers",),
        "meeting",
    ),
]
IMPLICIT_HOME = [
    Case(
        "fa-vice-president-meets-ambassador-our-country",
        "دیدار معاون علمی رئیس‌جمهور با سفیر عراق",
        "معاون علمی رئیس‌جمهور در دیدار با سفیر عراق در تهران بر توسعه همکاری شرکت‌های "
        "دانش‌بنیان دو کشور تأکید کرد و گفت شرکت‌های نوپای کشورمان آماده حضور در بازار عراق هستند.",
        True,
        ("IQ", "IR"),
        ("innovation",),
        "meeting",
    ),
    Case(
        "fa-persian-press-leaves-iran-unnamed",
        "سفر وزیر ارتباطات به پکن",
        "وزیر ارتباطات و فناوری اطلاعات برای امضای تفاهم‌نامه همکاری در حوزه هوش مصنوعی به پکن "
        "سفر کرد و با همتای چینی خود دیدار کرد.",
        True,
        ("CN", "IR"),
        ("ai",),
        "visit",
    ),
]
INSTITUTIONS_AND_SUBJECTS = [
    Case(
        "ar-university-names-its-country",
        "جامعة أمير كبير وجامعة باومان توقعان اتفاقية لإنشاء مختبر مشترك للذكاء الاصطناعي",
        "وقعت جامعة أمير كبير في طهران وجامعة باومان في موسكو اتفاقية لإنشاء مختبر مشترك "
        "للذكاء الاصطناعي.",
        True,
        ("IR", "RU"),
        ("ai", "research_education"),
        "agreement",
    ),
    Case(
        "en-countering-attacks-is-the-cooperation",
        "Iran, Russia sign cybersecurity MoU",
        "Iran and Russia signed a memorandum to counter cyber attacks on critical "
        "infrastructure; a joint working group will exchange data on threats and attacks.",
        True,
        ("IR", "RU"),
        ("cybersecurity",),
        "agreement",
    ),
]
POSITIVES += (
    KICKER_LOOKALIKES + SECTOR_EDGES + BESIDE_A_BODY + IMPLICIT_HOME + INSTITUTIONS_AND_SUBJECTS
)


@pytest.mark.parametrize("case", SECTOR_EDGES, ids=lambda c: c.name)
def test_sector_edges_exact(case: Case) -> None:
    """No extra sector either: 'online' shops are not telecom, a minister's portfolio is not a
    cooperation area."""
    assert classify(case.title, case.text).sectors == case.sectors


NEGATIVES = [
    Case(
        "en-trade-energy-summit",
        "Xi meets Putin in Moscow to discuss trade and energy",
        "Chinese President Xi Jinping met Russian President Vladimir Putin in Moscow on Tuesday "
        "to discuss trade, energy supplies and the war in Ukraine.",
        False,
    ),
    Case(
        "fr-football-accord",
        "L'Algérie et la Turquie signent un accord dans le football",
        "Les fédérations algérienne et turque de football ont signé un accord de coopération "
        "portant sur la formation des entraîneurs.",
        False,
    ),
    Case(
        "ar-foreign-ministers",
        "وزير الخارجية الإيراني يلتقي نظيره العماني في مسقط",
        "التقى وزير الخارجية الإيراني نظيره العماني في مسقط وبحثا العلاقات الثنائية والقضايا "
        "الإقليمية.",
        False,
    ),
    Case(
        "ar-domestic-satellite",
        "إيران تطلق قمراً صناعياً محلي الصنع",
        "أعلنت وكالة الفضاء الإيرانية إطلاق قمر صناعي صنع في جامعة طهران.",
        False,
    ),
    Case(
        "ar-oil-deal",
        "الصين توقع اتفاقاً نفطياً مع إيران",
        "وقعت شركة نفط صينية اتفاقاً للتنقيب عن النفط والغاز في جنوب إيران.",
        False,
    ),
    Case(
        "ar-false-friends-mali-engineering",
        "كلية الهندسة تحصل على دعم مالي",
        "حصلت كلية الهندسة في الجامعة على دعم مالي لتطوير المختبرات في المحيط الهندي.",
        False,
    ),
    Case(
        "fa-domestic-mou",
        "امضای تفاهم‌نامه پارک فناوری و دانشگاه تبریز",
        "پارک علم و فناوری آذربایجان شرقی و دانشگاه تبریز تفاهم‌نامه همکاری امضا کردند.",
        False,
    ),
    Case(
        "fr-reunion-false-friend",
        "La réunion du conseil scientifique de l'université",
        "Lors de la réunion, les chercheurs ont présenté leurs projets d'intelligence "
        "artificielle financés par la région.",
        False,
    ),
    Case(
        "en-sanctions",
        "US imposes new sanctions on Iranian drone makers",
        "The Treasury sanctioned six Iranian firms and two Chinese suppliers accused of "
        "providing drone parts, officials said.",
        False,
    ),
    Case(
        "en-football",
        "Iran and Qatar football federations sign MoU",
        "The football federations of Iran and Qatar signed a memorandum on friendly matches "
        "and coaching exchanges.",
        False,
    ),
    Case(
        "en-opinion",
        "Opinion: why China and Russia will dominate AI",
        "In this opinion piece the author argues that cooperation between China and Russia in "
        "artificial intelligence is reshaping the world order.",
        False,
    ),
    Case(
        "ru-cyberattack",
        "Хакеры атаковали сайты министерства",
        "Иранские власти сообщили о хакерской атаке на сайты министерства связи.",
        False,
    ),
    Case(
        "zh-domestic",
        "伊朗发布国产人工智能平台",
        "伊朗科技副总统宣布推出国产人工智能平台，以减少对外国技术的依赖。",
        False,
    ),
    Case(
        "ar-naval-drill",
        "انطلاق مناورات بحرية مشتركة بين إيران وروسيا",
        "انطلقت مناورات بحرية مشتركة بمشاركة قطع بحرية من الجيش الإيراني والبحرية الروسية "
        "لتعزيز التعاون وتبادل الخبرات في عمليات الإنقاذ البحري.",
        False,
    ),
    Case(
        "fa-opinion-kicker",
        "یادداشت | همکاری فناوری ایران و چین در آینه اعداد",
        "همکاری‌های فناوری ایران و چین در سال‌های اخیر گسترش یافته و تفاهم‌نامه‌های زیادی در "
        "حوزه هوش مصنوعی امضا شده، اما بیشتر آنها روی کاغذ مانده است.",
        False,
    ),
    Case(
        "en-analysis-kicker",
        "Analysis: Iran and Russia's digital pact, two years on",
        "Iran and Russia signed a digital cooperation agreement on data centres two years ago; "
        "few projects have followed since.",
        False,
    ),
    Case(
        "ar-domestic-with-old-deal",
        "سعة الإنترنت الدولية في إيران تتضاعف",
        "أعلنت شركة البنية التحتية للاتصالات في إيران مضاعفة سعة الإنترنت بعد تشغيل خطوط "
        "ألياف ضوئية محلية. وذكر المدير أن الاتفاقية الموقعة مع الجانب العراقي عام 2021 لا تزال "
        "سارية.",
        False,
    ),
    Case(
        "en-multilateral-body-name-and-dateline",
        "ECO digital ministers meet in Baku",
        "BAKU – Ministers of the Economic Cooperation Organization member states met in Baku "
        "on regional broadband. Iran's deputy minister called for an ECO fibre corridor.",
        False,
    ),
    Case(
        "ar-body-meeting-in-the-egyptian-capital",
        "إيران تشارك في اجتماع وزراء الاقتصاد الرقمي لمنظمة الدول الثماني النامية في القاهرة",
        "شارك مساعد وزير الاتصالات الإيراني في اجتماع وزراء الاقتصاد الرقمي لمنظمة الدول الثماني "
        "النامية الذي عقد في العاصمة المصرية القاهرة، ودعا الدول الأعضاء إلى التعاون في التجارة "
        "الإلكترونية.",
        False,
    ),
    Case(
        "fr-upu-congress-in-dubai",
        "La Poste iranienne au Congrès postal universel de Dubaï",
        "Une délégation de la Poste iranienne participe au Congrès de l'Union postale universelle "
        "à Dubaï et appelle les pays membres à coopérer dans le suivi des colis.",
        False,
    ),
    Case(
        "fa-one-foreign-country-alone-is-no-cooperation",
        "روسیه ماهواره جدید مخابراتی پرتاب کرد",
        "روسیه روز گذشته یک ماهواره مخابراتی جدید را از پایگاه بایکونور به فضا پرتاب کرد و "
        "همکاری‌های فضایی خود را گسترش می‌دهد.",
        False,
    ),
    Case(
        "fr-ai-for-good-summit-in-geneva",
        "Genève : l'Iran appelle à une gouvernance équitable de l'IA au sommet « AI for Good »",
        "Le vice-ministre iranien a appelé au sommet AI for Good à Genève à une coopération "
        "internationale équitable en intelligence artificielle.",
        False,
    ),
    Case(
        "en-grain-by-rail-is-trade",
        "Kazakh wheat exports to Iran via rail rise sharply",
        "Exports of Kazakh wheat to Iran via the railway reached 1.2 million tonnes; the two "
        "countries are working to increase the capacity of the grain terminal.",
        False,
    ),
    Case(
        "fr-joint-condemnation-is-no-cooperation",
        "La France, l'Allemagne et le Royaume-Uni condamnent le lancement d'un satellite iranien",
        "Dans une déclaration conjointe, la France, l'Allemagne et le Royaume-Uni condamnent le "
        "lancement d'un satellite par l'Iran et appellent à une coopération avec l'AIEA.",
        False,
    ),
    Case(
        "fr-chambers-of-commerce-trade-protocol",
        "Les chambres de commerce du Sénégal et de l'Iran signent un accord",
        "Les chambres de commerce du Sénégal et de l'Iran ont signé un protocole pour développer "
        "les échanges commerciaux, notamment d'arachide et de produits agricoles.",
        False,
    ),
    Case(
        "en-countries-given-as-comparison",
        "Iran's 5G coverage still trails the region",
        "Iran's 5G coverage lags behind countries such as Turkey and the UAE, the deputy minister "
        "said, adding that cooperation between domestic operators would close the gap. Turkey "
        "and the UAE began their rollouts in 2021.",
        False,
    ),
    Case(
        "tr-military",
        "Türkiye ve Irak askeri tatbikat düzenledi",
        "Türk ve Irak askeri birlikleri terörle mücadele amacıyla ortak tatbikat yaptı.",
        False,
    ),
]


@pytest.mark.parametrize("case", POSITIVES + NEGATIVES, ids=lambda c: c.name)
def test_detection_partners_sectors_event(case: Case) -> None:
    result = classify(case.title, case.text)
    assert result.is_cooperation is case.coop, result.details
    assert result.partners == case.partners
    if case.coop:
        assert set(case.sectors) <= set(result.sectors), result.sectors
        assert result.event_type == case.event
    else:
        assert result.sectors == ()
        assert result.event_type is None
    assert result.version == CLASSIFIER_VERSION


@pytest.mark.parametrize("case", POSITIVES, ids=lambda c: c.name)
def test_evidence_offsets_point_into_the_original_strings(case: Case) -> None:
    result = classify(case.title, case.text)
    assert result.evidence
    for ev in result.evidence:
        source = case.title if ev.field == "title" else case.text
        assert source[ev.start : ev.end] == ev.text
        assert ev.text.strip() == ev.text


@pytest.mark.parametrize(
    ("title", "text", "lang"),
    [
        ("همکاری ایران و روسیه", "دو کشور بر توسعه همکاری‌های علمی تأکید کردند.", "fa"),
        ("همكاري ايران و روسيه", "دو كشور بر توسعه همكاري‌هاي علمي تأكيد كردند.", "fa"),
        ("التعاون بين إيران وروسيا", "أكد البلدان على تطوير التعاون العلمي.", "ar"),
        ("Coopération entre l'Iran et la Russie", "Les deux pays ont signé un accord.", "fr"),
        ("Iran and Russia cooperation", "The two countries signed an agreement.", "en"),
        ("Сотрудничество России и Ирана", "Стороны подписали соглашение.", "ru"),
        ("中伊合作", "双方签署了协议。", "zh"),
        ("İran ile Rusya arasında işbirliği", "İki ülke bir anlaşma imzaladı.", "tr"),
        ("ایران اور روس کے درمیان تعاون", "دونوں ملکوں نے معاہدے پر دستخط کیے۔", "ur"),
    ],
)
def test_language_guess(title: str, text: str, lang: str) -> None:
    assert classify(title, text).lang == lang


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ("وإيران", "IR"),
        ("بالصين", "CN"),
        ("الإيرانية", "IR"),
        ("ایرانی‌ها", "IR"),
        ("الصيني", "CN"),
        ("chinois", "CN"),
        ("китайской", "CN"),
        ("Çinli", "CN"),
        ("中方", "CN"),
        ("بكين", "CN"),
        ("Pékin", "CN"),
        ("Moscou", "RU"),
        ("Tehran", "IR"),
        ("России", "RU"),
        ("Россией", "RU"),
        ("İran'ın", "IR"),
        ("الجمهورية الإسلامية", "IR"),
        ("روس‌کاسموس", "RU"),
        ("Huawei", "CN"),
        ("وفد يزور مصر", "EG"),  # once hidden by the stop phrase 'مصرّ' (shadda stripped)
        ("سفر به کابل", "AF"),
        ("شرکت‌های دانش‌بنیان کشورمان", "IR"),  # Persian 'our country' is Iran
    ],
)
def test_country_forms(form: str, code: str) -> None:
    result = classify(form, "")
    assert code in result.details["salience"]  # type: ignore[operator]


@pytest.mark.parametrize(
    "text",
    [
        "la réunion",
        "المالي",
        "الهندسة",
        "المحيط الهندي",
        "بالأولوية",
        "الترکيز",
        "دعم مالي",
        "us and them",
        "china plates",
        "Indian Ocean",
        "آذربایجان شرقی",
        "۳ هزار کیلومتر کابل فیبر نوری",  # cable, not Kabul
        "كابل بحري",
    ],
)
def test_false_friends_are_not_countries(text: str) -> None:
    assert classify(text, "").details["salience"] == {}


@pytest.mark.parametrize(
    ("title", "text"),
    [
        ("", ""),
        ("<b>Iran &amp; China</b>", "<p>Iran and China signed an <i>agreement</i> on AI.</p>"),
        ("x" * 10, "Iran and Russia cooperate in AI. " * 40_000),
        ("\x00\x01\x02", "\x07\x08 Iran \x1b[0m China\ufeff\u200b"),
        ("Iran Иран 伊朗 إيران", "mixed scripts ... 。！？؟"),
        ("\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"), "\uffff"),
    ],
)
def test_robust_to_bad_input(title: str, text: str) -> None:
    result = classify(title, text)
    for ev in result.evidence:
        source = title if ev.field == "title" else text
        assert source[ev.start : ev.end] == ev.text
    json.dumps(result.to_json())


def test_long_text_is_capped_and_said_so() -> None:
    result = classify("Iran and Russia", "Iran and Russia cooperate in AI. " * 40_000)
    assert "truncated_to_chars" in result.details


def test_import_is_cheap_and_the_lexicon_is_built_lazily() -> None:
    """The classifier imports no service library and builds its lexicon on the first call
    (the cold start itself is measured by bench/bench_classifier.py, not timed here)."""
    code = (
        "import sys, json;"
        "from worker.core.classifier import classify;"
        "from worker.core.classifier.lexicon import get_lexicon;"
        "before = get_lexicon.cache_info().currsize;"
        "result = classify('Iran and China sign AI MoU', 'Iran and China signed an AI MoU.');"
        "heavy = sorted(m for m in ('sqlalchemy', 'celery', 'apprise', 'aiohttp', 'feedparser')"
        " if m in sys.modules);"
        "print(json.dumps([before, get_lexicon.cache_info().currsize, heavy,"
        " result.is_cooperation]))"
    )
    root = Path(__file__).parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True
    )
    before, after, heavy, cooperation = json.loads(out.stdout)
    assert (before, after) == (0, 1)
    assert heavy == []
    assert cooperation is True


@pytest.mark.skipif(not DEV_SET.exists(), reason="shared/eval/dev.jsonl not available")
def test_dev_set_metrics_stay_above_floor() -> None:
    rows = [json.loads(line) for line in DEV_SET.read_text(encoding="utf-8").splitlines() if line]
    predictions = {r["id"]: classify(r["title"], r["text"], r.get("lang")) for r in rows}
    overall = evaluate(rows, predictions).overall
    assert overall["detect_f1"] >= 0.95  # type: ignore[operator]
    assert overall["partners_exact"] >= 0.93  # type: ignore[operator]
    assert overall["sectors_micro_f1"] >= 0.92  # type: ignore[operator]
    assert overall["event_type_acc"] >= 0.84  # type: ignore[operator]


def test_sentence_end_pattern_is_the_plain_alternation() -> None:
    """scan._SENTENCE_END is written for speed; it must find what the plain form finds."""
    plain = re.compile(r"[.!?؟;؛]+(?=\s)|[。！？；۔।]+|\n")
    rng = random.Random(3)
    alphabet = list(".!?؟;؛。！？；۔।\n \t\u3000\xa0ab،,")
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert [m.span() for m in _SENTENCE_END.finditer(text)] == [
            m.span() for m in plain.finditer(text)
        ], text


# Event scoping: future/modal signings, future trips, invitations to meet in a partner city,
# press conferences, expos whose B2B meetings and guests belong to the event, inner-inflected
# multi-word cues. Each item is cooperation; only the event type is checked here.
EVENT_SCOPING = [
    (
        "fa-interview-readiness-is-intent",
        "رئیس سازمان فضایی: آماده همکاری با برزیل در ساخت ماهواره هستیم",
        "رئیس سازمان فضایی ایران در گفت‌وگو با ایرنا اعلام کرد که ایران آمادگی دارد در ساخت "
        "ماهواره‌های کوچک با برزیل همکاری کند. پایگاه پرتاب آلکانترا در برزیل مزیت مهمی دارد.",
        "intent",
    ),
    (
        "fr-cooperation-documents-signed-during-a-trip",
        "L'Iran et la Chine signent quatre documents de coopération à Pékin",
        "Le vice-président iranien pour la science a signé jeudi à Pékin quatre documents de "
        "coopération en intelligence artificielle avec la partie chinoise, lors de sa visite.",
        "agreement",
    ),
    (
        "fa-ministry-is-not-arabic-and-she-visited",
        "نشست مجازی ایران و ونزوئلا درباره هوش مصنوعی",
        "نشست برخط نمایندگان معاونت علمی ایران با مسئولان وزارت علم و فناوری ونزوئلا درباره "
        "همکاری در هوش مصنوعی برگزار شد.",
        "meeting",
    ),
    (
        "en-online-session-in-a-partner-city-is-a-meeting",
        "Iran, Nicaragua officials hold video conference on e-government",
        "Officials of Iran's ICT ministry in Tehran held a video conference with Nicaraguan "
        "officials in Managua on cooperation in e-government services.",
        "meeting",
    ),
    (
        "zh-proposal-to-convene-a-joint-committee-is-no-session",
        "科技部副部长会见伊朗驻华大使",
        "科技部副部长在北京会见伊朗驻华大使，双方就深化中伊人工智能合作交换意见。"
        "大使建议适时召开两国科技合作联委会会议。",
        "meeting",
    ),
    (
        "ar-nothing-signed-during-the-visit",
        "وزير الاتصالات الكيني في طهران لبحث التعاون في الألياف الضوئية",
        "وصل وزير الاتصالات الكيني إلى طهران اليوم والتقى نظيره الإيراني وبحثا التعاون في "
        "الألياف الضوئية. ولم يعلن الجانبان عن توقيع أي وثيقة خلال الزيارة.",
        "visit",
    ),
    (
        "en-sidelines-in-a-third-country-is-a-meeting",
        "Iran, Tajikistan ICT ministers meet on sidelines of conference in Doha",
        "DOHA – Iran's ICT minister met his Tajik counterpart on the sidelines of a conference "
        "in Doha and discussed transit cooperation in fibre optics.",
        "meeting",
    ),
    (
        "fa-earlier-meeting-is-background",
        "تصویب یادداشت تفاهم همکاری در فناوری نانو با صربستان در هیئت وزیران",
        "هیئت وزیران یادداشت تفاهم همکاری ایران و صربستان در فناوری نانو را تصویب کرد. گفتنی است "
        "وزیر علوم سال گذشته در بلگراد با همتای صرب خود دیدار کرده بود.",
        "intent",
    ),
    (
        "fr-minister-delegates-the-signature-is-intent",
        "Le ministre iranien charge son adjoint de signer un mémorandum avec la Russie",
        "Le ministre iranien des Communications a chargé son adjoint de signer à Moscou un "
        "mémorandum de coopération sur les centres de données avec la partie russe.",
        "intent",
    ),
    (
        "ar-cabinet-approves-draft-mou-is-intent",
        "الحكومة الإيرانية توافق على مشروع مذكرة تفاهم مع كينيا في التقنية الحيوية",
        "وافق مجلس الوزراء الإيراني على مشروع مذكرة تفاهم للتعاون في التقنية الحيوية مع كينيا. "
        "وبموجب القرار خُوّل وزير الصحة التوقيع على المذكرة مع الجانب الكيني.",
        "intent",
    ),
    (
        "ar-li-contracts-the-article-joint-committee-abroad",
        "انعقاد الدورة الثانية للجنة المشتركة بين إيران وأوغندا في كمبالا",
        "انعقدت في كمبالا الدورة الثانية للجنة المشتركة للتعاون التقني بين إيران وأوغندا "
        "وبحثت التعاون في صناعة الأدوية.",
        "joint_body",
    ),
    (
        "ar-visit-dated-to-a-year-is-background",
        "بدء الإنتاج في مصنع الأدوية الإيراني الكوبي المشترك في هافانا",
        "بدأ المصنع المشترك للأدوية بين إيران وكوبا إنتاجه اليوم. وأوضح السفير أن المشروع "
        "ثمرة الاتفاق الذي وقع عام 2021 خلال زيارة الرئيس الكوبي إلى طهران.",
        "event",
    ),
    (
        "fr-suggested-visit-is-intent",
        "Le ministre iranien des sciences reçoit l'ambassadeur du Sénégal",
        "Le ministre a reçu l'ambassadeur sénégalais à Téhéran pour discuter de coopération "
        "universitaire. L'ambassadeur a suggéré l'organisation d'une visite de recteurs "
        "iraniens à Dakar l'an prochain.",
        "meeting",
    ),
    (
        "en-programme-of-an-announced-trip-is-intent",
        "Iran's science minister to travel to Minsk to sign research MoU with Belarus",
        "Iran's science minister will travel to Minsk next week to sign a memorandum on joint "
        "research with Belarus. During the two-day trip, he is expected to meet the Belarusian "
        "education minister and visit the Belarusian State University.",
        "intent",
    ),
    (
        "en-would-be-signed",
        "Iran and Iraq finalise e-government MoU",
        "The text of the memorandum on e-government has been finalised and would be signed "
        "when the Iraqi minister comes to Tehran.",
        "intent",
    ),
    (
        "fr-autorise-a-signer",
        "Le gouvernement iranien approuve un accord de santé avec Cuba",
        "Le ministère de la Santé est autorisé à signer l'accord de coopération en biotechnologie "
        "avec la partie cubaine.",
        "intent",
    ),
    (
        "ar-expected-signing",
        "تعاون بريدي بين إيران وأرمينيا",
        "أعلن المتحدث أن من المتوقع توقيع مذكرة تفاهم بين إيران وأرمينيا في مجال الخدمات البريدية.",
        "intent",
    ),
    (
        "ar-future-trip",
        "وزير الاتصالات الأرميني يزور طهران الشهر المقبل",
        "ومن المقرر أن يبحث الوزير في طهران التعاون بين أرمينيا وإيران في مجال الاتصالات.",
        "intent",
    ),
    (
        "ar-invited-to-meet-in-partner-city",
        "إيران وكازاخستان تبحثان التعاون الفضائي",
        "بحث وزير الاتصالات الإيراني مع نظيره الكازاخستاني عبر الاتصال المرئي التعاون في مجال "
        "الأقمار الصناعية. ودعا الوزير الكازاخستاني إلى عقد اجتماع للخبراء في أستانا.",
        "meeting",
    ),
    (
        "fa-press-conference-is-no-meeting",
        "آمادگی ایران برای همکاری علمی با عراق",
        "وزیر علوم ایران در نشست خبری اعلام کرد ایران آماده پذیرش دانشجویان عراقی در "
        "دانشگاه‌ها و همکاری پژوهشی با عراق است.",
        "intent",
    ),
    (
        "fr-next-session-of-commission",
        "L'Iran et le Kazakhstan discutent du cloud",
        "Le ministre iranien s'est entretenu avec son homologue kazakh de la coopération dans les "
        "centres de données, avant la prochaine session de la commission intergouvernementale.",
        "meeting",
    ),
    (
        "fr-economic-joint-commission",
        "Iran-Turquie : la commission réunie à Ankara",
        "La 12e session de la commission économique mixte Iran-Turquie s'est tenue à Ankara sur "
        "la coopération dans les télécommunications.",
        "joint_body",
    ),
    (
        "en-expo-b2b-meetings",
        "Iranian technology expo opens in Minsk",
        "Iranian knowledge-based firms opened an exhibition in Minsk, with B2B meetings held "
        "with Belarusian companies to expand cooperation in medical equipment and "
        "nanotechnology.",
        "event",
    ),
    (
        "fa-expo-in-partner-city",
        "گشایش نمایشگاه فناوری ایران در ایروان",
        "نمایشگاه توانمندی‌های فناورانه ایران با حضور شرکت‌های دانش‌بنیان در ایروان گشایش یافت و "
        "معاون وزیر ارمنستان برای همکاری از غرفه‌ها بازدید کرد.",
        "event",
    ),
    (
        "ru-roadmap-signed",
        "Россия и Иран подписали дорожную карту",
        "Министерства России и Ирана подписали в Тегеране дорожную карту сотрудничества в сфере "
        "информационных технологий.",
        "agreement",
    ),
    (
        "en-dated-pact-is-background",
        "Iran ready to start AI projects with China",
        "Iran is ready to start joint artificial intelligence projects with China. The "
        "cooperation agreement, signed in Beijing in May 2019, covers technology.",
        "intent",
    ),
    (
        "fr-earlier-deal-delivery",
        "Des bus électriques chinois livrés à Téhéran",
        "Un lot de bus électriques chinois est arrivé à Téhéran, dans le cadre de l'accord "
        "conclu l'an dernier. Cette livraison s'inscrit dans la coopération entre la Chine et "
        "l'Iran.",
        "event",
    ),
    (
        "en-ready-to-launch",
        "Iran ready to launch satellite cooperation with Russia",
        "Iran is ready to launch joint satellite projects with Russia, the space agency said.",
        "intent",
    ),
    (
        "zh-grid-connection",
        "中伊合作光伏电站并网发电",
        "中国企业在伊朗建设的光伏电站并网发电，伊朗能源部表示愿与中方扩大可再生能源合作。",
        "event",
    ),
]


@pytest.mark.parametrize("case", EVENT_SCOPING, ids=lambda c: c[0])
def test_event_scoping(case: tuple[str, str, str, str]) -> None:
    _, title, text, event = case
    result = classify(title, text)
    assert result.is_cooperation, result.details
    assert result.event_type == event, result.details


def test_inner_star_expands_to_inflected_forms() -> None:
    forms = expand_inner("дорожн* карт*", {"cyrillic": ("ая", "ую")})
    assert forms == ["дорожная карт*", "дорожную карт*"]
    assert expand_inner("рабоч* групп*", {}) == ["рабоч групп*"]
    assert expand_inner("joint commission", {"latin": ("a",)}) == ["joint commission"]


# Detection gates and partner salience: op-eds with an author speaking, gas swaps, pilgrim
# logistics, criticism of old deals; a body's name is not a city; session roll calls; the
# legs of a tour; demonyms and capitals of less common partners.
GATES_AND_PARTNERS = [
    Case(
        "fa-author-op-ed",
        "همکاری هوش مصنوعی ایران و چین",
        "همکاری با چین در هوش مصنوعی برای ایران مهم است. به نظر نگارنده، ایران باید پیش از "
        "هر چیز زیرساخت داخلی خود را تقویت کند.",
        False,
    ),
    Case(
        "en-gas-swap",
        "Iran and Turkmenistan sign gas swap deal",
        "Iran and Turkmenistan signed a natural gas swap contract raising volumes to eight "
        "million cubic metres per day, with new metering technology.",
        False,
    ),
    Case(
        "ar-pilgrims",
        "إيران والعراق تتفقان على تسهيل نقل الزوار",
        "وقع وزيرا الداخلية في إيران والعراق مذكرة تفاهم لتسهيل نقل الزوار خلال الأربعين "
        "وتنظيم حركة الحجاج عبر الحدود بالحافلات.",
        False,
    ),
    Case(
        "en-mp-criticism",
        "Lawmaker slams Iran-Armenia digital agreements",
        "An Iranian MP criticised the ministry, saying the digital agreements signed with "
        "Armenia since 2019 have brought no results for Iranian companies.",
        False,
    ),
    Case(
        "fa-sco-name-is-not-china",
        "همکاری دیجیتال ایران و روسیه در نشست شانگهای",
        "وزیر ارتباطات ایران در نشست شانگهای با همتای روس درباره همکاری در امنیت سایبری "
        "گفت‌وگو کرد.",
        True,
        ("IR", "RU"),
        ("cybersecurity",),
        "meeting",
    ),
    Case(
        "en-session-roll-call",
        "Regional experts meet in Tehran on cyber security",
        "The regional working group on cyber security held its session in Tehran, with "
        "delegations from China, Russia, Kazakhstan, Belarus and Pakistan attending with the "
        "Iranian hosts. The "
        "meeting reviewed a draft plan of cooperation.",
        True,
        ("BY", "CN", "IR", "KZ", "PK", "RU"),
        ("cybersecurity",),
        "joint_body",
    ),
    Case(
        "fr-tour-legs",
        "Tournée du vice-président iranien au Maghreb",
        "Le vice-président iranien pour la science a effectué une tournée au Maghreb. À Alger, "
        "il a signé avec le ministre algérien un mémorandum sur les start-up. Puis, à Tunis, il a "
        "signé avec son homologue tunisien un accord de coopération sur les technopôles.",
        True,
        ("DZ", "IR", "TN"),
        ("innovation",),
        "agreement",
    ),
    Case(
        "en-offer-without-cooperation-word",
        "Iran offers scholarships to Malian students",
        "Iran has offered Mali 100 university scholarships in engineering and medicine, the "
        "Iranian science ministry said, proposing also to host Malian researchers.",
        True,
        ("IR", "ML"),
        ("research_education",),
        "intent",
    ),
    Case(
        "en-offer-in-a-conflict-story-stays-negative",
        "Iran urges US to lift tech sanctions",
        "Iran urged the United States to lift sanctions on technology exports, accusing "
        "Washington of attacks on its scientists.",
        False,
    ),
    Case(
        "fr-nigerien-demonym",
        "L'Iran propose une coopération universitaire aux Nigériens",
        "Le ministère iranien des Sciences a proposé une coopération scientifique et des "
        "bourses d'études aux étudiants nigériens, a indiqué le ministère à Téhéran.",
        True,
        ("IR", "NE"),
        ("research_education",),
        "intent",
    ),
]


@pytest.mark.parametrize("case", GATES_AND_PARTNERS, ids=lambda c: c.name)
def test_gates_and_partners(case: Case) -> None:
    test_detection_partners_sectors_event(case)


# Sector edges: portfolios chained after a minister's title are not cooperation areas; cyber
# defence is cybersecurity; electric buses are transport; inner-inflected sector terms.
SECTOR_EDGES = [
    (
        "fr-minister-portfolio-chain",
        "L'Iran et la Biélorussie parlent d'e-gouvernement",
        "Le ministre iranien des Communications et des Technologies de l'information a discuté "
        "à Minsk avec son homologue biélorusse de la coopération dans l'administration "
        "électronique.",
        {"e_government"},
        {"telecom"},
    ),
    (
        "ar-minister-portfolio-chain",
        "إيران وعمان تتعاونان في التجارة الإلكترونية",
        "بحث وزير الاتصالات وتقنية المعلومات الإيراني مع وكيل وزارة النقل والاتصالات وتقنية "
        "المعلومات العماني التعاون في التجارة الإلكترونية.",
        {"digital_economy"},
        {"telecom"},
    ),
    (
        "en-minister-chain-keeps-real-areas",
        "Iran and Armenia to expand cooperation",
        "The minister called for cooperation in AI and telecommunications between Iran and "
        "Armenia.",
        {"ai", "telecom"},
        set(),
    ),
    (
        "en-cyber-defence",
        "Iran and Russia sign cyber defence deal",
        "Iran and Russia signed an agreement on cyber defence and the protection of critical "
        "networks.",
        {"cybersecurity"},
        set(),
    ),
    (
        "en-satellite-communications-are-space",
        "Iran and Russia agree on satellite links",
        "Iran and Russia signed a memorandum on satellite communications and remote sensing.",
        {"space"},
        {"telecom"},
    ),
    (
        "ar-communications-satellite-is-space",
        "إيران وروسيا تتعاونان في أقمار الاتصالات",
        "وقعت إيران وروسيا مذكرة تفاهم لتطوير أقمار الاتصالات والاستشعار عن بعد.",
        {"space"},
        {"telecom"},
    ),
    (
        "fr-electric-buses",
        "Des bus électriques chinois livrés à Téhéran",
        "Un lot de bus électriques du constructeur chinois Yutong a été livré à Téhéran dans le "
        "cadre de la coopération entre la Chine et l'Iran.",
        {"transport"},
        set(),
    ),
]


@pytest.mark.parametrize("case", SECTOR_EDGES, ids=lambda c: c[0])
def test_sector_edges(case: tuple[str, str, str, set[str], set[str]]) -> None:
    _, title, text, wanted, unwanted = case
    result = classify(title, text)
    assert result.is_cooperation, result.details
    assert wanted <= set(result.sectors), result.sectors
    assert not unwanted & set(result.sectors), result.sectors


def test_abbreviations_do_not_end_sentences() -> None:
    text = "MINSK, Nov. 3 (BelTA) – Talks were held. M. Hashemi a signé. Dr. Ali left."
    pieces = [text[a:b] for a, b in split_sentences(text)]
    assert pieces == [
        "MINSK, Nov. 3 (BelTA) – Talks were held.",
        "M. Hashemi a signé.",
        "Dr. Ali left.",
    ]


def test_expert_group_session_with_dateline_abbreviation() -> None:
    result = classify(
        "Iran and Russia experts meet on data centres",
        "MOSCOW, Dec. 2 (TASS) – The Iran-Russia expert group on data centres held its first "
        "session in Moscow on Tuesday to discuss cooperation in cloud computing.",
    )
    assert result.is_cooperation, result.details
    assert result.partners == ("IR", "RU")
    assert result.event_type == "joint_body"


def test_in_word_match_does_not_hide_the_word_behind_it() -> None:
    """'IT cooperation' found inside 'trans[it cooperation]' is rejected (it starts mid-word);
    the 'cooperation' it covered must still count."""
    doc = scan_doc(get_lexicon(), "Iran and Tajikistan discussed transit cooperation", "")
    assert "coop" in doc.terms[0].cues


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("L'Iran et la Chine: ce projet et ces accords", "future"),  # Bosnian 'će' folds to 'ce'
        ("L'Iran et la Chine met en place un comité", "meeting"),  # English 'met'
        ("وزارت علوم ایران و چین", "visit"),  # Arabic و+زارت, 'and she visited'
        ("برای توسعه روابط ایران و چین", "kicker"),  # Arabic ب+رأي, 'opinion'
        ("تدريس الرياضيات في إيران والصين", "neg_offtopic"),  # mathematics, not sport
    ],
)
def test_a_word_of_one_language_is_not_a_cue_of_another(text: str, category: str) -> None:
    doc = scan_doc(get_lexicon(), text, "")
    assert doc.terms_scanned
    assert category not in doc.terms[0].cues, doc.terms[0].cues
