"""Log records labelled with the service's identity: SERVICE_NAME and ENVIRONMENT.

Several processes of the platform (the CLI, the receiver's gunicorn workers, Dagster runs) may
log into one place; each record carries `service` and `environment` attributes, and the format
installed here prints them, so a line says which deployment wrote it. The labels are added by a
log-record factory, so they reach every handler (pytest's, a JSON formatter, syslog), not only
the one configured here.
"""

from __future__ import annotations

import logging
from typing import Any

from core.settings import Settings

LOG_FORMAT = "%(asctime)s %(levelname)s [%(service)s/%(environment)s] %(name)s: %(message)s"

_labels: dict[str, str] = {"service": "", "environment": ""}
_installed = False


def install_log_labels(settings: Settings) -> None:
    """Label every log record from now on with the settings' service name and environment.
    Idempotent: the latest settings win, the factory is wrapped once."""
    global _installed
    _labels["service"] = settings.SERVICE_NAME
    _labels["environment"] = settings.ENVIRONMENT
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def labelled(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.service = _labels["service"]
        record.environment = _labels["environment"]
        return record

    logging.setLogRecordFactory(labelled)
    _installed = True


def configure_logging(settings: Settings, level: int = logging.WARNING) -> None:
    """Labels, and a stderr handler printing them when nothing else configured logging yet
    (a host that already did, e.g. a test runner, keeps its handlers)."""
    install_log_labels(settings)
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
        root.setLevel(level)


def service_labels(settings: Settings) -> dict[str, str]:
    """The labels metrics carry (`platform_service_info{service, environment} 1`)."""
    return {"service": settings.SERVICE_NAME, "environment": settings.ENVIRONMENT}
