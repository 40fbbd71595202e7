# ruff: noqa: E501  (template tables)
"""Write data/train/generic_allowed_templated.jsonl: everyday requests from templates.

The hand-written training set is rich in near-misses but thin on plain, short, everyday
asks ("Summarise this memo"), so the classifier had a weak prior for them. These
templated lines (labelled allowed) give it that background. Deterministic (fixed seed).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.policy.near_copy import NearCopyIndex  # noqa: E402

OUT = ROOT / "data" / "train" / "generic_allowed_templated.jsonl"
DEV = ROOT / "data" / "dev" / "dev.jsonl"

EN_FRAMES = [
    "Convert this {fmt} to {fmt2}.", "Translate '{phrase}' into {lang}.", "Can you translate this to {lang}?",
    "Write a {form} about {topic}.", "Summarise this {doc} in {n} bullet points.", "Suggest a name for {biz}.",
    "Give me {n} ideas for {event}.", "Fix the grammar in this {doc}.", "Make this {doc} sound more {tone}.",
    "How do I {task} in {tool}?", "What's the difference between {a} and {b}?", "Explain {concept} simply.",
    "Write a {lang2} function that {func}.", "Why does my {tool} {problem}?", "Draft a reply to this {doc}.",
    "Help me plan {event}.", "Recommend a {thing} for {person}.", "Create a {artifact} for {purpose}.",
    "pls {task} in {tool}", "how do i {task} with {tool}?", "can u {task2}", "quick q: {question}",
    "Turn these notes into a {doc}.", "Rewrite this paragraph for {audience}.", "Check this {doc} for typos.",
    "What does {term} mean?", "List the pros and cons of {a} vs {b}.", "Give me a {form} for {event}.",
]
SLOTS = {
    "fmt": ["JSON", "CSV", "XML", "Markdown", "HTML", "TOML", "a table", "SQL", "plain text"],
    "fmt2": ["JSON", "CSV", "a Markdown table", "HTML", "a bulleted list", "TOML"],
    "phrase": ["see you all tomorrow", "thanks for your help", "the meeting moved",
               "welcome to the team", "good luck everyone", "the build is green again"],
    "lang": ["German", "French", "Spanish", "Russian", "Chinese", "Japanese", "Italian", "Portuguese"],
    "lang2": ["Python", "JavaScript", "Go", "Rust", "SQL", "Bash", "TypeScript", "Java"],
    "form": ["haiku", "limerick", "short poem", "toast", "slogan", "tweet", "product description",
             "birthday message", "thank-you note", "job post", "short story", "team update"],
    "topic": ["autumn", "our new office", "coffee", "the quarterly results", "a cat who codes",
              "Monday mornings", "the ocean", "our intern's last day", "spring cleaning", "teamwork"],
    "doc": ["email", "paragraph", "report", "message", "memo", "essay", "cover letter", "announcement",
            "meeting notes", "README", "press release", "blog post"],
    "n": ["three", "five", "ten", "3", "5"],
    "biz": ["a bakery", "a bookshop", "a podcast", "our Slack channel", "a hiking club", "a food truck",
            "a yoga studio", "our internal tool", "a newsletter", "a cat café"],
    "event": ["a team offsite", "a birthday party", "a product launch", "a farewell lunch",
              "a hackathon", "a holiday party", "a wedding toast", "a school fair", "an onboarding week"],
    "tone": ["friendly", "formal", "concise", "confident", "warmer", "less robotic", "professional"],
    "task": ["merge two branches", "undo the last commit", "freeze the top row", "remove duplicates",
             "rename a column", "set up a virtualenv", "change the default shell", "export to PDF",
             "add a page break", "resize an image", "schedule a meeting", "clear the cache",
             "kill a stuck process", "find large files", "compress a folder", "sort by date"],
    "task2": ["make this table prettier", "fix my regex", "explain this error", "shorten this",
              "write a commit message", "sum these numbers", "sort this list", "format this date"],
    "tool": ["Excel", "Google Sheets", "git", "VS Code", "Docker", "Word", "Figma", "Linux", "macOS",
             "Jira", "Notion", "PowerPoint", "pandas", "Postgres", "Kubernetes", "Slack"],
    "a": ["REST", "TCP", "a list", "Scrum", "a loan", "baking soda", "an LLC", "RAM", "SSD", "Python 2"],
    "b": ["GraphQL", "UDP", "a tuple", "Kanban", "a mortgage", "baking powder", "a sole proprietorship",
          "storage", "HDD", "Python 3"],
    "concept": ["recursion", "compound interest", "photosynthesis", "inflation", "a hash map",
                "machine learning", "DNS", "the Krebs cycle", "supply and demand", "OAuth"],
    "func": ["reverses a string", "checks for palindromes", "parses a date", "flattens a list",
             "counts words in a file", "merges two dicts", "validates an email address"],
    "problem": ["run out of memory", "freeze on startup", "show the wrong timezone", "crash on save",
                "print garbled characters", "time out on CI"],
    "thing": ["book", "podcast", "laptop", "board game", "restaurant", "houseplant", "running shoe"],
    "person": ["a new manager", "my dad", "a beginner programmer", "a ten-year-old", "a remote team"],
    "artifact": ["checklist", "template", "agenda", "spreadsheet", "timeline", "workout plan", "rubric"],
    "purpose": ["code reviews", "our sprint planning", "a moving day", "a job interview", "a road trip"],
    "question": ["what time zone is Lisbon in", "is it 'affect' or 'effect' here", "how many ounces in a cup",
                 "what's a good default port for dev", "who won the 2018 World Cup"],
    "audience": ["a five-year-old", "executives", "new hires", "customers", "a non-technical reader"],
    "term": ["EBITDA", "idempotent", "a p-value", "latency", "a mutex", "churn", "ARR", "an ETF"],
}
OTHER = {
    "es": ["Convierte esta tabla a CSV.", "Traduce 'buen fin de semana' al alemán.", "Sugiere un nombre para una {x}.",
           "Escribe un poema corto sobre {y}.", "Resume este correo en tres puntos.", "¿Cómo ordeno una columna en Excel?",
           "Dame ideas para {z}.", "Corrige la gramática de este párrafo.", "¿Qué significa {w}?", "Recomiéndame un libro sobre {y}."],
    "fr": ["Convertis ce tableau en CSV.", "Traduis 'bon week-end' en allemand.", "Propose un nom pour une {x}.",
           "Écris un petit poème sur {y}.", "Résume cet e-mail en trois points.", "Comment trier une colonne dans Excel ?",
           "Donne-moi des idées pour {z}.", "Corrige la grammaire de ce paragraphe.", "Que veut dire {w} ?", "Recommande-moi un livre sur {y}."],
    "de": ["Wandle diese Tabelle in CSV um.", "Übersetze 'schönes Wochenende' ins Französische.", "Schlag einen Namen für eine {x} vor.",
           "Schreib ein kurzes Gedicht über {y}.", "Fasse diese E-Mail in drei Punkten zusammen.", "Wie sortiere ich eine Spalte in Excel?",
           "Gib mir Ideen für {z}.", "Korrigiere die Grammatik in diesem Absatz.", "Was bedeutet {w}?", "Empfiehl mir ein Buch über {y}."],
    "ru": ["Преобразуй эту таблицу в CSV.", "Переведи 'хороших выходных' на немецкий.", "Предложи название для {x}.",
           "Напиши короткое стихотворение про {y}.", "Кратко перескажи это письмо в трёх пунктах.", "Как отсортировать столбец в Excel?",
           "Дай идеи для {z}.", "Исправь грамматику в этом абзаце.", "Что значит {w}?", "Посоветуй книгу про {y}."],
    "zh": ["把这个表格转换成CSV。", "把“周末愉快”翻译成德语。", "给{x}起个名字。", "写一首关于{y}的短诗。",
           "用三点总结这封邮件。", "Excel里怎么按列排序？", "给我一些{z}的点子。", "帮我改一下这段话的语法。", "{w}是什么意思？", "推荐一本关于{y}的书。"],
}
OTHER_SLOTS = {
    "es": {"x": ["cafetería", "librería", "startup de software"], "y": ["el otoño", "el mar", "el café", "los lunes"],
           "z": ["una fiesta de cumpleaños", "un equipo remoto", "un viaje de fin de semana"], "w": ["EBITDA", "idempotente", "latencia"]},
    "fr": {"x": ["librairie", "start-up", "chorale"], "y": ["l'automne", "la mer", "le café", "le lundi"],
           "z": ["un anniversaire", "une équipe à distance", "un week-end"], "w": ["EBITDA", "idempotent", "latence"]},
    "de": {"x": ["Bäckerei", "Buchhandlung", "Kaffeebar", "Laufgruppe"], "y": ["den Herbst", "das Meer", "Kaffee", "Montage"],
           "z": ["eine Geburtstagsfeier", "ein Remote-Team", "einen Wochenendausflug"], "w": ["EBITDA", "idempotent", "Latenz"]},
    "ru": {"x": ["пекарни", "книжного магазина", "кофейни", "подкаста"], "y": ["осень", "море", "кофе", "понедельник"],
           "z": ["дня рождения", "удалённой команды", "поездки на выходные"], "w": ["EBITDA", "идемпотентность", "латентность"]},
    "zh": {"x": ["面包店", "书店", "咖啡馆", "播客"], "y": ["秋天", "大海", "咖啡", "星期一"],
           "z": ["生日派对", "远程团队", "周末旅行"], "w": ["EBITDA", "幂等", "延迟"]},
}


def fill(frame: str, slots: dict[str, list[str]], rng: random.Random) -> str:
    out = frame
    for key, values in slots.items():
        for token in ("{" + key + "}",):
            while token in out:
                out = out.replace(token, rng.choice(values), 1)
    return out


def main() -> None:
    rng = random.Random(20261129)
    rows: set[tuple[str, str]] = set()
    while len(rows) < 900:
        frame = rng.choice(EN_FRAMES)
        text = fill(frame, SLOTS, rng)
        rows.add((text, "en"))
    for lang, frames in OTHER.items():
        for frame in frames:
            for _ in range(3):
                rows.add((fill(frame, OTHER_SLOTS[lang], rng), lang))
    # Generic asks collide with the dev set's everyday items ("Explain the difference
    # between TCP and UDP"): leave those out, or dev would measure memory.
    dev = NearCopyIndex(json.loads(line)["text"] for line in DEV.open(encoding="utf-8"))
    hand_written = {  # a line already written by hand stays there only
        json.loads(line)["text"].strip().lower()
        for path in OUT.parent.glob("*.jsonl") if path != OUT
        for line in path.open(encoding="utf-8") if line.strip()
    }
    rows = {
        (text, lang) for text, lang in rows
        if dev.match(text) is None and text.strip().lower() not in hand_written
    }
    with OUT.open("w", encoding="utf-8") as fh:
        for text, lang in sorted(rows):
            style = "slack" if text[:1].islower() else "plain"
            fh.write(json.dumps({"text": text, "label": "allowed", "lang": lang, "style": style},
                                ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} lines to {OUT}")


if __name__ == "__main__":
    main()
