"""Seeded demo data for the warehouse-native A/B-testing pipeline.

Writes the two raw tables of ``docs/semantics.md``::

    raw.exposures(experiment_id VARCHAR, unit_id VARCHAR, variant_id VARCHAR, exposed_at TIMESTAMP,
                  platform VARCHAR, country VARCHAR, city VARCHAR, is_internal BOOLEAN, is_bot BOOLEAN)
    raw.metric_events(unit_id VARCHAR, event_name VARCHAR, event_at TIMESTAMP, value DOUBLE)

into a DuckDB file (schema ``raw``, tables replaced) or, with ``parquet_dir``, as
``exposures.parquet`` / ``metric_events.parquet`` with the same schema.

The ten demo experiments (registry in ``seeds/*.csv``) each carry a planted truth
(:func:`planted_truth`), and the data carries a small, exactly known amount of dirt
(:func:`expected_quarantine`). Everything is vectorised numpy, generated in chunks of at most
``CHUNK_BLOCKS`` randomisation blocks per experiment, and deterministic: the same
``(scale, seed)`` gives identical rows in the same order.

The six core experiments (``CORE_EXPERIMENTS``: fixed-horizon A/B(/n) tests with planted dirt)
come first, then the row-level dirt, then the four design experiments (``DESIGN_EXPERIMENTS``:
a 2x2 factorial, a 3-arm bandit, a group-sequential and an mSPRT test; no planted dirt, fresh
customers numbered after the row-level dirt, their own RNG streams). Adding the design
experiments left the core experiments' rows unchanged: the output of the core experiments and
the row-level dirt is a byte-identical prefix of the output.

Usage::

    python -m exptools.demo_data --database warehouse.duckdb [--scale 1.0] [--seed 42]
    python -m exptools.demo_data --parquet-dir data/raw [--scale 1.0] [--seed 42]
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
from dataclasses import dataclass, replace
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import stats

# --------------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------------

DEMO_AS_OF_DATE = dt.date(2026, 10, 31)
"""Last complete day of data in the demo (dbt var ``as_of_date``)."""

US = 1_000_000  # microseconds per second
DAY = 86_400 * US
HOUR = 3_600 * US
_EPOCH = dt.datetime(1970, 1, 1)

#: Randomisation blocks per chunk: a chunk holds at most CHUNK_BLOCKS * n_variants units.
CHUNK_BLOCKS = 250_000
#: First customer number (unit ids are ``cust_<n>``).
FIRST_CUSTOMER = 100_001

PLATFORMS = ("android", "ios", "web")
PLATFORM_WEIGHTS = (0.40, 0.45, 0.15)
CITIES = ("Berlin", "Hamburg", "Munich", "Amsterdam", "Rotterdam", "Vienna")
CITY_COUNTRY = ("DE", "DE", "DE", "NL", "NL", "AT")
COUNTRIES = ("AT", "DE", "NL")
CITY_WEIGHTS_ALL = (0.28, 0.16, 0.16, 0.18, 0.08, 0.14)
CITY_WEIGHTS_ORDERS = (0.35, 0.25, 0.25, 0.15, 0.0, 0.0)  # orders_ranking_abc / loyalty_badge
#: Mean delivery minutes per city (control).
CITY_DELIVERY_MINUTES = (36.0, 38.0, 35.0, 33.0, 34.0, 37.0)

EVENT_NAMES = (
    "order_completed",
    "support_contact_repeat",
    "escalation_complaint",
    "order_placed",
    "order_delivered",
    "app_session_started",
    "push_notifications_disabled",
    "search_performed",
    "search_purchase",
    "promo_banner_clicked",
    # Design experiments (appended: the codes above are unchanged).
    "checkout_completed",
    "recommendation_clicked",
    "fee_checkout_order",
    "fee_support_contact",
    "onboarding_completed",
)
EV = {name: code for code, name in enumerate(EVENT_NAMES)}

EXPOSURES_SCHEMA = pa.schema(
    [
        ("experiment_id", pa.string()),
        ("unit_id", pa.string()),
        ("variant_id", pa.string()),
        ("exposed_at", pa.timestamp("us")),
        ("platform", pa.string()),
        ("country", pa.string()),
        ("city", pa.string()),
        ("is_internal", pa.bool_()),
        ("is_bot", pa.bool_()),
    ]
)
METRIC_EVENTS_SCHEMA = pa.schema(
    [
        ("unit_id", pa.string()),
        ("event_name", pa.string()),
        ("event_at", pa.timestamp("us")),
        ("value", pa.float64()),
    ]
)
EXPOSURES_DDL = (
    "experiment_id VARCHAR, unit_id VARCHAR, variant_id VARCHAR, exposed_at TIMESTAMP, "
    "platform VARCHAR, country VARCHAR, city VARCHAR, is_internal BOOLEAN, is_bot BOOLEAN"
)
METRIC_EVENTS_DDL = "unit_id VARCHAR, event_name VARCHAR, event_at TIMESTAMP, value DOUBLE"


def _us(value: dt.date | dt.datetime) -> int:
    """Microseconds since the epoch of a date (midnight) or naive datetime."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    return (value - _EPOCH) // dt.timedelta(microseconds=1)


AS_OF_CUTOFF_US = _us(DEMO_AS_OF_DATE) + DAY  # first instant "in the future"


@dataclass(frozen=True)
class ExperimentSpec:
    experiment_id: str
    start: dt.date
    end: dt.date
    variants: tuple[str, ...]
    units_per_arm: int  # at scale 1
    city_weights: tuple[float, ...]
    has_dirty_units: bool = True
    design: str = "ab"  # registry experiments.design: 'ab' | 'factorial' | 'bandit'
    analysis_method: str = "fixed_horizon"  # 'fixed_horizon' | 'group_sequential' | 'msprt'
    sequential_looks: int | None = None  # planned equally spaced looks (group_sequential)

    @property
    def n_arms(self) -> int:
        return len(self.variants)

    @property
    def first_us(self) -> int:
        return _us(self.start)

    @property
    def exposure_limit_us(self) -> int:
        """Exclusive upper bound of valid exposure times (end of end_date, capped at as-of)."""
        return min(_us(self.end) + DAY, AS_OF_CUTOFF_US)


_OCT1, _OCT28 = dt.date(2026, 10, 1), dt.date(2026, 10, 28)
EXPERIMENTS: dict[str, ExperimentSpec] = {
    spec.experiment_id: spec
    for spec in (
        ExperimentSpec("chatbot_delivery_estimate", _OCT1, _OCT28, ("control", "treatment"), 20_000, CITY_WEIGHTS_ALL),
        ExperimentSpec(
            "orders_ranking_abc", _OCT1, _OCT28, ("control", "treatment_1", "treatment_2"), 15_000, CITY_WEIGHTS_ORDERS
        ),
        ExperimentSpec("push_reminder_timing", _OCT1, _OCT28, ("control", "treatment"), 20_000, CITY_WEIGHTS_ALL),
        ExperimentSpec("search_autocomplete", _OCT1, _OCT28, ("control", "treatment"), 30_000, CITY_WEIGHTS_ALL),
        ExperimentSpec("banner_color", _OCT1, _OCT28, ("control", "treatment"), 10_000, CITY_WEIGHTS_ALL),
        ExperimentSpec(
            "loyalty_badge",
            dt.date(2026, 10, 10),
            dt.date(2026, 11, 15),
            ("control", "treatment"),
            10_000,
            CITY_WEIGHTS_ORDERS,
            has_dirty_units=False,
        ),
        # Design experiments: no planted dirt, customers after the row-level dirt (_unit_bases).
        ExperimentSpec(
            "checkout_factorial",
            _OCT1,
            _OCT28,
            ("control", "express_only", "saved_cards_only", "express_and_saved_cards"),
            6_000,
            CITY_WEIGHTS_ALL,
            has_dirty_units=False,
            design="factorial",
        ),
        ExperimentSpec(
            "recommendation_bandit",
            _OCT1,
            _OCT28,
            ("control", "similar_items", "trending_items"),
            8_000,
            CITY_WEIGHTS_ALL,
            has_dirty_units=False,
            design="bandit",
        ),
        ExperimentSpec(
            "delivery_fee_sequential",
            _OCT1,
            _OCT28,
            ("control", "treatment"),
            12_000,
            CITY_WEIGHTS_ALL,
            has_dirty_units=False,
            analysis_method="group_sequential",
            sequential_looks=4,
        ),
        ExperimentSpec(
            "onboarding_msprt",
            _OCT1,
            _OCT28,
            ("control", "treatment"),
            15_000,
            CITY_WEIGHTS_ALL,
            has_dirty_units=False,
            analysis_method="msprt",
        ),
    )
}
EXPERIMENT_ORDER = tuple(EXPERIMENTS)
#: The original fixed-horizon experiments (with planted dirt), generated before the row-level dirt.
CORE_EXPERIMENTS = EXPERIMENT_ORDER[:6]
#: Factorial / bandit / sequential experiments, generated after the row-level dirt.
DESIGN_EXPERIMENTS = EXPERIMENT_ORDER[6:]
#: Customer numbers reserved for the row-level dirt (it uses a few dozen) before the design
#: experiments' customers.
ROW_DIRT_RESERVE = 1_000

# Planted effects -----------------------------------------------------------------------------
CHATBOT_COMPLETION = (0.30, 0.33)
CHATBOT_REPEAT_CONTACT = 0.12
CHATBOT_COMPLAINTS_MEAN = 0.25
PUSH_SESSION = (0.45, 0.465)
PUSH_OPT_OUT = 0.04
SEARCH_PURCHASE = (0.40, 0.412)
SEARCH_PERFORMED_MEAN = 8.0
BANNER_CLICK = 0.08
ORDER_RATE_PER_DAY = 0.10  # mean of an exponential (gamma shape 1) per-customer order rate
ORDER_VALUE_MEAN = 30.0
ORDER_VALUE_LIFT = {"treatment_1": 1.06, "treatment_2": 1.06}
DELIVERY_TIME_LIFT = {"treatment_2": 1.12}
# checkout_factorial (2x2): factor A = express checkout, factor B = saved cards.
FACTOR_LEVELS = {
    "control": ("off", "off"),
    "express_only": ("on", "off"),
    "saved_cards_only": ("off", "on"),
    "express_and_saved_cards": ("on", "on"),
}
CHECKOUT_FACTOR_A_LIFT = 1.08  # main effect of A on checkout value (multiplicative)
CHECKOUT_FACTOR_B_LIFT = 1.00  # no main effect of B
CHECKOUT_INTERACTION_LIFT = 1.00  # no interaction
CHECKOUT_CONVERSION = 0.60  # same in every arm
CHECKOUT_REPEAT = 0.10  # converted customers with a second checkout
CHECKOUT_VALUE_MEDIAN = 45.0  # EUR per checkout (lognormal)
CHECKOUT_VALUE_SIGMA = 0.35
CHECKOUT_VALUE_CAP = 300.0  # metrics.csv winsorize_cap of checkout_value
RECOMMENDATION_CLICK = (0.10, 0.125, 0.10)  # control, similar_items, trending_items
FEE_ORDER = (0.20, 0.25)
FEE_SUPPORT_CONTACT = 0.10
ONBOARDING_COMPLETION = (0.30, 0.33)

# Structural dirt rules (block-index based, so exact counts follow from the plan) ----------------
SRM_DROP_EVERY = 20  # push_reminder_timing: treatment unit of every 20th block loses its exposure
DUP1_MOD, DUP1_REM = 25, 3  # all units of these blocks get one extra exposure row
DUP1_EXACT_MOD, DUP1_EXACT_REM = 250, 3  # ... which is an exact copy of the first row
DUP2_MOD, DUP2_REM = 100, 11  # all units of these blocks get two extra exposure rows
TIE_MOD, TIE_REM = 200, 57  # orders_ranking_abc, position 0: a second row at the same instant
PADDED_MOD, PADDED_REM = 2_000, 1  # chatbot, position 0: whitespace-padded unit and variant ids
LOYALTY_OVERLAP_MOD, LOYALTY_OVERLAP_LT = 15, 4  # orders_ranking_abc blocks whose units join loyalty

#: Excluded units per experiment (a..e) at scale 1: category -> count.
DIRTY_UNITS = {
    "internal_single": 34,  # one row, is_internal
    "internal_partial": 3,  # two rows, only the second is_internal
    "internal_and_bot_multi": 3,  # two rows in two variants: is_bot then is_internal
    "bot_single": 18,  # one row, is_bot
    "bot_multi": 2,  # two rows in two variants, both is_bot
    "multi_variant": 20,  # two rows in two variants
}
DIRTY_ROWS_PER_UNIT = {
    "internal_single": 1,
    "internal_partial": 2,
    "internal_and_bot_multi": 2,
    "bot_single": 1,
    "bot_multi": 2,
    "multi_variant": 2,
}
DIRTY_REASON = {
    "internal_single": "internal_traffic",
    "internal_partial": "internal_traffic",
    "internal_and_bot_multi": "internal_traffic",
    "bot_single": "bot_traffic",
    "bot_multi": "bot_traffic",
    "multi_variant": "multiple_variants",
}


def _scaled(n: int, scale: float, minimum: int = 1) -> int:
    return max(minimum, int(round(n * scale)))


def units_per_arm(experiment_id: str, scale: float = 1.0) -> int:
    """Randomisation blocks (= clean units per arm before the SRM drop) at ``scale``."""
    return _scaled(EXPERIMENTS[experiment_id].units_per_arm, scale, minimum=50)


def dirty_unit_counts(scale: float = 1.0) -> dict[str, int]:
    """Excluded units per category for each of the experiments a..e (same for each)."""
    return {category: _scaled(n, scale) for category, n in DIRTY_UNITS.items()}


# --------------------------------------------------------------------------------------------
# Planted truth
# --------------------------------------------------------------------------------------------


def planted_truth() -> dict[str, dict]:
    """What the demo plants per experiment (statements hold at the default scale 1.0).

    ``expected_decision`` is the intended final decision of the experiment; ``ship_variant``
    the variant to ship when it is ``ship``; ``effects`` the planted true relative effects by
    metric and variant (multiplicative on the control rate/value); ``srm`` whether a sample
    ratio mismatch is planted.

    The design experiments add ``design`` and ``analysis_method``; the factorial its
    ``factor_levels`` per variant, ``main_effects`` (relative, per metric: factor_a, factor_b,
    interaction) and ``ship_variants`` (both express arms are correct); the bandit ``best_arm``
    and ``arm_rates``; the group-sequential test ``sequential_looks``, ``look_dates`` and
    ``expected_stop_look`` (first look whose O'Brien-Fleming boundary is crossed); the mSPRT
    test ``msprt_significant_before_end``.
    """
    return {
        "chatbot_delivery_estimate": {
            "expected_decision": "ship",
            "ship_variant": "treatment",
            "primary_metric": "order_completion",
            "control_rate": CHATBOT_COMPLETION[0],
            "effects": {
                "order_completion": {"treatment": CHATBOT_COMPLETION[1] / CHATBOT_COMPLETION[0] - 1},
                "repeat_contact_rate": {"treatment": 0.0},
                "escalation_complaints": {"treatment": 0.0},
            },
            "srm": False,
            "is_running": False,
        },
        "orders_ranking_abc": {
            "expected_decision": "ship",
            "ship_variant": "treatment_1",
            "primary_metric": "order_value",
            "effects": {
                "order_value": {"treatment_1": 0.06, "treatment_2": 0.06},
                "orders_per_customer": {"treatment_1": 0.0, "treatment_2": 0.0},
                "average_order_value": {"treatment_1": 0.06, "treatment_2": 0.06},
                "delivery_time": {"treatment_1": 0.0, "treatment_2": 0.12},
            },
            "guardrail_breaches": {"treatment_2": ["delivery_time"]},
            "variant_decisions": {"treatment_1": "ship", "treatment_2": "guardrail_breach"},
            "srm": False,
            "is_running": False,
        },
        "push_reminder_timing": {
            "expected_decision": "rerun",
            "ship_variant": None,
            "primary_metric": "push_session_rate",
            "effects": {
                "push_session_rate": {"treatment": PUSH_SESSION[1] / PUSH_SESSION[0] - 1},
                "push_opt_out_rate": {"treatment": 0.0},
            },
            "srm": True,
            "srm_dropped_fraction": 1 / SRM_DROP_EVERY,
            "is_running": False,
        },
        "search_autocomplete": {
            "expected_decision": "iterate",
            "ship_variant": None,
            "primary_metric": "search_conversion",
            "control_rate": SEARCH_PURCHASE[0],
            "effects": {
                "search_conversion": {"treatment": SEARCH_PURCHASE[1] / SEARCH_PURCHASE[0] - 1},
                "searches_per_user": {"treatment": 0.0},
            },
            "srm": False,
            "is_running": False,
        },
        "banner_color": {
            "expected_decision": "stop",
            "ship_variant": None,
            "primary_metric": "banner_click_rate",
            "effects": {"banner_click_rate": {"treatment": 0.0}},
            "srm": False,
            "is_running": False,
        },
        "loyalty_badge": {
            "expected_decision": "keep_running",
            "ship_variant": None,
            "primary_metric": "orders_per_customer",
            "effects": {"orders_per_customer": {"treatment": 0.0}, "order_value": {"treatment": 0.0}},
            "srm": False,
            "is_running": True,
            "overlaps_with": "orders_ranking_abc",
        },
        # Design experiments: rates are exact per arm x exposure day (stratified), values per arm.
        "checkout_factorial": {
            "design": "factorial",
            "analysis_method": "fixed_horizon",
            "expected_decision": "ship",
            # Both express arms carry the same planted +8%; which one the pairwise analysis
            # recommends is down to noise. express_only is the parsimonious choice (factor B adds
            # nothing); any of ship_variants is correct.
            "ship_variant": "express_only",
            "ship_variants": ["express_only", "express_and_saved_cards"],
            "primary_metric": "checkout_value",
            "control_rate": CHECKOUT_CONVERSION,
            "factor_levels": {v: {"factor_a": a, "factor_b": b} for v, (a, b) in FACTOR_LEVELS.items()},
            "factors": {"factor_a": "express_checkout", "factor_b": "saved_cards"},
            # Relative effects on checkout_value (multiplicative model: no interaction).
            "main_effects": {
                "checkout_value": {
                    "factor_a": CHECKOUT_FACTOR_A_LIFT - 1,
                    "factor_b": CHECKOUT_FACTOR_B_LIFT - 1,
                    "interaction": CHECKOUT_INTERACTION_LIFT - 1,
                },
                "checkout_conversion": {"factor_a": 0.0, "factor_b": 0.0, "interaction": 0.0},
            },
            "effects": {
                "checkout_value": {v: checkout_lift(v) - 1 for v in FACTOR_LEVELS if v != "control"},
                "checkout_conversion": {v: 0.0 for v in FACTOR_LEVELS if v != "control"},
            },
            "variant_decisions": {"express_only": "ship", "saved_cards_only": "stop", "express_and_saved_cards": "ship"},
            "srm": False,
            "is_running": False,
        },
        "recommendation_bandit": {
            "design": "bandit",
            "analysis_method": "fixed_horizon",
            "expected_decision": "ship",
            "ship_variant": "similar_items",
            "best_arm": "similar_items",  # the Thompson allocation puts most weight on it
            "primary_metric": "recommendation_click_rate",
            "control_rate": RECOMMENDATION_CLICK[0],
            "arm_rates": dict(zip(EXPERIMENTS["recommendation_bandit"].variants, RECOMMENDATION_CLICK)),
            "effects": {
                "recommendation_click_rate": {
                    "similar_items": RECOMMENDATION_CLICK[1] / RECOMMENDATION_CLICK[0] - 1,
                    "trending_items": RECOMMENDATION_CLICK[2] / RECOMMENDATION_CLICK[0] - 1,
                },
            },
            "variant_decisions": {"similar_items": "ship", "trending_items": "stop"},
            "srm": False,
            "is_running": False,
        },
        "delivery_fee_sequential": {
            "design": "ab",
            "analysis_method": "group_sequential",
            "sequential_looks": 4,
            # Looks every 7 days (2026-10-07, -14, -21, -28). The O'Brien-Fleming boundary
            # (Lan-DeMets, equal fractions: 4.33, 2.96, 2.36, 2.01; classic: 4.05, 2.86, 2.34,
            # 2.02; unit-count fractions 0.16/0.51/0.85/1: 5.46, 2.91, 2.18, 2.04) is not crossed
            # at look 1 and crossed at look 2: z = 3.2 / 6.2 / 8.5 / 9.3 at seed 42 (look 1 in
            # 2.6..3.2, look 2 in 6.2..6.5 over seeds 1-4).
            "look_dates": ["2026-10-07", "2026-10-14", "2026-10-21", "2026-10-28"],
            "expected_stop_look": 2,
            "expected_decision": "ship",
            "ship_variant": "treatment",
            "primary_metric": "fee_order_conversion",
            "control_rate": FEE_ORDER[0],
            "effects": {
                "fee_order_conversion": {"treatment": FEE_ORDER[1] / FEE_ORDER[0] - 1},
                "fee_support_contact_rate": {"treatment": 0.0},
            },
            "srm": False,
            "is_running": False,
        },
        "onboarding_msprt": {
            "design": "ab",
            "analysis_method": "msprt",
            # With the default mixing variance (tau = practical threshold x control rate = 0.015)
            # the always-valid p-value falls below alpha = 0.05 well before end_date.
            "msprt_significant_before_end": True,
            "expected_decision": "ship",
            "ship_variant": "treatment",
            "primary_metric": "onboarding_completion",
            "control_rate": ONBOARDING_COMPLETION[0],
            "effects": {"onboarding_completion": {"treatment": ONBOARDING_COMPLETION[1] / ONBOARDING_COMPLETION[0] - 1}},
            "srm": False,
            "is_running": False,
        },
    }


# --------------------------------------------------------------------------------------------
# Plans: which units exist, their blocks and arms (cheap; no events)
# --------------------------------------------------------------------------------------------


def _count_rem(n: int, mod: int, rem: int) -> int:
    """How many b in [0, n) have b % mod == rem."""
    return 0 if n <= rem else (n - rem + mod - 1) // mod


def _unit_bases(scale: float) -> dict[str, int]:
    """First customer number of each experiment's clean units, dirty units and the extras:
    core experiments, then the row-level dirt (``ROW_DIRT_RESERVE`` numbers), then the design
    experiments (so adding them changed no existing customer number)."""
    bases: dict[str, int] = {}
    nxt = FIRST_CUSTOMER
    dirty_total = sum(dirty_unit_counts(scale).values())
    for experiment_id in CORE_EXPERIMENTS:
        spec = EXPERIMENTS[experiment_id]
        bases[experiment_id] = nxt
        n_clean = units_per_arm(experiment_id, scale) * spec.n_arms
        if experiment_id == "loyalty_badge":
            n_clean = _loyalty_new_units(scale)
        nxt += n_clean
        if spec.has_dirty_units:
            bases[experiment_id + "#dirty"] = nxt
            nxt += dirty_total
    bases["#row_dirt"] = nxt
    nxt += ROW_DIRT_RESERVE
    for experiment_id in DESIGN_EXPERIMENTS:
        bases[experiment_id] = nxt
        nxt += units_per_arm(experiment_id, scale) * EXPERIMENTS[experiment_id].n_arms
    bases["#end"] = nxt
    return bases


def _loyalty_overlap_units(scale: float) -> int:
    blocks = units_per_arm("orders_ranking_abc", scale)
    return _count_rem_lt(blocks, LOYALTY_OVERLAP_MOD, LOYALTY_OVERLAP_LT) * 3


def _count_rem_lt(n: int, mod: int, lt: int) -> int:
    return sum(_count_rem(n, mod, r) for r in range(lt))


def _loyalty_new_units(scale: float) -> int:
    """Loyalty units that are not in orders_ranking_abc (a multiple of 2: balanced blocks)."""
    wanted = 2 * units_per_arm("loyalty_badge", scale) - _loyalty_overlap_units(scale)
    return max(2, 2 * (wanted // 2))


def _chunk_ranges(n_blocks: int) -> list[tuple[int, int]]:
    return [(lo, min(lo + CHUNK_BLOCKS, n_blocks)) for lo in range(0, n_blocks, CHUNK_BLOCKS)] or [(0, 0)]


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *keys]))


def _block_arms(rng: np.random.Generator, n_blocks: int, n_arms: int) -> np.ndarray:
    """Arm of each unit, blockwise balanced: block b holds one unit of every arm (units b*k..)."""
    if n_blocks == 0:
        return np.zeros(0, dtype=np.int8)
    return np.argsort(rng.random((n_blocks, n_arms)), axis=1).astype(np.int8).ravel()


def _stratified_uniform(rng: np.random.Generator, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Uniforms that are exactly evenly spread within each group (one per 1/m stratum)."""
    u = np.empty(groups.shape[0], dtype=np.float64)
    for g in range(n_groups):
        idx = np.flatnonzero(groups == g)
        m = idx.size
        if m:
            u[idx] = (rng.permutation(m) + rng.random(m)) / m
    return u


def _dims(rng: np.random.Generator, n: int, city_weights) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Platform / city / country codes; -1 = null, city -2 = blank string."""
    platform = rng.choice(len(PLATFORMS), size=n, p=PLATFORM_WEIGHTS).astype(np.int8)
    w = np.asarray(city_weights, dtype=float)
    city = rng.choice(len(CITIES), size=n, p=w / w.sum()).astype(np.int8)
    country = np.asarray([COUNTRIES.index(c) for c in CITY_COUNTRY], dtype=np.int8)[city]
    u = rng.random((n, 3))
    platform[u[:, 0] < 0.002] = -1
    country[u[:, 1] < 0.002] = -1
    city[u[:, 2] < 0.002] = -1
    city[(u[:, 2] >= 0.002) & (u[:, 2] < 0.003)] = -2
    return platform, country, city


def _exposure_times(rng: np.random.Generator, n: int, spec: ExperimentSpec) -> np.ndarray:
    """Whole-second exposure instants spread over the experiment's days (more traffic early)."""
    lo, hi = spec.first_us, spec.exposure_limit_us
    span_s = (hi - lo) // US
    # Mild decay of new-unit traffic over the experiment plus uniform noise.
    frac = np.minimum(rng.exponential(0.6, n), 1.0) * 0.5 + rng.random(n) * 0.5
    return lo + (np.floor(frac * span_s).astype(np.int64) * US)


@dataclass
class _Units:
    """A set of exposed units of one experiment (one chunk)."""

    nums: np.ndarray  # customer numbers
    arm: np.ndarray  # variant index
    t0: np.ndarray  # first exposure instant (us)
    platform: np.ndarray
    country: np.ndarray
    city: np.ndarray
    block: np.ndarray  # randomisation block index (experiment-global); -1 for dirty units
    pos: np.ndarray  # position in block

    def take(self, mask: np.ndarray) -> "_Units":
        return _Units(*(getattr(self, f)[mask] for f in self.__dataclass_fields__))

    @staticmethod
    def concat(parts: list["_Units"]) -> "_Units":
        return _Units(*(np.concatenate([getattr(p, f) for p in parts]) for f in _Units.__dataclass_fields__))

    def __len__(self) -> int:
        return self.nums.shape[0]


def _clean_units(experiment_id: str, scale: float, seed: int, chunk: int, lo: int, hi: int) -> _Units:
    spec = EXPERIMENTS[experiment_id]
    k = spec.n_arms
    exp_idx = EXPERIMENT_ORDER.index(experiment_id)
    rng = _rng(seed, exp_idx, chunk, 0)
    n_blocks = hi - lo
    n = n_blocks * k
    base = _unit_bases(scale)[experiment_id]
    block = np.repeat(np.arange(lo, hi, dtype=np.int64), k)
    pos = np.tile(np.arange(k, dtype=np.int8), n_blocks)
    nums = base + block * k + pos
    arm = _block_arms(rng, n_blocks, k)
    t0 = _exposure_times(rng, n, spec)
    platform, country, city = _dims(rng, n, spec.city_weights)
    units = _Units(nums, arm, t0, platform, country, city, block, pos)
    # Planted boundaries (valid): exposure exactly at the start / the last second of end_date.
    first = (block == 0) & (pos == 0)
    units.t0[first] = spec.first_us
    units.t0[(block == 1) & (pos == 0)] = spec.exposure_limit_us - US
    if experiment_id == "chatbot_delivery_estimate":
        # Units that carry event-window boundary events need t0 + 7 days before the as-of cutoff.
        sel = (block >= 10) & (block < 50) & (pos == 0)
        units.t0[sel] = spec.first_us + (block[sel] - 10) * 12 * HOUR + 1_234 * US
    if experiment_id == "orders_ranking_abc":
        sel = (block >= 10) & (block < 40) & (pos == 0)
        units.t0[sel] = spec.first_us + (block[sel] - 10) * 8 * HOUR + 4_321 * US
    return units


def _dirty_units(experiment_id: str, scale: float, seed: int) -> tuple[_Units, np.ndarray]:
    """The excluded units of an experiment and their category index (into DIRTY_UNITS)."""
    spec = EXPERIMENTS[experiment_id]
    counts = dirty_unit_counts(scale)
    category = np.repeat(np.arange(len(counts), dtype=np.int8), list(counts.values()))
    n = category.size
    rng = _rng(seed, EXPERIMENT_ORDER.index(experiment_id), 10_000, 0)
    arm = rng.integers(0, spec.n_arms, n).astype(np.int8)
    t0 = _exposure_times(rng, n, spec)
    platform, country, city = _dims(rng, n, spec.city_weights)
    nums = _unit_bases(scale)[experiment_id + "#dirty"] + np.arange(n, dtype=np.int64)
    units = _Units(nums, arm, t0, platform, country, city, np.full(n, -1, np.int64), np.zeros(n, np.int8))
    return units, category


# --------------------------------------------------------------------------------------------
# Arrow builders
# --------------------------------------------------------------------------------------------


def _dict_strings(codes: np.ndarray, dictionary: tuple[str, ...]) -> pa.Array:
    codes = np.asarray(codes)
    mask = codes < 0
    indices = pa.array(np.where(mask, 0, codes).astype(np.int32), mask=mask)
    return pa.DictionaryArray.from_arrays(indices, pa.array(dictionary, pa.string())).cast(pa.string())


def _cust_ids(nums: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise("cust_", pc.cast(pa.array(nums, pa.int64()), pa.string()), "")


def _const(value: str, n: int) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), pa.array([value])).cast(pa.string())


def _timestamps(us: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return pa.array(np.asarray(us, dtype=np.int64), type=pa.timestamp("us"), mask=mask)


def _city_codes_to_arrow(city: np.ndarray) -> pa.Array:
    # -1 null, -2 blank ''
    return _dict_strings(np.where(city == -2, len(CITIES), city), CITIES + ("",))


def _exposure_table(
    experiment_id: str,
    nums: np.ndarray,
    variant_codes: np.ndarray,
    t: np.ndarray,
    platform: np.ndarray,
    country: np.ndarray,
    city: np.ndarray,
    is_internal: np.ndarray,
    is_bot: np.ndarray,
) -> pa.Table:
    n = nums.shape[0]
    return pa.table(
        [
            _const(experiment_id, n),
            _cust_ids(nums),
            _dict_strings(variant_codes, EXPERIMENTS[experiment_id].variants),
            _timestamps(t),
            _dict_strings(platform, PLATFORMS),
            _dict_strings(country, COUNTRIES),
            _city_codes_to_arrow(city),
            pa.array(is_internal, pa.bool_()),
            pa.array(is_bot, pa.bool_()),
        ],
        schema=EXPOSURES_SCHEMA,
    )


def _rows_table(rows: list[tuple], schema: pa.Schema) -> pa.Table:
    columns = list(zip(*rows)) if rows else [[] for _ in schema]
    arrays = []
    for field, values in zip(schema, columns):
        if pa.types.is_timestamp(field.type):
            values = [None if v is None else _us(v) if isinstance(v, dt.datetime) else int(v) for v in values]
            arrays.append(pa.array(values, pa.int64()).cast(field.type))
        else:
            arrays.append(pa.array(list(values), field.type))
    return pa.table(arrays, schema=schema)


@dataclass
class _Events:
    nums: list
    codes: list
    t: list
    value: list  # float64, NaN = null (natural events never carry NaN)

    @classmethod
    def empty(cls) -> "_Events":
        return cls([], [], [], [])

    def add(self, nums, code, t, value=None) -> None:
        nums = np.asarray(nums, dtype=np.int64)
        t = np.asarray(t, dtype=np.int64)
        keep = t < AS_OF_CUTOFF_US  # data that has not arrived yet is simply not there
        self.nums.append(nums[keep])
        self.codes.append(np.broadcast_to(np.asarray(code, np.int8), nums.shape)[keep])
        self.t.append(t[keep])
        if value is None:
            value = np.full(nums.shape[0], np.nan)
        self.value.append(np.asarray(value, dtype=np.float64)[keep])

    def table(self) -> pa.Table:
        if not self.nums:
            return METRIC_EVENTS_SCHEMA.empty_table()
        nums = np.concatenate(self.nums)
        value = np.concatenate(self.value)
        return pa.table(
            [
                _cust_ids(nums),
                _dict_strings(np.concatenate(self.codes), EVENT_NAMES),
                _timestamps(np.concatenate(self.t)),
                pa.array(value, pa.float64(), mask=np.isnan(value)),
            ],
            schema=METRIC_EVENTS_SCHEMA,
        )


# --------------------------------------------------------------------------------------------
# Event generators
# --------------------------------------------------------------------------------------------


def _trunc_exp_delay(
    rng: np.random.Generator, n: int, mean_days: float, max_days: float, u: np.ndarray | None = None
) -> np.ndarray:
    """Whole-second delays from an exponential truncated to [0, max_days) (quantiles ``u``, by
    default fresh uniforms)."""
    if u is None:
        u = rng.random(n)
    days = -mean_days * np.log1p(-u * (1.0 - np.exp(-max_days / mean_days)))
    seconds = np.minimum(np.floor(days * 86_400), max_days * 86_400 - 1)
    return seconds.astype(np.int64) * US


def _conversion_events(
    ev: _Events,
    rng: np.random.Generator,
    units: _Units,
    n_arms: int,
    code: int,
    rate_by_arm,
    window_days: int,
    mean_delay_days: float,
    repeat_prob: float = 0.0,
    late_prob: float = 0.0,
    before_prob: float = 0.0,
    stratified_delays: bool = False,
) -> None:
    """At-least-once events inside the window with an exactly stratified rate per arm, plus
    repeats inside the window, late events after it and events before exposure. With
    ``stratified_delays`` the first events' delays are spread evenly within each arm too (less
    noise at interim looks, where recent units are still inside their window)."""
    n = len(units)
    u = _stratified_uniform(rng, units.arm, n_arms)
    converted = u < np.asarray(rate_by_arm, dtype=float)[units.arm]
    idx = np.flatnonzero(converted)
    delay_u = _stratified_uniform(rng, units.arm[idx], n_arms) if stratified_delays else None
    delay = _trunc_exp_delay(rng, idx.size, mean_delay_days, window_days, delay_u)
    ev.add(units.nums[idx], code, units.t0[idx] + delay)
    if repeat_prob:
        rep = idx[rng.random(idx.size) < repeat_prob]
        ev.add(units.nums[rep], code, units.t0[rep] + _trunc_exp_delay(rng, rep.size, mean_delay_days * 2, window_days))
    if late_prob:
        late = np.flatnonzero(rng.random(n) < late_prob)
        secs = np.floor(rng.random(late.size) * 10 * 86_400).astype(np.int64)
        ev.add(units.nums[late], code, units.t0[late] + window_days * DAY + secs * US)
    if before_prob:
        before = np.flatnonzero(rng.random(n) < before_prob)
        secs = 1 + np.floor(rng.random(before.size) * 25 * 86_400).astype(np.int64)
        ev.add(units.nums[before], code, units.t0[before] - secs * US)


def _count_events(
    ev: _Events,
    rng: np.random.Generator,
    units: _Units,
    n_arms: int,
    code: int,
    mean: float,
    shape: float,
    window_days: int,
) -> None:
    """Negative-binomial counts per unit inside the window, identically distributed per arm."""
    u = _stratified_uniform(rng, units.arm, n_arms)
    counts = np.maximum(stats.nbinom.ppf(u, shape, shape / (shape + mean)), 0).astype(np.int64)
    idx = np.repeat(np.arange(len(units)), counts)
    secs = np.floor(rng.random(idx.size) * (window_days * 86_400 - 1)).astype(np.int64)
    ev.add(units.nums[idx], code, units.t0[idx] + secs * US)


def _order_stream(
    ev: _Events,
    rng: np.random.Generator,
    nums: np.ndarray,
    start: np.ndarray,
    city: np.ndarray,
    rank_t0: np.ndarray,
    rank_variant: np.ndarray,
) -> None:
    """Orders (order_placed, value = basket EUR) and deliveries (order_delivered, value = minutes)
    of customers as a Poisson process from ``start`` to the as-of cutoff. Each customer has its own
    order rate and basket size, so pre-period behaviour predicts post-period behaviour (CUPED).
    ``rank_variant`` is the orders_ranking_abc variant index (-1 = not in it); its effects apply
    to orders at or after ``rank_t0``."""
    n = nums.shape[0]
    # Customer order rate (exponential) and basket size (lognormal), spread evenly within each
    # orders_ranking_abc arm (stratified) so arms start from the same customer mix.
    groups = rank_variant.astype(np.int64) + 1
    rate = -ORDER_RATE_PER_DAY * np.log1p(-_stratified_uniform(rng, groups, 4))
    basket = np.exp(-0.045 + 0.3 * stats.norm.ppf(np.clip(_stratified_uniform(rng, groups, 4), 1e-12, 1 - 1e-12)))
    span_days = (AS_OF_CUTOFF_US - start) / DAY
    n_orders = rng.poisson(rate * span_days)
    idx = np.repeat(np.arange(n), n_orders)
    m = idx.size
    t = start[idx] + np.floor(rng.random(m) * (AS_OF_CUTOFF_US - start[idx]) / US).astype(np.int64) * US
    after = t >= rank_t0[idx]
    variant = rank_variant[idx]
    value = ORDER_VALUE_MEAN * basket[idx] * rng.lognormal(-0.125, 0.5, m)
    value_lift = np.ones(3)
    delivery_lift = np.ones(3)
    for v, lift in ORDER_VALUE_LIFT.items():
        value_lift[EXPERIMENTS["orders_ranking_abc"].variants.index(v)] = lift
    for v, lift in DELIVERY_TIME_LIFT.items():
        delivery_lift[EXPERIMENTS["orders_ranking_abc"].variants.index(v)] = lift
    in_rank = (variant >= 0) & after
    value = np.where(in_rank, value * value_lift[np.maximum(variant, 0)], value)
    ev.add(nums[idx], EV["order_placed"], t, np.round(value, 2))
    # Deliveries: 98% of orders, gamma minutes around the city's mean.
    delivered = rng.random(m) < 0.98
    minutes = np.asarray(CITY_DELIVERY_MINUTES)[np.maximum(city[idx], 0)] * rng.gamma(16.0, 1 / 16.0, m)
    minutes = np.where(in_rank, minutes * delivery_lift[np.maximum(variant, 0)], minutes)
    minutes = np.round(minutes, 1)
    d_at = t + np.floor(minutes * 60).astype(np.int64) * US
    d_value = np.where(rng.random(m) < 0.01, np.nan, minutes)  # 1% delivered without a duration
    ev.add(nums[idx][delivered], EV["order_delivered"], d_at[delivered], d_value[delivered])


def _experiment_events(experiment_id: str, ev: _Events, rng: np.random.Generator, units: _Units) -> None:
    """Post-exposure behaviour of one experiment's units (not orders_ranking / loyalty)."""
    k = EXPERIMENTS[experiment_id].n_arms
    if experiment_id == "chatbot_delivery_estimate":
        _conversion_events(ev, rng, units, k, EV["order_completed"], CHATBOT_COMPLETION, 7, 1.2, 0.25, 0.06, 0.08)
        rate = (CHATBOT_REPEAT_CONTACT,) * 2
        _conversion_events(ev, rng, units, k, EV["support_contact_repeat"], rate, 7, 2.0, 0.3, 0.03, 0.05)
        _count_events(ev, rng, units, k, EV["escalation_complaint"], CHATBOT_COMPLAINTS_MEAN, 0.5, 7)
    elif experiment_id == "push_reminder_timing":
        _conversion_events(ev, rng, units, k, EV["app_session_started"], PUSH_SESSION, 7, 1.0, 0.6, 0.2, 0.3)
        rate = (PUSH_OPT_OUT,) * 2
        _conversion_events(ev, rng, units, k, EV["push_notifications_disabled"], rate, 7, 2.0, 0.0, 0.01, 0.0)
    elif experiment_id == "search_autocomplete":
        _conversion_events(ev, rng, units, k, EV["search_purchase"], SEARCH_PURCHASE, 7, 1.0, 0.2, 0.05, 0.05)
        _count_events(ev, rng, units, k, EV["search_performed"], SEARCH_PERFORMED_MEAN, 1.5, 7)
    elif experiment_id == "banner_color":
        rate = (BANNER_CLICK,) * 2
        _conversion_events(ev, rng, units, k, EV["promo_banner_clicked"], rate, 7, 0.5, 0.1, 0.02, 0.02)
    else:  # pragma: no cover
        raise ValueError(experiment_id)


def _cohort_strata(units: _Units, spec: ExperimentSpec) -> tuple[_Units, int, int]:
    """The units with ``arm`` replaced by the stratum ``arm * n_days + exposure day`` (for the
    exactly stratified rates of :func:`_conversion_events`: every arm x exposure-day cohort gets
    the planted rate, so interim looks see the planted effect too), the number of strata and of
    exposure days."""
    n_days = int((spec.exposure_limit_us - spec.first_us + DAY - 1) // DAY)
    day = (units.t0 - spec.first_us) // DAY
    return replace(units, arm=units.arm.astype(np.int64) * n_days + day), spec.n_arms * n_days, n_days


def checkout_lift(variant_id: str) -> float:
    """Planted multiplicative effect of a checkout_factorial variant on checkout value."""
    a, b = FACTOR_LEVELS[variant_id]
    lift = 1.0
    if a == "on":
        lift *= CHECKOUT_FACTOR_A_LIFT
    if b == "on":
        lift *= CHECKOUT_FACTOR_B_LIFT
    if a == b == "on":
        lift *= CHECKOUT_INTERACTION_LIFT
    return lift


def _checkout_events(ev: _Events, rng: np.random.Generator, units: _Units, spec: ExperimentSpec) -> None:
    """checkout_factorial: ``checkout_completed`` events (value = EUR). The same conversion rate in
    every arm x exposure-day cohort; per-checkout values lognormal, spread evenly within each arm
    (stratified) and multiplied by the arm's planted lift; 10% of converters check out twice; a
    few checkouts after the 14-day window (not attributed)."""
    code = EV["checkout_completed"]
    k = spec.n_arms
    lift = np.asarray([checkout_lift(v) for v in spec.variants])
    strata, n_strata, _ = _cohort_strata(units, spec)
    converted = _stratified_uniform(rng, strata.arm, n_strata) < CHECKOUT_CONVERSION
    idx = np.flatnonzero(converted)

    def values(sel: np.ndarray) -> np.ndarray:
        u = np.clip(_stratified_uniform(rng, units.arm[sel], k), 1e-12, 1 - 1e-12)
        value = CHECKOUT_VALUE_MEDIAN * np.exp(CHECKOUT_VALUE_SIGMA * stats.norm.ppf(u)) * lift[units.arm[sel]]
        return np.round(value, 2)

    delay = _trunc_exp_delay(rng, idx.size, 1.5, 14, _stratified_uniform(rng, strata.arm[idx], n_strata))
    ev.add(units.nums[idx], code, units.t0[idx] + delay, values(idx))
    again = idx[_stratified_uniform(rng, units.arm[idx], k) < CHECKOUT_REPEAT]
    ev.add(units.nums[again], code, units.t0[again] + _trunc_exp_delay(rng, again.size, 4.0, 14), values(again))
    late = np.flatnonzero(rng.random(len(units)) < 0.03)
    secs = np.floor(rng.random(late.size) * 10 * 86_400).astype(np.int64)
    ev.add(units.nums[late], code, units.t0[late] + 14 * DAY + secs * US, values(late))


def _design_events(experiment_id: str, ev: _Events, rng: np.random.Generator, units: _Units) -> None:
    """Post-exposure behaviour of a design experiment's units (rates exact per arm x exposure day)."""
    spec = EXPERIMENTS[experiment_id]
    if experiment_id == "checkout_factorial":
        _checkout_events(ev, rng, units, spec)
        return
    strata, n_strata, n_days = _cohort_strata(units, spec)

    def rates(by_arm) -> np.ndarray:
        return np.repeat(np.asarray(by_arm, dtype=float), n_days)

    if experiment_id == "recommendation_bandit":
        code = EV["recommendation_clicked"]
        rate = rates(RECOMMENDATION_CLICK)
        _conversion_events(ev, rng, strata, n_strata, code, rate, 7, 0.8, 0.3, 0.03, 0.0, stratified_delays=True)
    elif experiment_id == "delivery_fee_sequential":
        code, rate = EV["fee_checkout_order"], rates(FEE_ORDER)
        _conversion_events(ev, rng, strata, n_strata, code, rate, 7, 1.0, 0.15, 0.03, 0.02, stratified_delays=True)
        code, rate = EV["fee_support_contact"], rates((FEE_SUPPORT_CONTACT,) * 2)
        _conversion_events(ev, rng, strata, n_strata, code, rate, 7, 2.0, 0.1, 0.01, 0.0, stratified_delays=True)
    elif experiment_id == "onboarding_msprt":
        code, rate = EV["onboarding_completed"], rates(ONBOARDING_COMPLETION)
        _conversion_events(ev, rng, strata, n_strata, code, rate, 7, 1.0, 0.0, 0.02, 0.0, stratified_delays=True)
    else:  # pragma: no cover
        raise ValueError(experiment_id)


# --------------------------------------------------------------------------------------------
# Exposure rows of a chunk
# --------------------------------------------------------------------------------------------


def _clean_exposures(experiment_id: str, rng: np.random.Generator, units: _Units) -> list[pa.Table]:
    """Exposure rows of clean units (kept ones, their repeats, ties, padded ids)."""
    spec = EXPERIMENTS[experiment_id]
    limit = spec.exposure_limit_us
    n = len(units)
    false = np.zeros(n, dtype=bool)
    block, pos = units.block, units.pos
    platform = units.platform.copy()
    tie = (block % TIE_MOD == TIE_REM) & (pos == 0) if experiment_id == "orders_ranking_abc" else false
    platform[tie] = PLATFORMS.index("web")
    padded = (block % PADDED_MOD == PADDED_REM) & (pos == 0) if experiment_id == "chatbot_delivery_estimate" else false
    tables = []
    first = ~padded
    tables.append(
        _exposure_table(
            experiment_id,
            units.nums[first],
            units.arm[first],
            units.t0[first],
            platform[first],
            units.country[first],
            units.city[first],
            false[first],
            false[first],
        )
    )
    if padded.any():
        rows = []
        for i in np.flatnonzero(padded):
            rows.append(
                (
                    experiment_id,
                    f"  cust_{units.nums[i]} ",
                    f" {spec.variants[units.arm[i]]}  ",
                    int(units.t0[i]),
                    PLATFORMS[platform[i]] if platform[i] >= 0 else None,
                    COUNTRIES[units.country[i]] if units.country[i] >= 0 else None,
                    CITIES[units.city[i]] if units.city[i] >= 0 else ("" if units.city[i] == -2 else None),
                    False,
                    False,
                )
            )
        tables.append(_rows_table(rows, EXPOSURES_SCHEMA))
    # Repeat exposures: one extra row (dup1; some exact copies), two extra rows (dup2).
    dup1 = block % DUP1_MOD == DUP1_REM
    dup2 = block % DUP2_MOD == DUP2_REM
    rep_idx = np.concatenate([np.flatnonzero(dup1), np.repeat(np.flatnonzero(dup2), 2)])
    rep_idx.sort(kind="stable")
    t_rep = units.t0[rep_idx] + np.floor(rng.random(rep_idx.size) * (limit - units.t0[rep_idx]) / US).astype(np.int64) * US
    exact = block[rep_idx] % DUP1_EXACT_MOD == DUP1_EXACT_REM
    t_rep = np.where(exact, units.t0[rep_idx], t_rep)
    rep_platform = units.platform[rep_idx].copy()
    switch = (~exact) & (rng.random(rep_idx.size) < 0.2)
    rep_platform[switch] = rng.integers(0, len(PLATFORMS), switch.sum())
    # Ties: same instant as the first row, platform 'android' (smallest) vs the first row's 'web'.
    tie_idx = np.flatnonzero(tie)
    all_idx = np.concatenate([rep_idx, tie_idx])
    all_t = np.concatenate([t_rep, units.t0[tie_idx]])
    all_platform = np.concatenate([rep_platform, np.full(tie_idx.size, PLATFORMS.index("android"), np.int8)])
    f = np.zeros(all_idx.size, dtype=bool)
    tables.append(
        _exposure_table(
            experiment_id,
            units.nums[all_idx],
            units.arm[all_idx],
            all_t,
            all_platform,
            units.country[all_idx],
            units.city[all_idx],
            f,
            f,
        )
    )
    return tables


def _dirty_exposures(experiment_id: str, rng: np.random.Generator, units: _Units, category: np.ndarray) -> pa.Table:
    spec = EXPERIMENTS[experiment_id]
    names = list(DIRTY_UNITS)
    rows_per = np.asarray([DIRTY_ROWS_PER_UNIT[c] for c in names])[category]
    idx = np.repeat(np.arange(len(units)), rows_per)
    second = np.zeros(idx.size, dtype=bool)
    second[1:] = idx[1:] == idx[:-1]
    cat = category[idx]
    t = units.t0[idx].copy()
    later = np.floor(rng.random(idx.size) * (spec.exposure_limit_us - t) / US).astype(np.int64) * US
    t = np.where(second, t + later, t)
    arm = units.arm[idx].copy()
    multi = np.isin(cat, [names.index(c) for c in ("internal_and_bot_multi", "bot_multi", "multi_variant")])
    arm = np.where(second & multi, (arm + 1) % spec.n_arms, arm).astype(np.int8)
    c = np.asarray(names)[cat]
    is_internal = (c == "internal_single") | ((c == "internal_partial") & second) | (
        (c == "internal_and_bot_multi") & second
    )
    is_bot = (c == "bot_single") | (c == "bot_multi") | ((c == "internal_and_bot_multi") & ~second)
    return _exposure_table(
        experiment_id,
        units.nums[idx],
        arm,
        t,
        units.platform[idx],
        units.country[idx],
        units.city[idx],
        is_internal,
        is_bot,
    )


# --------------------------------------------------------------------------------------------
# Row-level dirt (fixed handful, independent of scale)
# --------------------------------------------------------------------------------------------


def _row_dirt_exposures(scale: float) -> list[tuple]:
    """(experiment_id, unit_id, variant_id, exposed_at, platform, country, city, is_internal,
    is_bot, expected_reason) rows; every row uses a fresh customer."""
    nxt = iter(range(_unit_bases(scale)["#row_dirt"], 10**12))

    def cust() -> str:
        return f"cust_{next(nxt)}"

    d = dt.datetime
    t = d(2026, 10, 12, 9, 30)
    geo = ("ios", "DE", "Berlin")
    rows = [
        ("chatbot_delivery_estimate", None, "control", t, *geo, False, False, "missing_unit_id"),
        ("chatbot_delivery_estimate", None, "treatment", t, *geo, False, False, "missing_unit_id"),
        ("chatbot_delivery_estimate", "", "treatment", t, *geo, False, False, "missing_unit_id"),
        ("search_autocomplete", "   ", "control", t, *geo, False, False, "missing_unit_id"),
        ("search_autocomplete", None, "treatment", t, *geo, True, False, "missing_unit_id"),
        ("search_autocomplete", None, "control", None, *geo, False, False, "missing_unit_id"),
        ("checkout_redesign_2025", None, "control", t, *geo, False, False, "missing_unit_id"),
        ("checkout_redesign_2025", cust(), "control", t, *geo, False, False, "unknown_experiment"),
        ("checkout_redesign_2025", cust(), "treatment", t, *geo, False, False, "unknown_experiment"),
        ("checkout_redesign_2025", cust(), "control", d(2026, 10, 2, 8), *geo, False, False, "unknown_experiment"),
        (None, cust(), "control", t, *geo, False, False, "unknown_experiment"),
        ("  ", cust(), "treatment", t, *geo, False, False, "unknown_experiment"),
        ("Banner_Color", cust(), "control", t, *geo, False, False, "unknown_experiment"),
        ("chatbot_delivery_estimate", cust(), "treatment_2", t, *geo, False, False, "unknown_variant"),
        ("chatbot_delivery_estimate", cust(), "treatment_2", t, *geo, False, False, "unknown_variant"),
        ("chatbot_delivery_estimate", cust(), None, t, *geo, False, False, "unknown_variant"),
        ("banner_color", cust(), "Treatment", t, *geo, False, False, "unknown_variant"),
        ("banner_color", cust(), "Treatment", t, *geo, False, False, "unknown_variant"),
        ("banner_color", cust(), "Treatment", d(2026, 10, 30, 10), *geo, False, False, "unknown_variant"),
        ("push_reminder_timing", cust(), "control", None, *geo, False, False, "missing_exposed_at"),
        ("push_reminder_timing", cust(), "control", None, *geo, False, False, "missing_exposed_at"),
        ("push_reminder_timing", cust(), "treatment", None, *geo, False, False, "missing_exposed_at"),
        ("push_reminder_timing", cust(), "control", d(2026, 11, 2, 7), *geo, False, False, "exposed_after_as_of_date"),
        ("loyalty_badge", cust(), "control", d(2026, 11, 1), *geo, False, False, "exposed_after_as_of_date"),
        ("loyalty_badge", cust(), "treatment", d(2026, 11, 1, 9, 15), *geo, False, False, "exposed_after_as_of_date"),
        ("loyalty_badge", cust(), "control", d(2026, 11, 2, 18), *geo, False, False, "exposed_after_as_of_date"),
        ("loyalty_badge", cust(), "treatment", d(2026, 11, 3, 12), *geo, False, False, "exposed_after_as_of_date"),
        ("banner_color", cust(), "control", d(2026, 10, 29), *geo, False, False, "exposed_outside_experiment_window"),
        ("banner_color", cust(), "treatment", d(2026, 10, 29, 14, 5), *geo, False, False, "exposed_outside_experiment_window"),
        ("banner_color", cust(), "treatment", d(2026, 10, 29, 20), *geo, False, False, "exposed_outside_experiment_window"),
        ("banner_color", cust(), "control", d(2026, 10, 30, 8), *geo, False, True, "exposed_outside_experiment_window"),
        ("banner_color", cust(), "treatment", d(2026, 10, 31, 23, 59, 59), *geo, False, False, "exposed_outside_experiment_window"),
        ("banner_color", cust(), "control", d(2026, 9, 30, 23, 59, 59), *geo, False, False, "exposed_outside_experiment_window"),
        ("banner_color", cust(), "treatment", d(2026, 9, 29, 12), *geo, False, False, "exposed_outside_experiment_window"),
    ]
    return rows


def _event_dirt(scale: float) -> tuple[list[tuple], list[str | None]]:
    """Row-level event dirt plus a few valid oddities; returns (rows, expected_reason per row)."""
    rank_base = _unit_bases(scale)["orders_ranking_abc"]

    def rank_unit(block: int) -> str:  # position 0 of a low block of orders_ranking_abc
        return f"cust_{rank_base + block * 3}"

    d = dt.datetime
    t = d(2026, 10, 15, 12)
    nan, inf = float("nan"), float("inf")
    rows: list[tuple] = []
    reasons: list[str | None] = []

    def add(reason, *row):
        rows.append(row)
        reasons.append(reason)

    for i in range(7):
        add("missing_unit_id", None, "order_placed", t + dt.timedelta(hours=i), 25.0 + i)
    add("missing_unit_id", None, None, t, None)  # also no event name: the first reason wins
    add("missing_unit_id", "", "order_completed", t, None)
    add("missing_unit_id", "  ", "app_session_started", t, None)
    add("missing_event_name", rank_unit(100), None, t, 12.5)
    add("missing_event_name", rank_unit(101), None, t, None)
    add("missing_event_name", rank_unit(102), None, None, None)
    add("missing_event_name", rank_unit(103), "   ", t, 40.0)
    add("missing_event_at", rank_unit(104), "order_placed", None, 31.0)
    add("missing_event_at", rank_unit(105), "order_delivered", None, 35.5)
    add("missing_event_at", rank_unit(106), "order_placed", None, nan)
    add("event_after_as_of_date", rank_unit(110), "order_placed", d(2026, 11, 1), 28.0)
    add("event_after_as_of_date", rank_unit(111), "order_delivered", d(2026, 11, 1), 41.0)
    for i in range(8):
        add("event_after_as_of_date", rank_unit(112 + i), "order_placed", d(2026, 11, 1, 6) + dt.timedelta(hours=7 * i), 30.0)
    add("event_after_as_of_date", rank_unit(120), "order_placed", d(2026, 11, 3), nan)  # also invalid value
    add("event_after_as_of_date", rank_unit(121), "app_session_started", d(2026, 12, 24), None)
    for i, v in enumerate([nan, nan, nan, nan, inf, inf, -inf]):
        add("invalid_value", rank_unit(130 + i), "order_placed", d(2026, 10, 20, 10 + i), v)
    # Valid oddities: padded identifiers (trimmed), null values, the last valid instant.
    add(None, f" {rank_unit(140)} ", "order_placed", d(2026, 10, 25, 10), 27.5)
    add(None, f"{rank_unit(141)}   ", "order_placed", d(2026, 10, 25, 11), 19.9)
    add(None, f"  {rank_unit(142)}", "order_placed", d(2026, 10, 25, 12), 44.0)
    add(None, rank_unit(143), " order_placed", d(2026, 10, 26, 12), 33.3)
    add(None, rank_unit(144), "order_placed  ", d(2026, 10, 26, 13), 21.0)
    for i in range(5):
        add(None, rank_unit(150 + i), "order_placed", d(2026, 10, 27, 9 + i), None)
    add(None, rank_unit(160), "order_placed", d(2026, 10, 31, 23, 59, 59), 30.0)
    return rows, reasons


def _boundary_events(experiment_id: str, units: _Units) -> pa.Table | None:
    """Events exactly on window boundaries for units of the first chunk."""
    rows = []
    if experiment_id == "chatbot_delivery_estimate":
        for i in np.flatnonzero((units.block >= 10) & (units.block < 30) & (units.pos == 0)):
            rows.append((f"cust_{units.nums[i]}", "order_completed", int(units.t0[i]), None))  # counted
        for i in np.flatnonzero((units.block >= 30) & (units.block < 50) & (units.pos == 0)):
            rows.append((f"cust_{units.nums[i]}", "order_completed", int(units.t0[i] + 7 * DAY), None))  # not
    elif experiment_id == "orders_ranking_abc":
        for i in np.flatnonzero((units.block >= 10) & (units.block < 20) & (units.pos == 0)):
            rows.append((f"cust_{units.nums[i]}", "order_placed", int(units.t0[i] - 28 * DAY), 25.0))  # pre
        for i in np.flatnonzero((units.block >= 20) & (units.block < 30) & (units.pos == 0)):
            rows.append((f"cust_{units.nums[i]}", "order_placed", int(units.t0[i] - 28 * DAY - US), 25.0))  # none
        for i in np.flatnonzero((units.block >= 30) & (units.block < 40) & (units.pos == 0)):
            rows.append((f"cust_{units.nums[i]}", "order_placed", int(units.t0[i] + 14 * DAY), 25.0))  # none
    if not rows:
        return None
    return _rows_table(rows, METRIC_EVENTS_SCHEMA)


# --------------------------------------------------------------------------------------------
# Chunked generation
# --------------------------------------------------------------------------------------------


def iter_chunks(scale: float = 1.0, seed: int = 42) -> Iterator[tuple[pa.Table, pa.Table]]:
    """Yield (exposures, metric_events) arrow tables chunk by chunk, deterministically."""
    if not scale > 0:
        raise ValueError("scale must be > 0")
    for exp_idx, experiment_id in enumerate(CORE_EXPERIMENTS):
        spec = EXPERIMENTS[experiment_id]
        if experiment_id == "loyalty_badge":
            yield from _loyalty_only_chunks(scale, seed)
            continue
        n_blocks = units_per_arm(experiment_id, scale)
        for chunk, (lo, hi) in enumerate(_chunk_ranges(n_blocks)):
            rng = _rng(seed, exp_idx, chunk, 1)
            units = _clean_units(experiment_id, scale, seed, chunk, lo, hi)
            ev = _Events.empty()
            exposures: list[pa.Table] = []
            if experiment_id == "orders_ranking_abc":
                exposures += _ranking_chunk(rng, units, ev, seed, chunk)
            else:
                exposed = units
                if experiment_id == "push_reminder_timing":
                    dropped = (units.arm == spec.variants.index("treatment")) & (units.block % SRM_DROP_EVERY == 0)
                    exposed = units.take(~dropped)
                _experiment_events(experiment_id, ev, rng, units)
                exposures += _clean_exposures(experiment_id, rng, exposed)
            events = [ev.table()]
            if chunk == 0:
                boundary = _boundary_events(experiment_id, units)
                if boundary is not None:
                    events.append(boundary)
            if chunk == 0 and spec.has_dirty_units:
                drng = _rng(seed, exp_idx, 10_000, 1)
                dirty, category = _dirty_units(experiment_id, scale, seed)
                dev = _Events.empty()
                if experiment_id == "orders_ranking_abc":
                    rank_variant = dirty.arm.astype(np.int8)
                    _order_stream(dev, drng, dirty.nums, dirty.t0 - 30 * DAY, dirty.city, dirty.t0, rank_variant)
                else:
                    _experiment_events(experiment_id, dev, drng, dirty)
                exposures.append(_dirty_exposures(experiment_id, drng, dirty, category))
                events.append(dev.table())
            yield pa.concat_tables(exposures), pa.concat_tables(events)
    # Row-level dirt.
    rows = [r[:-1] for r in _row_dirt_exposures(scale)]
    event_rows, _ = _event_dirt(scale)
    yield _rows_table(rows, EXPOSURES_SCHEMA), _rows_table(event_rows, METRIC_EVENTS_SCHEMA)
    for experiment_id in DESIGN_EXPERIMENTS:
        yield from _design_chunks(experiment_id, scale, seed)


def _design_chunks(experiment_id: str, scale: float, seed: int) -> Iterator[tuple[pa.Table, pa.Table]]:
    """A design experiment: clean units only (blockwise balanced arms, repeat exposures by the
    block rules), RNG streams ``(seed, experiment index, chunk, 0 | 1)`` of its own index."""
    exp_idx = EXPERIMENT_ORDER.index(experiment_id)
    for chunk, (lo, hi) in enumerate(_chunk_ranges(units_per_arm(experiment_id, scale))):
        rng = _rng(seed, exp_idx, chunk, 1)
        units = _clean_units(experiment_id, scale, seed, chunk, lo, hi)
        ev = _Events.empty()
        _design_events(experiment_id, ev, rng, units)
        yield pa.concat_tables(_clean_exposures(experiment_id, rng, units)), ev.table()


def _loyalty_overlap(units: _Units) -> np.ndarray:
    return units.block % LOYALTY_OVERLAP_MOD < LOYALTY_OVERLAP_LT


def _ranking_chunk(rng: np.random.Generator, units: _Units, ev: _Events, seed: int, chunk: int) -> list[pa.Table]:
    """orders_ranking_abc exposures, the loyalty_badge exposures of its overlapping customers and
    the order stream of all of them."""
    loyalty = EXPERIMENTS["loyalty_badge"]
    exp_idx = EXPERIMENT_ORDER.index("loyalty_badge")
    lrng = _rng(seed, exp_idx, chunk, 2)
    overlap = units.take(_loyalty_overlap(units))
    n_ov = len(overlap)
    n_pairs = n_ov // 2
    loy_arm = np.concatenate([_block_arms(lrng, n_pairs, 2), lrng.integers(0, 2, n_ov - 2 * n_pairs)]).astype(np.int8)
    loy_t0 = _exposure_times(lrng, n_ov, loyalty)
    loy_units = _Units(
        overlap.nums, loy_arm, loy_t0, overlap.platform, overlap.country, overlap.city,
        overlap.block, np.zeros(n_ov, np.int8) + 9,  # pos 9: never matches the position-0 rules
    )
    first_loy = np.full(len(units), np.iinfo(np.int64).max)
    first_loy[_loyalty_overlap(units)] = loy_t0
    start = np.minimum(units.t0, first_loy) - 30 * DAY
    _order_stream(ev, rng, units.nums, start, units.city, units.t0, units.arm)
    tables = _clean_exposures("orders_ranking_abc", rng, units)
    tables += _clean_exposures_loyalty(lrng, loy_units)
    return tables


def _clean_exposures_loyalty(rng: np.random.Generator, units: _Units) -> list[pa.Table]:
    return _clean_exposures("loyalty_badge", rng, units)


def _loyalty_only_chunks(scale: float, seed: int) -> Iterator[tuple[pa.Table, pa.Table]]:
    """loyalty_badge customers that are not in orders_ranking_abc (2 per block)."""
    spec = EXPERIMENTS["loyalty_badge"]
    exp_idx = EXPERIMENT_ORDER.index("loyalty_badge")
    n_blocks = _loyalty_new_units(scale) // 2
    base = _unit_bases(scale)["loyalty_badge"]
    for chunk, (lo, hi) in enumerate(_chunk_ranges(n_blocks)):
        rng = _rng(seed, exp_idx, chunk, 0)
        nb = hi - lo
        block = np.repeat(np.arange(lo, hi, dtype=np.int64), 2)
        pos = np.tile(np.arange(2, dtype=np.int8), nb)
        arm = _block_arms(rng, nb, 2)
        t0 = _exposure_times(rng, 2 * nb, spec)
        t0[(block == 0) & (pos == 0)] = spec.exposure_limit_us - US  # last valid second (as-of)
        platform, country, city = _dims(rng, 2 * nb, spec.city_weights)
        # Loyalty-only blocks are numbered after the overlap ones so block rules stay disjoint.
        units = _Units(base + block * 2 + pos, arm, t0, platform, country, city, block + 10**9, pos + 5)
        ev = _Events.empty()
        erng = _rng(seed, exp_idx, chunk, 1)
        _order_stream(ev, erng, units.nums, t0 - 30 * DAY, city, np.full(2 * nb, np.iinfo(np.int64).max), np.full(2 * nb, -1, np.int8))
        # Repeat exposures follow the same block rules on the local block number.
        units.block = block
        yield pa.concat_tables(_clean_exposures("loyalty_badge", erng, units)), ev.table()


def generate_tables(scale: float = 1.0, seed: int = 42) -> tuple[pa.Table, pa.Table]:
    """All rows in memory as (exposures, metric_events) arrow tables (for tests / small scales)."""
    exposures, events = [], []
    for e, m in iter_chunks(scale, seed):
        exposures.append(e)
        events.append(m)
    return pa.concat_tables(exposures), pa.concat_tables(events)


def generate(
    database: str | os.PathLike | None = None,
    *,
    scale: float = 1.0,
    seed: int = 42,
    parquet_dir: str | os.PathLike | None = None,
) -> dict:
    """Write the demo raw tables and return a summary (row counts, scale, seed, as-of date).

    Default: tables ``raw.exposures`` / ``raw.metric_events`` (replaced) in the DuckDB file
    ``database``. With ``parquet_dir``: ``exposures.parquet`` / ``metric_events.parquet`` there
    and nothing in the database.
    """
    if parquet_dir is None and database is None:
        raise ValueError("give a database path or a parquet_dir")
    n_exposures = n_events = 0
    if parquet_dir is not None:
        import pyarrow.parquet as pq

        os.makedirs(parquet_dir, exist_ok=True)
        with pq.ParquetWriter(os.path.join(parquet_dir, "exposures.parquet"), EXPOSURES_SCHEMA) as ew, pq.ParquetWriter(
            os.path.join(parquet_dir, "metric_events.parquet"), METRIC_EVENTS_SCHEMA
        ) as mw:
            for exposures, events in iter_chunks(scale, seed):
                ew.write_table(exposures.cast(EXPOSURES_SCHEMA), row_group_size=1_000_000)
                mw.write_table(events.cast(METRIC_EVENTS_SCHEMA), row_group_size=1_000_000)
                n_exposures += exposures.num_rows
                n_events += events.num_rows
    else:
        import duckdb

        con = duckdb.connect(str(database))
        try:
            con.execute("create schema if not exists raw")
            con.execute(f"create or replace table raw.exposures ({EXPOSURES_DDL})")
            con.execute(f"create or replace table raw.metric_events ({METRIC_EVENTS_DDL})")
            for exposures, events in iter_chunks(scale, seed):
                con.register("_demo_exposures_chunk", exposures)
                con.execute("insert into raw.exposures select * from _demo_exposures_chunk")
                con.unregister("_demo_exposures_chunk")
                con.register("_demo_events_chunk", events)
                con.execute("insert into raw.metric_events select * from _demo_events_chunk")
                con.unregister("_demo_events_chunk")
                n_exposures += exposures.num_rows
                n_events += events.num_rows
        finally:
            con.close()
    return {
        "scale": scale,
        "seed": seed,
        "as_of_date": DEMO_AS_OF_DATE.isoformat(),
        "n_exposure_rows": n_exposures,
        "n_metric_event_rows": n_events,
        "database": None if parquet_dir is not None else str(database),
        "parquet_dir": None if parquet_dir is None else str(parquet_dir),
    }


# --------------------------------------------------------------------------------------------
# Exactly known counts
# --------------------------------------------------------------------------------------------


def expected_kept_units(scale: float = 1.0) -> dict[str, int]:
    """Units per experiment that survive all exclusions (fct_exposures rows), from the plan."""
    out = {}
    for experiment_id in EXPERIMENT_ORDER:
        spec = EXPERIMENTS[experiment_id]
        if experiment_id == "loyalty_badge":
            out[experiment_id] = _loyalty_overlap_units(scale) + _loyalty_new_units(scale)
            continue
        blocks = units_per_arm(experiment_id, scale)
        n = blocks * spec.n_arms
        if experiment_id == "push_reminder_timing":
            n -= _count_rem(blocks, SRM_DROP_EVERY, 0)
        out[experiment_id] = n
    return out


def expected_srm_dropped(scale: float = 1.0) -> int:
    """push_reminder_timing treatment units whose exposure was lost (the planted SRM)."""
    return _count_rem(units_per_arm("push_reminder_timing", scale), SRM_DROP_EVERY, 0)


def _repeat_rows(blocks: int, n_arms: int, ties: bool) -> int:
    extra = (_count_rem(blocks, DUP1_MOD, DUP1_REM) + 2 * _count_rem(blocks, DUP2_MOD, DUP2_REM)) * n_arms
    if ties:
        extra += _count_rem(blocks, TIE_MOD, TIE_REM)
    return extra


# Informational fct_quarantine reasons that are not planted dirt: valid events of analysed units
# outside every metric window (docs/semantics.md, "Unattributed events"). The demo draws such
# events at random (late events, events just before exposure), so expected_quarantine does not
# predict them; the tests compare them with tests/reference_pipeline.py instead.
UNATTRIBUTED_EVENT_REASONS = ("event_after_attribution_window", "event_before_exposure")


def is_planted_dirt(row: dict) -> bool:
    """Whether a fct_quarantine row (a mapping with ``is_exclusion`` and ``reason``) is of a kind
    :func:`expected_quarantine` predicts exactly: every exclusion, plus the collapsed repeat
    exposures. The other rows are the unattributed-event rows (``UNATTRIBUTED_EVENT_REASONS``)."""
    return bool(row["is_exclusion"]) or row["reason"] == "repeat_exposure_collapsed"


def expected_quarantine(scale: float = 1.0) -> list[dict]:
    """Exact planted-dirt content of the demo's fct_quarantine (source_table, experiment_id,
    reason, is_exclusion, n_rows, n_units): the rows :func:`is_planted_dirt` selects, i.e. all
    of fct_quarantine except the informational unattributed-event rows
    (``UNATTRIBUTED_EVENT_REASONS``). experiment_id '(missing)' for exposure rows without one and
    None for metric events. Sorted by (source_table, experiment_id, reason)."""
    counts: dict[tuple, list[int | set]] = {}

    def bump(key, rows, units):
        entry = counts.setdefault(key, [0, 0])
        entry[0] += rows
        entry[1] += units

    # Row-level exposure dirt.
    unit_sets: dict[tuple, set] = {}
    for row in _row_dirt_exposures(scale):
        experiment_id = (row[0] or "").strip() or "(missing)"
        key = ("exposures", experiment_id, row[-1])
        unit = (row[1] or "").strip() or None
        entry = counts.setdefault(key, [0, 0])
        entry[0] += 1
        if unit is not None:
            unit_sets.setdefault(key, set()).add(unit)
    for key, units in unit_sets.items():
        counts[key][1] = len(units)
    # Excluded units.
    dirty = dirty_unit_counts(scale)
    for experiment_id in EXPERIMENT_ORDER:
        if not EXPERIMENTS[experiment_id].has_dirty_units:
            continue
        for category, n in dirty.items():
            bump(("exposures", experiment_id, DIRTY_REASON[category]), n * DIRTY_ROWS_PER_UNIT[category], n)
    # Collapsed repeats of kept units.
    for experiment_id in EXPERIMENT_ORDER:
        spec = EXPERIMENTS[experiment_id]
        if experiment_id == "loyalty_badge":
            rank_blocks = units_per_arm("orders_ranking_abc", scale)
            overlap_blocks = [b for r in range(LOYALTY_OVERLAP_LT) for b in [r]]  # residues
            # Overlap units: one per ranking unit of an overlap block (3 per block), block rules
            # on the ranking block number; loyalty-only units: 2 per block, local block number.
            extra = 0
            for rem in overlap_blocks:
                extra += 3 * _count_joint(rank_blocks, LOYALTY_OVERLAP_MOD, rem, DUP1_MOD, DUP1_REM)
                extra += 3 * 2 * _count_joint(rank_blocks, LOYALTY_OVERLAP_MOD, rem, DUP2_MOD, DUP2_REM)
            extra += _repeat_rows(_loyalty_new_units(scale) // 2, 2, ties=False)
        else:
            extra = _repeat_rows(units_per_arm(experiment_id, scale), spec.n_arms, experiment_id == "orders_ranking_abc")
            if experiment_id == "push_reminder_timing":
                pass  # dropped blocks (b % 20 == 0) never meet the repeat rules (b % 25 == 3 etc.)
        if extra:
            bump(("exposures", experiment_id, "repeat_exposure_collapsed"), extra, 0)
    # Metric events.
    _, reasons = _event_dirt(scale)
    rows, _ = _event_dirt(scale)
    ev_units: dict[str, set] = {}
    for row, reason in zip(rows, reasons):
        if reason is None:
            continue
        bump(("metric_events", None, reason), 1, 0)
        unit = (row[0] or "").strip() or None
        if unit is not None:
            ev_units.setdefault(reason, set()).add(unit)
    for reason, units in ev_units.items():
        counts[("metric_events", None, reason)][1] = len(units)
    out = [
        {
            "source_table": k[0],
            "experiment_id": k[1],
            "reason": k[2],
            "is_exclusion": k[2] != "repeat_exposure_collapsed",
            "n_rows": v[0],
            "n_units": v[1],
        }
        for k, v in counts.items()
    ]
    return sorted(out, key=lambda r: (r["source_table"], r["experiment_id"] or "", r["reason"]))


def _count_joint(n: int, mod_a: int, rem_a: int, mod_b: int, rem_b: int) -> int:
    """How many b in [0, n) have b % mod_a == rem_a and b % mod_b == rem_b."""
    b = np.arange(n, dtype=np.int64)
    return int(np.count_nonzero((b % mod_a == rem_a) & (b % mod_b == rem_b)))


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exptools.demo_data", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", help="DuckDB file to write raw.exposures / raw.metric_events into")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies unit counts (default 1.0)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--parquet-dir", help="write exposures.parquet / metric_events.parquet here instead")
    args = parser.parse_args(argv)
    if args.database is None and args.parquet_dir is None:
        parser.error("give --database or --parquet-dir")
    summary = generate(args.database, scale=args.scale, seed=args.seed, parquet_dir=args.parquet_dir)
    target = summary["parquet_dir"] or summary["database"]
    print(
        f"demo data (scale={args.scale}, seed={args.seed}, as_of_date={summary['as_of_date']}): "
        f"{summary['n_exposure_rows']:,} exposure rows, {summary['n_metric_event_rows']:,} metric events -> {target}"
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
