"""The policy file: the documented default parses and says what it does; its hash
is of the file's bytes; every bad key, type, range, band and zone is refused
(exit 2) with the key named."""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path

import pytest

from trustscore.errors import EXIT_USAGE, UsageError
from trustscore.policy import (
    DEFAULT_POLICY_TOML,
    Policy,
    default_policy,
    explain,
    load,
    parse,
)

POLICY = """\
[products.loan]
kind = "loan"

[products.loan.rules]
min_score = 600
no_counterfeit_sold_days = 30
min_tenure_days = 90
min_orders_365d = 3
max_outstanding_to_income = 0.5

[products.loan.refer]
low = 580
high = 599

[products.loan.limit]
base = { fair = 400, good = 1000, "very good" = 2000, excellent = 3000 }
capacity = "income_or_shop"
reference = 2000
min_term = 0.5
max_term = 1.5
step = 50
cap = 2500
minimum = 300

[products.rent]
kind = "rental"

[products.rent.rules]
min_score = 650

[products.rent.deposit_waived]
"very good" = "half"
excellent = "full"
"""


def _parse(text: str) -> Policy:
    return parse(text.encode("utf-8"), "p.toml")


def _refused(text: str) -> UsageError:
    with pytest.raises(UsageError) as info:
        _parse(text)
    assert info.value.exit_code == EXIT_USAGE
    return info.value


def test_the_default_policy_parses_and_is_the_documented_text() -> None:
    policy = default_policy()
    assert list(policy.products) == ["micro_loan", "rental_deposit"]
    loan, rental = policy.products.values()
    assert loan.kind == "loan" and loan.limit is not None and loan.refer is not None
    assert rental.kind == "rental" and rental.deposit_waived == {
        "very good": "half",
        "excellent": "full",
    }
    assert policy.sha256 == hashlib.sha256(DEFAULT_POLICY_TOML.encode()).hexdigest()
    assert load(None) == policy
    # the default shows every key a policy may set
    for key in (
        "kind", "min_score", "no_counterfeit_sold_days", "min_tenure_days", "min_orders_365d",
        "max_outstanding_to_income", "refer", "low", "high", "limit", "base", "capacity",
        "reference", "min_term", "max_term", "step", "cap", "minimum", "deposit_waived",
    ):  # fmt: skip
        assert re.search(rf"\b{key}\b", DEFAULT_POLICY_TOML), key
    assert tomllib.loads(DEFAULT_POLICY_TOML)  # plain TOML, as the README shows it


def test_the_hash_is_of_the_files_bytes(tmp_path: Path) -> None:
    file = tmp_path / "policy.toml"
    file.write_text(POLICY, encoding="utf-8")
    first = load(file)
    assert first.sha256 == hashlib.sha256(POLICY.encode()).hexdigest()
    assert first.source == str(file)
    file.write_text("# a comment changes the policy's identity\n" + POLICY, encoding="utf-8")
    second = load(file)
    assert second.sha256 != first.sha256
    assert second.products == first.products


def test_explain_lists_every_rule_of_every_product() -> None:
    rows = explain(_parse(POLICY)).rows()
    assert [(r[0], r[2]) for r in rows] == [
        ("loan", "P-MIN-SCORE"),
        ("loan", "P-COUNTERFEIT-SOLD"),
        ("loan", "P-MIN-TENURE"),
        ("loan", "P-MIN-ORDERS"),
        ("loan", "P-MAX-OUTSTANDING"),
        ("loan", "P-MIN-LIMIT"),
        ("rent", "P-MIN-SCORE"),
        ("rent", "P-NO-WAIVER"),
    ]
    sentences = {(r[0], r[2]): r[3] for r in rows}
    assert sentences["loan", "P-MIN-SCORE"] == "A final score of at least 600 (580-599 referred)"
    assert sentences["loan", "P-COUNTERFEIT-SOLD"] == (
        "No confirmed counterfeit item sold in the last 30 days"
    )
    assert sentences["loan", "P-MIN-ORDERS"] == "At least 3 orders in the last 12 months"
    assert sentences["loan", "P-MAX-OUTSTANDING"] == (
        "Owes on credit at most 50% of a month's declared income"
    )
    assert "very good: half, excellent: full" in sentences["rent", "P-NO-WAIVER"]
    assert {r[4] for r in rows if r[0] == "loan"} >= {
        "products.loan.rules.min_tenure_days",
        "products.loan.limit.minimum",
    }
    one = POLICY.replace("min_orders_365d = 3", "min_orders_365d = 1")
    assert "At least 1 order in" in explain(_parse(one))["sentence"].to_list()[3]


def test_select_names_an_unknown_product() -> None:
    policy = _parse(POLICY)
    assert [p.name for p in policy.select(["rent", "loan", "rent"])] == ["rent", "loan"]
    assert [p.name for p in policy.select(None)] == ["loan", "rent"]
    with pytest.raises(UsageError) as info:
        policy.select(["lona"])
    assert "'lona'" in str(info.value) and "'loan'" in (info.value.hint or "")


@pytest.mark.parametrize(
    ("text", "named"),
    [
        # unknown keys, at every level
        (POLICY + "\n[other]\nx = 1\n", "'other'"),
        (POLICY.replace('kind = "rental"', 'kind = "rental"\ntitle = "x"'), "'title'"),
        (POLICY.replace("min_score = 650", "min_score = 650\nmin_age = 18"), "'min_age'"),
        (POLICY.replace("step = 50", "step = 50\nrate = 0.1"), "'rate'"),
        (POLICY.replace("high = 599", "high = 599\nmiddle = 590"), "'middle'"),
        # a limit without a band the product can approve or refer in
        (
            POLICY.replace("fair = 400, ", ""),
            'products.loan.limit.base has no entry for band "fair"',
        ),
        (
            POLICY.replace('"very good" = "half"\n', ""),
            'products.rent.deposit_waived has no entry for band "very good"',
        ),
        (POLICY.replace("fair = 400", "great = 400"), "no band 'great'"),
        # refer and approve zones that overlap, or a zone upside down
        (POLICY.replace("high = 599", "high = 600"), "products.loan.refer.high = 600 overlaps"),
        (
            POLICY.replace("low = 580", "low = 599\n").replace("high = 599", "high = 580"),
            "refer.low",
        ),
        (POLICY.replace("high = 599\n", ""), "products.loan.refer.high is missing"),
        # types and ranges
        (POLICY.replace("min_score = 600", 'min_score = "600"'), "products.loan.rules.min_score"),
        (POLICY.replace("min_score = 600", "min_score = 1000"), "products.loan.rules.min_score"),
        (POLICY.replace("min_score = 650", "min_score = 600.5"), "products.rent.rules.min_score"),
        (POLICY.replace("min_tenure_days = 90", "min_tenure_days = -1"), "min_tenure_days"),
        (POLICY.replace("= 30\n", "= true\n"), "no_counterfeit_sold_days"),
        (POLICY.replace("= 0.5\n", "= nan\n"), "max_outstanding_to_income"),
        (POLICY.replace("step = 50", "step = 0"), "products.loan.limit.step"),
        (POLICY.replace("step = 50", "step = 2.5"), "products.loan.limit.step"),
        (POLICY.replace("cap = 2500", "cap = 200"), "products.loan.limit.minimum (300)"),
        (POLICY.replace("min_term = 0.5", "min_term = 2.0"), "products.loan.limit.min_term"),
        (POLICY.replace("reference = 2000", "reference = 0"), "products.loan.limit.reference"),
        (POLICY.replace("fair = 400", "fair = -1"), 'products.loan.limit.base."fair"'),
        (POLICY.replace('capacity = "income_or_shop"', 'capacity = "wealth"'), "capacity"),
        (POLICY.replace('excellent = "full"', 'excellent = "most"'), 'deposit_waived."excellent"'),
        (POLICY.replace('kind = "loan"', 'kind = "mortgage"'), "products.loan.kind"),
        (POLICY.replace('kind = "loan"\n', ""), "products.loan.kind is missing"),
        (POLICY.replace("min_score = 650\n", ""), "products.rent.rules.min_score is missing"),
        # a loan's and a rental's parts do not mix
        (
            POLICY + '\n[products.loan.deposit_waived]\ngood = "full"\n',
            "products.loan.deposit_waived",
        ),
        (POLICY + "\n[products.rent.limit]\nstep = 50\n", "products.rent.limit is for a loan"),
        (POLICY.replace("[products.loan.limit]", "[products.loan.cap_table]"), "'cap_table'"),
        # not a policy at all
        ("", "no products"),
        ("products = 3\n", "no products"),
        ("[products.loan\n", "not valid TOML"),
        (POLICY.replace("[products.rent]", '[products."rent me"]'), "'rent me'"),
    ],
)
def test_a_bad_policy_is_refused_with_the_key_named(text: str, named: str) -> None:
    error = _refused(text)
    assert named in str(error) + " " + (error.hint or ""), str(error)
    assert "p.toml" in str(error)


def test_policy_files_that_are_not_files(tmp_path: Path) -> None:
    for path, said in [
        (tmp_path / "absent.toml", "no policy file"),
        (tmp_path, "is not a file"),
    ]:
        with pytest.raises(UsageError, match=said):
            load(path)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe[products]")
    with pytest.raises(UsageError, match="not valid TOML"):
        load(binary)
