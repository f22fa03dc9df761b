"""The typed tables that ingest hands to the features: one idea, kept apart so
the feature code and its tests can build them directly."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl


@dataclass
class DataTables:
    """The four tables of a data folder, typed per ``schema.TABLES``.

    consumers always exists; a table whose file is absent is ``None`` (its
    features are absent, not an error). Dtypes: dates ``pl.Date``; timestamps
    ``pl.Datetime("us")`` naive, in UTC; booleans ``pl.Boolean``; choice
    columns ``pl.Enum``; ``defaulted`` ``pl.Int8``; floats ``pl.Float64``.
    consumers may carry extra passthrough columns (``passthrough``), typed
    ``pl.Float64`` when every filled cell is a number, else ``pl.String``.
    Extra columns of the other tables are dropped at ingest.
    """

    consumers: pl.DataFrame
    merchants: pl.DataFrame | None = None
    transactions: pl.DataFrame | None = None
    logistics: pl.DataFrame | None = None
    passthrough: list[str] = field(default_factory=list)
    folder: Path | None = None
    # for each logistics row, the row of its order in transactions (UInt32), as
    # ingest's check of the references found it: a hint that saves the features
    # the one large join (millions of ids against millions); they check it first
    order_rows: pl.Series | None = None

    def present(self) -> list[str]:
        names = ["consumers"]
        for name in ("merchants", "transactions", "logistics"):
            if getattr(self, name) is not None:
                names.append(name)
        return names

    def missing(self) -> list[str]:
        return [n for n in ("merchants", "transactions", "logistics") if getattr(self, n) is None]
