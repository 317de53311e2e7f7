"""Tuning cases, third round (issue 11): addresses typed in chat, and the vocabulary of app support.

Written by hand, apart from bench/bench_scrub.py, tests/memory/scrub_cases_extra.py and
tests/memory/scrub_cases_world.py, and never from the held-out set (bench/pii_heldout.py): street
addresses as customers type them in a chat box or an app's free-text field (lower case, no commas,
abbreviations, the town or postcode missing, a flat number first or last, "near", "opposite",
house names, rural routes) in the countries a European or North American tenant meets, and support
text whose capitalised words are not people or places: menu paths written with ">", "/", "→" or
"›", labels of web forms, partner platforms and protocols, network speeds and bands, carriers'
tracking numbers, error codes, plan names and weekday schedules; and web forms whose labels are
ordinary words ("County:", "Post Town:", "Ship From:") around the values that must go.

The same ``[[TYPE|value]]`` marking as ``scrub_cases_world``; categories ``*_chat``.
"""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Any

from tests.memory.scrub_cases_extra import Case
from tests.memory.scrub_cases_world import _parse

ADDRESSES = (
    "pls send it to [[STREET_ADDRESS|12 maple drive]], the old one was wrong",
    "new addr is [[STREET_ADDRESS|flat 6 44 station road]] leeds",
    "i live at [[STREET_ADDRESS|7 the crescent]] now",
    "deliver to [[STREET_ADDRESS|98 w 34th st apt 2r]] thx",
    "it should go to [[STREET_ADDRESS|unit 4/27 railway pde]] not the shop",
    "the courier left it at [[STREET_ADDRESS|no. 15 church street]] which isn't me",
    "address: [[STREET_ADDRESS|rosebank cottage, mill lane]]",
    "can u change delivery to [[STREET_ADDRESS|3 abbey close, bath ba2 4qq]]",
    "home is [[STREET_ADDRESS|1421 n lake shore dr unit 1907]]",
    "shipping to [[STREET_ADDRESS|schillerstr 9]] please",
    "bitte an [[STREET_ADDRESS|goethestraße 21a]] liefern",
    "j'habite au [[STREET_ADDRESS|18 bd voltaire]]",
    "livrer au [[STREET_ADDRESS|4 impasse des tilleuls, 13008 marseille]]",
    "mandalo a [[STREET_ADDRESS|via dante 7]] grazie",
    "envíalo a [[STREET_ADDRESS|calle serrano 41 5b]] gracias",
    "stuur naar [[STREET_ADDRESS|dorpsstraat 112]] aub",
    "skicka till [[STREET_ADDRESS|kungsgatan 8 lgh 1102]]",
    "wyślij na [[STREET_ADDRESS|ul. długa 5 m. 3]]",
    "the engineer should come to [[STREET_ADDRESS|45 elm grove]] not [[STREET_ADDRESS|45 elm road]]",
    "Address on file is [[STREET_ADDRESS|221 King St W]] but I moved",
    "I'm at [[STREET_ADDRESS|the old rectory, high street, little wittenham]]",
    "drop it at [[STREET_ADDRESS|27b stanley park rd]]",
    "We're in [[STREET_ADDRESS|apartment 12, 400 harbour blvd]]",
    "our office is at [[STREET_ADDRESS|2 lower mount st, dublin 2]]",
    "delivery to [[STREET_ADDRESS|rr 2 box 118]] keeps failing",
    "my postal address is [[STREET_ADDRESS|po box 77]], the street one gets no mail",
    "send the spare part to [[STREET_ADDRESS|15 av. de la gare, 1003 lausanne]]",
    "moved from [[STREET_ADDRESS|9 birch way]] to [[STREET_ADDRESS|31 cedar ave]] last week",
    "the box went to [[STREET_ADDRESS|112 high st]] instead of [[STREET_ADDRESS|121 high st]]",
    "ADDRESS: [[STREET_ADDRESS|56 QUEENS RD, SHEFFIELD S2 4DS]]",
    "Lieferung an: [[STREET_ADDRESS|Wiesenweg 3, 2. Stock links]]",
    "send it to [[STREET_ADDRESS|14 rue du moulin]] in [[LOCATION|nantes]]",
    "i'm on [[STREET_ADDRESS|19 park lane]] in [[LOCATION|croydon]], near the station",
    "Please send it to [[STREET_ADDRESS|DE-10115 Berlin, Invalidenstraße 117]].",
    "Adresse: [[STREET_ADDRESS|12 rue de la Paix, F-75002 Paris]]",
    "Office: [[STREET_ADDRESS|Bahnhofstrasse 21, CH-8001 Zürich, Switzerland]]",
    "We are at ([[STREET_ADDRESS|14 Elm Street, Springfield]]) until May.",
    "Ship to [[STREET_ADDRESS|742 Evergreen Terrace, Springfield, OR 97477, USA]]?",
    "Ship to [[STREET_ADDRESS|12 Main Street, LONDON, N1 9GU]] please",
    "Attn: Accounts, [[STREET_ADDRESS|3 Harbour Road, Cork T12 X2E4, Ireland]]",
    "Returned to sender: [[STREET_ADDRESS|Unit 7, Riverside Industrial Estate, Manchester M17 1AB]]",
    "Customer lives at [[STREET_ADDRESS|123 Maple Ave., Apt. 4B, Toronto, ON M4C 1B5, Canada]].",
    "Send it to [[STREET_ADDRESS|Keizersgracht 123-H, 1015 CJ Amsterdam, Nederland]].",
    "[[STREET_ADDRESS|Plot No. 12, Sector 21, Gurugram, Haryana 122016]]",
    "Account: [[STREET_ADDRESS|12 Main Street, Leeds LS1 4AB]]",
    "Parcel: [[STREET_ADDRESS|5 High St, Bath BA1 1AA]]",
)

# Towns typed in lower case after a location cue, and unknown towns after a home or a form's place field;
# beside them, lower-case words after the same cues that are no place.
PLACES = (
    "i'm based in [[LOCATION|chandlerbury]] and the wifi keeps dropping",
    "my parents live in [[LOCATION|motala]] and want the same plan",
    "any coverage around [[LOCATION|madurai]]?",
    "shipping from [[LOCATION|płock]] took 5 days",
    "we just moved to [[LOCATION|leeds]], please update my account",
    "City: [[LOCATION|South Caseymouth]]",
    "Town/City: [[LOCATION|New Michaelhaven]]\nPostcode: [[STREET_ADDRESS|12345]]",
    "City: [[LOCATION|hainfeld]]",
    "We moved from [[SAFE|slack]] to [[SAFE|teams]] last year.",
    "switching from [[SAFE|alexa]] to [[SAFE|google home]] was easy",
    "i live in [[SAFE|hope]] the bill gets fixed",
    "the setting moved to [[SAFE|advanced]] in the last update",
)

SAFE_TEXTS = (
    "Open [[SAFE|Settings > Network > Wi-Fi]] and choose [[SAFE|Forget Network]].",
    "In the app go to [[SAFE|Devices / Thermostat / Schedules]] and tap [[SAFE|Copy Day]].",
    "Tap [[SAFE|Profile → Notifications → Quiet Hours]] to mute alerts at night.",
    "Navigate to [[SAFE|Home › Rooms › Living Room]] and drag the sensor in.",
    "Select [[SAFE|System Update]] under [[SAFE|Advanced]], then [[SAFE|Check Now]].",
    "It works with [[SAFE|Google Home]], [[SAFE|SmartThings]] and [[SAFE|IFTTT]].",
    "Link your [[SAFE|Philips Hue]] bridge, then your [[SAFE|Sonos]] speakers.",
    "The hub speaks [[SAFE|Matter]], [[SAFE|Thread]] and [[SAFE|Zigbee]].",
    "Say \"[[SAFE|Alexa]], ask [[SAFE|Lumen]] to dim the hallway\".",
    "Pay with [[SAFE|Apple Pay]], [[SAFE|Google Pay]] or [[SAFE|PayPal]].",
    "Full name:\nStreet:\nPostcode:\nTown/City:\nDelivery instructions:",
    "Fill in [[SAFE|Billing Address]], [[SAFE|Shipping Address]] and [[SAFE|Phone]] on the form.",
    "The fields [[SAFE|First Name]] and [[SAFE|Last Name]] are required.",
    "Your plan gives [[SAFE|300 Mbps]] down and [[SAFE|50 Mbps]] up.",
    "Use the [[SAFE|5 GHz]] band; the [[SAFE|2.4 GHz]] one is crowded.",
    "The fibre line tested at [[SAFE|940 Mbit/s]] this morning.",
    "Tracking: [[SAFE|LX123456789GB]] (Royal Mail), [[SAFE|JD014600006281234567]] (DPD).",
    "Your parcel [[SAFE|1Z12345E0291980793]] is with UPS.",
    "The browser says [[SAFE|ERR_CONNECTION_RESET]].",
    "Windows shows [[SAFE|0x80070005]] when the driver installs.",
    "Error [[SAFE|F28]] means the boiler's ignition failed.",
    "Switch to the [[SAFE|Family Unlimited]] plan from [[SAFE|Basic]].",
    "Support hours: [[SAFE|Monday to Friday]], [[SAFE|8:00-18:00]].",
    "Reboot the [[SAFE|Mesh Point]] and the [[SAFE|Base Station]].",
    "Enable [[SAFE|Geofencing]] and [[SAFE|Smart Away]] in [[SAFE|Automations]].",
    "Choose [[SAFE|Start Trial]] and then [[SAFE|Manage Subscription]].",
    "The [[SAFE|Aurora Pro]] and [[SAFE|Aurora Mini]] share one charger.",
    "Turn on [[SAFE|Do Not Disturb]] from [[SAFE|Control Centre]].",
    "The [[SAFE|Hallway]] and [[SAFE|Kitchen]] zones are offline.",
    "Your [[SAFE|Victoria]] heat pump needs a filter check.",
    "USPS tracking [[SAFE|9400 1000 0000 0000 0000 00]], DPD [[SAFE|1550 1234 5678 90]].",
    "DHL [[SAFE|JJD 0001 2345 6789]] and tracking [[SAFE|TBA 306 512 344 000]] arrived.",
    "tracking: [[SAFE|12345 ABCDE]], parcel [[SAFE|00 3401 2345 6789 0123]]",
    "The option moved from [[SAFE|Preferences]] to [[SAFE|Account Centre]].",
    "The setting lives in [[SAFE|Settings > Heating > Comfort Temperature]].",
    "Find it under [[SAFE|Help Centre]] in the sidebar.",
    "Select [[SAFE|Paris Time Zone]] in [[SAFE|Clock Settings]].",
    "It works with [[SAFE|Google Assistant]], [[SAFE|Samsung SmartThings]] and [[SAFE|Apple Home]].",
)

# Web forms whose labels are ordinary words, with the values that must go. Category: form_chat.
FORMS = (
    "Full Name: [[PERSON|Emma Clarke]]\nAddress Line 1: [[STREET_ADDRESS|27 Oakfield Road]]\n"
    "Town/City: [[LOCATION|Bristol]]\n[[SAFE|County]]: [[LOCATION|Avon]]\nPostcode: [[STREET_ADDRESS|BS6 6BZ]]",
    "[[SAFE|Street Name]]: [[STREET_ADDRESS|Oakfield Road]]\n[[SAFE|House Number]]: [[STREET_ADDRESS|27]]\n"
    "[[SAFE|Post Town]]: [[LOCATION|Bristol]]",
    "Address:\n[[STREET_ADDRESS|12 Main Street]]\n[[SAFE|Phone]]:\n[[PHONE_NUMBER|555-0100]]",
    "[[SAFE|Door Code]]: 1234\n[[SAFE|Floor]]: 2",
    "Country / Region: [[LOCATION|Germany]]\nState / Province: [[LOCATION|Bavaria]]\n"
    "ZIP / Postal Code: [[STREET_ADDRESS|80331]]",
    "PLZ: [[STREET_ADDRESS|10115]]\nOrt: [[LOCATION|Berlin]]",
    "Ship To: [[PERSON|Maria Garcia]]\n[[SAFE|Ship From]]: Warehouse North",
    "[[PERSON|Laura]]: hi my heater is broken\nAgent: sorry to hear that",
    "Address\n[[STREET_ADDRESS|27 Oakfield Road\nBristol\nBS6 6BZ]]\n[[SAFE|Delivery Instructions]]\n"
    "Leave with neighbour",
    "SHIP TO\n[[PERSON|John Smith]]\n[[STREET_ADDRESS|12 Baker Street\nLondon NW1 6XE]]\n[[SAFE|TRACKING NUMBER]]\n"
    "RB123456789GB",
    "Deliver to: [[STREET_ADDRESS|18 Kowhai Grove, Ponsonby, Auckland 1011]]\n[[SAFE|Delivery Window]]: 9am-12pm",
    "Address Line 1\n[[STREET_ADDRESS|27 Oakfield Road]]\n[[SAFE|Address Line]] 2\n[[SAFE|Town]]\n[[LOCATION|Bristol]]",
)


# Faker's street addresses of each locale where no address cue announces them, as typed (category
# faker_plain) and in lower case (category faker_lower). {x}: the address; {one}: on one line.
FAKER_LOCALES = ("en_US", "en_GB", "en_IE", "en_AU", "en_NZ", "en_IN", "en_CA", "de_DE", "de_AT", "de_CH", "fr_FR",
                 "fr_CH", "es_ES", "it_IT", "nl_NL", "nl_BE", "pt_BR", "pt_PT", "pl_PL", "sv_SE", "da_DK", "no_NO",
                 "fi_FI")
_PLAIN_CONTEXTS = (
    "The technician visited [[STREET_ADDRESS|{x}]] yesterday.",
    "Invoice sent to [[STREET_ADDRESS|{x}]].",
    "[[STREET_ADDRESS|{x}]]\n\nThis is where the unit is installed.",
    "Hi, my new flat is [[STREET_ADDRESS|{one}]] - can you move the contract?",
    "Returns go to:\n[[STREET_ADDRESS|{x}]]",
    "Account address: [[STREET_ADDRESS|{one}]]",
)
_LOWER_CONTEXTS = (
    "hey the parcel ended up at [[STREET_ADDRESS|{s}]] instead of my house",
    "[[STREET_ADDRESS|{s}]] is the right one, not the old address",
    "pls note: [[STREET_ADDRESS|{s}]]",
    "can the engineer come to [[STREET_ADDRESS|{s}]] tomorrow",
    "wrong house, mine is [[STREET_ADDRESS|{s}]]",
    "the bill still shows [[STREET_ADDRESS|{s}]] even though i moved",
    "i'm now at [[STREET_ADDRESS|{s}]], can you update",
    "is [[STREET_ADDRESS|{s}]] in your delivery area?",
)


def _faker_cases() -> list[Case]:
    from faker import Faker

    out = []
    for i, loc in enumerate(FAKER_LOCALES):
        f = Faker(loc)
        f.seed_instance(7300 + i)
        for ctx in _PLAIN_CONTEXTS:
            a = f.address()
            out.append(_parse(ctx.format(x=a, one=", ".join(line.strip() for line in a.split("\n"))), "plain"))
        f.seed_instance(9100 + i)
        for ctx in _LOWER_CONTEXTS:
            out.append(_parse(ctx.format(s=" ".join(f.street_address().split()).lower()), "lower"))
        f.seed_instance(11000 + i)
        for k in range(6):  # signatures, forms and lists with a name, a company, a phone, a country
            a = f.address()
            one, country = ", ".join(line.strip() for line in a.split("\n")), f.current_country()
            out.append(_parse((
                f"--\n{f.name()}\n{f.company()}\n[[STREET_ADDRESS|{a}]]\nTel: {f.phone_number()}",
                f"Delivery address: [[STREET_ADDRESS|{one}]], {country}",
                f"Hello,\nplease update my address to\n[[STREET_ADDRESS|{a}]]\n{country}\nThanks",
                f"{f.name()} | [[STREET_ADDRESS|{one}]] | {f.email()}",
                f"The order for {f.name()} ([[STREET_ADDRESS|{one}]]) was returned.",
                f"Bill to:\n{f.name()}\n[[STREET_ADDRESS|{a}]]",
            )[k], "sig"))
    return out


# Addresses put together from Faker's parts in each country's own order, with its flat or floor
# notation (category composed): "Flat No. 409, 75, Manda Circle, Junagadh - 449900", "Charlottelei 433
# bus 14, 8264 Biercée", "Recanto Pereira, 31, apto 28, Casa Grande - DF, 67632-343", "Teunweg 182-II",
# as typed, in lower case, over two lines, or with " - ", " / ", "; " between the parts.
def _composed(f: Any, loc: str, rng: random.Random) -> str:
    street = f.street_name()
    n, flat, city, pc = f.building_number(), rng.randint(1, 40), f.city(), f.postcode()
    return {
        "en_GB": lambda: f"Flat {flat}, {n} {street}, {city} {pc}",
        "en_IE": lambda: f"Apt {flat}, {n} {street}, {city}, Co. {rng.choice(('Cork', 'Louth', 'Mayo', 'Kerry'))}",
        "en_AU": lambda: f"Unit {flat}/{n} {street}, {city} {f.state_abbr()} {pc}",
        "en_IN": lambda: f"Flat No. {rng.randint(101, 905)}, {n}, {street}, {city} - {pc}",
        "de_DE": lambda: f"{street} {n}, Wohnung {flat}, {pc} {city}",
        "de_AT": lambda: f"{street} {n}/{flat}, {pc} {city}",
        "fr_FR": lambda: f"{n} {street}, Apt {flat}, {pc} {city}",
        "es_ES": lambda: f"{street}, {n}, {rng.randint(1, 9)}º {rng.choice('ABCD')}, {pc} {city}",
        "it_IT": lambda: f"{street} {n}, int. {flat}, {pc} {city}",
        "nl_NL": lambda: f"{street} {n}-{rng.choice(['H', 'I', 'II', 'A'])}, {pc} {city}",
        "nl_BE": lambda: f"{street} {n} bus {flat}, {pc} {city}",
        "pt_BR": lambda: f"{street}, {n}, apto {rng.randint(11, 120)}, {city} - {f.estado_sigla()}, {pc}",
        "pt_PT": lambda: f"{street}, {n}, {rng.randint(1, 8)}º Esq., {pc} {city}",
        "pl_PL": lambda: f"ul. {street} {n}/{flat}, {pc} {city}",
        "sv_SE": lambda: f"{street} {n}, lgh {rng.randint(1001, 1404)}, {pc} {city}",
    }[loc]()


_COMPOSED_CONTEXTS = (
    "Could you ship the replacement to [[STREET_ADDRESS|{a}]] please?",
    "The account holder lives at [[STREET_ADDRESS|{a}]].",
    "Ship to:\n[[STREET_ADDRESS|{a}]]\n\nThanks",
    "address: [[STREET_ADDRESS|{a}]]",
)


def _composed_cases() -> list[Case]:
    from faker import Faker

    rng = random.Random(4242)
    out = []
    for i, loc in enumerate(("en_GB", "en_IE", "en_AU", "en_IN", "de_DE", "de_AT", "fr_FR", "es_ES", "it_IT",
                             "nl_NL", "nl_BE", "pt_BR", "pt_PT", "pl_PL", "sv_SE")):
        f = Faker(loc)
        f.seed_instance(13000 + i)
        for k, ctx in enumerate(_COMPOSED_CONTEXTS * 2):
            a = _composed(f, loc, rng)
            a = (a, a.lower(), a.replace(", ", "\n", 1), a.replace(", ", rng.choice((" - ", " / ", "; "))))[k % 4]
            out.append(_parse(ctx.format(a=a), "composed"))
    return out


@lru_cache(maxsize=1)
def chat_cases() -> tuple[Case, ...]:
    """All cases of this module: hand-written (category suffix _chat) and Faker's (_plain, _lower, _sig,
    _composed)."""
    hand = [_parse(t, "chat") for t in ADDRESSES + PLACES + SAFE_TEXTS + FORMS]
    return tuple(hand + _faker_cases() + _composed_cases())
