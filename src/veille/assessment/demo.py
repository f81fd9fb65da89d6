"""``veille demo`` step: the scenario's threat assessment in English and French, HTML and PDF.

The periods are those the analytics step wrote (``periods.yaml``: the
baseline, the restrictions and the months after, from the countries'
published restriction dates); every number comes from the analytics
capability, and no planted effect is read.
"""

from __future__ import annotations

from veille.core.demo import DemoContext, DemoSection


def step_assessment(context: DemoContext) -> DemoSection | None:
    """Write the assessment of the whole scenario in both languages."""
    from veille.analytics.periods import load_periods
    from veille.assessment.compute import AssessmentOptions, compute_assessment
    from veille.assessment.render import RenderError, render_html, render_pdf

    periods_file = context.folder / "periods.yaml"
    if not periods_file.exists():
        return None
    named = {p.name: p for p in load_periods(periods_file).periods}
    if not {"baseline", "restrictions", "after"} <= set(named):
        return None
    options = AssessmentOptions(
        named["restrictions"].start,
        named["after"].end,
        baseline=(named["baseline"].start, named["baseline"].end),
        restrictions=(named["restrictions"].start, named["restrictions"].end),
    )
    data = compute_assessment(context.database, options)
    out = context.folder
    written = []
    for language in ("en", "fr"):
        html = render_html(data, language)
        (out / f"assessment.{language}.html").write_text(html, encoding="utf-8")
        written.append(f"assessment.{language}.html")
        try:
            (out / f"assessment.{language}.pdf").write_bytes(render_pdf(html))
            written.append(f"assessment.{language}.pdf")
        except (OSError, RenderError) as error:  # no Pango on this machine: HTML only
            written.append(f"(no PDF: {error})")
    increases = sorted(
        {t.subject for t in data.online if t.verdict == "increase" and t.period == "restrictions"}
    )
    return DemoSection(
        "threat assessment (veille assess)",
        [
            f"period {options.start} to {options.end}, baseline {options.baseline_span[0]} to "
            f"{options.baseline_span[1]}; marking TLP:{data.marking.upper()} (the strictest counted)",
            "significant increases during the restrictions: " + (", ".join(increases) or "none"),
            f"written to {out}/: {', '.join(written)}",
        ],
    )


DEMO_STEPS = (step_assessment,)
