"""The command line reads one agency's records (SPEC §10): reports take `--agency CODE`,
required while the installation has several agencies; retention runs for each agency with its
own retention period, each archiving into a folder of its own."""
import datetime
import re

from sqlalchemy import select

from tests.conftest import demo_agency
from tests.test_binder import pages_of
from tests.test_isolation import cam_lam_traces

YEAR = datetime.date.today().year


def _ids(app, code, model):
    from app.extensions import db

    with demo_agency(app, code):
        return sorted(db.session.scalars(select(model.id)))


def test_a_report_names_its_agency_when_there_are_several(app, tmp_path):
    runner = app.test_cli_runner()
    for command in (["report", "tickets", "--year", str(YEAR)], ["report", "annual", "--year", str(YEAR)],
                    ["report", "objectives", "--year", str(YEAR)], ["report", "review", "--id", "1"]):
        result = runner.invoke(args=["qms", *command, "--out", str(tmp_path / "x.pdf")])
        assert result.exit_code == 2, result.output
        assert "Hệ thống có 2 cơ quan (CAMHIEP, CAMLAM): hãy chọn một bằng --agency MÃ." in result.output
        unknown = runner.invoke(args=["qms", *command, "--agency", "KHONGCO", "--out", str(tmp_path / "x.pdf")])
        assert unknown.exit_code == 1 and "Không có cơ quan mã KHONGCO" in unknown.output
        assert "Traceback" not in unknown.output
    assert not (tmp_path / "x.pdf").exists()
    assert "--agency" in runner.invoke(args=["qms", "report", "tickets", "--help"]).output


def test_the_communes_binder_holds_only_its_tickets(app, tmp_path):
    from app.tickets.models import Ticket

    camlam = {"tickets": _ids(app, "CAMLAM", Ticket), "ncs": [], "plans": [], "reviews": []}
    out = tmp_path / "xa.pdf"
    result = app.test_cli_runner().invoke(args=["qms", "report", "tickets", "--agency", "CAMHIEP",
                                                "--year", str(YEAR), "--out", str(out)])
    assert result.exit_code == 0, result.output
    count = int(re.search(r"gồm (\d+) phiếu", result.output).group(1))
    assert count == len(_ids(app, "CAMHIEP", Ticket))
    text = " ".join("\n".join(pages_of(out.read_bytes())).split())
    assert "ỦY BAN NHÂN DÂN XÃ CAM HIỆP" in text and f"Số phiếu: 001/{YEAR}" in text
    assert not cam_lam_traces(text, camlam)


def test_another_agencys_review_is_not_found_by_the_commune(app, tmp_path):
    from app.reviews.models import Review

    out = tmp_path / "bb.pdf"
    runner = app.test_cli_runner()
    foreign = runner.invoke(args=["qms", "report", "review", "--agency", "CAMHIEP",
                                  "--id", str(_ids(app, "CAMLAM", Review)[0]), "--out", str(out)])
    assert foreign.exit_code == 1 and "Không tìm thấy" in foreign.output and not out.exists()
    own = runner.invoke(args=["qms", "report", "review", "--agency", "CAMHIEP",
                              "--id", str(_ids(app, "CAMHIEP", Review)[0]), "--out", str(out)])
    assert own.exit_code == 0, own.output
    text = " ".join("\n".join(pages_of(out.read_bytes())).split())
    assert "XÃ CAM HIỆP" in text and "HUYỆN CAM LÂM" not in text


def test_the_communes_annual_report_and_plan(app, tmp_path):
    runner = app.test_cli_runner()
    for command in (["annual", "--year", str(YEAR)], ["objectives", "--year", str(YEAR), "--document", "plan"]):
        out = tmp_path / f"{command[0]}.pdf"
        result = runner.invoke(args=["qms", "report", command[0], "--agency", "CAMHIEP", *command[1:],
                                     "--out", str(out)])
        assert result.exit_code == 0, result.output
        text = " ".join("\n".join(pages_of(out.read_bytes())).split())
        assert "XÃ CAM HIỆP" in text and "HUYỆN CAM LÂM" not in text


def test_retention_runs_per_agency_with_its_own_period(app, tmp_path):
    """Cam Hiệp keeps its records 1 year, Cam Lâm 3: a ticket of Cam Hiệp closed two years ago
    is past retention in Cam Hiệp only, and its archive goes to the CAMHIEP folder."""
    from app.extensions import db
    from app.organisation.services import current_agency
    from app.tickets import demo
    from app.tickets.models import Ticket

    two_years_ago = datetime.date.today().replace(year=YEAR - 2, day=1)
    with demo_agency(app, "CAMHIEP"):
        current_agency().retention_years = 1
        ticket = demo._walk(demo._new_ticket(demo._user("xa.canbo"), "KT", "preventive", "other",
                                             "Phiếu cũ của xã cần lưu trữ", 800),
                            demo._steps(demo.CAM_HIEP, "KT", "decline"))
        ticket.closed_on = two_years_ago
        db.session.commit()
        ticket_id, number = ticket.id, ticket.display_number
    try:
        runner = app.test_cli_runner()
        listed = runner.invoke(args=["qms", "retention", "--list"]).output
        camhiep, camlam = listed.split("[CAMLAM]")[0], listed.split("[CAMLAM]")[1]
        assert "[CAMHIEP] ỦY BAN NHÂN DÂN XÃ CAM HIỆP — thời gian lưu 1 năm" in camhiep and number in camhiep
        assert "thời gian lưu 3 năm" in camlam and number not in camlam
        only = runner.invoke(args=["qms", "retention", "--agency", "CAMLAM", "--list"]).output
        assert "[CAMHIEP]" not in only and number not in only
        archived = runner.invoke(args=["qms", "retention", "--agency", "CAMHIEP", "--archive",
                                       "--out", str(tmp_path)])
        assert archived.exit_code == 0, archived.output
        assert [f.name for f in (tmp_path / "CAMHIEP").iterdir()] == [f"phieu-{YEAR}-{ticket.number:03d}-id{ticket_id}"]
        assert not (tmp_path / "CAMLAM").exists()
        with demo_agency(app, "CAMHIEP"):
            assert db.session.get(Ticket, ticket_id) is None
    finally:
        with demo_agency(app, "CAMHIEP"):
            current_agency().retention_years = 3
            db.session.commit()
