"""Build the process's Runtime from settings: the one place where the edge is wired up."""

from __future__ import annotations

from worker import store
from worker.adapters import console_plugin  # noqa: F401  (registers console:// with Apprise)
from worker.adapters.address_guard import check_url
from worker.adapters.notify import AppriseNotifier, validate_target
from worker.config import LoadedConfig, load_config
from worker.core.render import TemplateSet, validate_templates
from worker.pipeline import Runtime
from worker.settings import Settings, load_settings

Problems = list[tuple[tuple[str | int, ...], str]]


def check_targets(config: LoadedConfig) -> Problems:
    """Every notification URL must be one Apprise can use; refuse it at load time. Named
    targets are checked once, where they are defined; inline URLs where they are used."""
    named = set(config.model.targets.values())
    places: list[tuple[tuple[str | int, ...], str]] = [
        (("targets", name), url) for name, url in config.model.targets.items()
    ]
    for i, w in enumerate(config.watchlists):
        places += [(("watchlists", i, "notify", j), u) for j, u in enumerate(config.targets_of(w))]
    if config.model.feed_health is not None:
        urls = config.targets_of(config.model.feed_health)
        places += [(("feed_health", "notify", j), u) for j, u in enumerate(urls)]
    problems: Problems = []
    for where, url in places:
        if where[0] != "targets" and url in named:
            continue
        if error := validate_target(url):
            problems.append((where, error))
    return problems


def check_templates(config: LoadedConfig) -> Problems:
    problems: Problems = []
    for i, w in enumerate(config.watchlists):
        if w.templates is None:
            continue
        t = w.templates
        for error in validate_templates(TemplateSet(t.title, t.text, t.html, t.markdown)):
            problems.append((("watchlists", i, "templates"), error))
    return problems


def read_config(settings: Settings) -> LoadedConfig:
    return load_config(settings.config, checks=(check_targets, check_templates))


def build_runtime(settings: Settings | None = None) -> Runtime:
    settings = settings or load_settings()
    allow = settings.allow_private
    notifier = AppriseNotifier(
        timeout=settings.delivery_timeout_seconds,
        allow_private=allow,
        url_guard=lambda url: check_url(url, allow, resolve=True),
    )
    return Runtime(
        settings=settings,
        config=read_config(settings),
        sessions=store.make_sessions(store.make_engine(settings.database_url)),
        notifier=notifier,
    )
