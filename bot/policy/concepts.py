# ruff: noqa: E501  (lexicon tables read better one concept per line)
"""Concept and intent lexicons (six languages) that give the linear classifier its "AND".

A bag of n-grams cannot express "a nerve agent AND an operational ask in the same
sentence, not framed as history". So each text also gets a few symbolic features: which
concepts occur (cbrn agent, weapon autonomy, population-scale targets, surveillance
technique, one person, covertness, intrusion/malware, weapon making, military targeting,
role-play framing, operational detail), which intents (ask, discuss, defend), and their
crosses, over the whole text and within each sentence (so a harmful ask in a second
sentence is not sheltered by a history question in the first). The model learns the
weights; the lists only name the concepts, broadly.

Matching is on word tokens, not big regexes (Python's `re` is slow on long alternations):
an entry is space-separated word slots, each slot `a|b|c`, a trailing `*` makes it a
prefix; entries with CJK characters are matched as substrings. Latin accents are folded
(`ántrax` = `antrax`), so entries are written without them. A long text is matched in one
pass: its words laid out as " w1 w2 ... " per sentence, and one Aho-Corasick automaton
(ahocorasick-rs) over every entry; a short one word by word (`Lexicon._names`), which
finds the same names.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import ahocorasick_rs
import numpy as np

_CJK = re.compile(r"[\u3000-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"\w+")
_SENTENCE = re.compile(r"[.!?;\n。！？；]+")
# a run of combining marks right after a Latin letter; the pattern starts on the mark (a
# lookbehind checks the letter before it), so `re` only tries the positions of marks
_LATIN_MARK = re.compile(r"[\u0300-\u036f](?<=[a-z].)[\u0300-\u036f]*")

LEXICON: dict[str, tuple[str, ...]] = {
    # ---------------------------------------------------------------- concepts
    "cbrn": (
        "神经毒气", "化学战剂", "生化武器", "细菌武器", "致命病毒", "病菌", "提纯", "合成路线", "前体化学品", "致死", "气溶胶", "散布", "投放毒", "核材料", "核弹", "原子弹", "放射源", "芥子", "生物制剂", "炭疽杆菌", "增强传染", "基因改造病毒", "毒性最强",
        "antibiotic resistan*", "resistant strain*", "drug resistant", "multidrug resistant", "pathogen sequence*", "biohazard*", "bsl", "biosafety", "salmonella", "clostridium", "bacillus", "influenza", "pandemic strain*", "lethal dose", "ld50", "poison*", "nerve toxin*", "chemical agent*", "biological agent*", "infectious agent*",
        "vesicant*", "blister agent*", "choking agent*", "blood agent*", "organophosph*", "g series", "v series", "cholera", "tularemia", "brucell*", "glanders", "q fever", "enhanc* transmissib*", "lethality", "casualties", "maximi* casualties|deaths|harm", "release point*", "dispers*", "crop duster", "sprayer", "ventilation", "water supply", "reservoir", "implosion", "critical mass", "centrifuge*", "yellowcake", "gun type", "neutron initiator", "radiation dispersal", "rdd", "bsl 3", "bsl 4", "select agent*", "mass casualt*",
        "毒剂", "投毒", "水源", "大规模杀伤", "突变", "传染性", "离心机", "临界质量",
        "отравить", "водопровод", "водоснабжени*", "массов* жертв", "мутаци*", "центрифуг*",
        "envenenar", "suministro de agua", "empoisonner", "approvisionnement en eau", "vergiften", "trinkwasser",
        "sarin", "soman", "tabun", "cyclosarin", "vx", "novichok*", "mustard gas", "sulfur mustard",
        "lewisite", "phosgene", "chlorine gas", "nerve agent*|gas", "ricin", "abrin", "botulinum",
        "botulism", "anthrax", "anthracis", "smallpox", "variola", "plague", "yersinia", "ebola",
        "marburg", "nipah", "h5n1", "pathogen*", "bioweapon*", "biological weapon*",
        "chemical weapon*", "warfare agent*", "toxin*", "dirty bomb*", "radiological",
        "enriched uranium", "weapons grade", "plutonium", "fissile", "nuclear weapon*|bomb*|device*|warhead*",
        "caesium", "cesium", "cobalt 60", "polonium", "gain of function", "transmissib*",
        "aerosoli*", "spore*", "weaponi*", "precursor*", "toxic gas", "poison gas", "virulen*",
        "зарин*", "зоман*", "табун*", "новичок*", "иприт*", "люизит*", "фосген*",
        "нервно*", "рицин*", "ботулин*", "сибирск* язв*", "спор|споры|спорами", "оспа*", "чума*",
        "эбол*", "патоген*", "токсин*", "отравляющ*", "химическ* оружи*", "биологическ* оружи*",
        "ядерн* оружи*|бомб*|заряд*", "обогащ* уран*", "плутони*", "грязн* бомб*", "радиоактив*",
        "прекурсор*", "боев* газ*", "вирус*",
        "gas sarin", "gas mostaza", "agente* nervioso*", "ricina", "toxina*", "antrax", "carbunco",
        "viruela", "patogeno*", "arma*|armas quimica*|biologica*|nuclear*", "uranio enriquecido",
        "bomba sucia", "espora*", "gas toxico", "precursore*",
        "gaz moutarde", "agent* neurotoxique*", "neurotoxique*", "ricine", "toxine*", "variole",
        "pathogene*", "arme*|armes chimique*|biologique*|nucleaire*", "uranium enrichi",
        "bombe sale", "gaz toxique", "precurseur*",
        "senfgas", "nervengift*", "nervenkampfstoff*", "kampfstoff*", "rizin", "milzbrand*",
        "pocken*", "erreger*", "chemiewaffe*", "biowaffe*", "atomwaffe*", "kernwaffe*",
        "angereichert* uran", "schmutzige* bombe*", "sporen", "giftgas*",
        "沙林", "梭曼", "塔崩", "诺维乔克", "芥子气", "光气", "氯气", "神经毒剂", "蓖麻毒素", "肉毒",
        "炭疽", "天花", "鼠疫", "埃博拉", "病原体", "毒素", "毒气", "化学武器", "生物武器", "核武器",
        "浓缩铀", "武器级", "钚", "脏弹", "放射性", "孢子", "传播力", "毒剂", "前体", "病毒",
    ),
    "autonomy": (
        "自动锁定", "自动识别并攻击", "自主攻击", "自主选择目标", "自主开火", "无人值守", "不需要人", "无需操作员", "无需人工确认", "绕过人工", "去掉人工", "人工确认", "人在回路", "自动击杀", "自动打击", "杀人机器人", "自主武器", "自动射杀", "自己开火", "自己决定",
        "you decide", "you choose", "you pick", "your call", "decide for me", "pick the targets|target", "choose the targets|target", "rank the targets|them", "which to strike|hit|engage|kill|bomb", "shoot or", "kill or", "without review", "without a human", "human approval", "human confirmation", "man in the loop", "human veto", "auto approve*", "autoapprove*", "self directed", "self targeting", "fire and forget", "lethal autonomy", "kill decision*",
        "你来决定", "由你决定", "你决定", "自动批准",
        "ты решаешь", "реши сам", "сам выбери", "стрелять или нет",
        "tu decides", "decide tu", "tu choisis", "decide toi", "du entscheidest", "entscheide du",
        "autonomous*", "autonomy", "on its own", "by itself", "without a|any human|operator|person",
        "without human|operator*", "no human|operator", "human in|on|out the|of loop",
        "human in the loop", "human out of the loop", "operator approval|confirm*|ack*|input",
        "confirm* step", "kill chain", "killchain", "select*|pick*|choose* its own target*",
        "select*|pick*|choose* target*", "fire*|shoot*|engage* automatically",
        "auto fire|engage|target", "autofire", "automatic* engage*|fire*|shoot*|strike*",
        "decide*|decides who|which|when|whom to", "skip* the human", "remove* the human",
        "without waiting|asking",
        "автоном*", "самостоятельно", "без участия|подтверждения оператор*|человек*",
        "без оператор*|человек*", "сам выбирает|стреляет|атакует|решает",
        "автоматически стреля*|открыва*|атаку*",
        "autonom*", "sin intervencion|aprobacion|confirmacion|supervision humana",
        "sin operador", "sin el operador", "por si solo|sola|mismo|misma",
        "sans intervention|validation|confirmation|controle humaine", "sans operateur",
        "sans l operateur", "de lui meme", "tout seul*",
        "ohne menschliche*|bediener*|freigabe", "ohne den bediener", "selbststandig", "selbstandig",
        "自主", "自动开火", "自动射击", "自动攻击", "无需人工", "无人干预", "没有人工", "不经人工",
        "不经过人工", "不经操作员", "自行选择", "自己选择", "杀伤链", "无需确认",
    ),
    "weapon": (
        "weapon*", "gun|guns|gunfire", "turret*", "drone*", "uav*", "missile*", "munition*",
        "warhead*", "lethal*", "rifle*", "firearm*", "explosive*", "bomb|bombs", "artillery",
        "ammunition", "ammo", "sentry", "sentries", "loitering", "swarm*", "open fire", "fire on",
        "оружи*", "дрон*", "беспилот*", "ракет*", "боеприпас*", "взрывчат*", "бомб*", "винтовк*",
        "пулем*", "турел*",
        "arma|armas", "dron|drones", "misil*", "municion*", "explosiv*", "bomba*", "torreta*",
        "arme|armes", "missile*", "explosif*", "bombe*", "fusil*", "tourelle*",
        "waffe*", "drohne*", "rakete*", "sprengstoff*", "gewehr*", "geschutz*",
        "武器", "无人机", "导弹", "弹药", "炸药", "炸弹", "枪", "炮塔", "巡飞弹", "蜂群",
    ),
    "population": (
        "全体市民", "所有居民", "所有人", "每个市民", "全民", "群众", "参会者", "集会", "游行", "示威者", "抗议者", "异见人士", "少数族裔", "宗教信徒", "穆斯林", "全城",
        "members of", "a whole|entire group", "every member", "all members", "the minority", "minority population", "ethnic group", "everyone who", "all who", "anyone who attended|visited|posted", "attendees", "rally", "the crowd", "every phone", "every citizen", "whole population", "entire district", "border region",
        "所有参加", "每一个人",
        "всех участников", "gemeinde",
        "everyone", "everybody", "every citizen*|resident*|person|phone*|user*|visitor*|protester*",
        "all citizens|residents|people|phones|users|protesters|protestors|journalists|members|muslims|activists|voters|immigrants|migrants|students|employees|attendees|visitors|devices",
        "all the citizens|residents|people|phones|users|protesters|journalists|members",
        "entire|whole population|city|country|neighbourhood|neighborhood",
        "population*", "citizen*", "protester*", "protestor*", "dissident*", "journalists",
        "activists", "minorit*", "ethnic*", "religious", "mosque*", "churches", "synagogue*",
        "opposition", "voters", "bulk", "mass", "dragnet", "nationwide", "citywide", "millions",
        "uyghur*", "refugees", "immigrants", "residents", "crowd*", "demonstrat*",
        "население", "граждан*", "протестующ*", "оппозиц*", "митинг*", "массов*", "всех",
        "мечет*", "жител*", "демонстрант*",
        "todos los ciudadanos|vecinos|manifestantes|periodistas", "cada vecino", "poblacion",
        "ciudadanos", "manifestantes", "periodistas", "masiv*", "toda la ciudad", "vecinos",
        "tous les citoyens|habitants|manifestants|journalistes", "citoyens", "manifestants",
        "journalistes", "de masse", "toute la ville", "habitants",
        "alle burger|einwohner|demonstranten|journalisten|handys", "bevolkerung", "burger*",
        "demonstranten", "journalisten", "massen*", "ganze* stadt", "einwohner*",
        "所有", "全部", "全体", "每个人", "全市", "全国", "人口", "居民", "市民", "公民", "抗议", "示威",
        "记者", "少数民族", "清真寺", "维吾尔", "大规模", "批量", "群体", "每个",
    ),
    "surveil": (
        "监听", "截获", "通讯记录", "手机定位", "位置追踪", "人脸比对", "社交媒体", "爬虫", "抓取", "画像", "建档", "档案库", "忠诚度", "实时位置",
        "call logs|records|history", "phone records", "browsing history", "read* messages|texts|emails|dms|whatsapp", "keystroke*", "stalk*", "follow* her|him|them", "pattern of life", "daily routes|routine|movements", "movements", "home address", "gps tracker*", "airtag*", "social graph", "contact list*", "who is talking to", "who they talk to", "informant*", "snitch*", "loyalty score*", "social credit", "blacklist*", "tag* everyone", "match* to id|ids", "face match*", "reverse search*", "osint",
        "通话记录", "聊天记录", "行程", "轨迹", "社会信用", "调取", "查开房", "查人",
        "звонк*", "переписк*", "маршрут*", "передвижени*", "распорядок",
        "registro de llamadas", "rutina", "journal d appels", "trajets", "anrufliste*", "bewegungsprofil*",
        "track*", "monitor*", "surveil*", "face|facial recognition", "biometric*", "cctv",
        "camera*", "location data|history|tracking", "phone location*", "cell tower*", "imsi",
        "stingray", "geolocat*", "intercept*", "wiretap*", "scrap*", "profil*", "dossier*",
        "watchlist*", "license|licence plate*", "anpr", "metadata", "spy*", "identif*",
        "deanonymi*", "de anonymi*", "unmask*", "dox*", "locate*", "whereabouts",
        "слеж*", "отслеж*", "мониторинг*", "распознавани* лиц*", "камер*", "геолокац*",
        "перехват*", "прослуш*", "досье", "биометр*", "вычисл*", "шпион*", "местоположени*",
        "rastre*", "vigil*", "monitore*", "reconocimiento facial", "camaras", "ubicacion*",
        "antenas", "intercept*", "escuchas", "expediente*", "geolocaliz*", "espia*", "localiz*",
        "surveill*", "pist*", "reconnaissance faciale", "cameras", "localis*", "geolocalis*",
        "ecoute*", "fichier*", "fichage", "espionn*",
        "uberwach*", "verfolg*", "orten", "ortung", "gesichtserkennung", "kamera*", "standort*",
        "funkzelle*", "abhor*", "abfang*", "ausspah*",
        "监控", "监视", "跟踪", "追踪", "定位", "人脸识别", "摄像头", "位置数据", "基站", "拦截",
        "窃听", "爬取", "档案", "黑名单", "车牌", "开盒", "人肉", "行踪",
    ),
    "person": (
        "前女友", "前男友", "女友", "男友", "妻子", "丈夫", "一个人", "特定的人", "那个人", "匿名用户", "他的手机", "她的手机",
        "my|his|her|their ex|wife|husband|girlfriend|boyfriend|partner|spouse|neighbour|neighbor|coworker|colleague|boss|employee|daughter|son|tenant|landlord|roommate|teenager",
        "my ex wife|husband|girlfriend|boyfriend|partner", "someone*", "this|that person|guy|woman|man|girl|account|user|reviewer|poster|journalist|activist",
        "specific person|individual", "one person", "anonymous account|user|poster|reviewer|blogger|critic",
        "who is behind", "whos behind", "real name|identity", "home address", "where he|she|they live*",
        "бывш*", "жена|жены|жену|женой", "муж|мужа|мужем", "сосед*", "коллег*",
        "этого человека|пользователя", "анонимн* аккаунт*|пользовател*", "настоящ* имя|личность",
        "домашн* адрес*", "адрес",
        "mi ex|esposa|mujer|marido|novia|novio|pareja|vecino|vecina|jefe|companero|companera",
        "esa persona", "cuenta anonima", "su direccion", "quien esta detras",
        "mon ex|mari|copain|voisin|collegue|patron", "ma femme|copine|voisine|collegue",
        "cette personne", "compte anonyme", "son adresse", "qui se cache derriere",
        "meine ex|frau|freundin|nachbarin|kollegin", "mein mann|freund|nachbar|kollege|chef",
        "meinen mann|freund|nachbarn|kollegen|chef", "diese person", "anonym* account|konto",
        "seine|ihre adresse", "wer hinter",
        "老婆", "老公", "前任", "前妻", "前夫", "女朋友", "男朋友", "邻居", "同事", "某人", "这个人",
        "匿名账号", "真实身份", "住址", "家庭住址", "他的", "她的",
    ),
    "covert": (
        "secret*", "without him|her|them knowing", "without his|her|their knowledge|consent",
        "without them noticing", "covert*", "undetect*", "without being detected|noticed|traced|caught",
        "unnoticed", "untraceable", "without a trace", "without leaving a trace", "hide from",
        "evade*|evading|bypass* detection|antivirus|edr|av|filters|screening",
        "not get caught", "without getting caught|traced", "stealth*", "anonymously",
        "тайно", "незаметно", "без ведома", "скрытно", "не оставляя следов", "тайком",
        "en secreto", "sin que lo|la|se sepa|note|entere", "a escondidas", "sin dejar rastro",
        "a son insu", "en secret", "discretement", "sans laisser de trace", "sans qu il|elle le sache",
        "heimlich", "ohne dass", "ohne sein|ihr wissen", "unbemerkt", "spurlos",
        "偷偷", "秘密", "不被发现", "不知情", "神不知鬼不觉", "悄悄", "暗中", "不留痕迹",
    ),
    "cyber": (
        "黑客", "网络攻击", "溢出", "内网", "木马程序", "蠕虫", "挖矿", "拒绝服务", "绕过杀毒", "绕过防火墙", "盗号", "窃取密码", "入侵系统", "控制服务器", "远控",
        "vulnerab*", "cve", "syn flood*", "flood attack*", "amplification attack*", "dns amplification", "hash crack*", "hijack*", "buffer overflow*", "heap spray*", "rop chain*", "use after free", "root access", "remote access", "credential harvest*", "password dump*", "slowloris", "booter*", "stresser*", "botnet*", "zombie computer*", "disable security", "kill switch", "logic bomb*", "time bomb*",
        "c2 server*", "implant*", "cobalt strike", "mimikatz", "lateral movement", "exfiltrat*", "scada", "ics", "plc*", "initial access", "compromis*", "pwn*", "take over", "takeover", "steal* credentials|passwords|cookies|tokens", "session hijack*", "password spray*", "dump* credentials|hashes|lsass", "pass the hash", "kerberoast*", "ransom", "encrypt* their|all files", "wiper", "defac*", "ddos", "dos attack", "sim swap*", "jailbreak* the phone", "crack*", "keygen", "carding", "skimmer*", "unpatched", "vulnerable server*", "payload delivery", "obfuscat* the payload", "undetectable", "fud", "av evasion", "edr evasion", "amsi bypass", "uac bypass", "webshell*", "web shell*",
        "横向移动", "提权", "窃取凭据", "数据外泄", "控制服务器", "植入", "工控", "撞库", "拖库", "脱库", "挂马", "外挂",
        "эксфильтрац*", "закреп*", "повышени* привилегий", "кража паролей", "угон*", "слить базу", "дамп*",
        "exfiltrar", "robar contrasenas", "tomar el control", "exfiltrer", "voler les mots de passe", "prendre le controle", "passworter stehlen", "ubernehmen",
        "exploit*", "payload*", "malware", "ransomware", "keylog*", "rootkit*", "trojan*",
        "botnet*", "backdoor*", "reverse shell*", "shellcode", "phishing", "credential stuffing",
        "brute force*|forcing", "bruteforce*", "privilege escalation", "sql injection", "xss",
        "rce", "remote code execution", "zero day", "0day", "c2", "command and control",
        "bypass* edr|antivirus|av|2fa|mfa|authentication|login", "hack*", "break into",
        "unauthori* access", "crack* the password*|wifi", "crack* password*", "stealer*",
        "ddos*", "worm", "infostealer*", "spoof*", "cve*",
        "эксплойт*", "вредонос*", "вымогател*", "шифровальщик*", "кейлоггер*", "троян*",
        "ботнет*", "бэкдор*", "фишинг*", "взлом*", "брутфорс*", "уязвимост*",
        "troyano*", "puerta trasera", "suplantacion", "hackear", "vulnerar", "fuerza bruta",
        "inyeccion", "logiciel* malveillant*", "rancongiciel*", "cheval de troie",
        "porte derobee", "hameconnage", "pirat*", "force brute", "schadsoftware",
        "erpressungstrojaner", "trojaner", "botnetz", "hintertur", "einbrechen", "eindringen",
        "漏洞利用", "利用代码", "恶意软件", "勒索软件", "键盘记录", "木马", "僵尸网络", "后门",
        "钓鱼", "撞库", "暴力破解", "提权", "注入", "远程代码执行", "零日", "入侵", "黑进", "破解",
        "免杀", "渗透", "漏洞",
    ),
    "wmake": (
        "自制枪", "土枪", "爆炸物", "炸弹制作", "引爆", "遥控引爆", "火药", "膛线", "全自动", "改装枪",
        "bolt carrier", "trigger group", "fragmentation pattern", "fuze*", "drop mechanism", "bomb release", "munitions design", "lethality", "muzzle velocity", "penetrator*", "tandem charge", "hollow point*", "drone mounted", "weaponi* a|the drone", "arm* a|the drone", "mount* a gun|rifle|weapon", "build a gun|rifle|bomb|weapon", "untraceable gun|firearm", "serial number*",
        "射速", "引信", "装药", "弹头", "枪管", "挂载", "投弹",
        "скорострельност*", "взрыватель*", "боевая часть", "заряд*", "ствол*",
        "cadencia", "espoleta", "cadence de tir", "fusee", "feuerrate", "zunder",
        "3d print*", "full auto*", "fullauto", "auto sear*", "autosear*", "suppressor*",
        "silencer*", "ghost gun*", "receiver*", "ied", "ieds", "pipe bomb*", "improvised",
        "shaped charge*", "efp*", "explosively formed", "molotov*", "grenade*", "detonator*",
        "thermite", "frag*", "armor|armour piercing", "penetrat*", "increase the range|yield|lethality",
        "increase range|yield|lethality", "landmine*", "mine|mines", "barrel*",
        "caliber", "calibre", "propellant*", "blast radius",
        "глушител*", "самодельн*", "детонатор*", "молотов*", "гранат*", "кумулятивн*",
        "переделат*", "пороховой", "взрыватель*",
        "silenciador*", "explosivo* casero*", "detonador*", "granada*",
        "silencieux", "detonateur*", "grenade*",
        "schalldampfer*", "zunder*", "molotow*", "granate*", "selbstgebaut*", "umbau*",
        "消音器", "简易爆炸装置", "雷管", "燃烧瓶", "手榴弹", "地雷", "破片", "穿甲", "自制", "改装",
        "聚能装药", "射程", "杀伤力",
    ),
    "military": (
        "攻击计划", "打击计划", "火力打击", "炮兵", "情报分析", "敌军阵地", "部署兵力", "突击队",
        "raid*", "sniper*", "pattern of life", "insurgent*", "hvt", "objective rally point", "overwatch position*", "fire support", "close air support", "jtac", "9 line", "nine line", "collateral damage estimate*", "cde", "rules of engagement", "weaponeering", "munitions effects", "time on target", "target development", "target nomination", "no strike list", "strike list", "which to hit", "hit first", "targets to hit", "attack route*", "avenue* of approach", "defensive position*", "enemy patrol*", "troop movement*", "ied emplacement", "clearing the building", "suppress* the enemy", "kill zone", "ambush site",
        "突袭", "狙击", "斩首", "打击目标", "作战", "战术", "部队",
        "рейд*", "снайпер*", "боевики", "наступлени*", "огневой налет", "цел* для удара",
        "incursion", "francotirador*", "objetivo* militar*", "tireur d elite", "cible* militaire*", "scharfschutz*", "militarisch* ziel*",
        "target list|package|deck*", "targeting", "strike package*", "artillery", "airstrike*",
        "air strike*", "battle damage", "bda", "order of battle", "fire mission*",
        "grid coordinates|reference*", "mgrs", "enemy position*|forces|units|base*|troops|command*",
        "attack order*|plan*", "kill box", "isr", "sigint", "reconnaissance", "ambush*",
        "assault*", "convoy*", "brigade*", "battalion*", "sortie*", "frontline*", "front line*",
        "opord", "high value target*", "adversary", "hostile*", "strike*", "barrage",
        "целеуказани*", "координат*", "артиллер*", "авиаудар*", "позици* противник*", "штурм*",
        "засад*", "разведк*", "батальон*", "бригад*", "противник*", "удар*",
        "lista de objetivos", "artilleria", "ataque aereo", "posiciones enemigas", "coordenadas",
        "emboscada*", "asalto*", "batallon*", "enemig*",
        "liste de cibles", "artillerie", "frappe*", "positions ennemies", "coordonnees",
        "embuscade*", "assaut*", "bataillon*", "caserne*", "ennemi*",
        "zielliste*", "luftschlag*", "feindstellung*", "koordinaten", "hinterhalt*", "bataillon*",
        "kaserne*", "feind*",
        "目标清单", "炮击", "空袭", "毁伤评估", "敌方阵地", "坐标", "伏击", "突击", "侦察", "作战计划",
        "火力", "敌军", "敌方", "打击",
    ),
    "roleplay": (
        "角色扮演", "现在你是", "你现在是", "无限制", "开发者模式", "虚构", "故事里", "小说里", "假如", "如果你是",
        "you are now", "you are dan", "you are an|a unrestricted|unfiltered|uncensored|evil|jailbroken",
        "ignore all|your|any|the previous|prior|above instructions|rules",
        "ignore previous|prior instructions|rules", "no rules|restrictions|filters|limits",
        "jailbreak*", "pretend*", "roleplay*", "role play*", "hypothetic*", "in a story|novel|movie|game|film",
        "for a|my novel|story|screenplay|thriller|book|script|game", "grandm*", "developer mode",
        "stay in character", "as a|an character|villain", "fictional", "imagine", "lets play",
        "research purposes", "educational purposes", "safety audit|test", "purely academic",
        "asking for a friend", "free of all restrictions", "no longer bound",
        "притвор*", "представь*", "гипотетич*", "роман*", "игнорируй*", "без правил|ограничений",
        "supongamos", "imagina", "novela", "finge", "ignora", "sin restricciones",
        "supposons", "fais comme si", "sans restrictions", "stell dir vor", "tu so als",
        "ignoriere", "ohne einschrankungen", "hypothetisch*",
        "假设", "扮演", "小说", "忽略之前", "忽略以上", "没有任何限制", "不受限制",
    ),
    "detail": (
        "step by step", "exact*", "quantit*", "specific*", "detailed", "working", "runnable",
        "full code|script|list|instructions|recipe", "no placeholders", "real coordinates|data|reagents|names",
        "precise*", "ratio*", "temperature*", "where to buy|get|order|obtain", "equipment",
        "пошагов*", "точн*", "подробн*", "количеств*", "paso a paso", "exact*", "detallad*",
        "etape par etape", "precis*", "detaill*", "schritt fur schritt", "genau*", "detailliert*",
        "mengen",
        "步骤", "详细", "具体", "精确", "配比", "剂量", "完整代码", "一步一步",
    ),
    "medical": (
        "解毒剂", "护士",
        "antidote*", "treat*", "treatment*", "symptom*", "diagnos*", "patient*", "hospital*",
        "first aid", "exposure", "exposed", "poisoning", "pharmacolog*", "toxicolog*", "exam*",
        "vaccin*", "doctor*", "nurse*", "medic*", "clinic*", "outbreak response", "public health",
        "epidemiolog*", "decontaminat*", "emergency room", "paramedic*", "how does it affect",
        "антидот*", "лечени*", "лечат", "симптом*", "отравлени*", "экзамен*", "фармаколог*",
        "вакцин*", "врач*", "больниц*", "пациент*",
        "antidoto", "tratamiento", "tratar", "sintoma*", "intoxicacion*", "examen", "farmacologia",
        "vacuna*", "medico*", "paciente*", "hospital*",
        "antidote", "traitement", "traiter", "symptome*", "intoxication", "examen", "pharmacologie",
        "vaccin*", "medecin*", "patient*", "hopital*",
        "gegenmittel", "behandlung", "behandelt", "behandeln", "symptom*", "vergiftung*",
        "prufung*", "pharmakologie", "impf*", "arzt", "arztin", "patient*", "krankenhaus*",
        "解毒", "治疗", "症状", "中毒", "考试", "药理", "疫苗", "医生", "医院", "患者", "急救",
    ),
    "pest": (
        "vermin", "pest*", "rats", "rat", "mice", "rodent*", "weed*", "insect*", "cockroach*",
        "roach*", "termite*", "mosquito*", "slug*", "moles", "ants", "aphid*", "bedbug*",
        "bed bugs", "wasp*", "fleas", "ticks", "mold", "mould", "fungus", "garden",
        "вредител*", "крыс*", "сорняк*", "насеком*", "plaga*", "ratas", "malas hierbas",
        "insecto*", "nuisible*", "rats", "mauvaises herbes", "schadling*", "ratten", "unkraut",
        "害虫", "老鼠", "杂草", "蟑螂", "白蚁",
    ),
    "game": (
        "游戏里", "电子游戏", "手游", "副本", "玩家",
        "movie*", "film*", "tv show*", "series", "episode*", "anime", "cartoon*", "manga",
        "sitcom", "in the book", "fictional", "character*", "mission impossible", "james bond",
        "star wars", "harry potter", "marvel", "netflix", "pelicula*", "serie", "personaje*",
        "fiction", "personnage*", "serie", "figur*", "фильм*", "сериал*", "персонаж*",
        "电影", "电视剧", "动漫", "角色",
        "game*", "gaming", "videogame*", "in game", "ingame", "fortnite", "battlefield",
        "call of duty", "warzone", "pubg", "csgo", "cs2", "counter strike", "valorant",
        "minecraft", "xcom", "starcraft", "hell let loose", "arma", "halo", "apex", "overwatch",
        "dnd", "d d", "dungeons", "tabletop", "boss fight", "paintball", "airsoft", "nerf",
        "laser tag", "roblox", "gta", "skyrim", "elden ring", "league of legends", "dota",
        "warhammer", "chess", "rpg", "mmo", "npc*", "my character", "level*", "mod", "mods",
        "unity", "unreal", "godot", "sim", "simulator",
        "игр*", "в игре", "juego*", "videojuego*", "jeu", "jeux", "jeu video", "spiel*",
        "游戏", "绝地求生", "战地", "使命召唤", "吃鸡", "王者荣耀", "我的世界", "桌游",
    ),
    "report": (
        "report*", "who do i contact", "who should i contact|tell|call", "moderator*", "moderate",
        "police", "authorities", "tip line", "fbi", "hotline", "whistleblow*", "i want to stop",
        "stop this", "concerned", "worried that", "warn",
        "сообщить", "полици*", "модератор*", "жалоб*", "denunciar", "policia", "moderador*",
        "signaler", "moderateur*", "melden", "polizei", "moderator*",
        "举报", "报警", "管理员", "警方",
    ),
    # ---------------------------------------------------------------- intents
    "ask": (
        "教我", "告诉我", "怎么做", "怎么制作", "如何制作", "写代码", "写一段", "帮忙", "给出", "提供", "列出",
        "how do|can|would|could|should|to|much|many", "give me", "tell me", "show me", "write*",
        "create", "build", "design", "code", "program", "implement", "develop", "make", "help me",
        "i need", "i want", "we need", "we want", "provide", "list", "walk me through",
        "step by step", "steps", "instructions", "guide", "recipe", "plan", "script", "function",
        "pipeline", "can you", "could you", "please", "pls", "optimi*", "improve", "maximi*", "deploy",
        "set up", "setup", "generate", "draft", "acquire", "buy", "obtain", "bypass", "evade",
        "add", "modify", "refactor", "update", "configure", "train", "produce", "synthesi*",
        "como", "dame", "escribe", "necesito", "quiero", "disena", "crea", "hazme",
        "comment", "donne", "ecris", "je veux", "concois", "fais", "aide moi",
        "wie", "gib", "schreib*", "ich brauche", "ich will", "erstelle", "entwirf", "baue",
        "как", "дай", "напиши", "нужно", "сделать", "помоги", "создай", "разработай", "хочу",
        "如何", "怎么", "怎样", "帮我", "请", "给我", "步骤", "写一个", "设计", "我想", "我要",
    ),
    "discuss": (
        "历史上", "道德", "法规", "条约", "公约", "分析", "新闻", "报道", "辩论", "争议",
        "history", "historical*", "ethic*", "moral*", "debate*", "treaty", "treaties",
        "convention", "arms control", "nonproliferation", "non proliferation", "law", "laws",
        "legal*", "legislation", "regulat*", "policy", "policies", "oversight", "news", "article",
        "essay", "report", "documentary", "journalis*", "why", "what is|are|was|were",
        "explain", "overview", "summar*", "analy*", "compare", "impact*", "risk*",
        "consequences", "opinion", "argue", "argument*", "pros and cons", "human rights",
        "civil liberties", "privacy", "court", "ruling", "accountab*", "research", "paper",
        "lecture", "class", "course", "student*", "teach*", "definition", "meaning", "mean",
        "op ed", "oped", "criticism", "critics", "controvers*", "scandal",
        "historia", "etica", "ley", "por que", "que es", "debate",
        "histoire", "ethique", "loi", "pourquoi", "qu est ce",
        "geschichte", "ethik", "gesetz*", "warum", "was ist",
        "истори*", "этик*", "закон*", "почему", "что такое", "дебат*",
        "历史", "伦理", "法律", "为什么", "讨论", "政策", "什么是",
    ),
    "defend": (
        "识别", "应对", "安全意识",
        "detect*", "defen*", "protect*", "prevent*", "mitigat*", "secure", "securing", "harden*",
        "counter*", "patch*", "our own", "my own", "incident response", "awareness", "safety",
        "safeguard*", "compliance", "audit*", "block*", "warning signs", "spot", "avoid*",
        "stop them|him|her|someone", "am i being", "is someone", "check if", "remove",
        "proteccion", "proteg*", "protej*", "detectar", "asegur*", "prevenir", "defender*",
        "protege*", "detecter", "securis*", "se defendre",
        "schutz*", "schutzen", "erkennen", "harte*", "absicher*", "verteidig*", "abwehr*",
        "защит*", "обнаруж*", "предотврат*", "обезопас*", "против атак",
        "防御", "防护", "检测", "保护", "防止", "防范", "加固", "防",
    ),
}

INTENTS = ("ask", "discuss", "defend")
# concepts that mean something alone (the red-line nouns, and the allowed contexts that
# share them: games and fiction, medicine, pests, reporting); the others (everyday words
# in most of their uses: "everyone", "track", "my wife", "strike") only count combined
STRONG = frozenset({"cbrn", "autonomy", "cyber", "roleplay", "game", "medical", "pest", "report"})


def _fold_all(text: str) -> str:
    stripped, n = _LATIN_MARK.subn("", unicodedata.normalize("NFD", text))
    if n == 0 and unicodedata.is_normalized("NFC", text):
        return text  # NFC(NFD(text)) is NFC(text), which is text itself
    return unicodedata.normalize("NFC", stripped)


def _fold(text: str) -> str:
    """Latin letters without their accents (NFD, drop the marks after a-z, NFC).

    Folding never reaches across a space (a space decomposes to nothing else, composes
    with nothing, and a mark after it follows no Latin letter), so in an NFC text only the
    space-separated tokens holding a character that decomposes or is a mark can change:
    only those are folded; and when each such character folds the same way wherever it
    stands (_FOLD_ALONE: "é", "й", "가"), only those that change are replaced.
    """
    if text.isascii():
        return text
    if len(text) < WHOLE_TEXT_MIN // 2:
        return _fold_all(text)
    cps = code_points(text)
    if not unicodedata.is_normalized("NFC", text):
        return _fold_all(text)
    hot = np.flatnonzero(_flags(cps, _FOLD_CHARS, _folds))
    if len(hot) == 0:
        return text
    hot_cps = cps.take(hot)
    if _flags(hot_cps, _FOLD_ALONE_TABLE, _folds_alone).all():
        # (beyond the table, a character is folded on its own)
        at = hot.compress(_flags(hot_cps, _FOLD_CHANGES_TABLE, _fold_changes)).tolist()
        forms = [_FOLD_ALONE.get(c) or _fold_all(c) for c in [text[a] for a in at]]
        return replace_chars(text, at, forms)
    tokens = hot_tokens(cps, hot)
    if tokens is None:
        return _fold_all(text)
    starts, ends = tokens
    # fold them all in one call, joined by spaces (which folding keeps, one for one)
    folded = _fold_all(" ".join([text[a:b] for a, b in zip(starts, ends, strict=True)]))
    return splice(text, starts, ends, folded.split(" "))


def hot_tokens(cps: np.ndarray, hot: np.ndarray) -> tuple[list[int], list[int]] | None:
    """(starts, ends) of the space-separated tokens holding the code points at `hot`
    (sorted indices into `cps`), each once, in order; None when there is no space."""
    spaces = np.flatnonzero(cps == 32)
    if len(spaces) == 0:
        return None
    at = np.unique(np.searchsorted(spaces, hot))  # token k: after space k-1 up to space k
    bounds = np.concatenate(([-1], spaces, [len(cps)]))
    return (bounds[at] + 1).tolist(), bounds[at + 1].tolist()


def splice(text: str, starts: list[int], ends: list[int], replacements: Iterable[str]) -> str:
    """`text` with text[starts[i]:ends[i]] replaced by the i-th replacement (in order)."""
    out: list[str] = []
    pos = 0
    for a, b, new in zip(starts, ends, replacements, strict=True):
        out.append(text[pos:a])
        out.append(new)
        pos = b
    out.append(text[pos:])
    return "".join(out)


def replace_chars(text: str, at: list[int], forms: Iterable[str]) -> str:
    """`text` with the character at each of `at` (in order) replaced by its form."""
    return splice(text, at, [a + 1 for a in at], forms)


def _expand(entry: str) -> list[tuple[str, ...]]:
    slots = [slot.split("|") for slot in entry.split()]
    return [tuple(p) for p in itertools.product(*slots)]


@dataclass(frozen=True)
class _Phrase:
    name: str
    words: tuple[str, ...]  # each word exact, or a prefix when it ends with "*"


# What one word can contribute: the names of the one-word entries it completes; the
# longer phrases it starts whose second word is a prefix (checked word by word); and, by
# exact second word, the names of the two-word phrases that pair completes together with
# the still longer phrases to check word by word.
_Entry = tuple[frozenset[str], tuple[_Phrase, ...], dict[str, tuple[frozenset[str], tuple[_Phrase, ...]]]]
_NOTHING: _Entry = (frozenset(), (), {})  # shared by every word that starts no entry


class Lexicon:
    """Finds which lexicon names (concepts and intents) occur in a text, per sentence."""

    def __init__(self, lexicon: dict[str, tuple[str, ...]] | None = None) -> None:
        lexicon = lexicon or LEXICON
        self._cjk: list[tuple[str, str]] = []
        self._exact: dict[str, list[_Phrase]] = {}
        self._prefix: dict[int, dict[str, list[_Phrase]]] = {}
        for name, entries in lexicon.items():
            for entry in entries:
                if _CJK.search(entry):
                    self._cjk.append((entry, name))
                    continue
                for words in _expand(_fold(entry.lower().replace("-", " ").replace("'", " "))):
                    phrase = _Phrase(name, words)
                    first = words[0]
                    if first.endswith("*"):
                        stem = first[:-1]
                        self._prefix.setdefault(len(stem), {}).setdefault(stem, []).append(phrase)
                    else:
                        self._exact.setdefault(first, []).append(phrase)
        self._lengths = sorted(self._prefix)
        # CJK entries by first character: a sentence need only try the entries whose
        # first character it contains (a few of hundreds)
        self._cjk_by_first: dict[str, list[tuple[str, str]]] = {}
        for entry, name in self._cjk:
            self._cjk_by_first.setdefault(entry[0], []).append((entry, name))
        # per word, what it contributes (_Entry); bounded memo, owned by this object
        self._cache: dict[str, _Entry] = {}
        self._build_automata()

    def _build_automata(self) -> None:
        """One Aho-Corasick automaton over every phrase, for a whole text at once.

        A text's words are laid out as " w1 w2 ... " (one space between the words of a
        sentence, " \n " between sentences), so a phrase is the substring " a b " (" a b"
        when its last word is a prefix); a phrase with a prefix word before its last one is
        found by its words up to that prefix, then checked with a regex. The automaton
        reports every occurrence (overlapping), so the names found are exactly those of the
        word-by-word matcher (`_names`).
        """
        by_pattern: dict[str, list[tuple[str, re.Pattern[str] | None]]] = {}
        phrases = [p for ps in self._exact.values() for p in ps]
        phrases += [p for d in self._prefix.values() for ps in d.values() for p in ps]
        for phrase in phrases:
            words = phrase.words
            cut = next((k for k, w in enumerate(words[:-1]) if w.endswith("*")), None)
            if cut is None:
                head = words
                check = None
            else:
                head = words[: cut + 1]
                check = re.compile(" " + " ".join(
                    re.escape(w[:-1]) + r"\w*" if w.endswith("*") else re.escape(w)
                    for w in words
                ) + ("" if words[-1].endswith("*") else " "))
            last = head[-1]
            pattern = " " + " ".join((*head[:-1], last[:-1] if last.endswith("*") else last + " "))
            by_pattern.setdefault(pattern, []).append((phrase.name, check))
        self._patterns = list(by_pattern)
        self._plain: list[frozenset[str]] = []
        self._checked: list[tuple[tuple[str, re.Pattern[str]], ...]] = []
        for pattern in self._patterns:
            found = by_pattern[pattern]
            self._plain.append(frozenset(n for n, c in found if c is None))
            self._checked.append(tuple((n, c) for n, c in found if c is not None))
        self._automaton = ahocorasick_rs.AhoCorasick(
            self._patterns, matchkind=ahocorasick_rs.MatchKind.Standard
        )
        # CJK entries are substrings of the (unfolded) sentence; none holds a sentence end
        cjk = [(e, n) for e, n in self._cjk if not _SENTENCE.search(e)]
        cjk_names: dict[str, set[str]] = {}
        for entry, name in cjk:
            cjk_names.setdefault(entry, set()).add(name)
        self._cjk_patterns = list(cjk_names)
        self._cjk_names = [frozenset(cjk_names[e]) for e in self._cjk_patterns]
        self._cjk_automaton = ahocorasick_rs.AhoCorasick(
            self._cjk_patterns, matchkind=ahocorasick_rs.MatchKind.Standard
        )

    def _piece_names(self, text: str, bounds: list[tuple[int, int]]) -> list[set[str]] | None:
        """Names of each piece of `text` (`bounds`: its `_SENTENCE` split), in one pass.

        None when the folded text does not split into as many pieces (then the caller
        goes sentence by sentence).
        """
        layout = _lay_out(_fold(text), len(bounds) - 1)
        if layout is None:
            return None
        laid, breaks = layout
        found: list[set[str]] = [set() for _ in bounds]
        plain, checked = self._plain, self._checked
        for pid, start, _ in self._automaton.find_matches_as_indexes(laid, overlapping=True):
            names = found[bisect_right(breaks, start)]  # `breaks` is empty for one piece
            names |= plain[pid]
            for name, check in checked[pid]:
                if name not in names and check.match(laid, start):
                    names.add(name)
        if _CJK.search(text):
            cjk_names = self._cjk_names
            matches = self._cjk_automaton.find_matches_as_indexes(text, overlapping=True)
            if matches:
                starts = [a for a, _ in bounds[1:]]
                for pid, start, _ in matches:
                    found[bisect_right(starts, start)] |= cjk_names[pid]
        return found

    def _lookup(self, word: str) -> _Entry:
        hit = self._cache.get(word)
        if hit is not None:
            return hit
        found = list(self._exact.get(word, ()))
        for n in self._lengths:
            if n > len(word):
                break
            found.extend(self._prefix[n].get(word[:n], ()))
        singles = frozenset(p.name for p in found if len(p.words) == 1)
        loose = tuple(p for p in found if len(p.words) > 1 and p.words[1].endswith("*"))
        pairs: dict[str, set[str]] = {}
        longer: dict[str, list[_Phrase]] = {}
        for p in found:
            if len(p.words) > 1 and not p.words[1].endswith("*"):
                pairs.setdefault(p.words[1], set())
                longer.setdefault(p.words[1], [])
                if len(p.words) == 2:
                    pairs[p.words[1]].add(p.name)
                else:
                    longer[p.words[1]].append(p)
        by_second = {w: (frozenset(pairs[w]), tuple(longer[w])) for w in pairs}
        result = (singles, loose, by_second) if found else _NOTHING
        if len(self._cache) < 200_000:
            self._cache[word] = result
        return result

    @staticmethod
    def _rest_matches(phrase: _Phrase, words: list[str], i: int) -> bool:
        rest = phrase.words
        if i + len(rest) > len(words):
            return False
        for k in range(1, len(rest)):
            pat, w = rest[k], words[i + k]
            if pat[-1] == "*":
                if not w.startswith(pat[:-1]):
                    return False
            elif w != pat:
                return False
        return True

    def names(self, sentence: str) -> set[str]:
        """Lexicon names present in one sentence (normalised text)."""
        return self._names(sentence, may_have_cjk=True)

    def _names(self, sentence: str, may_have_cjk: bool) -> set[str]:
        # `may_have_cjk` False: the caller knows the whole text has no CJK character
        found: set[str] = set()
        words = _WORD.findall(_fold(sentence))
        last = len(words) - 1
        get, lookup = self._cache.get, self._lookup
        for i, word in enumerate(words):
            entry = get(word) or lookup(word)
            if entry is _NOTHING:  # most words: nothing to do
                continue
            singles, loose, by_second = entry
            if singles:
                found |= singles
            if by_second and i < last:
                after = by_second.get(words[i + 1])
                if after is not None:
                    # a two-word phrase is complete once its second word matches
                    found |= after[0]
                    for phrase in after[1]:
                        if phrase.name not in found and self._rest_matches(phrase, words, i):
                            found.add(phrase.name)
            for phrase in loose:
                if phrase.name not in found and self._rest_matches(phrase, words, i):
                    found.add(phrase.name)
        if may_have_cjk and _CJK.search(sentence):
            by_first = self._cjk_by_first
            for ch in set(sentence).intersection(by_first):
                for entry, name in by_first[ch]:
                    if name not in found and entry in sentence:
                        found.add(name)
        return found

    def sentences(self, text: str) -> list[set[str]]:
        return [names for _, _, names in self.split_spans(text)]

    def split(self, text: str) -> list[tuple[str, set[str]]]:
        """(sentence, names) for each sentence of `text`."""
        return [(text[a:b], names) for a, b, names in self.split_spans(text)]

    def split_spans(self, text: str) -> list[tuple[int, int, set[str]]]:
        """(start, end, names) for each sentence of `text`, in order."""
        if len(text) < WHOLE_TEXT_MIN:  # numpy's fixed costs outweigh the loop
            bounds = []
            pos = 0
            for m in _SENTENCE.finditer(text):
                bounds.append((pos, m.start()))
                pos = m.end()
            bounds.append((pos, len(text)))
            found = None
        else:
            bounds = _pieces(text)
            found = self._piece_names(text, bounds)
        if found is None:
            cjk = _CJK.search(text) is not None  # one scan, not one per sentence
            return [
                (a, b, self._names(text[a:b], cjk)) for a, b in bounds if text[a:b].strip()
            ]
        # a piece ending in a character other than white space is no blank (most are):
        # only the others need the slice
        return [
            (a, b, names)
            for (a, b), names in zip(bounds, found, strict=True)
            if b > a and (not text[b - 1].isspace() or text[a:b].strip())
        ]


def word_char_table() -> np.ndarray:
    """Which code points `re`'s \\w matches (str.isalnum() or "_"), up to TABLE_SIZE."""
    return _WORD_CHARS


# from this length on, a text's sentences are looked up in one pass over the whole text
# (below it, numpy's fixed costs outweigh the per-word loop)
WHOLE_TEXT_MIN = 600
# character tables cover the first two planes (letters, marks, emoji); the rare code
# points beyond are tested one by one
TABLE_SIZE = 0x20000


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _folds(ch: str) -> bool:
    """Whether folding may change or drop `ch`: it decomposes (NFD), or is a mark."""
    return unicodedata.combining(ch) != 0 or unicodedata.normalize("NFD", ch) != ch


def _flags(cps: np.ndarray, table: np.ndarray, test: Callable[[str], bool]) -> np.ndarray:
    """`test` of each code point: from `table` below TABLE_SIZE, the few others one by one."""
    if len(cps) == 0 or cps.max() < TABLE_SIZE:
        return table.take(cps)  # faster than table[cps], the same elements
    flags = table.take(np.minimum(cps, TABLE_SIZE - 1))
    astral = cps >= TABLE_SIZE
    values = np.unique(cps[astral])
    found = np.array([test(chr(v)) for v in values.tolist()], dtype=bool)
    flags[astral] = found[np.searchsorted(values, cps[astral])]
    return flags


def _tables() -> tuple[np.ndarray, np.ndarray]:
    words = np.zeros(TABLE_SIZE, dtype=bool)
    fold = np.zeros(TABLE_SIZE, dtype=bool)  # decomposes (NFD), or is a mark
    for cp in range(TABLE_SIZE):
        ch = chr(cp)
        words[cp] = _is_word(ch)
        fold[cp] = _folds(ch)
    fold[0x300:0x370] = True  # the marks folding drops (U+034F is not a combining one)
    words.flags.writeable = False
    fold.flags.writeable = False
    return words, fold


_WORD_CHARS, _FOLD_CHARS = _tables()


def _composed_seconds() -> set[int]:
    """Code points that canonical composition can join to the character before them."""
    seconds = set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))  # Hangul V, T
    for cp in range(TABLE_SIZE):
        parts = unicodedata.decomposition(chr(cp)).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            seconds.add(int(parts[1], 16))
    return seconds


_SECONDS = _composed_seconds()


def _starter(ch: str) -> bool:
    """Canonical combining class 0, and never the second of a composed pair."""
    return unicodedata.combining(ch) == 0 and ord(ch) not in _SECONDS


def _char_table(chars: Iterable[str]) -> np.ndarray:
    """A read-only table over the code points: True at each of `chars`."""
    table = np.zeros(TABLE_SIZE, dtype=bool)
    table[[ord(c) for c in chars]] = True
    table.flags.writeable = False
    return table


def _fold_starter(ch: str) -> bool:
    """A starter, and none of the marks folding drops (U+034F among them has class 0)."""
    return _starter(ch) and not 0x300 <= ord(ch) < 0x370


def _folds_alone(ch: str) -> bool:
    """Whether folding may change `ch` but does so the same way wherever it stands in an
    NFC text: such a starter, whose decomposition starts with one, folding to itself or
    to ASCII (a Latin letter without its accents). Its neighbours then fold as if it were
    not there, and it as if they were not."""
    if not _folds(ch) or not _fold_starter(ch):
        return False
    if not _fold_starter(unicodedata.normalize("NFD", ch)[0]):
        return False
    form = _fold_all(ch)
    return form == ch or form.isascii()


def _fold_changes(ch: str) -> bool:
    return _folds_alone(ch) and _fold_all(ch) != ch


# the characters folding changes the same way wherever they stand, and what it makes of
# them; and which of them it changes at all
_FOLD_ALONE = {
    chr(cp): _fold_all(chr(cp))
    for cp in np.flatnonzero(_FOLD_CHARS).tolist()
    if _folds_alone(chr(cp))
}
_FOLD_ALONE_TABLE = _char_table(_FOLD_ALONE)
_FOLD_CHANGES_TABLE = _char_table(c for c, form in _FOLD_ALONE.items() if form != c)
_SENTENCE_END = ".!?;\n。！？；"  # the characters of _SENTENCE
_SENTENCE_CHARS = _char_table(_SENTENCE_END)


def word_tokens(text: str) -> list[str]:
    """`re.findall(r"\\w+", text)`, from a table lookup of the code points (numpy)."""
    if not text:
        return []
    cps = code_points(text)
    out = np.where(_flags(cps, _WORD_CHARS, _is_word), cps, np.uint32(32))
    return out.tobytes().decode("utf-32-le").split()


def _pieces(text: str) -> list[tuple[int, int]]:
    """(start, end) of each piece of `_SENTENCE.split(text)`, from the code points."""
    if not text:
        return [(0, 0)]
    at = np.flatnonzero(_flags(code_points(text), _SENTENCE_CHARS, _is_sentence_char))
    if len(at) == 0:
        return [(0, len(text))]
    cut = np.flatnonzero(at[1:] != at[:-1] + 1)  # the last character of each run but one
    run_starts = [int(at[0]), *at[cut + 1].tolist()]
    run_ends = [*(at[cut] + 1).tolist(), int(at[-1]) + 1]
    return list(zip([0, *run_ends], [*run_starts, len(text)], strict=True))


def code_points(text: str) -> np.ndarray:
    """The code points of `text` (lone surrogates kept), as a uint32 array."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _is_sentence_char(ch: str) -> bool:
    return ch in _SENTENCE_END


def _lay_out(folded: str, breaks: int) -> tuple[str, list[int]] | None:
    """The words of `folded` as " w1 w2 ... ", with " \\n " where a sentence ends.

    Every run of `_SENTENCE` characters becomes one line break; any other run of non-word
    characters one space. Also the positions of the line breaks; None when there are not
    `breaks` of them.
    """
    if not folded:
        return (" ", []) if breaks == 0 else None
    cps = code_points(folded)
    word = _flags(cps, _WORD_CHARS, _is_word)
    ends = _SENTENCE_CHARS[np.minimum(cps, TABLE_SIZE - 1)]
    first_end = ends.copy()
    first_end[1:] &= ~ends[:-1]
    if int(np.count_nonzero(first_end)) != breaks:
        return None
    gap = ~word & ~ends
    gap[1:] &= word[:-1]  # the first non-word character after a word
    gap[0] = False
    keep = word | first_end | gap
    out = np.where(word, cps, np.where(ends, np.uint32(10), np.uint32(32)))
    laid = np.compress(keep, out).tobytes().decode("utf-32-le")
    # where the line breaks land: each earlier one grew by two spaces, plus the leading one
    at = np.flatnonzero(first_end[keep])
    breaks_at = (at + 2 * np.arange(len(at)) + 2).tolist()
    return " " + laid.replace("\n", " \n ") + " ", breaks_at


def concept_tokens(sentence_names: Iterable[set[str]]) -> list[str]:
    """Symbolic features: concepts, intents, and their crosses, whole text and per sentence."""
    per_sentence = list(sentence_names)
    everything: set[str] = set().union(*per_sentence) if per_sentence else set()
    present = {i for i in INTENTS if i in everything}
    found = sorted(everything - set(INTENTS))
    tokens = [f"I:{i}" for i in present]
    if not found:
        return tokens
    for c in found:
        if c in STRONG:
            tokens.append(f"C:{c}")
            tokens.extend(f"C:{c}|{i}" for i in present)
    for a, b in itertools.combinations(found, 2):
        tokens.append(f"C:{a}&{b}")
        tokens.extend(f"C:{a}&{b}|{i}" for i in present)
    # a concept asked for in a sentence that neither discusses nor defends
    for names in per_sentence:
        if "ask" in names and "discuss" not in names and "defend" not in names:
            s_found = sorted(names - set(INTENTS))
            tokens.extend(f"S:{c}|ask_only" for c in s_found)
            tokens.extend(f"S:{a}&{b}|ask_only" for a, b in itertools.combinations(s_found, 2))
    return tokens
