"""trustscore: an explainable Sesame-style trust score from a platform's own records."""

__version__ = "0.1.0"
