"""The council report in Spanish: section titles, facts, table captions, headings and notes
follow the active language, and the English report reads as before. Numbers are written as the
report's tables write them in both languages (US dollars and US digit grouping, as the city
publishes them); data values (technology names, agency codes, flag codes, months) stay as they
are."""

from datetime import date
from decimal import Decimal
from html import unescape

import pytest
from django.test import Client
from django.utils import translation

from audit.models import Technology
from reports import periods, selectors
from reports.annual import annual_report
from reports.models import Contract, Expenditure, Vendor
from reports.report import council_report
from tests.reports.helpers import FACE, LPR, QueryMaker, local_time

COUNCIL_URL = "/reports/"
FY2026 = {"kind": "fiscal-year", "year": "2026"}


@pytest.fixture(autouse=True)
def _july_fiscal_year(settings):
    settings.SIGHTLINE_FISCAL_YEAR_START_MONTH = 7


@pytest.fixture
def fy2026(maker: QueryMaker):
    """Three queries in FY2026 (one for a homicide with a lead, one at 3 a.m., one without a
    case number), one in FY2025, and $12,345.67 paid in FY2026."""
    q = maker.query
    recorded = maker.record(
        [
            q(
                technology=FACE,
                query_type="photo-probe",
                operator="B5150",
                supervisor="S900",
                offense_code="09A",
                target="probe-1",
                occurred_at=local_time(date(2025, 9, 1), 10),
            ),
            q(occurred_at=local_time(date(2025, 10, 2), 3)),
            q(case_number="", occurred_at=local_time(date(2026, 2, 10), 12)),
            q(occurred_at=local_time(date(2025, 3, 1), 11)),
        ]
    )
    maker.outcome(recorded[0].sequence, "lead")
    contract = Contract.objects.create(
        vendor=Vendor.objects.create(name="Roadside Optics"),
        technology=Technology.objects.get(slug=LPR),
        title="LPR cameras, hosted",
        total_value=Decimal("412500.00"),
        start_date=date(2024, 11, 1),
        end_date=date(2026, 10, 31),
        funding_source="grant",
    )
    Expenditure.objects.create(contract=contract, date=date(2025, 8, 1), amount=Decimal("12345.67"))
    return recorded


def report_in(language: str) -> dict:
    """FY2026's council report built and written out with `language` active (period labels
    and the lazily translated model labels too): section id -> title, facts and tables."""
    with translation.override(language):
        comparison = periods.compare(periods.fiscal_year(2026), date(2026, 12, 1))
        return {
            section.id: {
                "title": section.title,
                "facts": section.facts,
                "tables": {
                    table.id: {
                        "title": table.title,
                        "columns": [str(c) for c in table.columns],
                        "rows": [[str(v) for v in row] for row in table.rows],
                        "note": str(table.note),
                    }
                    for table in section.tables
                },
            }
            for section in council_report(comparison)
        }


SPANISH_TITLES = {
    "usage": "Con qué frecuencia, para qué y por quién",
    "compliance": "Qué tan bien se cumplen las normas",
    "outcomes": "¿Ayuda a resolver casos?",
    "spending": "Cuánto cuesta",
}
SPANISH_FACTS = {
    "usage": [
        "33.3% de las consultas (1 de 3) fueron para investigaciones de delitos violentos "
        "(homicidio, agresión, robo, delitos sexuales, secuestro, trata de personas); 33.3% (1), "
        "para investigaciones de homicidio.",
        "33.3% de las consultas (1) se hicieron fuera del horario con personal (05:00-24:00).",
    ],
    "compliance": [
        "66.7% de las consultas (2 de 3) generaron al menos una alerta de política (0.0% en "
        "FY2025); 66.7% incluían un número de caso.",
        "Se registraron 0 revisiones de auditoría en el período.",
    ],
    "outcomes": [
        "1 consulta en investigaciones de homicidio generó una pista; en 0 se esclareció "
        "después el caso."
    ],
    "spending": [
        "Esta sección abarca los pagos con fecha del 1 de julio de 2025 al 30 de junio de "
        "2026, que corresponden a FY2026 (los años fiscales van del 1 de julio al 30 de junio).",
        "En el período se pagó un total de $12,345.67.",
    ],
}
ENGLISH_TITLES = {
    "usage": "How often, for what and by whom",
    "compliance": "How well the rules are kept",
    "outcomes": "Does it help solve cases?",
    "spending": "What it costs",
}
ENGLISH_FACTS = {
    "usage": [
        "33.3% of queries (1 of 3) were for violent-crime investigations (homicide, assault, "
        "robbery, sex offenses, kidnapping, trafficking); 33.3% (1) for homicide investigations.",
        "33.3% of queries (1) were made outside the staffed hours (05:00-24:00).",
    ],
    "compliance": [
        "66.7% of queries (2 of 3) raised at least one policy flag (0.0% in FY2025); 66.7% "
        "carried a case number.",
        "0 audit reviews were recorded in the period.",
    ],
    "outcomes": [
        "1 query in homicide investigations produced a lead; 0 were followed by a cleared case."
    ],
    "spending": [
        "This section covers payments dated July 1, 2025 to June 30, 2026, which fall in FY2026 "
        "(fiscal years run from July 1 to June 30).",
        "$12,345.67 was paid in the period.",
    ],
}


def test_section_titles_and_facts_are_in_spanish(fy2026):
    report = report_in("es")
    assert {key: s["title"] for key, s in report.items()} == SPANISH_TITLES
    assert {key: s["facts"] for key, s in report.items()} == SPANISH_FACTS


def test_the_english_report_reads_as_before(fy2026):
    report = report_in("en")
    assert {key: s["title"] for key, s in report.items()} == ENGLISH_TITLES
    assert {key: s["facts"] for key, s in report.items()} == ENGLISH_FACTS
    tables = {t_id: t for s in report.values() for t_id, t in s["tables"].items()}
    assert tables["by-technology"]["title"] == "Queries by technology"
    assert tables["by-technology"]["columns"] == ["Technology", "FY2026", "FY2025", "Change"]
    assert tables["by-technology"]["rows"][0] == ["Facial recognition", "1", "0", "new"]
    assert tables["by-hour"]["columns"] == ["Hour", "Queries", "Staffed"]
    assert tables["by-hour"]["rows"][3] == ["03:00", "1", "no"]
    assert tables["by-hour"]["rows"][10] == ["10:00", "1", "yes"]
    assert tables["by-agency"]["rows"] == [["BPD", "City department", "3", "0"]]
    assert tables["by-month"]["columns"][-1] == "Total"
    assert tables["by-technology"]["note"].startswith("One query is one search an operator ran")
    assert tables["by-technology"]["note"].endswith('"new" when the earlier period had none.')
    assert tables["spending-by-year"]["note"] == (
        "US dollars paid in each whole fiscal year the period touches (FY2026), including "
        "payments before or after the period's dates."
    )


def test_tables_are_captioned_headed_and_noted_in_spanish(fy2026):
    tables = {t_id: t for s in report_in("es").values() for t_id, t in s["tables"].items()}
    assert tables["by-technology"]["title"] == "Consultas por tecnología"
    # The period labels and the change heading come from reports.periods, in Spanish too.
    assert tables["by-technology"]["columns"] == ["Tecnología", "FY2026", "FY2025", "Variación"]
    # Technology names are the technologies' own Spanish names (sorted by them), as on the
    # public pages; the change from nothing is "nuevo".
    assert [row[0] for row in tables["by-technology"]["rows"]] == [
        "Lectores de matrículas",
        "Reconocimiento facial",
    ]
    assert tables["by-technology"]["rows"][1] == ["Reconocimiento facial", "1", "0", "nuevo"]
    assert tables["by-hour"]["columns"] == ["Hora", "Consultas", "Con personal"]
    assert tables["by-hour"]["rows"][3] == ["03:00", "1", "no"]
    assert tables["by-hour"]["rows"][10] == ["10:00", "1", "sí"]
    assert tables["by-hour"]["note"].endswith(
        "Con personal: dentro del horario con personal del centro (05:00-24:00)."
    )
    # Agency codes stay as they are; their kind is translated.
    assert tables["by-agency"]["rows"] == [["BPD", "Departamento de la ciudad", "3", "0"]]
    assert tables["by-unit"]["columns"] == [
        "Unidad",
        "Consultas",
        "Marcadas para revisión",
        "Proporción marcada",
    ]
    # Flag codes are data: the heading is translated, the codes are not.
    assert tables["flags"]["columns"] == ["Alerta", "Consultas", "Proporción", "Proporción, FY2025"]
    assert tables["flags"]["rows"][0][0] == "missing-case-number"
    assert tables["reviews"]["columns"] == ["Conclusión", "Revisiones"]
    assert tables["outcomes-by-offense"]["columns"] == [
        "Categoría de delito",
        "Pistas",
        "Arrestos",
        "Cargos presentados",
        "Casos esclarecidos",
        "Coincidencias falsas",
    ]
    assert tables["outcomes"]["columns"][:3] == ["Tecnología", "Pista", "Arresto"]
    assert tables["contracts"]["title"] == (
        "Contratos vigentes durante el período: compromisos y pagos (dólares estadounidenses)"
    )
    assert tables["contracts"]["rows"][0][:4] == [
        "LPR cameras, hosted",
        "Roadside Optics",
        "Lectores de matrículas",
        "Subvención",
    ]
    assert tables["spending-by-year"]["rows"][0][:2] == ["FY2026", "Lectores de matrículas"]
    assert tables["spending-by-year"]["note"] == (
        "Dólares estadounidenses pagados en cada año fiscal completo que abarca el período "
        "(FY2026), incluidos los pagos anteriores o posteriores a las fechas del período."
    )
    assert tables["vendor-exports"]["title"] == (
        "Búsquedas en las exportaciones de auditoría de los proveedores"
    )
    assert tables["vendor-exports"]["columns"] == [
        "Tecnología",
        "Búsquedas en exportaciones de proveedores",
        "Nunca registradas por el centro",
        "Proporción",
    ]
    assert tables["vendor-exports"]["note"].startswith("Búsquedas halladas en las exportaciones")
    assert tables["by-technology"]["note"].startswith("Una consulta es una búsqueda")
    assert tables["by-technology"]["note"].endswith(
        '"nuevo" cuando en el período anterior no hubo nada.'
    )


@pytest.mark.parametrize(
    ("findings", "english", "spanish"),
    [
        (
            {"compliant": 1234, "non-compliant": 5},
            "1,239 audit reviews were recorded in the period.",
            "Se registraron 1,239 revisiones de auditoría en el período.",
        ),
        (
            {"compliant": 1},
            "1 audit review was recorded in the period.",
            "Se registró 1 revisión de auditoría en el período.",
        ),
    ],
)
def test_counts_in_sentences_agree_with_their_number(
    fy2026, monkeypatch, findings, english, spanish
):
    monkeypatch.setattr(selectors, "reviews_by_finding", lambda period: findings)
    assert report_in("en")["compliance"]["facts"][1] == english
    assert report_in("es")["compliance"]["facts"][1] == spanish


def test_the_council_page_in_spanish(fy2026, users):
    spanish = Client(HTTP_ACCEPT_LANGUAGE="es")
    spanish.force_login(users["council"])
    html = unescape(spanish.get(COUNCIL_URL, FY2026).content.decode())
    for title in SPANISH_TITLES.values():
        assert f">{title}</h2>" in html
    for facts in SPANISH_FACTS.values():
        for fact in facts:
            assert f'<p class="fact">{fact}</p>' in html
    assert "<caption>Consultas por hora del día (hora local)</caption>" in html
    assert "How often, for what and by whom" not in html
    # Dates as Spanish writes them: the period, and the earlier one it is compared with.
    assert "desde 1 de julio de 2025 hasta 30 de junio de 2026" in html
    assert "(1 jul 2024 a 30 jun 2025)" in html

    english = Client(HTTP_ACCEPT_LANGUAGE="en")
    english.force_login(users["council"])
    html = unescape(english.get(COUNCIL_URL, FY2026).content.decode())
    for title in ENGLISH_TITLES.values():
        assert f">{title}</h2>" in html
    assert "from July 1, 2025 to June 30, 2026" in html
    assert "(Jul 1, 2024 to Jun 30, 2025)" in html
    for facts in ENGLISH_FACTS.values():
        for fact in facts:
            assert f'<p class="fact">{fact}</p>' in html


def annual_in(language: str) -> dict:
    with translation.override(language):
        sections = annual_report(Technology.objects.get(slug=LPR), 2026)
        return {
            s.id: (
                s.title,
                s.facts,
                {t.id: (t.title, [str(c) for c in t.columns]) for t in s.tables},
            )
            for s in sections
        }


def test_the_annual_report_in_spanish_and_in_english(fy2026):
    spanish, english = annual_in("es"), annual_in("en")
    assert {key: s[0] for key, s in spanish.items()} == {
        "use": "Cómo se usó",
        "sharing": "Intercambio con otras agencias",
        "audit": "Resultados de auditoría e infracciones de la política",
        "outcomes": "Resultados",
        "cost": "Costo total y financiamiento",
    }
    # FY2026's two plate searches, one without a case number; $12,345.67 paid for them.
    assert spanish["use"][1] == [
        "2 consultas en FY2026; 50.0% con número de caso; 0.0% con la aprobación de un "
        "supervisor registrada."
    ]
    assert spanish["cost"][1] == [
        "Incluida su parte de los costos del centro compartido, FY2026 costó $12,345.67 por 2 "
        "consultas ($6,172.84 por consulta)."
    ]
    assert spanish["sharing"][2]["agencies"] == (
        "Consultas por agencia solicitante",
        ["Agencia", "Tipo", "En nombre de otra agencia", "Consultas"],
    )
    assert spanish["outcomes"][2]["outcomes"] == (
        "Resultados informados",
        ["Resultado", "Cantidad"],
    )
    assert english["use"][1] == [
        "2 queries in FY2026; 50.0% with a case number; 0.0% with a supervisor's approval recorded."
    ]
    assert english["cost"][1] == [
        "Including its share of the shared center's costs, FY2026 cost $12,345.67 for 2 queries "
        "($6,172.84 per query)."
    ]
    assert (
        english["cost"][2]["funding"][0] == "Paid in FY2026 under License plate readers contracts"
    )


def test_the_annual_page_in_spanish_names_and_describes_the_technology_in_spanish(fy2026, users):
    technology = Technology.objects.get(slug=LPR)
    assert technology.name_es and technology.description_es and technology.policy_text_es
    spanish = Client(HTTP_ACCEPT_LANGUAGE="es")
    spanish.force_login(users["council"])
    html = unescape(spanish.get(f"{COUNCIL_URL}annual/{LPR}/", {"fy": "2026"}).content.decode())
    assert f"Informe anual de vigilancia: {technology.name_es}, FY2026</h1>" in html
    assert technology.description_es in html
    assert technology.policy_text_es in html
    # The council page links each annual report by the technology's Spanish name.
    council = unescape(spanish.get(COUNCIL_URL, FY2026).content.decode())
    assert f"{technology.name_es}, FY2026</a>" in council
