"""Deterministic Swedish CRM test data for the Vitec Connect sandbox.

Every contact is the exact wire dict (camelCase JSON keys) Vitec Connect would send. The data for a
(customer_id, seed, count) triple is the same in every process: the random generators are seeded
from a SHA-256 digest (never Python's salted hash()) and no value depends on today's date.
Faker only fills name/street/company pools; everything else is drawn from one seeded
random.Random, which keeps 2,400 contacts well under a second.

Ids have Vitec's real shape: contacts `ADR` + 32 upper-case hex digits, users (agents) `HAN` + 32
upper-case hex digits, each a SHA-256 digest of (seed, customer, position): see contact_id() and
user_id().

Fixed positions (_Generator._EDGES) always hold the same kind of contact; positions 11 and up hold
the odd shapes Vitec may send (the empty .NET date, numeric enums, an Association contact, only a
second e-mail address, coordinates 0/0, a deceased person, an estate without telephone, a company
name of exactly 100 characters). The odd shapes also turn up, rarely, at random positions.
"""

from __future__ import annotations

import hashlib
import random
import threading
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

try:
    from faker import Faker
except ImportError as exc:  # pragma: no cover - exercised through the management command
    raise ImportError(
        "The Vitec sandbox generates its test data with Faker: pip install crmviewer[sandbox]"
    ) from exc

__all__ = [
    "CONTACT_TYPES",
    "EMPTY_DATE",
    "RELATION_TYPES",
    "CustomerData",
    "apply_changes",
    "contact_id",
    "customer_data",
    "demo_ids",
    "derive_seed",
    "format_timestamp",
    "generate_customer_data",
    "reverse_relations_of",
    "user_id",
]

CONTACT_TYPES = ("Person", "Company", "DeceasedEstate")
# Types drawn at random positions: the three documented ones, and now and then an Association
# (förening), a type Vitec's notifications name but the contacts page does not document.
_RANDOM_TYPES = (*CONTACT_TYPES, "Association")
_RANDOM_TYPE_WEIGHTS = (75, 20, 5, 0.3)
# .NET's DateTime.MinValue: a date that was never set.
EMPTY_DATE = "0001-01-01T00:00:00"
# MatchingWatched as numbers (Vitec may send an enum either way).
_MATCHING_NUMBERS = {"Yes": 0, "No": 1, "NotAsked": 2}
STOCKHOLM = ZoneInfo("Europe/Stockholm")

# Fixed window so the data never depends on when it is generated.
_WINDOW_START = int(datetime(2016, 1, 1, tzinfo=UTC).timestamp())
_WINDOW_END = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp())
_TICKS_PER_SECOND = 10_000_000  # .NET ticks: seven fractional digits

# Max lengths from the documentation page.
MAX_LENGTHS = {
    "firstName": 30,
    "lastName": 30,
    "socialSecurityNumber": 20,
    "companyName": 100,  # connect-api.md: name (100); a few generated names are that long
    "corporateNumber": 20,
    "homePage": 60,
    "estateName": 30,
    "streetAddress": 68,
    "zipCode": 15,
    "city": 25,
    "email": 100,
    "telephone": 17,
}

# (city, latitude, longitude, first 3-digit postcode, how many consecutive prefixes, weight)
_CITIES: tuple[tuple[str, float, float, int, int, int], ...] = (
    ("Stockholm", 59.3293, 18.0686, 111, 8, 14),
    ("Göteborg", 57.7089, 11.9746, 411, 7, 8),
    ("Malmö", 55.6050, 13.0038, 211, 7, 6),
    ("Uppsala", 59.8586, 17.6389, 752, 5, 4),
    ("Västerås", 59.6099, 16.5448, 722, 4, 3),
    ("Örebro", 59.2741, 15.2066, 702, 4, 3),
    ("Linköping", 58.4108, 15.6214, 582, 4, 3),
    ("Helsingborg", 56.0465, 12.6945, 252, 4, 3),
    ("Jönköping", 57.7826, 14.1618, 553, 4, 3),
    ("Norrköping", 58.5877, 16.1924, 602, 4, 3),
    ("Lund", 55.7047, 13.1910, 222, 4, 2),
    ("Umeå", 63.8258, 20.2630, 903, 4, 2),
    ("Gävle", 60.6749, 17.1413, 802, 4, 2),
    ("Borås", 57.7210, 12.9401, 503, 4, 2),
    ("Södertälje", 59.1955, 17.6253, 151, 4, 2),
    ("Eskilstuna", 59.3666, 16.5077, 632, 3, 2),
    ("Halmstad", 56.6745, 12.8578, 302, 3, 2),
    ("Växjö", 56.8777, 14.8091, 352, 3, 2),
    ("Karlstad", 59.4022, 13.5115, 652, 3, 2),
    ("Sundsvall", 62.3908, 17.3069, 852, 3, 2),
    ("Östersund", 63.1792, 14.6357, 831, 3, 1),
    ("Luleå", 65.5848, 22.1547, 972, 3, 1),
    ("Kiruna", 67.8558, 20.2253, 981, 1, 1),
    ("Visby", 57.6348, 18.2948, 621, 1, 1),
    ("Falun", 60.6065, 15.6355, 791, 3, 1),
    ("Kalmar", 56.6634, 16.3568, 392, 3, 1),
    ("Skellefteå", 64.7507, 20.9528, 931, 3, 1),
    ("Trollhättan", 58.2837, 12.2886, 461, 3, 1),
    ("Nacka", 59.3105, 18.1637, 131, 4, 2),
    ("Täby", 59.4439, 18.0687, 183, 5, 2),
    ("Solna", 59.3600, 18.0000, 169, 3, 2),
    ("Åre", 63.3990, 13.0815, 837, 1, 1),
    ("Ystad", 55.4295, 13.8200, 271, 3, 1),
    ("Mölndal", 57.6554, 12.0138, 431, 3, 1),
    ("Borgholm", 56.8791, 16.6563, 387, 1, 1),
)
_CITY_WEIGHTS = tuple(city[5] for city in _CITIES)

_EMAIL_DOMAINS = (
    "gmail.com",
    "hotmail.com",
    "outlook.com",
    "telia.com",
    "icloud.com",
    "bredband.net",
    "live.se",
    "spray.se",
    "yahoo.se",
    "comhem.se",
)
_EMAIL_DOMAIN_WEIGHTS = (30, 14, 10, 10, 8, 6, 6, 4, 4, 8)

_NON_ASCII_FIRST = ("Renée", "Zoë", "José", "André", "Chloé", "Åsa", "Örjan", "Äli")
_NON_ASCII_LAST = ("Åkesson", "Öberg-Ståhl", "Älvström", "Lindé", "Bergé", "Östlund")

_NOTES = (
    "Vill ha visning av <b>villor</b> & radhus i närområdet.",
    'Ringde om "Sjövillan" \u2013 återkom efter semestern!',
    "Budgivare på Storgatan 12, max 4,5 mkr.",
    "Föredrar e-post.\nRing inte efter 18.00.",
    "<script>alert('x')</script> klistrades in från ett formulär",
    "Tidigare sålt via oss 2019. Nöjd kund :)",
    "Intresserad av nyproduktion i Hagastaden; 3 rok, balkong > 6 m².",
    "Säljer dödsboets fritidshus på Öland. Kontaktperson: syster.",
    "Vill inte ha reklam. 'Endast' avisering om nya objekt.",
    "Värdering bokad — tar med ritning & energideklaration.",
    "Kund via Hemnet-annons, svarar bäst på sms 📱",
    "A&O: lånelöfte 3 800 000 kr (SEB), giltigt t.o.m. mars.",
)

_PERSON_CATEGORY_POOL = (
    "Spekulant villa",
    "Spekulant bostadsrätt",
    "Spekulant fritidshus",
    "Spekulant tomt",
    "Budgivare",
    "Nyhetsbrev",
    "Värderingskund",
    "Säljare",
    "Köpare bostadsrätt",
    "Köpare villa",
    "Intresserad av nyproduktion",
    "Seniorboende",
    "Rekommenderad av kund",
    "Bevakning innerstad",
)
_PERSON_SYSTEM_CATEGORIES = ("Visningsdeltagare", "Tidigare kund")
_COMPANY_CATEGORY_POOL = (
    "Samarbetspartner",
    "Bank",
    "Byggföretag",
    "Förvaltare",
    "Bostadsrättsförening",
    "Leverantör",
    "Advokatbyrå",
    "Kommersiell kund",
)
_COMPANY_SYSTEM_CATEGORIES = ("Importerad", "Tidigare uppdragsgivare")

# ContactRelationType: name -> number (Vitec sends either).
RELATION_TYPES: Mapping[str, int] = MappingProxyType(
    {
        "EstateParty": 2,
        "CompanySignatory": 3,
        "CompanyContactPerson": 4,
        "PowerOfAttorney": 5,
        "Guardian": 6,
        "LimitedGuardian": 7,
        "Representative": 8,
        "ExecutorUnderTheWill": 9,
        "EstateAdministrator": 10,
        "Deceased": 100,
    }
)

_USER_TITLES = (
    "Fastighetsmäklare",
    "Fastighetsmäklare",
    "Registrerad fastighetsmäklare",
    "Mäklarassistent",
    "Kontorschef",
    "Säljare nyproduktion",
)

_FOREIGN_CORPORATE_NUMBERS = ("NO 923 456 789", "DK 12345678", "FI 1234567-8", "DE 811 907 980")


@dataclass(frozen=True)
class CustomerData:
    """All contacts of one customer plus what the neighbouring endpoints need.

    The dicts are shared between requests: treat them as read-only.
    """

    customer_id: str
    seed: int
    contacts: tuple[dict[str, Any], ...]
    by_id: Mapping[str, dict[str, Any]]
    # By id casefolded: Vitec matches the ids asked for without regard to letter case.
    by_folded_id: Mapping[str, dict[str, Any]]
    person_categories: tuple[dict[str, Any], ...]
    company_categories: tuple[dict[str, Any], ...]
    agent_ids: tuple[str, ...]
    # Per contact: lower-cased searchable texts and digit-only numbers (for phones/ids).
    search_texts: tuple[tuple[str, ...], ...]
    search_digits: tuple[tuple[str, ...], ...]
    # ContactRelations: contact id -> its relations ({"relation": name or number, "contactId"});
    # contacts without any are absent. reverse_relations is computed from relations (A lists
    # {R, B} -> B's reverse list holds {R, A}); the server reads relations only from these two.
    relations: Mapping[str, tuple[dict[str, Any], ...]]
    reverse_relations: Mapping[str, tuple[dict[str, Any], ...]]
    # GetUser: a user per agent id, plus one archived user who is nobody's agent.
    users: tuple[dict[str, Any], ...]


def _hex_id(kind: str, customer_id: str, seed: int, n: int) -> str:
    digest = hashlib.sha256(f"vitec-sandbox:{kind}:{seed}:{customer_id}:{n}".encode())
    return digest.hexdigest()[:32].upper()


def contact_id(customer_id: str, seed: int, n: int) -> str:
    """The id of contact number n (1-based) of a customer: `ADR` + 32 upper-case hex digits."""
    return "ADR" + _hex_id("contact", customer_id, seed, n)


def user_id(customer_id: str, seed: int, n: int) -> str:
    """The id of user (agent) number n of a customer: `HAN` + 32 upper-case hex digits."""
    return "HAN" + _hex_id("user", customer_id, seed, n)


def _date_of_birth(birth: date) -> str:
    """Midnight of the date with Stockholm's offset that day: `1957-03-14T00:00:00+01:00`."""
    offset = datetime.combine(birth, datetime.min.time(), STOCKHOLM).strftime("%z")
    return f"{birth:%Y-%m-%d}T00:00:00{offset[:3]}:{offset[3:]}"


def derive_seed(customer_id: str, seed: int) -> int:
    """A process-independent integer seed for one customer."""
    digest = hashlib.sha256(f"vitec-sandbox:{seed}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def reverse_relations_of(
    relations: Mapping[str, Iterable[Mapping[str, Any]]],
) -> Mapping[str, tuple[dict[str, Any], ...]]:
    """If A lists {R, B}, B's reverse list holds {R, A} (in the order of A, then of A's list)."""
    reverse: dict[str, list[dict[str, Any]]] = {}
    for contact_id, listed in relations.items():
        for relation in listed:
            reverse.setdefault(relation["contactId"], []).append(
                {"relation": relation["relation"], "contactId": contact_id}
            )
    return MappingProxyType({key: tuple(value) for key, value in reverse.items()})


def format_timestamp(epoch_ticks: int) -> str:
    """Ticks (1e-7 s) since the Unix epoch -> `2026-10-04T13:51:27.3562702+02:00` (Stockholm)."""
    seconds, ticks = divmod(epoch_ticks, _TICKS_PER_SECOND)
    local = datetime.fromtimestamp(seconds, tz=STOCKHOLM)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%dT%H:%M:%S}.{ticks:07d}{offset[:3]}:{offset[3:]}"


_cache: dict[tuple[str, int, int], CustomerData] = {}
_cache_lock = threading.Lock()


def customer_data(customer_id: str, *, seed: int = 1, count: int = 2400) -> CustomerData:
    """The cached data set of one customer, generated on first use."""
    key = (customer_id, seed, count)
    with _cache_lock:
        data = _cache.get(key)
        if data is None:
            data = generate_customer_data(customer_id, seed=seed, count=count)
            if len(_cache) >= 32:  # a long-running demo with many seeds should not grow forever
                _cache.pop(next(iter(_cache)))
            _cache[key] = data
        return data


def apply_changes(
    base: CustomerData,
    changed: Mapping[str, dict[str, Any]],
    removed: AbstractSet[str],
) -> CustomerData:
    """The data of `base` with contacts changed, added and removed (all keyed by id casefolded).

    A changed contact takes the place of the base one (same position in `contacts`, so the
    order of the id list and of Search ties stays put); one the base lacks is appended, in the
    order of `changed`. A removed contact is left out everywhere, also from the relations of
    every other contact. Unchanged contacts and their search texts are shared with `base`, so
    this costs one pass over the contacts and no deep copies."""
    contacts: list[dict[str, Any]] = []
    texts: list[tuple[str, ...]] = []
    digits: list[tuple[str, ...]] = []
    placed: set[str] = set()
    for index, contact in enumerate(base.contacts):
        folded = contact["id"].casefold()
        if folded in removed:
            continue
        replacement = changed.get(folded)
        if replacement is None:
            contacts.append(contact)
            texts.append(base.search_texts[index])
            digits.append(base.search_digits[index])
        else:
            placed.add(folded)
            contacts.append(replacement)
            texts.append(_search_texts(replacement))
            digits.append(_search_digits(replacement))
    for folded, contact in changed.items():
        if folded not in placed and folded not in removed:
            contacts.append(contact)
            texts.append(_search_texts(contact))
            digits.append(_search_digits(contact))
    dropped = removed | changed.keys()
    by_id = {key: value for key, value in base.by_id.items() if key.casefold() not in dropped}
    by_folded = {key: value for key, value in base.by_folded_id.items() if key not in dropped}
    for folded, contact in changed.items():
        if folded not in removed:
            by_id[contact["id"]] = contact
            by_folded[folded] = contact

    def without_removed(
        relations: Mapping[str, Iterable[Mapping[str, Any]]],
    ) -> Mapping[str, tuple[dict[str, Any], ...]]:
        kept: dict[str, tuple[dict[str, Any], ...]] = {}
        for key, listed in relations.items():
            if key.casefold() in removed:
                continue
            entries = tuple(
                dict(relation)
                for relation in listed
                if str(relation["contactId"]).casefold() not in removed
            )
            if entries:
                kept[key] = entries
        return MappingProxyType(kept)

    if removed:
        relations = without_removed(base.relations)
        reverse_relations = without_removed(base.reverse_relations)
    else:
        relations, reverse_relations = base.relations, base.reverse_relations
    return replace(
        base,
        contacts=tuple(contacts),
        by_id=MappingProxyType(by_id),
        by_folded_id=MappingProxyType(by_folded),
        search_texts=tuple(texts),
        search_digits=tuple(digits),
        relations=relations,
        reverse_relations=reverse_relations,
    )


def demo_ids(data: CustomerData) -> dict[str, str]:
    """A few ids worth trying in a demo: label -> contact id (a label is left out when the data
    set has no such contact)."""
    picks: dict[str, str] = {}
    wanted: dict[str, Callable[[dict[str, Any]], bool]] = {
        "person": lambda c: bool(c["type"] == "Person" and c.get("email") and c.get("telephone")),
        "company": lambda c: c["type"] == "Company",
        "deceased estate": lambda c: c["type"] == "DeceasedEstate",
        "with relations": lambda c: (
            c["type"] == "Company" and len(data.relations.get(c["id"], ())) >= 2
        ),
    }
    for label, fits in wanted.items():
        found = next((c["id"] for c in data.contacts if fits(c)), None)
        if found is not None:
            picks[label] = found
    return picks


def generate_customer_data(customer_id: str, *, seed: int = 1, count: int = 2400) -> CustomerData:
    """Generate (uncached) the data set of one customer."""
    return _Generator(customer_id, seed).build(count)


def _luhn_digit(digits: str) -> int:
    total = 0
    for index, char in enumerate(digits):
        value = int(char) * (2 if index % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return (10 - total % 10) % 10


def _ascii_slug(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    kept = [c for c in decomposed if c.isascii() and (c.isalnum() or c in ".-")]
    return "".join(kept).strip(".-") or "kontakt"


def _digits(text: str | None) -> str:
    if not text:
        return ""
    digits = "".join(c for c in text if c.isdigit())
    if text.lstrip().startswith("+46"):
        digits = "0" + digits[2:]
    return digits


class _Generator:
    def __init__(self, customer_id: str, seed: int) -> None:
        self.customer_id = customer_id
        self.seed = seed
        base = derive_seed(customer_id, seed)
        self.rng = random.Random(base)
        fake = Faker("sv_SE")
        fake.seed_instance(base)
        self.female_names = tuple(fake.first_name_female() for _ in range(150))
        self.male_names = tuple(fake.first_name_male() for _ in range(150))
        self.last_names = tuple(fake.last_name() for _ in range(250))
        self.streets = tuple(fake.street_name() for _ in range(150))
        self.companies = tuple(fake.company() for _ in range(120))
        rng = self.rng
        self.agent_ids = tuple(
            user_id(customer_id, seed, n) for n in range(1, rng.randint(3, 6) + 1)
        )
        self.agent_weights = tuple(rng.randint(1, 6) for _ in self.agent_ids)
        self.archived_user_id = user_id(customer_id, seed, len(self.agent_ids) + 1)
        person_names = [*rng.sample(_PERSON_CATEGORY_POOL, 8), *_PERSON_SYSTEM_CATEGORIES]
        company_names = [*rng.sample(_COMPANY_CATEGORY_POOL, 4), *_COMPANY_SYSTEM_CATEGORIES]
        rng.shuffle(person_names)
        rng.shuffle(company_names)
        self.person_categories = tuple(
            {"id": f"CAT-P-{i:02d}", "name": name, "readOnly": name in _PERSON_SYSTEM_CATEGORIES}
            for i, name in enumerate(person_names, start=1)
        )
        self.company_categories = tuple(
            {"id": f"CAT-F-{i:02d}", "name": name, "readOnly": name in _COMPANY_SYSTEM_CATEGORIES}
            for i, name in enumerate(company_names, start=1)
        )

    # -- building blocks -------------------------------------------------------------------

    def timestamp_between(self, start_ticks: int, end_ticks: int) -> tuple[int, str]:
        ticks = self.rng.randint(start_ticks, max(start_ticks, end_ticks))
        return ticks, format_timestamp(ticks)

    def personnummer(self, birth: date, *, female: bool, long: bool) -> str:
        serial = self.rng.randint(0, 99) * 10 + self.rng.choice(
            (0, 2, 4, 6, 8) if female else (1, 3, 5, 7, 9)
        )
        short = f"{birth:%y%m%d}{serial:03d}"
        check = _luhn_digit(short)
        separator = "+" if birth.year < 1926 and not long else "-"
        head = f"{birth:%Y%m%d}" if long else f"{birth:%y%m%d}"
        return f"{head}{separator}{serial:03d}{check}"

    def organisationsnummer(self) -> str:
        rng = self.rng
        first = rng.choice("55555557892")  # mostly aktiebolag (556..., 559...)
        if first == "5":
            body = f"5{rng.choice('5555569')}{rng.randint(0, 9)}"
        else:
            body = f"{first}{rng.randint(0, 9)}{rng.randint(2, 9)}"
        body += f"{rng.randint(0, 999):03d}{rng.randint(0, 999):03d}"
        digits = body + str(_luhn_digit(body))
        return f"{digits[:6]}-{digits[6:]}"

    def cell_phone(self) -> str:
        rng = self.rng
        prefix = rng.choice(("70", "72", "73", "76", "79"))
        a, b, c = rng.randint(100, 999), rng.randint(0, 99), rng.randint(0, 99)
        style = rng.random()
        if style < 0.55:
            return f"0{prefix}-{a} {b:02d} {c:02d}"
        if style < 0.85:
            return f"+46 {prefix} {a} {b:02d} {c:02d}"
        return f"0{prefix}{a}{b:02d}{c:02d}"

    def landline(self) -> str:
        rng = self.rng
        area = rng.choice(("08", "031", "040", "018", "013", "0480", "0498", "090", "060"))
        if area == "08":
            return f"08-{rng.randint(100, 999)} {rng.randint(0, 99):02d} {rng.randint(0, 99):02d}"
        if len(area) == 4:
            return f"{area}-{rng.randint(10, 99)} {rng.randint(0, 99):02d} {rng.randint(0, 99):02d}"
        return f"{area}-{rng.randint(10, 99)} {rng.randint(0, 99):02d} {rng.randint(0, 99):02d}"

    def maybe(self, probability: float, make: Callable[[], str]) -> str | None:
        return make() if self.rng.random() < probability else None

    def address(self) -> dict[str, Any] | None:
        rng = self.rng
        city, lat, lon, zip_start, zip_span, _weight = rng.choices(_CITIES, _CITY_WEIGHTS)[0]
        street = f"{rng.choice(self.streets)} {rng.randint(1, 120)}"
        if rng.random() < 0.08:
            street += rng.choice(("A", "B", "C"))
        if rng.random() < 0.25:
            street += f" lgh {rng.randint(10, 16)}{rng.randint(1, 9):02d}"
        zip_code = f"{zip_start + rng.randrange(zip_span)} {rng.randint(30, 99):02d}"
        coordinate: dict[str, float] | None = None
        if rng.random() < 0.005:
            coordinate = {"longitude": 0.0, "latitude": 0.0}  # not geocoded
        elif rng.random() < 0.9:
            coordinate = {
                "longitude": round(lon + rng.uniform(-0.015, 0.015), 6),
                "latitude": round(lat + rng.uniform(-0.012, 0.012), 6),
            }
        return {
            "streetAddress": street[: MAX_LENGTHS["streetAddress"]],
            "zipCode": zip_code,
            "city": city[: MAX_LENGTHS["city"]],
            "countryCode": "SE",
            "wgs84Coordinate": coordinate,
        }

    def email_for(self, first: str, last: str) -> dict[str, Any] | None:
        rng = self.rng
        if rng.random() < 0.08:
            return None
        first_slug, last_slug = _ascii_slug(first), _ascii_slug(last)
        pattern = rng.random()
        if pattern < 0.5:
            local = f"{first_slug}.{last_slug}"
        elif pattern < 0.75:
            local = f"{first_slug}{last_slug[:1]}{rng.randint(1, 99)}"
        else:
            local = f"{first_slug[:1]}{last_slug}"
        domain = rng.choices(_EMAIL_DOMAINS, _EMAIL_DOMAIN_WEIGHTS)[0]
        second = None
        if rng.random() < 0.15:
            second = (
                f"{first_slug}.{last_slug}@{rng.choice(('jobb.se', 'foretaget.se', 'kommun.se'))}"
            )
        return {
            "emailAddress": f"{local}@{domain}"[: MAX_LENGTHS["email"]],
            "emailAddress2": second,
        }

    def categories(self, pool: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
        how_many = self.rng.choices((0, 1, 2, 3), (30, 40, 20, 10))[0]
        chosen = self.rng.sample(range(len(pool)), how_many)
        return [dict(pool[i]) for i in sorted(chosen)]

    def note(self) -> str | None:
        return self.rng.choice(_NOTES) if self.rng.random() < 0.45 else None

    def person_name(self, *, non_ascii: bool = False) -> tuple[str, str, bool]:
        rng = self.rng
        female = rng.random() < 0.52
        if non_ascii or rng.random() < 0.02:
            first, last = rng.choice(_NON_ASCII_FIRST), rng.choice(_NON_ASCII_LAST)
        else:
            first = rng.choice(self.female_names if female else self.male_names)
            if rng.random() < 0.06:  # double first names are common in Sweden
                first = f"{first}-{rng.choice(self.female_names if female else self.male_names)}"
            last = rng.choice(self.last_names)
            if rng.random() < 0.05:
                last = f"{last} {rng.choice(self.last_names)}"
        return first[: MAX_LENGTHS["firstName"]], last[: MAX_LENGTHS["lastName"]], female

    def birth_date(self) -> date:
        return date(1930, 1, 1) + timedelta(days=self.rng.randint(0, 27_000))  # up to 2003

    # -- contact types ---------------------------------------------------------------------

    def common(self, n: int, contact_type: str) -> tuple[dict[str, Any], int, int]:
        rng = self.rng
        window_start = _WINDOW_START * _TICKS_PER_SECOND
        window_end = _WINDOW_END * _TICKS_PER_SECOND
        created_ticks, created = self.timestamp_between(window_start, window_end - 1)
        if rng.random() < 0.2:
            changed_ticks, changed = created_ticks, created
        else:
            changed_ticks, changed = self.timestamp_between(created_ticks, window_end)
        contact: dict[str, Any] = {
            "id": contact_id(self.customer_id, self.seed, n),
            "type": contact_type,
            "customerId": self.customer_id,
            "agentId": rng.choices(self.agent_ids, self.agent_weights)[0]
            if rng.random() < 0.97
            else None,
            "address": self.address() if rng.random() < 0.97 else None,
            "email": None,
            "advertisingEnabled": rng.random() < 0.6,
            "note": self.note(),
            "categories": [],
            "createdAt": created,
            "changedAt": changed,
        }
        return contact, created_ticks, changed_ticks

    def person(self, n: int, *, edge: str | None = None) -> dict[str, Any]:
        rng = self.rng
        contact, created_ticks, changed_ticks = self.common(n, "Person")
        first, last, female = self.person_name(non_ascii=edge == "non-ascii")
        birth: date | None  # None for the few persons with neither personnummer nor birth date
        birth = self.birth_date()
        foreign = edge == "foreign" or rng.random() < 0.02
        if foreign:
            ssn = f"{birth:%d%m%y}-{rng.randint(10000, 99999)}"  # e.g. a Danish/Norwegian style
        elif rng.random() < 0.02:
            ssn, birth = None, None
        else:
            ssn = self.personnummer(birth, female=female, long=rng.random() < 0.35)
        wants = rng.choices(("Yes", "No", "NotAsked"), (30, 20, 50))[0]
        matching_changed = None
        if wants != "NotAsked":
            matching_changed = self.timestamp_between(created_ticks, changed_ticks)[1]
        gdpr = None
        if rng.random() < 0.7:
            gdpr = self.timestamp_between(created_ticks, changed_ticks)[1]
        telephone = {
            "home": self.maybe(0.3, self.landline),
            "work": self.maybe(0.2, self.landline),
            "cell": self.maybe(0.85, self.cell_phone),
            "other": self.maybe(0.04, self.cell_phone),
        }
        contact.update(
            email=self.email_for(first, last),
            categories=self.categories(self.person_categories),
            firstName=first,
            lastName=last,
            socialSecurityNumber=ssn,
            isForeignSocialSecurityNumber=foreign,
            dateOfBirth=_date_of_birth(birth) if birth is not None else None,
            telephone=telephone,
            leadScore=rng.choices(range(6), (40, 20, 15, 12, 8, 5))[0],
            wantsToBeMatched=wants,
            matchingChangedAt=matching_changed,
            isDeceased=rng.random() < 0.005,
            isCompanyPerson=rng.random() < 0.08,
            gdprApprovalDate=gdpr,
        )
        if edge == "empty-dates" or (edge is None and rng.random() < 0.003):
            contact.update(
                gdprApprovalDate=EMPTY_DATE,
                matchingChangedAt=EMPTY_DATE,
                dateOfBirth=f"{EMPTY_DATE}+01:00",
            )
        if edge == "numeric-matching" or (edge is None and rng.random() < 0.03):
            contact["wantsToBeMatched"] = _MATCHING_NUMBERS[wants]
        if edge == "second-email-only" or (edge is None and rng.random() < 0.005):
            second = f"{_ascii_slug(first)}.{_ascii_slug(last)}@jobb.se"
            contact["email"] = {"emailAddress": None, "emailAddress2": second}
        if edge == "zero-coordinates":
            address: dict[str, Any] = contact["address"] or self.address() or {}
            contact["address"] = {**address, "wgs84Coordinate": {"longitude": 0.0, "latitude": 0.0}}
        if edge == "deceased":
            contact["isDeceased"] = True
        if edge == "sparse":
            contact.update(address=None, email=None, note=None, agentId=None)
            contact["telephone"] = {"home": None, "work": None, "cell": None, "other": None}
        if edge == "markup":
            contact["note"] = "<b>Viktigt:</b> \"Bud\" & <i>villkor</i> 'enligt' avtal <br/>"
        return contact

    def company(self, n: int, *, edge: str | None = None) -> dict[str, Any]:
        rng = self.rng
        contact, _created, _changed = self.common(n, "Company")
        style = rng.random()
        last = rng.choice(self.last_names)
        if style < 0.55:
            name = rng.choice(self.companies)
        elif style < 0.7:
            name = f"Fastighets AB {last}"
        elif style < 0.8:
            name = f"Brf {rng.choice(self.streets)} {rng.randint(1, 40)}"
        elif style < 0.9:
            name = f"{last} Bygg & Förvaltning AB"
        else:
            name = f"{last}s Advokatbyrå KB"
        if edge == "long-name":
            name = _exactly(
                f"Bostadsrättsföreningen {rng.choice(self.streets)} {rng.randint(1, 40)} i "
                f"{rng.choice(_CITIES)[0]}, Fastighetsförvaltning, Byggnation och Förmedling "
                "av Bostäder och Lokaler Ekonomisk Förening",
                MAX_LENGTHS["companyName"],
            )
        elif rng.random() < 0.02:
            name = (
                f"{name} Fastighetsförvaltning och Byggnadsentreprenad i {rng.choice(_CITIES)[0]}"
            )
        name = name[: MAX_LENGTHS["companyName"]].rstrip()
        foreign = edge == "foreign" or rng.random() < 0.02
        number = rng.choice(_FOREIGN_CORPORATE_NUMBERS) if foreign else self.organisationsnummer()
        slug = _ascii_slug(name.replace(" ", ""))[:40]
        home_page = f"https://www.{slug}.se" if rng.random() < 0.7 else None
        contact.update(
            email={
                "emailAddress": f"info@{slug}.se" if rng.random() < 0.85 else None,
                "emailAddress2": f"ekonomi@{slug}.se" if rng.random() < 0.2 else None,
            },
            categories=self.categories(self.company_categories),
            name=name,
            corporateNumber=number,
            isForeignCorporateNumber=foreign,
            homePage=home_page[: MAX_LENGTHS["homePage"]] if home_page else None,
            telephone={
                "switch": self.maybe(0.85, self.landline),
                "other": self.maybe(0.3, self.cell_phone),
            },
            leadScore=rng.choices(range(6), (40, 20, 15, 12, 8, 5))[0],
        )
        return contact

    def deceased_estate(self, n: int, *, edge: str | None = None) -> dict[str, Any]:
        rng = self.rng
        contact, _created, _changed = self.common(n, "DeceasedEstate")
        first, last, female = self.person_name(non_ascii=edge == "non-ascii")
        limit = MAX_LENGTHS["estateName"]
        for candidate in (f"Dödsbo efter {first} {last}", f"Dödsbo {first} {last}"):
            if len(candidate) <= limit:
                name = candidate
                break
        else:
            name = f"Dödsbo {first[:1]}. {last}"[:limit]
        birth = date(1920, 1, 1) + timedelta(days=rng.randint(0, 21_000))
        foreign = edge == "foreign" or rng.random() < 0.02
        if foreign:
            ssn = f"{birth:%d%m%y}-{rng.randint(10000, 99999)}"
        else:
            ssn = self.personnummer(birth, female=female, long=rng.random() < 0.5)
        # The estate is usually reached through a relative or the estate's lawyer (its relations).
        relative_first, relative_last, _ = self.person_name()
        contact.update(
            email=self.email_for(relative_first, relative_last),
            categories=self.categories(self.person_categories),
            name=name,
            socialSecurityNumber=ssn,
            isForeignIdSocialSecurityNumber=foreign,
            telephone={
                "home": self.maybe(0.15, self.landline),
                "work": self.maybe(0.15, self.landline),
                "cell": self.maybe(0.7, self.cell_phone),
                "other": self.maybe(0.1, self.cell_phone),
            },
        )
        if edge == "no-telephone":
            contact["telephone"] = None  # whom to call: the estate's relations
        return contact

    def association(self, n: int, *, edge: str | None = None) -> dict[str, Any]:
        """A förening: a type the contacts page does not document (`name` and little else)."""
        rng = self.rng
        contact, _created, _changed = self.common(n, "Association")
        name = f"{rng.choice(('Brf', 'Bostadsrättsföreningen', 'Samfällighetsföreningen'))} "
        name += f"{rng.choice(self.streets)} {rng.randint(1, 40)}"
        body = f"7{rng.randint(10, 99)}{rng.randint(0, 999):03d}{rng.randint(0, 999):03d}"
        number = body + str(_luhn_digit(body))
        slug = _ascii_slug(name.replace(" ", ""))[:40]
        contact.update(
            email={"emailAddress": f"styrelsen@{slug}.se", "emailAddress2": None},
            name=name[: MAX_LENGTHS["companyName"]],
            corporateNumber=f"{number[:6]}-{number[6:]}",
            isForeignCorporateNumber=False,
            telephone={"switch": self.maybe(0.5, self.landline), "other": None},
        )
        return contact

    # -- the whole customer ----------------------------------------------------------------

    # Fixed positions that always exercise edge cases (when the data set is large enough).
    _EDGES: Mapping[int, tuple[str, str | None]] = MappingProxyType(
        {
            1: ("Person", None),
            2: ("Person", "non-ascii"),
            3: ("Company", None),
            4: ("Person", "sparse"),
            5: ("DeceasedEstate", None),
            6: ("Person", "foreign"),
            7: ("Company", "foreign"),
            8: ("Person", "markup"),
            9: ("DeceasedEstate", "non-ascii"),
            10: ("DeceasedEstate", "foreign"),
            11: ("Person", "empty-dates"),
            12: ("Person", "numeric-matching"),
            13: ("Association", None),
            14: ("Person", "second-email-only"),
            15: ("Person", "zero-coordinates"),
            16: ("Person", "deceased"),
            17: ("DeceasedEstate", "no-telephone"),
            18: ("Company", "long-name"),
        }
    )

    def build(self, count: int) -> CustomerData:
        rng = self.rng
        makers = {
            "Person": self.person,
            "Company": self.company,
            "DeceasedEstate": self.deceased_estate,
            "Association": self.association,
        }
        contacts: list[dict[str, Any]] = []
        for n in range(1, count + 1):
            contact_type, edge = self._EDGES.get(n, (None, None))
            if contact_type is None:
                contact_type = rng.choices(_RANDOM_TYPES, _RANDOM_TYPE_WEIGHTS)[0]
            contacts.append(makers[contact_type](n, edge=edge))
        self._use_every_category(contacts)
        relations = self._relations(contacts)
        return CustomerData(
            customer_id=self.customer_id,
            seed=self.seed,
            contacts=tuple(contacts),
            by_id=MappingProxyType({c["id"]: c for c in contacts}),
            by_folded_id=MappingProxyType({c["id"].casefold(): c for c in contacts}),
            person_categories=self.person_categories,
            company_categories=self.company_categories,
            agent_ids=self.agent_ids,
            search_texts=tuple(_search_texts(c) for c in contacts),
            search_digits=tuple(_search_digits(c) for c in contacts),
            relations=relations,
            reverse_relations=reverse_relations_of(relations),
            users=self._users(),
        )

    def _side_rng(self, purpose: str) -> random.Random:
        """A generator of its own, so adding relations or users never changes the contacts."""
        digest = hashlib.sha256(
            f"vitec-sandbox:{purpose}:{self.seed}:{self.customer_id}".encode()
        ).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    def _relations(
        self, contacts: list[dict[str, Any]]
    ) -> Mapping[str, tuple[dict[str, Any], ...]]:
        """Estates' parties, companies' signatories, persons' attorneys: same customer only."""
        rng = self._side_rng("relations")
        persons = [c for c in contacts if c["type"] == "Person"]
        living = [c["id"] for c in persons if not c.get("isDeceased")]
        deceased = [c["id"] for c in persons if c.get("isDeceased")]
        company_persons = [c["id"] for c in persons if c.get("isCompanyPerson")]
        unused_deceased = list(deceased)
        relations: dict[str, list[dict[str, Any]]] = {}

        def relation(name: str) -> str | int:
            # Vitec enums may come as names or numbers: a few relations carry the number.
            return RELATION_TYPES[name] if rng.random() < 0.06 else name

        def add(owner: str, name: str, target: str) -> None:
            listed = relations.setdefault(owner, [])
            if target == owner or any(
                r["contactId"] == target and r["relation"] in (name, RELATION_TYPES[name])
                for r in listed
            ):
                return
            listed.append({"relation": relation(name), "contactId": target})

        if not living:
            return MappingProxyType({})
        for contact in contacts:
            owner = contact["id"]
            if contact["type"] == "DeceasedEstate":
                for party in rng.sample(living, min(len(living), rng.randint(1, 4))):
                    add(owner, "EstateParty", party)
                if rng.random() < 0.6:
                    add(owner, "EstateAdministrator", rng.choice(living))
                if rng.random() < 0.25:
                    add(owner, "ExecutorUnderTheWill", rng.choice(living))
                if unused_deceased and rng.random() < 0.5:
                    add(owner, "Deceased", unused_deceased.pop(rng.randrange(len(unused_deceased))))
            elif contact["type"] in ("Company", "Association"):
                if rng.random() < 0.85:
                    for _ in range(rng.randint(1, 2)):
                        pool = company_persons if company_persons and rng.random() < 0.7 else living
                        add(owner, "CompanySignatory", rng.choice(pool))
                if rng.random() < 0.3:
                    pool = company_persons if company_persons and rng.random() < 0.7 else living
                    add(owner, "CompanyContactPerson", rng.choice(pool))
            elif (
                contact["type"] == "Person"
                and not contact.get("isDeceased")
                and rng.random() < 0.03
            ):
                name = rng.choice(
                    ("PowerOfAttorney", "Guardian", "LimitedGuardian", "Representative")
                )
                add(owner, name, rng.choice(living))
        return MappingProxyType({k: tuple(v) for k, v in relations.items() if v})

    def _users(self) -> tuple[dict[str, Any], ...]:
        """GetUser: one public user per agent id, then one archived user (nobody's agent)."""
        rng = self._side_rng("users")
        user_ids = [*self.agent_ids, self.archived_user_id]
        users = []
        for index, user_id in enumerate(user_ids):
            female = rng.random() < 0.5
            first = rng.choice(self.female_names if female else self.male_names)
            last = rng.choice(self.last_names)
            archived = index == len(user_ids) - 1
            users.append(
                {
                    "userId": user_id,
                    "userName": f"{first} {last}",
                    "title": rng.choice(_USER_TITLES),
                    "emailAddress": f"{_ascii_slug(first)}.{_ascii_slug(last)}@maklarbyran.se",
                    "cellPhone": self.cell_phone_from(rng),
                    "archived": archived,
                }
            )
        return tuple(users)

    @staticmethod
    def cell_phone_from(rng: random.Random) -> str:
        prefix = rng.choice(("70", "72", "73", "76", "79"))
        return (
            f"0{prefix}-{rng.randint(100, 999)} {rng.randint(0, 99):02d} {rng.randint(0, 99):02d}"
        )

    def _use_every_category(self, contacts: list[dict[str, Any]]) -> None:
        """GetCategories must list exactly the categories the contacts carry."""
        used = {cat["id"] for contact in contacts for cat in contact["categories"]}
        for pool, types in (
            (self.person_categories, ("Person", "DeceasedEstate")),
            (self.company_categories, ("Company",)),
        ):
            holders = [c for c in contacts if c["type"] in types and len(c["categories"]) < 3]
            for category in pool:
                if category["id"] in used or not holders:
                    continue
                holder = holders[self.rng.randrange(len(holders))]
                holder["categories"] = sorted(
                    [*holder["categories"], dict(category)], key=lambda cat: cat["id"]
                )


def _exactly(text: str, length: int) -> str:
    """Text cut or padded to exactly `length` characters, never ending in a space."""
    while len(text) < length:
        text += " AB"
    text = text[:length]
    return text if not text.endswith(" ") else text[:-1] + "B"


def _search_texts(contact: Mapping[str, Any]) -> tuple[str, ...]:
    texts = []
    if contact.get("type") == "Person":
        texts.append(f"{contact.get('firstName') or ''} {contact.get('lastName') or ''}".strip())
    else:
        texts.append(contact.get("name") or "")
    number = contact.get("socialSecurityNumber") or contact.get("corporateNumber")
    if number:
        texts.append(number)
    email = contact.get("email") or {}
    texts.extend(value for value in email.values() if value)
    texts.extend(value for value in (contact.get("telephone") or {}).values() if value)
    return tuple(text.casefold() for text in texts)


def _search_digits(contact: Mapping[str, Any]) -> tuple[str, ...]:
    numbers = [contact.get("socialSecurityNumber") or contact.get("corporateNumber")]
    numbers.extend((contact.get("telephone") or {}).values())
    return tuple(d for d in (_digits(number) for number in numbers) if d)
