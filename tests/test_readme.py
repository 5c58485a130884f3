"""The README's provider table is generated from the catalogue; this keeps the two in step."""

from __future__ import annotations

from pathlib import Path

from app.core.catalogue import markdown_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_provider_table_matches_the_catalogue() -> None:
    text = README.read_text(encoding="utf-8")
    start = text.index("<!-- generated from app/core/catalogue.py")
    end = text.index("<!-- end of generated table -->")
    table = text[start:end].split("\n", 1)[1].strip()
    assert table == markdown_table(), "run `python -m app.core.catalogue` and paste its table into the README"


def test_readme_names_the_commands_ci_runs() -> None:
    text = README.read_text(encoding="utf-8")
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash scripts/dev.sh test" in text and "bash scripts/dev.sh test" in ci
    assert "bash scripts/dev.sh run" in text
