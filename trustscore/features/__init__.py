"""Per-person features in five dimensions, honest about time, and counterfeit events.

The public API: ``compute_features`` turns the typed tables into one row per
consumer as known before an as-of date; ``registry`` lists every built-in
feature's declaration; ``render_sentence`` fills a feature's reason text.
"""

from trustscore.features.as_of_view import NoAsOfError, default_as_of
from trustscore.features.block import FeatureConfig
from trustscore.features.compute import FeatureResult, compute_features
from trustscore.features.events import EVENT_TYPES, EVENTS_SCHEMA
from trustscore.features.protected import is_protected
from trustscore.features.registry import COUNTERFEIT_FEATURES, registry, render_sentence
from trustscore.features.spec import DIMENSIONS, Dimension, FeatureSpec

__all__ = [
    "COUNTERFEIT_FEATURES",
    "DIMENSIONS",
    "EVENTS_SCHEMA",
    "EVENT_TYPES",
    "Dimension",
    "FeatureConfig",
    "FeatureResult",
    "FeatureSpec",
    "NoAsOfError",
    "compute_features",
    "default_as_of",
    "is_protected",
    "registry",
    "render_sentence",
]
