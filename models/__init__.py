"""SQLAlchemy 2.0 models of coopwatch: tables only, no business logic, no I/O."""

from models.base import Base, UTCDateTime
from models.tables import (
    CLAIMABLE,
    Alert,
    AlertStatus,
    Article,
    Classification,
    Delivery,
    DeliveryStatus,
    Feed,
    FeedStatus,
    Watchlist,
)

__all__ = [
    "CLAIMABLE",
    "Alert",
    "AlertStatus",
    "Article",
    "Base",
    "Classification",
    "Delivery",
    "DeliveryStatus",
    "Feed",
    "FeedStatus",
    "UTCDateTime",
    "Watchlist",
]
