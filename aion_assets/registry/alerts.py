"""Alerts as webhook bodies: one firing alert in the JSON Alertmanager posts to its receivers."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aion_assets.registry.models import utc

#: Alertmanager's "zero" endsAt of a firing alert.
NO_END = "0001-01-01T00:00:00Z"


def alertmanager_payload(
    alertname: str,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    *,
    starts_at: datetime,
    receiver: str = "aion",
    generator_url: str = "",
) -> dict[str, Any]:
    """One firing alert in the JSON that Alertmanager posts to webhook receivers (version 4).

    Args:
        alertname: the ``alertname`` label.
        labels: further labels (strings), e.g. tenant, domain, model.
        annotations: ``summary``, ``description`` and any other annotation.
        starts_at: when the condition started.
    """
    all_labels = {"alertname": alertname, **{k: str(v) for k, v in labels.items()}}
    fingerprint = hashlib.sha256(json.dumps(all_labels, sort_keys=True).encode()).hexdigest()[:16]
    return {
        "version": "4",
        "groupKey": "{}:" + json.dumps({"alertname": alertname}, separators=(",", ":")),
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": receiver,
        "groupLabels": {"alertname": alertname},
        "commonLabels": all_labels,
        "commonAnnotations": dict(annotations),
        "externalURL": "",
        "alerts": [
            {
                "status": "firing",
                "labels": all_labels,
                "annotations": dict(annotations),
                "startsAt": utc(starts_at).isoformat().replace("+00:00", "Z"),
                "endsAt": NO_END,
                "generatorURL": generator_url,
                "fingerprint": fingerprint,
            }
        ],
    }
