"""Tuning cases for street addresses and names in real-world formats (issue 11), hand-marked.

Written apart from bench/bench_scrub.py and tests/memory/scrub_cases_extra.py, from the formats
people actually write: street addresses of the US, UK, Ireland, Germany, Austria, Switzerland,
France, Spain, Portugal, Italy, the Netherlands, Belgium, Scandinavia, Poland, Canada, Australia,
New Zealand and India (flat, apartment and unit numbers, "c/o", PO boxes, postcodes before or after
the town, abbreviations such as "st", "rd", "ave", "str.", the number after the street name,
lower case, multi-line blocks in e-mail signatures and shipping labels, addresses inside
sentences); names in greetings, sign-offs and signatures, lower case, "this is X from", "ask for
X", hyphenated and non-English names; and safe support text (product names, menu labels, company
vocabulary) that must stay.

A case is written with its labels inline: ``[[TYPE|value]]`` marks a value of TYPE (PERSON,
LOCATION, STREET_ADDRESS, PHONE_NUMBER, EMAIL_ADDRESS) or SAFE text; ``world_cases()`` turns them
into ``scrub_cases_extra.Case`` objects with exact offsets, so ``scrub_cases_extra.score`` and
``misses`` apply. The category of a label is its group's name (``ADDRESS``, ``NAME`` or ``SAFE``
plus a suffix), so a test can hold a floor per group.
"""

from __future__ import annotations

import re
from functools import lru_cache

from faker import Faker

from tests.memory.scrub_cases_extra import Case, Label

_MARK = re.compile(r"\[\[([A-Z_]+)\|(.*?)\]\]", re.DOTALL)

# Addresses as people write them; each line one case. Category: address_hand.
ADDRESSES = (
    "Please send the replacement to [[STREET_ADDRESS|221B Baker Street, London NW1 6XE]].",
    "ship it to [[STREET_ADDRESS|14 elm st, apt 3b, springfield, il 62704]] please",
    "My address is [[STREET_ADDRESS|1600 Pennsylvania Ave NW, Washington, DC 20500]].",
    "Deliver to:\n[[STREET_ADDRESS|Flat 2\n37 Kings Road\nBrighton\nBN1 1NA]]\n\nThanks!",
    "New address: [[STREET_ADDRESS|Hauptstraße 12, 10115 Berlin]]",
    "Meine Adresse: [[STREET_ADDRESS|Lindenallee 7a, 3. OG, 80331 München]]",
    "Bitte an [[STREET_ADDRESS|Mariahilfer Str. 45/3/12, 1060 Wien]] schicken.",
    "the box should go to [[STREET_ADDRESS|Bahnhofstrasse 21, 8001 Zürich]]",
    "Livraison au [[STREET_ADDRESS|12 rue de la Paix, 75002 Paris]], merci.",
    "Adresse : [[STREET_ADDRESS|Appartement 14, 5 avenue Jean Jaurès, 69007 Lyon]]",
    "Envíelo a [[STREET_ADDRESS|Calle Mayor 5, 3º izq., 28013 Madrid]], por favor.",
    "Dirección: [[STREET_ADDRESS|C/ de Balmes 112, 2º 1ª, 08008 Barcelona]]",
    "Morada: [[STREET_ADDRESS|Rua Augusta 120, 2º Esq, 1100-053 Lisboa]]",
    "Indirizzo: [[STREET_ADDRESS|Via Giuseppe Garibaldi 23, int. 4, 10122 Torino TO]]",
    "Spediscilo a [[STREET_ADDRESS|Corso Buenos Aires 14, 20124 Milano (MI)]].",
    "Mijn adres is [[STREET_ADDRESS|Prinsengracht 263-1, 1016 GV Amsterdam]].",
    "Stuur het naar [[STREET_ADDRESS|Kerkstraat 14 bus 2, 9000 Gent]].",
    "Adress: [[STREET_ADDRESS|Drottninggatan 53, 111 21 Stockholm]]",
    "Min adresse er [[STREET_ADDRESS|Nørregade 10, 2. th., 1165 København K]].",
    "Adres: [[STREET_ADDRESS|ul. Marszałkowska 84/92 m. 15, 00-514 Warszawa]]",
    "Please ship to [[STREET_ADDRESS|Unit 5, 42 Smith St, Fitzroy VIC 3065]].",
    "Postal address: [[STREET_ADDRESS|PO Box 1234, Parramatta NSW 2124]]",
    "I'm at [[STREET_ADDRESS|Level 2, 18 Queen Street, Auckland 1010]] during the week.",
    "Send it to [[STREET_ADDRESS|Apt 1204, 88 Harbour St, Toronto, ON M5J 2G2]].",
    "my address: [[STREET_ADDRESS|4567 rue saint-denis, montréal, qc h2j 2l4]]",
    "Address: [[STREET_ADDRESS|Flat No. 302, Sai Residency, 12th Main Road, Indiranagar, Bengaluru 560038]]",
    "Courier to [[STREET_ADDRESS|B-14, Sector 62, Noida, Uttar Pradesh 201301]] please.",
    "Ship to [[STREET_ADDRESS|c/o Anna Weber, Gartenweg 3, 79098 Freiburg]].",
    "Mail it to [[STREET_ADDRESS|P.O. Box 4471, Austin, TX 78765]].",
    "Our office moved to [[STREET_ADDRESS|350 Fifth Avenue, Suite 4100, New York, NY 10118]] last month.",
    "I live at [[STREET_ADDRESS|27 Rathmines Road Lower, Dublin 6, D06 F6X8]].",
    "the parcel went to [[STREET_ADDRESS|5 high st]] instead of [[STREET_ADDRESS|50 high st]]",
    "can you deliver to [[STREET_ADDRESS|33 oak avenue, leeds ls6 2ab]] instead",
    "it was delivered to [[STREET_ADDRESS|hauptstr. 4, 50667 köln]] by mistake",
    "The engineer visited [[STREET_ADDRESS|12 Rosemary Lane, Bristol BS1 4QA]] on Monday.",
    "I've moved, new address is [[STREET_ADDRESS|Apartment 7, 19 Grand Parade, Cork T12 X2E4]]",
    "Lieferadresse: [[STREET_ADDRESS|Am Markt 3, 04109 Leipzig]]",
    "Please use [[STREET_ADDRESS|3 Place Bellecour, 69002 Lyon]] for the invoice.",
    "Return label from [[STREET_ADDRESS|Keizersgracht 123, 1015 CJ Amsterdam]] attached.",
    "my old flat was [[STREET_ADDRESS|flat 4, 9 victoria road, glasgow g42 7aa]]",
    "delivery addr [[STREET_ADDRESS|742 Evergreen Terrace, Springfield, OR 97477]]",
    "[[STREET_ADDRESS|Sveavägen 44, 111 34 Stockholm]] is where the hub is installed.",
    "Please collect from [[STREET_ADDRESS|Storgata 15, 0184 Oslo]].",
    "Postadresse: [[STREET_ADDRESS|Postfach 10 12 34, 70011 Stuttgart]]",
    "Ship to [[STREET_ADDRESS|Rua das Flores, 45, apto 12, São Paulo - SP, 01310-100]].",
    "Address for the refund cheque: [[STREET_ADDRESS|10 Downing St, London SW1A 2AA]].",
    "I'm at [[STREET_ADDRESS|Unit 3/15 Beach Rd, Bondi NSW 2026]] now.",
    "Deliver to [[STREET_ADDRESS|Avenida de la Constitución 12, 41001 Sevilla]] tomorrow.",
)

# E-mail signatures and shipping labels: a name and a multi-line address. Category: *_block.
BLOCKS = (
    "Thanks for the quick help.\n\nBest regards,\n[[PERSON|Sarah Whitfield]]\n"
    "[[STREET_ADDRESS|48 Mill Lane\nCambridge CB2 1RX]]\n[[PHONE_NUMBER|+44 1223 456789]]",
    "Mit freundlichen Grüßen\n[[PERSON|Jürgen Weiß]]\n[[STREET_ADDRESS|Kastanienweg 17\n53113 Bonn]]",
    "Cordialement,\n[[PERSON|Marie-Claire Dubois]]\n[[STREET_ADDRESS|8 rue des Lilas\n33000 Bordeaux]]",
    "SHIP TO:\n[[PERSON|Tom Becker]]\n[[STREET_ADDRESS|1200 W Main St Apt 5\nBoise, ID 83702]]\n"
    "Order [[SAFE|ORD-55123]]",
    "Recipient: [[PERSON|Priya Nair]]\n[[STREET_ADDRESS|Flat 12B, Lotus Towers\nMG Road\nKochi 682016]]",
    "--\n[[PERSON|Luca Bianchi]]\n[[STREET_ADDRESS|Via Roma 8\n00184 Roma]]\nTel. [[PHONE_NUMBER|+39 06 1234 5678]]",
    "Groeten,\n[[PERSON|Sanne de Vries]]\n[[STREET_ADDRESS|Lindenlaan 4\n3581 KA Utrecht]]",
    "Saludos,\n[[PERSON|José Ángel Ruiz]]\n[[STREET_ADDRESS|Calle de Alcalá 200, 4ºB\n28028 Madrid]]",
    "Cheers,\n[[PERSON|Mia Thompson]]\n[[STREET_ADDRESS|7/22 Ocean Parade\nCoogee NSW 2034]]",
    "Kind regards\n\n[[PERSON|Aoife Byrne]]\n[[STREET_ADDRESS|Apt 4, Harbour View\nStrand Road\nSligo F91 K2P3]]",
)

# Names where a support text puts them. Category: name_hand.
NAMES = (
    "Hi [[PERSON|Laura]], thanks for getting back to us.",
    "hi [[PERSON|laura schmidt]], your ticket is closed",
    "Hello [[PERSON|Jean-Pierre]], the unit ships today.",
    "Dear [[PERSON|Ms. Okonkwo]], your refund was approved.",
    "Hey [[PERSON|Siobhán]]! Glad it works again.",
    "Thank you for contacting [[PERSON|Laura Schmidt]], she will call you back.",
    "[[PERSON|Rose]] will call you back tomorrow.",
    "This is [[PERSON|Dmitri]] from the billing desk.",
    "hi, this is [[PERSON|kasia nowak]] from flat 2",
    "Ask for [[PERSON|Björn]] at the front desk.",
    "Please ask for [[PERSON|Mrs. Fernández]] when you call.",
    "I spoke with [[PERSON|Nguyen Van An]] yesterday about the refund.",
    "Thanks,\n[[PERSON|Wojciech]]",
    "Best,\n[[PERSON|Anne-Sophie Lefèvre]]",
    "Kind regards,\n[[PERSON|Oluwaseun Adeyemi]]",
    "cheers\n[[PERSON|dave]]",
    "my name is [[PERSON|ingrid bergström]] and the app crashes",
    "the account is under [[PERSON|Hans-Peter Müller]]",
    "Can [[PERSON|Giulia]] call me back after 5?",
    "[[PERSON|Mohammed Al-Farsi]] said the router was replaced.",
    "Regards,\n[[PERSON|Ó Súilleabháin]]",
    "Hi [[PERSON|Zoë]],\n\nYour order [[SAFE|ORD-88120]] has shipped.",
    "I'm [[PERSON|Hiroshi Tanaka]], the account holder.",
    "Talk soon,\n[[PERSON|Mateo]]",
    "Greetings from [[PERSON|Anders]] and the family!",
    "Hi [[PERSON|Chloé]] and [[PERSON|Marc]], the visit is booked.",
    "many thanks\n[[PERSON|fiona o'brien]]",
    "Hallo [[PERSON|Herr Schneider]], Ihr Gerät ist unterwegs.",
    "Bonjour [[PERSON|Madame Moreau]], votre colis est parti.",
    "Ciao [[PERSON|Francesca]], il pacco è partito.",
    "From: [[PERSON|Laura Schmidt]] <[[EMAIL_ADDRESS|laura.schmidt@example.de]]>\nSubject: Thermostat offline",
    "Name: [[PERSON|jane doe]]\nEmail: [[EMAIL_ADDRESS|jane.doe@example.com]]",
    "call notes: cust [[PERSON|Gareth Pugh]] rang re boiler, wants engineer visit",
    "Payment request from [[PERSON|Oskar Lindqvist]] for 49 EUR.",
    "Please transfer the refund to [[PERSON|Tomasz Wójcik]], IBAN below.",
    "ok thanks [[PERSON|laura]]",
    "I forwarded it to [[PERSON|Hannah Becker]] yesterday.",
    "spoke w/ [[PERSON|priya]] at 3pm, she'll escalate",
    "[[PERSON|Ana de la Cruz]] called twice about the invoice.",
    "Customer: [[PERSON|Søren Kjærgaard]] (VIP)",
    "Technician assigned: [[PERSON|Marco Rossi]]",
    "Agent [[PERSON|Fatima]] here, how can I help?",
    "Thank you, [[PERSON|Mr. van der Berg]], for your patience.",
    "hey [[PERSON|jo]], did the reset work?",
    "Sent on behalf of [[PERSON|Isabelle Fontaine]]",
)

# Web forms and shipping labels: an address split over fields, and labels typed in capitals. Category: form.
FORMS = (
    "Name: [[PERSON|Emma Clarke]]\nAddress line 1: [[STREET_ADDRESS|Flat 3, 27 Oakfield Road]]\n"
    "City: [[LOCATION|Bristol]]\nPostcode: [[STREET_ADDRESS|BS6 6BZ]]\nOrder: [[SAFE|ORD-71822]]",
    "Street: [[STREET_ADDRESS|Lindenstraße 48]]\nPLZ/Ort: [[STREET_ADDRESS|50674 Köln]]",
    "Adresse : [[STREET_ADDRESS|14 bis, chemin des Vignes]]\nVille : [[LOCATION|Annecy]]",
    "Shipping address: [[STREET_ADDRESS|77 Garden Terrace]]\nTown: [[LOCATION|Wexford]]",
    "Billing address: [[STREET_ADDRESS|Unit 9, 101 Collins St, Melbourne VIC 3000]]",
    "SHIP TO:\n[[PERSON|JOHN SMITH]]\n[[STREET_ADDRESS|12 BAKER STREET\nLONDON NW1 6XE]]\nUNITED KINGDOM",
    "DELIVER TO: [[PERSON|MARIA GARCIA]], [[STREET_ADDRESS|CALLE MAYOR 5, 28013 MADRID]]",
    "Deliver to:\n[[PERSON|KEVIN O'NEILL]]\n[[STREET_ADDRESS|4 CHURCH LANE\nGALWAY H91 X2Y3]]",
    "Address: [[STREET_ADDRESS|Hoofdstraat 12, 9711 AB Groningen]]\nPhone: [[PHONE_NUMBER|+31 50 123 4567]]",
    "Street: [[STREET_ADDRESS|18 Kowhai Grove]]\nTown: [[LOCATION|Westburyhaven]]\nCountry: [[LOCATION|New Zealand]]",
    "Ville : [[LOCATION|Saint-Julien-en-Genevois]]\nPays : [[LOCATION|France]]",
    "Indirizzo di spedizione: [[STREET_ADDRESS|Via Nazionale 45, 00184 Roma RM]]",
)

# Support text with capitalised words that are not people or places. Category: safe_hand.
SAFE_TEXTS = (
    "Open [[SAFE|Settings]] and tap [[SAFE|Lock]], then [[SAFE|Away Mode]].",
    "The [[SAFE|Room Sensor]] pairs with [[SAFE|Apple HomeKit]] and [[SAFE|Amazon Alexa]].",
    "Go to [[SAFE|Menu > Schedule > Holiday]] to pause heating.",
    "Press [[SAFE|Boost]] twice, then [[SAFE|Home]].",
    "Your [[SAFE|Premium Plus]] plan renews on [[SAFE|2026-04-01]].",
    "Tap [[SAFE|Forgot Password]] on the [[SAFE|Sign In]] screen.",
    "Firmware [[SAFE|3.4.2]] fixes error [[SAFE|E-114]] on the hub.",
    "Choose [[SAFE|Street View]] or [[SAFE|Map]] in the app.",
    "Set [[SAFE|Temperature Unit]] to Celsius under [[SAFE|Preferences]].",
    "The [[SAFE|Smart Plug Mini]] draws 0.5 W on standby.",
    "Select [[SAFE|Main Street]] mode only if you have a shop front.",
    "Restart the [[SAFE|Bridge]] and the [[SAFE|Gateway]] in that order.",
    "The delivery window is 9 to 12; tracking number [[SAFE|1Z999AA10123456784]].",
    "Click [[SAFE|Account]] > [[SAFE|Billing]] > [[SAFE|Payment Methods]].",
    "Use the [[SAFE|Quick Start]] guide, page 12.",
    "Replace the filter every 3 months; part [[SAFE|FLT-200]].",
    "[[SAFE|Night Mode]] dims the display after 10 pm.",
    "Ask [[SAFE|Siri]] to turn on [[SAFE|Eco Mode]].",
    "The [[SAFE|Garden Hub]] supports 2.4 GHz only.",
    "Step 3: tap [[SAFE|Add Device]] and scan the QR code.",
)


def _parse(marked: str, category: str) -> Case:
    parts: list[str] = []
    labels: list[Label] = []
    pos = 0
    last = 0
    for m in _MARK.finditer(marked):
        lit = marked[last : m.start()]
        parts.append(lit)
        pos += len(lit)
        kind, value = m.group(1), m.group(2)
        cat = f"safe_{category}" if kind == "SAFE" else f"{kind.lower()}_{category}"
        labels.append(Label(pos, pos + len(value), kind, cat))
        parts.append(value)
        pos += len(value)
        last = m.end()
    parts.append(marked[last:])
    return Case("".join(parts), labels)


# Faker's own full addresses, in the format of each country (multi-line as Faker writes them),
# put where people put them: after a cue in a sentence, as a label, in a signature, in lower case.
FAKER_LOCALES = ("en_US", "en_GB", "en_IE", "en_AU", "en_NZ", "en_IN", "en_CA", "de_DE", "de_AT", "de_CH",
                 "fr_FR", "fr_CH", "es_ES", "it_IT", "nl_NL", "nl_BE", "pt_BR", "pt_PT", "pl_PL", "sv_SE",
                 "da_DK", "no_NO", "fi_FI")
_CONTEXTS = (
    "Please ship it to [[STREET_ADDRESS|{a}]].",
    "Delivery address:\n[[STREET_ADDRESS|{a}]]\n\nThanks",
    "Best regards,\n[[PERSON|{n}]]\n[[STREET_ADDRESS|{a}]]",
    "my address is [[STREET_ADDRESS|{lower}]] thanks",
    "We moved to [[STREET_ADDRESS|{one}]] in May, please update the account.",
)


# Names as Faker writes them in each country (with titles and degrees: "Dr. Wiebke Eimer B.Eng."),
# in the places support text puts them. {n}: full name, {f}: first name, {l}: last name.
_NAME_CONTEXTS = (
    "Hi [[PERSON|{n}]],\n\nyour replacement ships today.",
    "Hello [[PERSON|{f}]]! The hub is back online.",
    "Thanks for your patience.\n\nKind regards,\n[[PERSON|{n}]]\nCustomer Care",
    "This is [[PERSON|{n}]] from the installation team.",
    "hi its [[PERSON|{lf}]] here, the app keeps logging me out",
    "Please ask for [[PERSON|{f}]] when you call back.",
    "Caller: [[PERSON|{n}]]\nIssue: no heating since Monday\nCallback: [[PHONE_NUMBER|{p}]]",
    "Account holder: [[PERSON|{n}]]\nPlan: Premium",
    "I spoke to [[PERSON|{f} {l}]] on the phone yesterday and she said it was fixed.",
    "[[PERSON|{f}]] from accounts will e-mail you the invoice.",
    "Payee: [[PERSON|{n}]]\nReference: [[SAFE|INV-2026-0042]]",
    "Best,\n[[PERSON|{f}]]",
    "Dear [[PERSON|{l}]] family, thank you for your order.",
    "my name is [[PERSON|{lf} {ll}]] and i need a refund",
    "Can you put me through to [[PERSON|{f} {l}]]?",
)
_NAME_LOCALES = ("en_GB", "en_IE", "en_AU", "en_NZ", "en_IN", "de_DE", "de_AT", "fr_FR", "fr_CH", "es_ES",
                 "it_IT", "nl_NL", "nl_BE", "pt_BR", "pt_PT", "pl_PL", "sv_SE", "da_DK")


@lru_cache(maxsize=1)
def world_cases() -> tuple[Case, ...]:
    """All cases of this module (deterministic)."""
    out = [_parse(t, "hand") for t in ADDRESSES]
    out += [_parse(t, "block") for t in BLOCKS]
    out += [_parse(t, "hand") for t in NAMES + SAFE_TEXTS]
    out += [_parse(t, "form") for t in FORMS]
    for i, loc in enumerate(FAKER_LOCALES):
        f = Faker(loc)
        f.seed_instance(4100 + i)
        for k, ctx in enumerate(_CONTEXTS):
            a = f.address()
            one = ", ".join(line.strip() for line in a.split("\n"))
            text = ctx.format(a=a, n=f.name(), lower=one.lower(), one=one)
            out.append(_parse(text, "faker"))
            del k
    for i, loc in enumerate(_NAME_LOCALES):
        f = Faker(loc)
        f.seed_instance(5200 + i)
        for ctx in _NAME_CONTEXTS:
            first, last = f.first_name(), f.last_name()
            text = ctx.format(n=f.name(), f=first, l=last, lf=first.lower(), ll=last.lower(), p=f.phone_number())
            out.append(_parse(text, "names"))
    return tuple(out)
