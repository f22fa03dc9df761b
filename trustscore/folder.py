"""The model folder's layout (DESIGN 6): its file names, and reading its JSON.

Shared by the pipeline that writes the folder and the card that reads it;
kept free of numpy and xgboost so the card starts fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trustscore.errors import ModelError

SCORES_FILE = "scores.parquet"
POINTS_FILE = "points.parquet"
FEATURES_FILE = "features.parquet"
EVENTS_FILE = "events.parquet"
METRICS_FILE = "metrics.json"
CONFIG_FILE = "config.json"
MANIFEST_FILE = "manifest.json"
META_FILE = "model_meta.json"  # written by TrustModel.save beside model.json


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from the model folder; ModelError (exit 5) says what is wrong."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(
            f"the model folder has no {path.name}",
            where=str(path.parent),
            hint="build it again with trustscore build",
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path.name} is corrupt: {exc}", where=str(path.parent)) from None
    if not isinstance(data, dict):
        raise ModelError(f"{path.name} is corrupt: not a JSON object", where=str(path.parent))
    return data
