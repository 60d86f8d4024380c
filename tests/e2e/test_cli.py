"""The `coopwatch` command as a user runs it: a real process, a SQLite file, local servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.support.feed_server import FeedSite, rss
from tests.support.webhook_sink import WebhookSink

pytestmark = pytest.mark.timeout(240)
COOPWATCH = str(Path(sys.executable).parent / "coopwatch")

IR_CN = {
    "guid": "ir-cn-1",
    "title": "Iran and China sign memorandum of understanding on artificial intelligence",
    "description": (
        "Iran's Minister of Communications and China's ambassador in Tehran signed a memorandum "
        "of understanding on cooperation in artificial intelligence and 5G networks on Monday."
    ),
}
WEATHER = {
    "guid": "weather-1",
    "title": "Heavy rain expected in Tehran on Friday",
    "description": "The national weather service forecasts heavy rain and cooler temperatures.",
}


class Cli:
    def __init__(self, folder: Path, extra_env: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.env = dict(
            os.environ,
            COOPWATCH_DATABASE_URL=f"sqlite:///{folder / 'cw.db'}",
            COOPWATCH_CONFIG=str(folder / "coopwatch.yaml"),
            COOPWATCH_BROKER_DIR=str(folder / "broker"),
            COOPWATCH_ALLOW_PRIVATE_ADDRESSES="127.0.0.1",
            COOPWATCH_ALERT_ON_FIRST_POLL="true",
        )
        self.env.update(extra_env or {})

    def __call__(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [COOPWATCH, *args],
            env=self.env,
            cwd=self.folder,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    def write_config(self, config: dict[str, object]) -> None:
        text = yaml.safe_dump(config, allow_unicode=True)
        (self.folder / "coopwatch.yaml").write_text(text, "utf-8")


def test_config_check_names_the_file_line_and_field(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    (tmp_path / "coopwatch.yaml").write_text(
        "watchlists:\n  - name: x\n    match:\n      partners: [IRN]\n    notify: ['json://h/x']\n"
    )
    done = cli("config", "check")
    assert done.returncode == 2
    assert f"{tmp_path / 'coopwatch.yaml'}:4: watchlists.0.match.partners" in done.stderr


def test_feeds_add_import_and_list(tmp_path: Path, fixtures_dir: Path) -> None:
    cli = Cli(tmp_path)
    assert cli("feeds", "add", "https://www.tehrantimes.com/rss", "--name", "TT").returncode == 0
    again = cli("feeds", "add", "https://www.tehrantimes.com/rss")
    assert "already known" in again.stdout
    assert cli("feeds", "add", "not a url").returncode == 2
    opml = tmp_path / "feeds.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><head><title>t</title></head><body>'
        '<outline text="Tech"><outline type="rss" text="IRNA" xmlUrl="https://en.irna.ir/rss"/>'
        '<outline type="rss" text="TT" xmlUrl="https://www.tehrantimes.com/rss"/></outline>'
        "</body></opml>"
    )
    imported = cli("feeds", "import", str(opml))
    assert imported.returncode == 0, imported.stderr
    assert "2 feeds, 1 new" in imported.stdout
    listed = [json.loads(line) for line in cli("feeds", "list", "--json").stdout.splitlines()]
    assert [(f["url"], f["status"], f["items"]) for f in listed] == [
        ("https://www.tehrantimes.com/rss", "active", 0),
        ("https://en.irna.ir/rss", "active", 0),
    ]


def test_poll_once_then_inspect_articles_and_alerts(
    tmp_path: Path, site: FeedSite, webhook: WebhookSink
) -> None:
    cli = Cli(tmp_path)
    site.put("/news.xml", rss([IR_CN, WEATHER]))
    cli.write_config(
        {
            "feeds": [{"url": site.url("/news.xml"), "name": "News"}],
            "watchlists": [
                {
                    "name": "iran-china",
                    "match": {"partners": ["IR", "CN"]},
                    "notify": [f"json://{webhook.hostport}/ic"],
                }
            ],
        }
    )
    done = cli("poll", "--once")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "feeds polled: 1, failed: 0, new articles: 2, deliveries: sent 1" in done.stdout
    assert [d.path for d in webhook.deliveries] == ["/ic"]

    coop = cli("articles", "list", "--cooperation", "--partner", "ir", "--since", "3650d", "--json")
    records = [json.loads(line) for line in coop.stdout.splitlines()]
    assert [r["title"] for r in records] == [IR_CN["title"]]
    assert records[0]["classification"]["partners"] == ["CN", "IR"]
    everything = cli("articles", "list", "--json").stdout.splitlines()
    assert len(everything) == 2

    alerts = [json.loads(line) for line in cli("alerts", "list", "--json").stdout.splitlines()]
    assert [(a["watchlist"], a["status"], a["attempts"]) for a in alerts] == [
        ("iran-china", "sent", 1)
    ]

    # A second poll right away: nothing is due, nothing is sent again.
    assert cli("poll", "--once").returncode == 0
    assert len(webhook.deliveries) == 1


def test_poll_once_exits_nonzero_and_says_what_failed(tmp_path: Path, site: FeedSite) -> None:
    cli = Cli(tmp_path)
    site.put("/page.html", b"<html><body>hello</body></html>", "text/html")
    cli.write_config({"feeds": [{"url": site.url("/page.html")}], "watchlists": []})
    done = cli("poll", "--once")
    assert done.returncode == 1
    assert "failed: 1" in done.stdout
    assert site.url("/page.html") in done.stderr
    listed = json.loads(cli("feeds", "list", "--json").stdout.splitlines()[0])
    assert listed["status"] == "error" and listed["errors"] == 1 and listed["last_error"]


def test_classify_reads_json_lines_without_database_or_broker(tmp_path: Path) -> None:
    cli = Cli(tmp_path, {"COOPWATCH_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    lines = "\n".join(
        json.dumps({"id": i, "title": item["title"], "text": item["description"]})
        for i, item in enumerate([IR_CN, WEATHER])
    )
    done = cli("classify", "-", stdin=lines)
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(o["id"], o["is_cooperation"]) for o in out] == [(0, True), (1, False)]
    assert out[0]["partners"] == ["CN", "IR"] and out[0]["evidence"]
    bad = cli("classify", "-", stdin="{not json}\n")
    assert bad.returncode == 2 and "-:1: not JSON" in bad.stderr


def test_demo_delivers_alerts_offline(tmp_path: Path) -> None:
    done = subprocess.run(
        [COOPWATCH, "demo", "--keep", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        timeout=200,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    delivered = int(done.stdout.split("alerts delivered: ")[1].split(",")[0])
    assert delivered >= 3
    assert "Iran ↔ China" in done.stdout or "China ↔ Iran" in done.stdout


def test_run_embedded_worker_and_scheduler_deliver_without_servers(
    tmp_path: Path, site: FeedSite, webhook: WebhookSink
) -> None:
    """`coopwatch run`: SQLite, the file-system broker, worker and beat in one command."""
    cli = Cli(
        tmp_path, {"COOPWATCH_SCHEDULE_TICK_SECONDS": "1", "COOPWATCH_SWEEP_TICK_SECONDS": "2"}
    )
    site.put("/news.xml", rss([IR_CN, WEATHER]))
    cli.write_config(
        {
            "feeds": [{"url": site.url("/news.xml")}],
            "watchlists": [
                {
                    "name": "ic",
                    "match": {"partners": ["IR", "CN"]},
                    "notify": [f"json://{webhook.hostport}/ic"],
                }
            ],
        }
    )
    proc = subprocess.Popen(
        [COOPWATCH, "run", "--concurrency=1", "--loglevel=WARNING"],
        env=cli.env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not webhook.deliveries and proc.poll() is None:
            time.sleep(0.5)
        time.sleep(4)  # a few more ticks: nothing may be sent twice
    finally:
        proc.terminate()
        output = proc.communicate(timeout=60)[0].decode("utf-8", "replace")
    assert [d.path for d in webhook.deliveries] == ["/ic"], output
    alerts = [json.loads(line) for line in cli("alerts", "list", "--json").stdout.splitlines()]
    assert [a["status"] for a in alerts] == ["sent"]
