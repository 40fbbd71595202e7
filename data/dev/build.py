"""Assemble data/dev/dev.jsonl from the hand-written block files in data/dev/src/.

Source format (one item per line, blank lines and '#' comments ignored):
    @ label=<id> style=<style> [kind=request|response] [lang=en]
        sets the attributes for the lines that follow (kind/lang reset to request/en);
    a text line is one item; for multi_turn items the earlier user turns come first,
    separated from each other and from the final message by ' >> '.
A literal \\u200b (or \\u200c, \\u200d, \\u2060) in a source line becomes that
zero-width character; the JSON keeps it as an escape so it is visible in review.
A literal \\n becomes a newline (pasted code).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

LABELS = {"autonomous_weapons", "mass_domestic_surveillance", "cbrn_weapons",
          "weapons_development", "military_operations", "targeted_surveillance",
          "offensive_cyber", "allowed"}
STYLES = {"plain", "disguised", "near_miss", "homonym", "discussion", "slack", "multi_turn"}
LANGS = {"en", "es", "fr", "de", "zh", "ru"}
ZW = {"\\u200b": "\u200b", "\\u200c": "\u200c", "\\u200d": "\u200d", "\\u2060": "\u2060"}


def parse(path: Path) -> list[dict]:
    items: list[dict] = []
    attrs: dict[str, str] | None = None
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("@ "):
            attrs = {"kind": "request", "lang": "en"}
            for pair in line[2:].split():
                k, v = pair.split("=", 1)
                attrs[k] = v
            assert attrs["label"] in LABELS, (path, n, attrs)
            assert attrs["style"] in STYLES, (path, n, attrs)
            assert attrs["lang"] in LANGS, (path, n, attrs)
            assert attrs["kind"] in {"request", "response"}, (path, n, attrs)
            continue
        assert attrs is not None, (path, n)
        for esc, ch in ZW.items():
            line = line.replace(esc, ch)
        line = line.replace("\\n", "\n")  # pasted code keeps its line breaks
        item = {"text": line, "label": attrs["label"], "kind": attrs["kind"],
                "lang": attrs["lang"], "style": attrs["style"]}
        if attrs["style"] == "multi_turn":
            turns = [t.strip() for t in line.split(" >> ")]
            assert len(turns) >= 2, (path, n)
            item["text"], item["context"] = turns[-1], turns[:-1]
        items.append(item)
    return items


def main() -> int:
    here = Path(__file__).resolve().parent
    items: list[dict] = []
    for src in sorted((here / "src").glob("*.txt")):
        items.extend(parse(src))
    seen: set[str] = set()
    out = []
    for i, item in enumerate(items, 1):
        key = item["text"].casefold()
        assert key not in seen or item["style"] == "multi_turn", f"duplicate text: {item['text']}"
        seen.add(key)
        row = {"id": f"dev-{i:04d}", **item}
        line = json.dumps(row, ensure_ascii=False)
        for esc, ch in ZW.items():
            line = line.replace(ch, esc)
        out.append(line)
    (here / "dev.jsonl").write_text("\n".join(out) + "\n", encoding="utf-8")
    print(f"wrote {len(out)} items", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
