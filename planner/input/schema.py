"""The data dictionary: every input sheet and column, declared once.

Reading, validation, the blank template and the README's input reference are
all generated from the tables below, so a column is added or documented in
exactly one place. The content follows ``CONTRACT.md`` v1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Column kinds. "id" and "text" are kept as text ("123" and 123 are one id,
# "00123" is another); "group" is an id that may also name a group of sites
# (lanes only); "days" is a whole, non-negative number of calendar days; "count" a whole number of
# periods (at most MAX_COUNT).
KINDS = ("id", "group", "text", "number", "days", "count", "enum", "yesno", "country", "any")

MAX_COUNT = 1_000
# A century: longer is a typo (or a unit slip), and sums of days along a chain must stay exact integers.
MAX_DAYS = 36_525

# Sanity caps, far above any real figure: a value beyond one is a typo or a unit slip (kg for t, USD for
# kUSD), and the caps keep every coefficient the solver sees finite and at least 100x below HiGHS's
# infinity (1e20): at most 1e9 t/yr x 1e6 USD/kg x 1,000 kg/t = 1e18 USD for a whole plan.
MAX_TONNES = 1e9  # t/yr: world mine output of every mineral but coal and iron ore is below this
MAX_USD_PER_KG = 1e6  # rare-earth oxides and magnets cost 1e1-1e4 USD/kg; a shortage penalty 1e4-1e5
MAX_USD = 1e12  # one-off qualification cost
MAX_T_PER_T = 1e6  # tonnes of input (or coproduct) per tonne: ore grades down to 0.0001 %
MAX_RISK_WEIGHT = 1e6
MAX_TIME_LIMIT_S = 1e7  # about 116 days
# Operands of WhatIf add/multiply and sweep values: finite and within this, so no change can overflow.
MAX_OPERAND = 1e12


@dataclass(frozen=True)
class Column:
    """One input column.

    Parameters
    ----------
    name : header (matched case-insensitively after trimming spaces)
    kind : one of ``KINDS``
    required : a value must be present in every data row
    default : value taken by a blank optional cell (``None``: stays blank)
    unit : human-readable unit, shown in the template and the docs
    lo, hi : inclusive numeric bounds (``lo_open``: the lower bound is exclusive)
    choices : allowed values of an ``enum`` column
    doc : one-line meaning
    cap : inclusive sanity cap (see ``MAX_TONNES``): not part of the meaning, so a message names it only
        when a value exceeds it; the docs and the template always show it
    """

    name: str
    kind: str
    required: bool = False
    default: object = None
    unit: str = ""
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    choices: tuple[str, ...] = ()
    doc: str = ""
    cap: float | None = None

    def bounds_text(self, cap: bool = True) -> str:
        """Describe the allowed range in words, e.g. ``a number >= 0`` (``cap``: with the sanity cap)."""
        if self.kind == "enum":
            return "one of " + ", ".join(self.choices)
        if self.kind == "yesno":
            return "yes or no"
        if self.kind == "days":
            return f"a whole number of days >= 0 and <= {MAX_DAYS:,}"
        if self.kind == "count":
            return f"a whole number >= 0 and <= {MAX_COUNT:,}"
        if self.kind != "number":
            return "text"
        parts = []
        if self.lo is not None:
            parts.append(f"{'>' if self.lo_open else '>='} {self.lo:g}")
        hi = self.hi if self.hi is not None else self.cap if cap else None
        if hi is not None:
            parts.append(f"<= {number_text(hi)}")
        return "a number " + " and ".join(parts) if parts else "a number"

    @property
    def upper(self) -> float | None:
        """The inclusive upper bound a value must respect: ``hi``, else the sanity cap."""
        return self.hi if self.hi is not None else self.cap


def number_text(value: float) -> str:
    """A bound as people read it: 1000 -> "1000", 1e9 -> "1,000,000,000"."""
    if float(value).is_integer() and abs(value) >= 10_000:
        return f"{int(value):,}"
    return f"{value:g}"


@dataclass(frozen=True)
class Sheet:
    """One input sheet: its columns, the columns that identify a row, and its role."""

    name: str
    required: bool
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    doc: str
    unique_key: bool = True
    extra_doc: str = ""
    periodic: bool = False  # has a ``period`` column: blank = every period, else that period only

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


STAGES = ("mine", "refiner", "metal", "magnet", "plant")

# Appended to every sheet whose rows may differ by period (contract v2). Blank: the row holds in every
# period; a period id: only then, replacing a blank row of the same key in that period (so a ramp is a
# nameplate row plus one row per ramp year, and a closure a row with capacity 0).
PERIOD_COLUMN_DOC = ("the period this row applies to (blank: every period; a row for one period replaces the "
                     "blank row with the same key there)")
STATUSES = ("qualified", "candidate")
OPERATIONS = ("set", "add", "multiply", "delete")
BASELINE = "baseline"  # the batch's name for the unchanged input: no WhatIf scenario may take it
SOLVERS = ("auto", "highs", "cbc")
END_USES = ("civil", "military")  # Demand.end_use, and the Controls rows that apply only to one of them

SITES = Sheet(
    "Sites",
    True,
    (
        Column("site_id", "id", True, doc="unique id"),
        Column("name", "text", doc="display name (default: site_id)"),
        Column("company", "text", doc="owning company; supplier-share caps count per company (default: site_id)"),
        Column("country", "country", True, doc="ISO 3166-1 alpha-2 code (CN, US; NA is Namibia)"),
        Column("stage", "enum", True, choices=STAGES, doc="mine, refiner, metal, magnet or plant (your own demand site)"),
        Column(
            "status", "enum", default="qualified", choices=STATUSES,
            doc="qualified (usable now) or candidate (usable only if qualified, at qualification_cost_usd)",
        ),
        Column("qualification_cost_usd", "number", default=0.0, unit="USD", lo=0, cap=MAX_USD, doc="one-off cost if a candidate is used at all"),
        Column("min_volume_t", "number", default=0.0, unit="t/yr", lo=0, cap=MAX_TONNES, doc="if the site is used at all, its total output is at least this (take-or-pay)"),
        Column("processing_days", "days", default=0, unit="days", doc="order-to-ship time at this site"),
        Column("qualification_periods", "count", default=0, unit="periods", doc="a candidate is usable this many periods after its qualification is decided (contract v2)"),
        Column("period", "id", default="", doc=PERIOD_COLUMN_DOC),
    ),
    key=("site_id",),
    doc="Every place material comes from, is made at, or is needed.",
    periodic=True,
)

SUPPLY = Sheet(
    "Supply",
    True,
    (
        Column("site_id", "id", True, doc="a site of any stage except plant"),
        Column("product", "id", True, doc="product id, e.g. NDPR_OXIDE"),
        Column("capacity_t", "number", True, unit="t/yr", lo=0, cap=MAX_TONNES, doc="maximum output per year"),
        Column(
            "unit_cost_usd_per_kg", "number", True, unit="USD/kg", lo=0, cap=MAX_USD_PER_KG,
            doc="cost added here per kg of output (a source's price; a processor's conversion or toll cost)",
        ),
        Column("period", "id", default="", doc=PERIOD_COLUMN_DOC),
    ),
    key=("site_id", "product"),
    doc="What each site can make, how much, at what cost.",
    periodic=True,
)

RECIPES = Sheet(
    "Recipes",
    False,
    (
        Column("product", "id", True, doc="the output"),
        Column("input", "id", True, doc="an input product"),
        Column("input_t_per_t", "number", True, unit="t/t", lo=0, lo_open=True, cap=MAX_T_PER_T, doc="tonnes of input per tonne of output (yields included)"),
        Column("site_id", "id", default="", doc="only at this site (replaces the generic recipe there); blank = all sites"),
    ),
    key=("product", "input", "site_id"),
    doc="Bill of materials. A product with no recipe is a raw material; several rows for one product are all required.",
)

COPRODUCTS = Sheet(
    "CoProducts",
    False,
    (
        Column("product", "id", True, doc="the main product"),
        Column("coproduct", "id", True, doc="a product that comes out with it"),
        Column("coproduct_t_per_t", "number", True, unit="t/t", lo=0, lo_open=True, cap=MAX_T_PER_T, doc="tonnes of coproduct per tonne of main product, at most"),
        Column("site_id", "id", default="", doc="only at this site; blank = every site making the main product"),
    ),
    key=("product", "coproduct", "site_id"),
    doc="Joint production: the coproduct is made only with the main product and needs no recipe input of its own.",
)

LANES = Sheet(
    "Lanes",
    True,
    (
        Column("from_site", "group", True, doc="shipping site, or a group: *, stage:X, country:XX, company:Name"),
        Column("to_site", "group", True, doc="receiving site, or a group"),
        Column("product", "id", default="", doc="only this product; blank = any product the sender makes and the receiver uses"),
        Column("freight_usd_per_kg", "number", default=0.0, unit="USD/kg", lo=0, cap=MAX_USD_PER_KG, doc="transport cost"),
        Column("duty_usd_per_kg", "number", default=0.0, unit="USD/kg", lo=0, cap=MAX_USD_PER_KG, doc="import duty"),
        Column("tariff_pct", "number", default=0.0, unit="%", lo=0, hi=1000, doc="ad-valorem tariff, percent of the sender's unit cost"),
        Column("transit_days", "days", default=0, unit="days", doc="door-to-door transit time"),
        Column("period", "id", default="", doc=PERIOD_COLUMN_DOC),
    ),
    key=("from_site", "to_site", "product"),
    doc="Allowed shipments. Where several rows match a pair, the most specific governs. A row naming one site "
    "as both sender and receiver is an internal transfer (an integrated site feeding its own next step).",
    periodic=True,
)

DEMAND = Sheet(
    "Demand",
    True,
    (
        Column("site_id", "id", True, doc="a plant"),
        Column("product", "id", True, doc="what it needs"),
        Column("quantity_t", "number", True, unit="t/yr", lo=0, cap=MAX_TONNES, doc="tonnes per year"),
        Column("max_lead_time_days", "days", unit="days", doc="longest allowed order-to-delivery time (blank: no limit)"),
        Column("max_exposed_share", "number", lo=0, hi=1, unit="fraction", doc="cap on the license-exposed share of quantity_t (blank: Settings)"),
        Column("shortage_cost_usd_per_kg", "number", lo=0, cap=MAX_USD_PER_KG, unit="USD/kg", doc="cost of each kg not delivered (blank: Settings)"),
        Column("min_cover_days", "days", default=0, unit="days", doc="a strategic stockpile: closing stock at the plant at least this many days of the next period's demand (contract v2; Stock)"),
        Column("period", "id", default="", doc=PERIOD_COLUMN_DOC),
        Column("end_use", "enum", default="civil", choices=END_USES,
               doc="civil or military: Controls rows with an end_use apply to every shipment of material that ends "
               "up here"),
    ),
    key=("site_id", "product"),
    doc="What each plant needs.",
    periodic=True,
)

CONTROLS = Sheet(
    "Controls",
    False,
    (
        Column("country", "country", True, doc="the controlling country, e.g. CN"),
        Column("product", "id", True, doc="a controlled product, or * for all products"),
        Column("approval_probability", "number", default=1.0, lo=0, hi=1, unit="fraction", doc="chance a license for one shipment is granted"),
        Column("approval_days", "days", default=0, unit="days", doc="extra lead time of a licensed shipment"),
        Column("denial_cost_usd_per_kg", "number", lo=0, cap=MAX_USD_PER_KG, unit="USD/kg", doc="loss per kg if denied (blank: Settings)"),
        Column("content_rule", "yesno", default=False, doc="yes: goods made anywhere from this material also need this country's license across a border"),
        Column("note", "text", default="", doc="legal basis, free text"),
        Column("period", "id", default="", doc=PERIOD_COLUMN_DOC),
        Column("destination", "id", default="",
               doc="only shipments into this country (a code, or country:XX); blank or * = any destination"),
        Column("exporter_company", "id", default="",
               doc="only shipments sent by this company's sites (Sites.company): a general licence; blank = any"),
        Column("end_use", "enum", default="", choices=END_USES,
               doc="only material that ends up at a plant of this end use (Demand.end_use); blank = any"),
    ),
    key=("country", "product", "destination", "exporter_company", "end_use"),
    doc="Export-license regime, as data. Where several rows match a shipment, the most specific governs: a named "
    "exporter_company, then a destination country, then an end_use, then a named product; then the later row. "
    "approval_probability 0 is a ban: nothing crosses on that route.",
    periodic=True,
)

SETTINGS = Sheet(
    "Settings",
    False,
    (
        Column("key", "id", True, doc="setting name"),
        Column("value", "any", False, doc="setting value"),
    ),
    key=("key",),
    doc="Run-wide settings, two columns: key and value.",
)

WHATIF = Sheet(
    "WhatIf",
    False,
    (
        Column("scenario", "text", True,
               doc=f'scenario name; rows with one name form one scenario ("{BASELINE}" is the unchanged input)'),
        Column("sheet", "text", True, doc="the sheet to change"),
        Column("key", "text", True, doc="the row(s): id columns joined by /, * matches any value in a part"),
        Column("column", "text", doc="the column to change (blank for delete, and for a Settings key)"),
        Column("operation", "enum", True, choices=OPERATIONS, doc="set, add, multiply or delete (the row)"),
        Column("value", "any", doc="the value (for set, add, multiply)"),
        Column("period", "id", default="", doc="contract v2: only this period's rows of the key (a set that "
               "matches none there creates the row for that period); blank: every period"),
    ),
    key=("scenario", "sheet", "key", "column"),
    unique_key=False,
    doc="Scenarios for batch runs (planner batch).",
)

STOCK = Sheet(
    "Stock",
    False,
    (
        Column("site_id", "id", True, doc="a plant, or a site that makes something from the product, that may hold "
               "stock of it between periods"),
        Column("product", "id", True, doc="a product the plant demands, or an input of the site's recipes"),
        Column("stock_capacity_t", "number", unit="t", lo=0, cap=MAX_TONNES, doc="most stock held at the end of a period (blank: no limit)"),
        Column("holding_cost_usd_per_kg_yr", "number", default=0.0, unit="USD/kg/yr", lo=0, cap=MAX_USD_PER_KG, doc="cost of holding a kg for a year (for a period: times its days / 365)"),
        Column("initial_stock_t", "number", default=0.0, unit="t", lo=0, cap=MAX_TONNES, doc="stock at the start of the first period: clean (no license exposure), ready (lead time 0)"),
    ),
    key=("site_id", "product"),
    doc="Stock carried from one period into the next (contract v2), at a plant of what it demands or at a site "
    "of an input it uses (a magnet maker holding Dy metal). Stock keeps the exposure of what went into it and "
    "the lead time it arrived with; drawing it needs no new license.",
)

CONTRACTS = Sheet(
    "Contracts",
    False,
    (
        Column("site_id", "id", True, doc="the supplier under contract"),
        Column("product", "id", True, doc="the product it supplies"),
        Column("plant", "id", default="", doc="the plant it supplies (blank: what it ships to any site)"),
        Column("min_t", "number", default=0.0, unit="t/period", lo=0, cap=MAX_TONNES, doc="tonnes the buyer takes (or, take-or-pay, pays for) in each period of the contract"),
        Column("max_t", "number", unit="t/period", lo=0, cap=MAX_TONNES, doc="most tonnes bought in a period under it (blank: no limit)"),
        Column("first_period", "id", default="", doc="first period in force (blank: the first)"),
        Column("last_period", "id", default="", doc="last period in force (blank: the last)"),
        Column("take_or_pay", "yesno", default=False, doc="yes: the minimum is paid at the supplier's unit cost even if less is taken; no: the minimum must be taken"),
    ),
    key=("site_id", "product", "plant", "first_period"),
    doc="What the buyer already buys (contract v2): bounds on what a supplier ships in each period of a contract.",
)

RESERVATIONS = Sheet(
    "Reservations",
    False,
    (
        Column("site_id", "id", True, doc="the supplier that offers to reserve volume for the buyer"),
        Column("product", "id", True, doc="the product it reserves"),
        Column("max_t", "number", True, unit="t/yr", lo=0, cap=MAX_TONNES, doc="most tonnes a year the buyer can "
               "reserve; reserved volume is on top of the Supply row's capacity (write there what is for sale "
               "without a reservation)"),
        Column("fee_usd_per_kg_yr", "number", True, unit="USD/kg/yr", lo=0, cap=MAX_USD_PER_KG, doc="the fee per kg "
               "reserved, for each year of the reservation, paid whether the volume is taken or not"),
        Column("first_period", "id", default="", doc="first period of the reservation (blank: the first)"),
        Column("last_period", "id", default="", doc="last period of the reservation (blank: the last)"),
    ),
    key=("site_id", "product", "first_period"),
    doc="Volumes a supplier offers to hold for the buyer, for a fee (an offtake option, contract v2). The plan "
    "decides now how many tonnes a year to reserve, the same in every period of the reservation, pays the fee "
    "on them in each of its periods, and may take up to that much a year on top of the Supply row's capacity, "
    "at the Supply row's unit cost. Planned against regimes, a reservation is decided once for every regime: "
    "it is insurance, since a regime that cuts the Supply row's capacity (others buying it up) leaves the "
    "reserved volume alone; a ban on the supplier's route still stops it.",
)

PERIODS = Sheet(
    "Periods",
    False,
    (
        Column("period", "id", True, doc="period id, e.g. 2026; periods are planned in the order of their rows"),
        Column("days", "days", default=365, unit="days", doc="length: capacities, demands and minimum volumes per "
               "year are scaled by days / 365 in it"),
    ),
    key=("period",),
    doc="The planning horizon (contract v2): one row per period, in time order. Without it the plan is for one year.",
)

REGIMES = Sheet(
    "Regimes",
    False,
    (
        Column("scenario", "text", True, doc="the regime's name, e.g. Japan ban from 2027"),
        Column("probability", "number", True, lo=0, hi=1, doc="its probability; the Regimes rows add up to 1"),
        Column("question", "text", default="", doc="what it stands for, in one line (shown beside its results)"),
        Column("basis", "text", default="", doc="why this probability: the sources and the reasoning (an estimate "
               "is tagged [E])"),
    ),
    key=("scenario",),
    doc="Licence regimes the plan must hold up against (scenarios, contract v2): the plan decides its "
    "qualifications before knowing which regime comes, then plans each regime's flows. A regime with no "
    "RegimeChanges rows is the input as it stands.",
)

REGIME_CHANGES = Sheet(
    "RegimeChanges",
    False,
    tuple(c if c.name != "scenario" else Column("scenario", "text", True, doc="a regime named on the Regimes sheet")
          for c in WHATIF.columns),
    key=("scenario", "sheet", "key", "column"),
    unique_key=False,
    doc="What each regime changes in the input: rows as on the WhatIf sheet (set, add, multiply or delete on "
    "any sheet, optionally in one period), applied in row order.",
)

SHEETS: tuple[Sheet, ...] = (SITES, SUPPLY, RECIPES, COPRODUCTS, LANES, DEMAND, CONTROLS, SETTINGS, WHATIF, PERIODS,
                              STOCK, CONTRACTS, RESERVATIONS, REGIMES, REGIME_CHANGES)
SHEET_BY_NAME = {s.name: s for s in SHEETS}


@dataclass(frozen=True)
class Setting:
    """One ``Settings`` key with its type, default and bounds."""

    key: str
    kind: str
    default: object
    doc: str
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    choices: tuple[str, ...] = field(default=())
    cap: float | None = None

    def as_column(self) -> Column:
        """The setting's value as a column, for the cell checks, the docs and the command line's bounds."""
        return Column(self.key, self.kind, False, self.default, lo=self.lo, hi=self.hi, lo_open=self.lo_open,
                      choices=self.choices, cap=self.cap)


SETTINGS_KEYS: tuple[Setting, ...] = (
    Setting("max_exposed_share", "number", 1.0, "default cap for Demand.max_exposed_share", 0, 1),
    Setting("max_supplier_share", "number", 1.0, "per plant and product, the share of quantity_t from any one company's sites", 0, 1),
    Setting("max_country_share", "number", 1.0, "per stage and product, the share of shipped output made in any one country", 0, 1),
    Setting("allow_shortage", "yesno", True, "no: demand must be met in full (infeasible plans exit 4 with a diagnosis)"),
    Setting("shortage_cost_usd_per_kg", "number", 10000.0, "default cost of unmet demand, USD/kg", 0, cap=MAX_USD_PER_KG),
    Setting("denial_cost_usd_per_kg", "number", 0.0, "default for Controls.denial_cost_usd_per_kg, USD/kg", 0,
            cap=MAX_USD_PER_KG),
    Setting("risk_weight", "number", 1.0, "multiplier on expected license losses in the objective", 0,
            cap=MAX_RISK_WEIGHT),
    Setting("solver", "enum", "auto", "auto, highs or cbc", choices=SOLVERS),
    Setting("time_limit_s", "number", 300.0, "solver time limit, seconds", 0, None, True, cap=MAX_TIME_LIMIT_S),
    Setting("mip_gap", "number", 1e-4, "relative MIP gap at which the solver may stop", 0, 1),
    # 2M: twice the largest model measured on the project's machine (973k columns, an LP: 4 minutes, 1.2 GB;
    # bench/RESULTS.md); the guard exists because a small input can describe ten times that
    Setting("max_columns", "number", 2_000_000, "refuse a model of more variables than this (estimated before "
            "it is built; --max-columns)", 1, 1e12),
    Setting("discount_rate", "number", 0.0, "per period: the k-th period's costs count (1 + rate)^-k in the total "
            "(contract v2)", 0, 1),
    Setting("risk_aversion", "number", 0.0, "with Regimes: weight of CVaR in the objective, expected cost + "
            "risk_aversion x CVaR (0: risk-neutral)", 0, cap=MAX_RISK_WEIGHT),
    Setting("cvar_alpha", "number", 0.9, "with Regimes: CVaR is the expected cost of the worst 1 - cvar_alpha of "
            "the probability", 0, 1),
    Setting("regime_method", "enum", "extensive", "with Regimes: extensive (one model of every regime) or decomposed "
            "(one model per regime, in parallel, with a lower bound; bench/RESULTS.md says where each wins)",
            choices=("extensive", "decomposed")),
    Setting("contract_version", "number", 1.0, "input contract version (1, or 2 with a Periods sheet)", 1, 2),
)
SETTING_BY_KEY = {s.key: s for s in SETTINGS_KEYS}

# Lane group prefixes and their specificity rank (a site beats a company, a
# company a country, a country a stage, a stage "*").
GROUP_RANK = {"site": 4, "company": 3, "country": 2, "stage": 1, "*": 0}
