"""``console://``: an Apprise plugin that prints the alert to standard output.

Used by ``coopwatch demo`` so that the whole pipeline can be watched without any mail server
or chat account. The plugin is registered with Apprise exactly once, when this module is
first imported (``worker.adapters.notify`` imports it); Python imports a module once, so
Apprise's plugin registry is never touched again after that.
"""

from __future__ import annotations

import sys
import warnings

from apprise.decorators import notify

SCHEME = "console"
_RULE = "─" * 60


def print_alert(body: str, title: str = "", *args: object, **kwargs: object) -> bool:
    """Write one alert to stdout: a rule, the title, the body."""
    lines = [_RULE]
    if title:
        lines.append(title)
    lines.append(body)
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
    return True


# Registering makes Apprise load all its plugin modules; on Python 3.11/3.12 its PGP helper
# imports the deprecated ``imghdr``, whose DeprecationWarning is Apprise's to fix, not ours
# (and the test suite turns warnings into errors).
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="'imghdr' is deprecated", category=DeprecationWarning)
    # The decorator, applied as a call: Apprise's decorator is untyped, the function is typed.
    notify(on=SCHEME, name="coopwatch console (stdout)")(print_alert)  # type: ignore[no-untyped-call]
