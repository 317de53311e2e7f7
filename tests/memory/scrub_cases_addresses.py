"""More tuning cases (issue 11): street addresses as people type them, names in capitals, look-alikes.

Written from the address formats of each country (and Faker's locales), apart from the held-out
set: street addresses of the UK, Ireland, the US, Canada, Australia, New Zealand, India, Germany,
Austria, Switzerland, France, Belgium, the Netherlands, Spain, Portugal, Brazil, Italy, Poland,
Sweden, Denmark, Norway and Japan (romaji), with flat/apartment numbers, postcodes before or after
the town, lower case and no commas, abbreviations (rd, st, ave, str., pl.), multi-line blocks;
lower-case streets in chat ("22 baker street", "my address is 5 rue des lilas"); names in capitals
on labels, forms and signatures ("JOHN SMITH", "SMITH, John", "Mr JOHN O'NEILL"); and safe
look-alikes that must stay: quantities ("3 smart plugs", "2 Access Points"), model numbers,
versions, menu paths, times, "Room 2 sensor", "Floor 2 hallway light".

Same inline marks as ``scrub_cases_world`` (``[[TYPE|value]]``); the category of a label is its
type plus the group's name (``street_address_lower``, ``person_caps``, ``safe_lookalike`` ...).
"""

from __future__ import annotations

from functools import lru_cache

from faker import Faker

from tests.memory.scrub_cases_extra import Case
from tests.memory.scrub_cases_world import _parse

# Lower-case streets in chat, with and without a cue. Category: lower.
LOWER = (
    "my address is [[STREET_ADDRESS|22 baker street]]",
    "can you send it to [[STREET_ADDRESS|5 rue des lilas]] please",
    "i live at [[STREET_ADDRESS|14 station rd]] now",
    "it's [[STREET_ADDRESS|9 church st]], the blue door",
    "the courier left it at [[STREET_ADDRESS|41 king street]] not at my house",
    "deliver to [[STREET_ADDRESS|88 mill lane bristol bs3 4ef]] pls",
    "address is [[STREET_ADDRESS|apt 5b 120 w 72nd st new york ny 10023]]",
    "ship it to [[STREET_ADDRESS|kastanienallee 12, berlin]]",
    "we're at [[STREET_ADDRESS|12 o'connell street upper, dublin 1]]",
    "new place is [[STREET_ADDRESS|unit 4 22 george st sydney nsw 2000]]",
    "the engineer should come to [[STREET_ADDRESS|19 high street]] instead",
    "send the new hub to [[STREET_ADDRESS|56 park lane]] tomorrow",
    "my address is [[STREET_ADDRESS|7 avenue victor hugo]]",
    "can you deliver to [[STREET_ADDRESS|via dante 15]]?",
    "address: [[STREET_ADDRESS|calle de la luna 7, 28004 madrid]]",
    "i moved to [[STREET_ADDRESS|flat 3 27 oakfield road]] last week",
    "parcel for [[STREET_ADDRESS|12 acacia avenue]] came to me by mistake",
    "my address is [[STREET_ADDRESS|rua augusta 120]] lisboa",
    "ship to [[STREET_ADDRESS|ul. długa 5 m. 3]] w gdańsku",
    "address is [[STREET_ADDRESS|storgatan 5b]]",
    "it went to [[STREET_ADDRESS|34 elm road]] next door",
    "my address is [[STREET_ADDRESS|12 chemin des vignes]]",
    "send it to [[STREET_ADDRESS|3 the green]] please",
    "i'm at [[STREET_ADDRESS|45 queens gardens]] now",
    "deliver to [[STREET_ADDRESS|17 bridge st]]",
    "my new address is [[STREET_ADDRESS|hoofdstraat 12]]",
    "address: [[STREET_ADDRESS|1200 w main st apt 5 boise id 83702]]",
    "it's [[STREET_ADDRESS|flat 12 harbour court]] on the second floor",
    "i live on [[STREET_ADDRESS|23 maple drive]]",
    "send it to [[STREET_ADDRESS|4 rue du moulin 67000 strasbourg]]",
    "my address is [[STREET_ADDRESS|plac zbawiciela 4/12]]",
    "the box is at [[STREET_ADDRESS|8 victoria terrace]]",
    "my address is [[STREET_ADDRESS|5 rue des lilas, paris]]",
    "i live at [[STREET_ADDRESS|22 baker street london]]",
    "the parcel went to [[STREET_ADDRESS|141 carter mountains]] instead",
    "it was left at [[STREET_ADDRESS|14/17, sodhi chowk]] yesterday",
)

# Addresses of many countries, as typed in chats and forms. Category: intl.
INTL = (
    "Send it to [[STREET_ADDRESS|Flat 4, 23 Victoria Road, London SW1V 1AA]].",
    "Address: [[STREET_ADDRESS|23 Acacia Avenue, Reading RG1 3AB]]",
    "Address: [[STREET_ADDRESS|14a Mill St, Leeds LS1 5DL]]",
    "Please post it to [[STREET_ADDRESS|Apt 12, The Maltings, Bridge Street, Westport, Co. Mayo F28 Y2K4]].",
    "My address is [[STREET_ADDRESS|12 Main St, Ennis, Co. Clare V95 C8F2]].",
    "Ship to [[STREET_ADDRESS|1234 N Elm St Apt 5, Chicago IL 60614]].",
    "Address: [[STREET_ADDRESS|500 Oak Ave Ste 200 Austin TX 78701]]",
    "Send it to [[STREET_ADDRESS|1200 Rue Sainte-Catherine O, Montréal QC H3B 1K9]].",
    "Address: [[STREET_ADDRESS|Suite 300, 100 King St W, Toronto ON M5X 1A9]]",
    "Deliver to [[STREET_ADDRESS|12 Wattle Cres, Kambah ACT 2902]].",
    "My address is [[STREET_ADDRESS|Flat 2, 15 Ponsonby Rd, Grey Lynn, Auckland 1021]].",
    "Please ship to [[STREET_ADDRESS|23 Kowhai St, RD 2, Matamata 3472]].",
    "Address: [[STREET_ADDRESS|Flat 402, Shanti Apartments, MG Road, Pune 411001]]",
    "Address: [[STREET_ADDRESS|House No. 15, Sector 21, Gurgaon, Haryana 122016]]",
    "Lieferadresse: [[STREET_ADDRESS|Königstr. 12, 70173 Stuttgart]]",
    "Adresse: [[STREET_ADDRESS|Müllerstraße 3a\n13353 Berlin]]",
    "Bitte an [[STREET_ADDRESS|Oranienstr. 25, 2. OG, 10999 Berlin]] liefern.",
    "Adresse: [[STREET_ADDRESS|Hauptplatz 1/2/7, 8010 Graz]]",
    "Meine Adresse ist [[STREET_ADDRESS|Landstraßer Hauptstraße 99, Top 12, 1030 Wien]].",
    "Adresse: [[STREET_ADDRESS|Seestrasse 45, 8002 Zürich]]",
    "Adresse : [[STREET_ADDRESS|Rue du Rhône 8, 1204 Genève]]",
    "Indirizzo: [[STREET_ADDRESS|Via Nassa 5, 6900 Lugano]]",
    "Adresse : [[STREET_ADDRESS|appt 12, 4 bd Haussmann, 75009 Paris]]",
    "Livrer au [[STREET_ADDRESS|36 quai des Orfèvres 75001 Paris]].",
    "Adresse : [[STREET_ADDRESS|Rue Neuve 123 bte 4, 1000 Bruxelles]]",
    "Adresse : [[STREET_ADDRESS|Chaussée de Waterloo 25, 1180 Uccle]]",
    "Adres: [[STREET_ADDRESS|Oudegracht 231 bis, 3511 NK Utrecht]]",
    "Adres: [[STREET_ADDRESS|Stationsweg 8-A, 2312 AV Leiden]]",
    "Dirección: [[STREET_ADDRESS|C/ Gran Vía 32, 5º dcha, 28013 Madrid]]",
    "Dirección: [[STREET_ADDRESS|Avda. Diagonal 640, 08017 Barcelona]]",
    "Dirección: [[STREET_ADDRESS|Plaza Mayor 1, 37002 Salamanca]]",
    "Morada: [[STREET_ADDRESS|Av. da Liberdade 110, 3º Dto, 1250-146 Lisboa]]",
    "Morada: [[STREET_ADDRESS|Rua de Santa Catarina 200, 4000-447 Porto]]",
    "Endereço: [[STREET_ADDRESS|Av. Paulista, 1578, São Paulo - SP, 01310-200]]",
    "Endereço: [[STREET_ADDRESS|Rua Oscar Freire 900 apto 52, São Paulo SP 01426-001]]",
    "Indirizzo: [[STREET_ADDRESS|Via del Corso 12, 00186 Roma RM]]",
    "Indirizzo: [[STREET_ADDRESS|Piazza San Marco 1, 30124 Venezia]]",
    "Adres: [[STREET_ADDRESS|ul. Długa 5 m. 3, 80-827 Gdańsk]]",
    "Adres: [[STREET_ADDRESS|al. Jerozolimskie 100/12\n00-807 Warszawa]]",
    "Adres: [[STREET_ADDRESS|os. Tysiąclecia 12/45, 31-610 Kraków]]",
    "Adress: [[STREET_ADDRESS|Kungsgatan 12, lgh 1102, 111 43 Stockholm]]",
    "Adress: [[STREET_ADDRESS|Storgatan 5B, 903 26 Umeå]]",
    "Adresse: [[STREET_ADDRESS|Vesterbrogade 12, 3. tv, 1620 København V]]",
    "Adresse: [[STREET_ADDRESS|Karl Johans gate 22, 0159 Oslo]]",
    "Address: [[STREET_ADDRESS|2-3-1 Marunouchi, Chiyoda-ku, Tokyo 100-0005]]",
    "Please ship to [[STREET_ADDRESS|Apt 302, 4-5-6 Minami-Aoyama, Minato-ku, Tokyo 107-0062]].",
    "Deliver to:\n[[STREET_ADDRESS|Flat 7\nHarbour House\n12 Dock Street\nLeith\nEdinburgh EH6 6EY]]",
    "Address: [[STREET_ADDRESS|45 Queen Street West Toronto ON M5H 2M5]]",
    "Address line 1: [[STREET_ADDRESS|Apartment 9]]\nAddress line 2: [[STREET_ADDRESS|31 Elm Grove]]\n"
    "Town: [[LOCATION|Swindon]]\nPostcode: [[STREET_ADDRESS|SN1 4AZ]]",
)

# Names in capitals on labels, forms and signatures. Category: caps.
CAPS = (
    "SHIP TO: [[PERSON|JOHN SMITH]]",
    "Name: [[PERSON|SMITH, John]]",
    "Attn: [[PERSON|Mr JOHN O'NEILL]]",
    "Customer name: [[PERSON|MARIA GONZALEZ]]",
    "NAME: [[PERSON|O'BRIEN, SEAN]]",
    "Signed: [[PERSON|ANNA KOWALSKA]]",
    "Recipient: [[PERSON|MRS SARAH JONES]]",
    "Cardholder: [[PERSON|LI WEI]]",
    "Please print the label for [[PERSON|MR DAVID BROWN]].",
    "Thanks,\n[[PERSON|KAREN MILLER]]",
    "Account name: [[PERSON|DR HEINRICH BAUER]]",
    "Surname: [[PERSON|MÜLLER]]\nFirst name: [[PERSON|Klaus]]",
    "From:\n[[PERSON|PIERRE DUBOIS]]\n[[STREET_ADDRESS|12 RUE DE LA PAIX\n75002 PARIS]]",
    "[[PERSON|JAMES WILSON]]\n[[STREET_ADDRESS|45 HIGH STREET\nOXFORD OX1 4AP]]",
    "The parcel is addressed to [[PERSON|MS CLAIRE DUNNE]], is that right?",
    "Beneficiary: [[PERSON|KOWALSKI, Jan]]",
    "Kind regards,\n[[PERSON|SIOBHAN MURPHY]]\nAccounts",
    "[[PERSON|JOHN SMITH]]\n[[STREET_ADDRESS|12 BAKER STREET\nLONDON NW1 6XE]]",
    "[[PERSON|SIV EVENSEN]]\n[[STREET_ADDRESS|FLAT 2\n5 HIGH ST\nBATH BA1 1AA]]",
)
# Capitals with Faker's names of each locale. {N}: full name, {F} first, {L} last (upper case).
_CAPS_CONTEXTS = (
    "SHIP TO:\n[[PERSON|{N}]]",
    "Name: [[PERSON|{L}, {f}]]",
    "Attn: [[PERSON|Mr {F} {L}]]",
    "DELIVER TO: [[PERSON|{F} {L}]]",
    "Regards,\n[[PERSON|{F} {L}]]",
    "Account holder: [[PERSON|{L}, {F}]]",
    "Please hand it to [[PERSON|{F} {L}]] at reception.",
)
_CAPS_LOCALES = ("en_GB", "en_IE", "en_US", "en_AU", "en_IN", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL",
                 "pt_BR", "pl_PL", "sv_SE", "da_DK")

# Safe look-alikes: numbers beside words, which must stay. Category: lookalike.
LOOKALIKE = (
    "I bought [[SAFE|3 smart plugs]] and [[SAFE|2 smart lights]] last week.",
    "The [[SAFE|Room 2 sensor]] is offline again.",
    "[[SAFE|Floor 2 hallway light]] won't pair with the hub.",
    "The [[SAFE|Floor 2 Hallway Light]] keeps blinking.",
    "Go to [[SAFE|Settings > Lock]] and turn it off.",
    "Firmware [[SAFE|2.14.3]] is installed.",
    "My speed is only [[SAFE|300 Mbps]] on the [[SAFE|5 GHz]] band.",
    "Model [[SAFE|HX-2200]] doesn't show up.",
    "The technician comes at [[SAFE|10:30]] on Tuesday.",
    "Order [[SAFE|ORD-12345]] arrived damaged.",
    "I have [[SAFE|2 Access Points]] and [[SAFE|3 Smart Lights]] upstairs.",
    "Install [[SAFE|4 Door Locks]] before the [[SAFE|2 Garden Lights]].",
    "Tap [[SAFE|Home > Rooms > Kitchen]] to rename it.",
    "The [[SAFE|Level 2 charger]] is on the wall.",
    "Tracking [[SAFE|JD014600006281234567]] has not moved.",
    "Case [[SAFE|CS-2026-1181]] was closed by mistake.",
    "The fan runs at [[SAFE|2400 RPM]].",
    "We have [[SAFE|12 Main Hall lights]] in the office.",
    "[[SAFE|Zone 3 thermostat]] reads 19 degrees.",
    "Set [[SAFE|Scene 4]] to start at [[SAFE|7:15 am]].",
    "[[SAFE|Unit 2 thermostat]] lost its schedule.",
    "My [[SAFE|Series 5 Pro]] camera stopped recording.",
    "Add [[SAFE|6 motion sensors]] to [[SAFE|Group 1]].",
    "Plan [[SAFE|Fibre 500]] costs 30 EUR a month.",
    "Go to [[SAFE|Devices > Bedroom 2 > Lights]].",
    "Delivered on [[SAFE|12 March 2026]], order [[SAFE|INV-2026-0042]].",
    "The [[SAFE|Gate 2 camera]] shows a black screen.",
    "I ordered [[SAFE|2 Wall Plates]] and [[SAFE|1 Bridge]].",
    "Error [[SAFE|E-404]] on [[SAFE|Block 3 controller]].",
    "Step 2: hold [[SAFE|Reset]] for 10 seconds.",
    "[[SAFE|HDMI CABLE]]\n2 metres, black",
    "Order [[SAFE|ORD-55123]] shipped via DHL [[SAFE|JJD000390007012345]].",
    "it arrived at [[SAFE|reception 2]], thanks",
    "Go to [[SAFE|Settings > Lock > Auto Lock]].",
)


# Faker's streets of each locale typed in chat (lower case, no town) and its full address without
# commas or in capitals on a label. {s}: street line, {a}: the address on one line, no commas.
_ADDRESS_CONTEXTS = (
    "my address is [[STREET_ADDRESS|{sl}]]",
    "can you send it to [[STREET_ADDRESS|{sl}]] please",
    "Address: [[STREET_ADDRESS|{a}]]",
    "SHIP TO:\n[[PERSON|{N}]]\n[[STREET_ADDRESS|{A}]]",
)
_ADDRESS_LOCALES = ("en_GB", "en_IE", "en_US", "en_AU", "en_NZ", "en_IN", "en_CA", "de_DE", "de_AT", "de_CH",
                    "fr_FR", "fr_CH", "nl_NL", "nl_BE", "es_ES", "pt_PT", "pt_BR", "it_IT", "pl_PL", "sv_SE",
                    "da_DK", "no_NO")


@lru_cache(maxsize=1)
def address_cases() -> tuple[Case, ...]:
    """All cases of this module (deterministic)."""
    out = [_parse(t, "lower") for t in LOWER]
    out += [_parse(t, "intl") for t in INTL]
    out += [_parse(t, "caps") for t in CAPS]
    out += [_parse(t, "lookalike") for t in LOOKALIKE]
    for i, loc in enumerate(_CAPS_LOCALES):
        f = Faker(loc)
        f.seed_instance(6300 + i)
        for ctx in _CAPS_CONTEXTS:
            first, last = f.first_name(), f.last_name()
            text = ctx.format(N=f"{f.first_name()} {f.last_name()}".upper(), F=first.upper(), L=last.upper(),
                              f=first)
            out.append(_parse(text, "caps"))
    for i, loc in enumerate(_ADDRESS_LOCALES):
        f = Faker(loc)
        f.seed_instance(7400 + i)
        for ctx in _ADDRESS_CONTEXTS:
            street = " ".join(f.street_address().split())
            lines = [line.strip() for line in f.address().split("\n")]
            text = ctx.format(sl=street.lower(), a=" ".join(lines).replace(",", ""), A="\n".join(lines).upper(),
                              N=f"{f.first_name()} {f.last_name()}".upper())
            out.append(_parse(text, "faker_lower" if "{sl}" in ctx else "faker_typed"))
    return tuple(out)
