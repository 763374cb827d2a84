"""ISO 639 language codes: normalise what callers send, and know what Whisper can hear.

Light on purpose (standard library only): the router, the job API and the server validate
``language`` / ``src_lng`` / ``tgt_lng`` with it before anything heavy loads.

:func:`normalize_language` accepts an ISO 639-1 code (``es``), an ISO 639-3 or 639-2/B code
(``spa``; ``ger`` / ``deu``), a few 639-3 codes of individual languages inside a
macrolanguage (``cmn`` → ``zh``, ``arb`` → ``ar``, as NLLB names them), an English name
(``Spanish``) and a tag with a region or script (``en-US``, ``pt_BR``, ``spa_Latn``), in any
case. It returns the canonical code: ISO 639-1 when the language has one, else ISO 639-3
(``haw``, ``yue``). Anything else raises :class:`UnknownLanguage` naming the value.

:func:`whisper_language` also checks that Whisper knows the language and returns the code
Whisper's tokenizer uses (the same, except Javanese: ISO ``jv``, Whisper ``jw``);
:func:`from_whisper` maps Whisper's code back.

The table holds the 184 languages of ISO 639-1 plus the two that Whisper knows without one,
taken from Debian's ``iso-codes`` (``iso_639-3.json``, ``iso_639-2.json``).
"""

from __future__ import annotations

import re

from transcription.exceptions import UnknownLanguage, UnsupportedLanguage

__all__ = [
    "WHISPER_LANGUAGES",
    "from_whisper",
    "iso639_3",
    "language_name",
    "normalize_language",
    "whisper_language",
]

# ISO 639-1 (or -), ISO 639-3, ISO 639-2/B (or -), English name.
_TABLE = """
- haw - Hawaiian
- yue - Yue Chinese
aa aar - Afar
ab abk - Abkhazian
ae ave - Avestan
af afr - Afrikaans
ak aka - Akan
am amh - Amharic
an arg - Aragonese
ar ara - Arabic
as asm - Assamese
av ava - Avaric
ay aym - Aymara
az aze - Azerbaijani
ba bak - Bashkir
be bel - Belarusian
bg bul - Bulgarian
bi bis - Bislama
bm bam - Bambara
bn ben - Bengali
bo bod tib Tibetan
br bre - Breton
bs bos - Bosnian
ca cat - Catalan
ce che - Chechen
ch cha - Chamorro
co cos - Corsican
cr cre - Cree
cs ces cze Czech
cu chu - Church Slavic
cv chv - Chuvash
cy cym wel Welsh
da dan - Danish
de deu ger German
dv div - Dhivehi
dz dzo - Dzongkha
ee ewe - Ewe
el ell gre Greek
en eng - English
eo epo - Esperanto
es spa - Spanish
et est - Estonian
eu eus baq Basque
fa fas per Persian
ff ful - Fulah
fi fin - Finnish
fj fij - Fijian
fo fao - Faroese
fr fra fre French
fy fry - Western Frisian
ga gle - Irish
gd gla - Scottish Gaelic
gl glg - Galician
gn grn - Guarani
gu guj - Gujarati
gv glv - Manx
ha hau - Hausa
he heb - Hebrew
hi hin - Hindi
ho hmo - Hiri Motu
hr hrv - Croatian
ht hat - Haitian
hu hun - Hungarian
hy hye arm Armenian
hz her - Herero
ia ina - Interlingua
id ind - Indonesian
ie ile - Interlingue
ig ibo - Igbo
ii iii - Sichuan Yi
ik ipk - Inupiaq
io ido - Ido
is isl ice Icelandic
it ita - Italian
iu iku - Inuktitut
ja jpn - Japanese
jv jav - Javanese
ka kat geo Georgian
kg kon - Kongo
ki kik - Kikuyu
kj kua - Kuanyama
kk kaz - Kazakh
kl kal - Kalaallisut
km khm - Khmer
kn kan - Kannada
ko kor - Korean
kr kau - Kanuri
ks kas - Kashmiri
ku kur - Kurdish
kv kom - Komi
kw cor - Cornish
ky kir - Kirghiz
la lat - Latin
lb ltz - Luxembourgish
lg lug - Ganda
li lim - Limburgan
ln lin - Lingala
lo lao - Lao
lt lit - Lithuanian
lu lub - Luba-Katanga
lv lav - Latvian
mg mlg - Malagasy
mh mah - Marshallese
mi mri mao Maori
mk mkd mac Macedonian
ml mal - Malayalam
mn mon - Mongolian
mr mar - Marathi
ms msa may Malay
mt mlt - Maltese
my mya bur Burmese
na nau - Nauru
nb nob - Norwegian Bokmål
nd nde - North Ndebele
ne nep - Nepali
ng ndo - Ndonga
nl nld dut Dutch
nn nno - Norwegian Nynorsk
no nor - Norwegian
nr nbl - South Ndebele
nv nav - Navajo
ny nya - Nyanja
oc oci - Occitan
oj oji - Ojibwa
om orm - Oromo
or ori - Oriya
os oss - Ossetian
pa pan - Panjabi
pi pli - Pali
pl pol - Polish
ps pus - Pushto
pt por - Portuguese
qu que - Quechua
rm roh - Romansh
rn run - Rundi
ro ron rum Romanian
ru rus - Russian
rw kin - Kinyarwanda
sa san - Sanskrit
sc srd - Sardinian
sd snd - Sindhi
se sme - Northern Sami
sg sag - Sango
sh hbs - Serbo-Croatian
si sin - Sinhala
sk slk slo Slovak
sl slv - Slovenian
sm smo - Samoan
sn sna - Shona
so som - Somali
sq sqi alb Albanian
sr srp - Serbian
ss ssw - Swati
st sot - Southern Sotho
su sun - Sundanese
sv swe - Swedish
sw swa - Swahili
ta tam - Tamil
te tel - Telugu
tg tgk - Tajik
th tha - Thai
ti tir - Tigrinya
tk tuk - Turkmen
tl tgl - Tagalog
tn tsn - Tswana
to ton - Tonga
tr tur - Turkish
ts tso - Tsonga
tt tat - Tatar
tw twi - Twi
ty tah - Tahitian
ug uig - Uighur
uk ukr - Ukrainian
ur urd - Urdu
uz uzb - Uzbek
ve ven - Venda
vi vie - Vietnamese
vo vol - Volapük
wa wln - Walloon
wo wol - Wolof
xh xho - Xhosa
yi yid - Yiddish
yo yor - Yoruba
za zha - Zhuang
zh zho chi Chinese
zu zul - Zulu
"""

# 639-3 codes of individual languages inside a macrolanguage, as NLLB and others use them.
_INDIVIDUAL = {
    "arb": "ar", "azj": "az", "cmn": "zh", "ekk": "et", "gaz": "om", "khk": "mn",
    "lvs": "lv", "npi": "ne", "pes": "fa", "plt": "mg", "quy": "qu", "swh": "sw",
    "uzn": "uz", "ydd": "yi", "zsm": "ms",
}  # fmt: skip

# Other names Whisper's own tokenizer accepts.
_ALIASES = {
    "burmese": "my", "castilian": "es", "flemish": "nl", "haitian": "ht", "mandarin": "zh",
    "moldavian": "ro", "moldovan": "ro", "panjabi": "pa", "pushto": "ps", "sinhalese": "si",
    "valencian": "ca", "cantonese": "yue", "letzeburgesch": "lb",
}  # fmt: skip

# What Whisper (large-v3 and every multilingual checkpoint since) can transcribe, as ISO codes.
_WHISPER = """
af am ar as az ba be bg bn bo br bs ca cs cy da de el en es et eu fa fi fo fr gl gu ha haw he
hi hr ht hu hy id is it ja jv ka kk km kn ko la lb ln lo lt lv mg mi mk ml mn mr ms mt my ne nl
nn no oc pa pl ps pt ro ru sa sd si sk sl sn so sq sr su sv sw ta te tg th tk tl tr tt uk ur uz
vi yi yo zh yue
"""
WHISPER_LANGUAGES = frozenset(_WHISPER.split())
_TO_WHISPER = {"jv": "jw", "nb": "no"}
_FROM_WHISPER = {"jw": "jv"}


def _index() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    codes: dict[str, str] = {}  # any accepted code or name → canonical code
    alpha3: dict[str, str] = {}  # canonical → ISO 639-3
    names: dict[str, str] = {}  # canonical → English name
    for line in _TABLE.strip().splitlines():
        two, three, bibliographic, name = line.split(" ", 3)
        canonical = three if two == "-" else two
        alpha3[canonical] = three
        names[canonical] = name
        for code in (two, three, bibliographic):
            if code != "-":
                codes[code] = canonical
        codes.setdefault(name.lower(), canonical)
    codes.update(_INDIVIDUAL)
    codes.update(_ALIASES)
    return codes, alpha3, names


_CODES, _ALPHA3, _NAMES = _index()
# A tag with a region or script: en-US, pt_BR, zh-Hant, spa_Latn.
_TAG = re.compile(r"([a-z]{2,3})(?:[-_][a-z0-9]{2,8})+")


def normalize_language(value: str, field: str = "language") -> str:
    """The canonical ISO code for ``value``; :class:`UnknownLanguage` when it is none."""
    cleaned = value.strip().lower()
    found = _CODES.get(cleaned)
    tag = _TAG.fullmatch(cleaned)
    if found is None and tag:
        found = _CODES.get(tag[1])
    if found is None:
        raise UnknownLanguage(value, field)
    return found


def whisper_language(value: str, field: str = "language") -> str:
    """The code Whisper's tokenizer uses for ``value``.

    Raises :class:`UnknownLanguage` for an unknown value and :class:`UnsupportedLanguage`
    for a real language that Whisper was not trained on.
    """
    canonical = normalize_language(value, field)
    code = _TO_WHISPER.get(canonical, canonical)
    if code not in WHISPER_LANGUAGES and canonical not in WHISPER_LANGUAGES:
        raise UnsupportedLanguage(
            value, f"Whisper cannot transcribe {language_name(canonical)}", field
        )
    return code


def from_whisper(code: str) -> str:
    """The ISO code for a language code that Whisper reports."""
    return _FROM_WHISPER.get(code, code)


def iso639_3(value: str) -> str:
    """The ISO 639-3 code (``es`` → ``spa``), as Apertium and NLLB name languages."""
    return _ALPHA3[normalize_language(value)]


def language_name(value: str) -> str:
    """The English name (``es`` → ``Spanish``)."""
    return _NAMES[normalize_language(value)]
