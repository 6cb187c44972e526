"""Settings per agency: each agency's documents print its own lines, and its own numbers drive
its rules (uploads, recurrence, progress reports, retention), whatever the other agency set."""
import datetime
import io
import subprocess

import pytest

from app.extensions import db
from app.organisation.models import Agency, QmsUser, Unit
from app.tenancy import ALL, agency_named, agency_scope
from app.tickets import files, services as tickets
from app.tickets.models import NcCategory, Nonconformity, ProgressReport, Ticket
from tests.conftest import csrf_token, demo_agency

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

# What UBND xã Cam Hiệp's admin set, each line unlike UBND huyện Cam Lâm's.
COMMUNE = {
    "agency_name": "ỦY BAN NHÂN DÂN XÃ CAM HIỆP",
    "parent_body": "ỦY BAN NHÂN DÂN TỈNH KHÁNH HÒA MỚI",
    "place_name": "Cam Hiệp",
    "steering_committee": "TỔ CÔNG TÁC ISO XÃ",
    "procedure_code": "QT.XA.07",
    "procedure_issue": "05",
    "procedure_date": "15/07/2025",
    "retention_years": 5,
    "recurrence_threshold": 1,
    "report_interval_days": 10,
    "max_upload_mb": 1,
}
# Cam Lâm's lines no Cam Hiệp document may print.
DISTRICT = ["HUYỆN CAM LÂM", "Cam Lâm,", "BAN CHỈ ĐẠO ISO", "QT.CTCL", "ỦY BAN NHÂN DÂN TỈNH KHÁNH HÒA\n"]


@pytest.fixture
def commune(app):
    """UBND xã Cam Hiệp with the lines and numbers of COMMUNE; UBND huyện Cam Lâm keeps its own."""
    with app.app_context(), agency_scope(ALL):
        lam = db.session.query(Agency).filter_by(code="CAMLAM").one()
        assert {name: getattr(lam, name) for name in COMMUNE} != COMMUNE
        hiep = db.session.query(Agency).filter_by(code="CAMHIEP").one()
        kept = {name: getattr(hiep, name) for name in COMMUNE}
        for name, value in COMMUNE.items():
            setattr(hiep, name, value)
        db.session.commit()
    yield
    with app.app_context(), agency_scope(ALL):
        hiep = db.session.query(Agency).filter_by(code="CAMHIEP").one()
        for name, value in kept.items():
            setattr(hiep, name, value)
        db.session.commit()


def _text(response) -> str:
    assert response.status_code == 200 and response.data.startswith(b"%PDF"), response.status_code
    return subprocess.run(["pdftotext", "-", "-"], input=response.data, capture_output=True,
                          check=True).stdout.decode()


def _person(username):
    return db.session.query(QmsUser).filter_by(username=username).one()


def _ticket(creator, unit_code, state="draft", **fields) -> int:
    """A ticket of the current agency for one of its units, opened by `creator`."""
    person = _person(creator)
    unit = db.session.query(Unit).filter_by(code=unit_code).one()
    ticket = Ticket(kind="corrective", source="nonconforming_activity", requesting_unit_id=unit.id,
                    description=fields.pop("description", "Hồ sơ một cửa trả trễ hạn"),
                    requested_on=datetime.date.today(), requester_id=person.id, created_by_id=person.id,
                    state=state, **fields)
    db.session.add(ticket)
    db.session.commit()
    return ticket.id


def _lines_of_the_commune(text: str) -> None:
    assert "XÃ CAM HIỆP" in text and "Cam Hiệp, ngày" in text
    assert [line for line in DISTRICT if line in text] == []


def test_each_agency_prints_its_own_lines(app, commune, client_as_user):
    from app.objectives import services as objectives
    from app.reviews import services as reviews

    with demo_agency(app, "CAMHIEP"):
        ticket_id = _ticket("xa.canbo", "KT")
        tickets.apply_transition(_person("xa.canbo"), ticket_id, "submit", {})
        plan = objectives.create_plan(_person("xa.thuky"), 2094, None)
        review = reviews.create_review(_person("xa.thuky"), "meeting", datetime.date(2094, 1, 1),
                                       datetime.date(2094, 12, 31))
        plan_id, review_id = plan.id, review.id
    client = client_as_user("xa.thuky")

    form = _text(client.get(f"/tickets/{ticket_id}/pdf"))  # BM.CTCL.01
    _lines_of_the_commune(form)
    from tests.test_binder import binder as made_binder

    binder = _text(made_binder(client, selected=1, ids=ticket_id))
    _lines_of_the_commune(binder)
    assert "Quy trình QT.XA.07" in binder and "05 năm" in binder and COMMUNE["parent_body"] in binder

    plan_pdf = _text(client.get(f"/objectives/{plan_id}/plan.pdf"))  # Phụ lục 3, the agency's own plan
    assert COMMUNE["parent_body"] in plan_pdf and "XÃ CAM HIỆP" in plan_pdf
    assert "HUYỆN CAM LÂM" not in plan_pdf and "Cam Lâm" not in plan_pdf

    minutes = _text(client.get(f"/reviews/{review_id}/minutes.pdf"))  # BM.CTCL.02
    assert "TỔ CÔNG TÁC ISO XÃ" in minutes and "UBND XÃ CAM HIỆP" in minutes
    assert "BAN CHỈ ĐẠO ISO" not in minutes and "CAM LÂM" not in minutes.upper()
    report = _text(client.get(f"/reviews/{review_id}/report.pdf"))
    assert "LÃNH ĐẠO TỔ CÔNG TÁC ISO XÃ" in report and "CAM LÂM" not in report.upper()

    home = client.get("/").text
    assert "QT.XA.07" in home and "15/07/2025" in home and "28/02/2022" not in home
    assert "QT.XA.07" not in client_as_user("chutich").get("/").text


def test_a_record_prints_its_own_agency_whatever_the_scope(app, commune):
    """A platform command (no agency scope) printing a Cam Hiệp record prints Cam Hiệp's lines
    and names Cam Hiệp's people."""
    from app.reviews import documents as review_documents, services as reviews
    from app.tickets.documents import ticket_pdf

    with demo_agency(app, "CAMHIEP"):
        ticket_id = _ticket("xa.canbo", "KT")
        review_id = reviews.create_review(_person("xa.thuky"), "report", datetime.date(2095, 1, 1),
                                          datetime.date(2095, 6, 30)).id
    with app.app_context(), agency_scope(ALL):
        form = subprocess.run(["pdftotext", "-", "-"], input=ticket_pdf(db.session.get(Ticket, ticket_id)),
                              capture_output=True, check=True).stdout.decode()
        _lines_of_the_commune(form)
        from app.reviews.models import Review

        data, _ = review_documents.review_pdf(db.session.get(Review, review_id), "notice")
        notice = subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True).stdout.decode()
        _lines_of_the_commune(notice)
        assert "lãnh đạo UBND xã Cam Hiệp" in " ".join(notice.split()) and "huyện" not in notice.lower()
        assert "Thành viên Tổ công tác ISO xã" in notice or "Thành viên TỔ CÔNG TÁC ISO XÃ" in notice


def test_uploads_are_capped_by_each_agencys_own_limit(app, commune, client_as_user):
    big = PDF + b"0" * (1024 * 1024 + 10)  # over Cam Hiệp's 1 MB, under Cam Lâm's 10 MB
    with demo_agency(app, "CAMHIEP"):
        with pytest.raises(files.UploadRefused, match="1 MB"):
            files.check_upload("lon.pdf", big)
        hiep_ticket = _ticket("xa.canbo", "KT")
    with demo_agency(app, "CAMLAM"):
        assert files.check_upload("lon.pdf", big) == ("lon.pdf", "application/pdf")

    client = client_as_user("xa.canbo")
    token = csrf_token(client.get("/tickets/add").text)
    page = client.post(f"/tickets/{hiep_ticket}/files", data={
        "csrf_token": token, "files": [(io.BytesIO(big), "lon.pdf")]},
        content_type="multipart/form-data", follow_redirects=True)
    assert "lớn hơn 1 MB" in page.text


def test_recurrence_counts_by_each_agencys_own_threshold(app, commune):
    """Two NCs of one category at one unit: over Cam Hiệp's threshold (1), not Cam Lâm's (3)."""
    def two_ncs(unit_code, recorder):
        category = NcCategory(name="Niêm yết TTHC không đúng quy định", active=True)
        db.session.add(category)
        db.session.flush()
        unit = db.session.query(Unit).filter_by(code=unit_code).one()
        for days in (20, 10):
            db.session.add(Nonconformity(
                unit_id=unit.id, category_id=category.id, source="internal_audit",
                detected_on=datetime.date.today() - datetime.timedelta(days=days),
                description=f"Niêm yết thiếu ({days})", created_by_id=_person(recorder).id))
        db.session.commit()
        return category.id

    def series(category_id):
        return [s for s in tickets.recurring_series() if s["category"].id == category_id]

    with demo_agency(app, "CAMHIEP"):
        hiep = two_ncs("KT", "xa.truongphong")
        assert len(series(hiep)) == 1
    with demo_agency(app, "CAMLAM"):
        lam = two_ncs("KTHT", "truongphong.ktht")
        assert series(lam) == []


def test_progress_reports_and_retention_follow_each_agencys_own_numbers(app, commune):
    """A ticket approved 20 days ago, due in 20, last reported 15 days ago: late for Cam Hiệp
    (a report every 10 days), not for Cam Lâm (every 30). Retention: 5 years against 3."""
    today = datetime.date.today()

    def implementing(creator, unit_code):
        ticket_id = _ticket(creator, unit_code, state="implementation", approved_on=today - datetime.timedelta(20),
                            due_date=today + datetime.timedelta(20))
        db.session.add(ProgressReport(ticket_id=ticket_id, text="Đang thực hiện",
                                      reported_on=today - datetime.timedelta(15),
                                      author_id=_person(creator).id))
        db.session.commit()
        return ticket_id

    from app.records import services as records

    with demo_agency(app, "CAMHIEP"):
        hiep = implementing("xa.canbo", "KT")
        assert hiep in tickets.missing_report_ids()
        assert tickets.report_required(db.session.get(Ticket, hiep), 30)
        assert records.retention_limit(datetime.date(2030, 6, 1)) == datetime.date(2025, 6, 1)
    with demo_agency(app, "CAMLAM"):
        lam = implementing("canbo.ktht", "KTHT")
        assert lam not in tickets.missing_report_ids()
        assert records.retention_limit(datetime.date(2030, 6, 1)) == datetime.date(2027, 6, 1)
    with app.app_context(), agency_named("CAMHIEP"):
        assert hiep in tickets.missing_report_ids() and lam not in tickets.missing_report_ids()


def _closed(creator, unit_code, years_ago, numbered_in):
    """A closed ticket of the current agency, numbered in a year no other test numbers in,
    closed `years_ago` years ago; its number."""
    from app.tickets.numbering import give_number

    closed_on = datetime.date.today().replace(year=datetime.date.today().year - years_ago)
    ticket = db.session.get(Ticket, _ticket(creator, unit_code, state="closed", closed_on=closed_on,
                                            description="Phiếu cũ của cơ quan"))
    give_number(ticket, datetime.date(numbered_in, 1, 1))
    db.session.commit()
    return ticket.display_number


def test_the_retention_command_keeps_each_agencys_records_for_its_own_years(app, commune):
    """`flask qms retention --list` run for the whole platform: a Cam Hiệp ticket closed four
    years ago is kept (5 years there), a Cam Lâm one is past retention (3 years)."""
    with demo_agency(app, "CAMHIEP"):
        hiep_kept, hiep_past = _closed("xa.canbo", "KT", 4, 1931), _closed("xa.canbo", "KT", 6, 1932)
    with demo_agency(app, "CAMLAM"):
        lam_past = _closed("canbo.ktht", "KTHT", 4, 1933)
    output = app.test_cli_runner().invoke(args=["qms", "retention", "--list"], catch_exceptions=False).output
    sections = dict(part.split("\n", 1) for part in output.split("[")[1:])
    [hiep] = [text for title, text in sections.items() if title.startswith("CAMHIEP")]
    [lam] = [text for title, text in sections.items() if title.startswith("CAMLAM")]
    assert hiep_past in hiep and hiep_kept not in hiep
    assert lam_past in lam and hiep_kept not in lam
