"""coopwatch: watch news feeds for technology-cooperation announcements and alert on them."""

__version__ = "0.1.0"
