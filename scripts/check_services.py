"""Fail loudly when the services the integration tests need are not reachable."""

import socket
import sys

SERVICES = {"PostgreSQL": ("127.0.0.1", 5432), "Redis": ("127.0.0.1", 6379)}

missing = []
for name, (host, port) in SERVICES.items():
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as exc:
        missing.append(f"{name} at {host}:{port}: {exc}")
if missing:
    sys.exit(
        "services unreachable (start them, see README 'Development'):\n  " + "\n  ".join(missing)
    )
print("services reachable: " + ", ".join(SERVICES))
