"""The threat assessment: sentences from verdicts, both languages, markings, PDF, no network."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.linking.helpers import import_records, make_world, record
from veille.assessment.compute import AssessmentOptions, Trend, compute_assessment
from veille.assessment.render import (
    LOCALE_DIR,
    SECTIONS,
    NotesError,
    RenderError,
    _Words,
    load_notes,
    render_html,
    render_pdf,
)
from veille.cli import app as cli
from veille.store.db import Database

runner = CliRunner()
START, END = date(2020, 3, 2), date(2020, 6, 28)
RESTRICTIONS = (date(2020, 3, 16), date(2020, 5, 31))


def _trend(verdict: str, ratio: float | None = 1.8) -> Trend:
    return Trend("p2p", "restrictions", ratio, 1.4, 2.3, verdict, 20.0, 11.0)


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_trend_is_an_increase_only_when_the_test_says_so(language: str) -> None:
    words = _Words(language)
    up = {"en": "an increase", "fr": "une hausse"}[language]
    down = {"en": "a decrease", "fr": "une baisse"}[language]
    assert up in words.trend(_trend("increase"))
    assert down in words.trend(_trend("decrease", 0.5))
    for verdict in ("uncertain", "stable"):
        sentence = words.trend(_trend(verdict))
        assert up not in sentence and down not in sentence
    assert up not in words.trend(_trend("too short", None))
    if language == "fr":
        assert "1,8 fois" in words.trend(_trend("increase"))


def _weekly(database: Database, tmp_path: Path) -> None:
    """Peer-to-peer reports: 6 a week in the baseline, 18 a week during the restrictions."""
    make_world(database)
    lines = []
    day = date(2019, 3, 4)
    while day <= END:
        during = RESTRICTIONS[0] <= day <= RESTRICTIONS[1]
        for n in range(18 if during else 6):
            moment = datetime(day.year, day.month, day.day, 9 + n % 8, tzinfo=None)
            lines.append(
                record(
                    f"w{day.isoformat()}-{n}",
                    [],
                    platform_category="p2p",
                    received_at=moment.isoformat() + "Z",
                    stated_country="FR",
                    marking="green" if n else "amber",
                )
            )
        day += timedelta(days=7)
    import_records(database, tmp_path, lines)


def test_the_report_is_computed_and_written_in_both_languages(
    database: Database, tmp_path: Path
) -> None:
    _weekly(database, tmp_path)
    options = AssessmentOptions(START, END, restrictions=RESTRICTIONS)
    data = compute_assessment(database, options)
    # The strictest marking of what was counted.
    assert data.marking == "amber"
    p2p = [t for t in data.online if t.subject == "p2p" and t.period == "restrictions"]
    assert p2p and p2p[0].verdict == "increase"
    assert 2.4 < (p2p[0].rate_ratio or 0) < 3.6
    notes = {"recommendations": "Ask providers to report P2P clients.", "triangle.victims": "Seen."}
    for language, heading in (("en", "Online trends"), ("fr", "Tendances en ligne")):
        html = render_html(data, language, notes)
        assert f'<html lang="{language}"' in html
        for section in SECTIONS:
            assert f'id="{section}"' in html
        assert heading in html
        assert "TLP:AMBER" in html
        assert "Ask providers to report P2P clients." in html
        assert "http://" not in html and "https://" not in html
        assert html.count("data:image/png;base64,") >= 1


PDFTOPPM = shutil.which("pdftoppm")


@pytest.mark.skipif(PDFTOPPM is None, reason="poppler-utils (scripts/setup-system.sh) is missing")
def test_the_pdf_has_its_sections_and_the_marking_on_every_page_and_fetches_nothing(
    database: Database, tmp_path: Path
) -> None:
    from PIL import Image

    _weekly(database, tmp_path)
    data = compute_assessment(database, AssessmentOptions(START, END, restrictions=RESTRICTIONS))
    pdf_path = tmp_path / "assessment.pdf"
    pdf_path.write_bytes(render_pdf(render_html(data, "fr")))
    subprocess.run(
        ["pdftoppm", "-png", "-r", "40", str(pdf_path), str(tmp_path / "page")], check=True
    )
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 4
    text = ""
    for number, image_path in enumerate(pages, start=1):
        page_text = subprocess.run(
            ["pdftotext", "-f", str(number), "-l", str(number), str(pdf_path), "-"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        assert "TLP:AMBER" in page_text, f"page {number}"
        text += page_text
        # Each page draws something (it is not blank).
        assert Image.open(image_path).convert("L").getextrema()[0] < 128
    for heading in (
        "Introduction et périmètre",
        "Le triangle d'analyse du problème",
        "Incidence sur les services répressifs",
        "Tendances en ligne",
        "Tendances hors ligne",
        "Conclusions",
        "Recommandations",
        "Annexe : tableaux de données",
    ):
        assert heading in text
    with pytest.raises(RenderError, match=r"no network while rendering.*http://192\.0\.2\.10"):
        render_pdf('<html><body><img src="http://192.0.2.10/x.png"></body></html>')


def test_every_number_is_the_analytics_output_it_cites(database: Database, tmp_path: Path) -> None:
    from veille.analytics.compare import compare
    from veille.analytics.periods import Period, period_set
    from veille.analytics.series import SeriesQuery, series

    _weekly(database, tmp_path)
    options = AssessmentOptions(START, END, restrictions=RESTRICTIONS)
    data = compute_assessment(database, options)
    periods = period_set([Period(n, a, b) for n, a, b in options.period_spans()])
    with database.session() as session:
        weekly = series(
            session,
            SeriesQuery(grain="week", since=options.baseline_span[0], until=END, by=("category",)),
            None,
        )
        total = series(session, SeriesQuery(grain="month", since=START, until=END), None)
    expected = {
        (c.key[0], c.period): c for c in compare(weekly, periods).comparisons if c.rate_ratio
    }
    words = _Words("en")
    html = render_html(data, "en")
    assert data.figures["reports"].value == sum(sum(one.counts) for one in total.series)
    assert f'<span class="value">{words.number(data.figures["reports"].value, 1)}' in html
    cited = [t for t in data.online if t.rate_ratio is not None]
    assert cited
    for trend in cited:
        source = expected[(trend.subject, trend.period)]
        assert (trend.rate_ratio, trend.low, trend.high, trend.verdict) == (
            source.rate_ratio, source.low, source.high, source.verdict,
        )  # fmt: skip
        assert words.trend(trend) in html


def test_a_period_with_no_data_says_so(database: Database) -> None:
    data = compute_assessment(database, AssessmentOptions(date(2030, 1, 7), date(2030, 3, 31)))
    for language, said in (("en", "No data: no online report"), ("fr", "Aucune donnée")):
        html = render_html(data, language)
        assert said in html
        for section in SECTIONS:
            assert f'id="{section}"' in html


def test_notes_name_their_section_and_options_name_their_field(
    database: Database, tmp_path: Path
) -> None:
    bad = tmp_path / "notes.yaml"
    bad.write_text("summary: not a section\n", encoding="utf-8")
    with pytest.raises(NotesError, match="'summary' is not a section"):
        load_notes(bad)
    made = runner.invoke(
        cli,
        ["assess", "--from", "2020-06-01", "--to", "2020-03-01", "--out", str(tmp_path / "a.html")],
    )
    assert made.exit_code == 2 and "--to" in made.output
    made = runner.invoke(
        cli,
        ["assess", "--from", "2020-03-01", "--to", "2020-06-01", "--out", str(tmp_path / "a.doc")],
    )
    assert made.exit_code == 2 and "--format" in made.output
    assert not (tmp_path / "a.html").exists()


def test_the_command_writes_the_report(database: Database, tmp_path: Path) -> None:
    _weekly(database, tmp_path)
    out = tmp_path / "out" / "assessment-fr.html"
    made = runner.invoke(
        cli,
        [
            "assess", "--from", START.isoformat(), "--to", END.isoformat(),
            "--restrictions-from", RESTRICTIONS[0].isoformat(),
            "--restrictions-to", RESTRICTIONS[1].isoformat(),
            "--lang", "fr", "--marking", "green", "--out", str(out),
        ],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    html = out.read_text(encoding="utf-8")
    assert "TLP:GREEN" in html
    assert "Marquage abaissé par un analyste de TLP:AMBER à TLP:GREEN." in html


def test_analysts_notes_survive_regeneration(database: Database, tmp_path: Path) -> None:
    _weekly(database, tmp_path)
    notes = tmp_path / "notes.yaml"
    notes.write_text(
        "online: |\n  The rise matches the hotlines' experience.\n\n  Second paragraph.\n",
        encoding="utf-8",
    )
    out = tmp_path / "assessment.html"
    command = [
        "assess", "--from", START.isoformat(), "--to", END.isoformat(),
        "--notes", str(notes), "--out", str(out),
    ]  # fmt: skip
    for _ in range(2):
        made = runner.invoke(cli, command)
        assert made.exit_code == 0, made.output
        html = out.read_text(encoding="utf-8")
        assert (
            "<p>The rise matches the hotlines&#39; experience.</p><p>Second paragraph.</p>" in html
        )


def test_the_french_catalog_covers_the_report() -> None:
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parents[2]
    method_map = [
        ("src/veille/assessment/*.py", "python"),
        ("src/veille/assessment/templates/**.html", "jinja2"),
    ]
    found = {
        message
        for _, _, message, _, _ in extract_from_dir(
            root, method_map, keywords={**DEFAULT_KEYWORDS, "N_": None}
        )
        if isinstance(message, str)
    }
    assert len(found) > 70
    with (LOCALE_DIR / "fr" / "LC_MESSAGES" / "assessment.po").open("rb") as stream:
        translated = read_po(stream, locale="fr")
    assert sorted(m for m in found if not (translated.get(m) and translated.get(m).string)) == []
    # Every percent sign is written %% (each text goes through %-formatting).
    assert not re.search(r"%[^(]", "".join(found).replace("%%", ""))


def test_rendering_a_pdf_leaves_truncated_images_refused(tmp_path: Path) -> None:
    """WeasyPrint turns Pillow's LOAD_TRUNCATED_IMAGES on when imported; Veille turns it off."""
    import io

    import numpy as np
    from PIL import Image, ImageFile

    from veille.media.hashing import hash_file

    render_pdf("<html><body><p>x</p></body></html>")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    pixels = (np.random.default_rng(1).random((256, 256, 3)) * 255).astype("uint8")
    whole = io.BytesIO()
    Image.fromarray(pixels).save(whole, "JPEG", quality=90)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])
    ImageFile.LOAD_TRUNCATED_IMAGES = True  # as another library might leave it
    try:
        result = hash_file(cut)
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = False
    assert result.error is not None and result.error.startswith("truncated image")


def test_a_hostile_notes_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"scope: " + b"x" * (1024 * 1024 + 10))
    with pytest.raises(NotesError, match="larger than 1,048,576 bytes"):
        load_notes(big)
    deep = tmp_path / "deep.yaml"
    deep.write_text("scope: " + "[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(NotesError, match="cannot be read"):
        load_notes(deep)
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("scope: é".encode("latin-1"))
    with pytest.raises(NotesError, match="cannot be read"):
        load_notes(latin1)
