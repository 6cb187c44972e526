"""The records binder (issue 11 item 7): many BM.CTCL.01 in one PDF, read back page by page.
Asked for on the ticket list, it is made by a job on the queue (issue 14 item 11) and downloaded
from the user's own page "Tệp đã tạo"."""
import re
import subprocess

import pytest
from tests.conftest import demo_agency

FORM_TITLE = "PHIẾU YÊU CẦU HÀNH ĐỘNG KHẮC PHỤC/CẢI TIẾN"


def pages_of(data: bytes) -> list[str]:
    """The text of each page, as pdftotext -layout reads it."""
    assert data.startswith(b"%PDF"), data[:300]
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True,
                          check=True).stdout.decode("utf-8")
    return text.split("\f")[:-1]


def folded(text: str) -> str:
    """Text with its spacing and line breaks folded (labels wrap in the contents' cells)."""
    return " ".join(text.split())


def in_order(words: list[str], wanted: list[str], window: int = 40) -> bool:
    """The wanted words in order within a few lines: a label wrapped in its cell is read back
    interleaved with the cells beside it."""
    for start, word in enumerate(words):
        if word == wanted[0]:
            rest = iter(words[start + 1:start + window])
            if all(any(w == want for w in rest) for want in wanted[1:]):
                return True
    return False


def first_line(page: str) -> str:
    return next((line.strip() for line in page.splitlines() if line.strip()), "")


def contents_rows(pages: list[str]) -> list[tuple[int, str, int]]:
    """(row, ticket number, page) of each row of the contents: the pages after the cover that
    carry the contents' heading row."""
    rows = []
    for page in pages[1:]:
        if not re.search(r"STT\s+Số phiếu\s+Nội dung\s+Trạng thái\s+Trang", page):
            break
        for line in page.splitlines():
            match = re.match(r"\s*(\d+)\s+(\d{3}/\d{4}|\(dự thảo\))\s+.*?\s(\d+)\s*$", line)
            if match:
                rows.append((int(match[1]), match[2], int(match[3])))
    return rows


def newest_file(client) -> tuple[int, str, str]:
    """(id, state, row's html) of the newest file on the user's page "Tệp đã tạo"."""
    page = client.get("/downloads/")
    assert page.status_code == 200 and ("Tệp đã tạo" in page.text or "Files made for me" in page.text)
    row = re.search(r'<tr class="generated-file state-(\w+)" id="file-(\d+)">(.*?)</tr>', page.text, re.S)
    assert row, page.text
    return int(row[2]), row[1], row[3]


def binder(client, **query):
    """The binder as its user gets it: asked for on the list, which sends them to their files,
    where (no queue: the job ran inline) it is ready at once; then downloaded. Any other answer
    (back to the list, a failed file's page) is returned as it is."""
    asked = client.get("/tickets/binder", query_string=query)
    if asked.status_code != 302 or not asked.headers["Location"].endswith("/downloads/"):
        return asked
    page = client.get(asked.headers["Location"])
    assert "đang được tạo" in page.text or "is being made" in page.text  # the flash (English screen too)
    file_id, state, _ = newest_file(client)
    if state != "ready":
        return page
    assert f'href="/downloads/{file_id}/file"' in page.text
    return client.get(f"/downloads/{file_id}/file")


@pytest.fixture(scope="module")
def thirty(app):
    """30 tickets of varied states and lengths: every fifth with a description long enough to
    take two or three pages, two drafts (no number yet)."""
    from app.extensions import db
    from app.organisation.models import QmsUser, Unit
    from app.tickets import services
    from app.tickets.models import Ticket

    with demo_agency(app):
        staff = db.session.query(QmsUser).filter_by(username="canbo.ktht").one()
        head = db.session.query(QmsUser).filter_by(username="truongphong.ktht").one()
        unit = db.session.query(Unit).filter_by(code="KTHT").one()
        ids = []
        for n in range(30):
            lines = 60 + 40 * (n % 3) if n % 5 == 0 else 1
            ticket = Ticket(
                kind="corrective", source="nonconforming_activity", requesting_unit_id=unit.id,
                description="\n".join(f"Tập hồ sơ {n}: dòng mô tả số {i} của phiếu." for i in range(lines)),
                requested_on=services.today(), requester_id=staff.id, created_by_id=staff.id, state="draft")
            db.session.add(ticket)
            db.session.flush()
            services.record_creation(staff, ticket)
            db.session.commit()
            if n not in (7, 19):
                services.apply_transition(staff, ticket.id, "submit", {})
            if n % 4 == 1:
                services.apply_transition(head, ticket.id, "decline", {"reason": "Không cần hành động"})
            ids.append(ticket.id)
        return ids


def test_binder_of_30_tickets_contents_point_at_the_forms(client_as, thirty, app):
    from app.extensions import db
    from app.tickets.models import Ticket

    response = binder(client_as("IsoSecretary"), selected=1, ids=thirty)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pages = pages_of(response.data)
    cover = pages[0]
    assert "ỦY BAN NHÂN DÂN HUYỆN CAM LÂM" in cover and "HỒ SƠ" in cover and FORM_TITLE in cover
    assert "Các phiếu được chọn trên danh sách" in cover
    assert re.search(r"Số phiếu:\s+30\b", cover)
    assert re.search(rf"Số trang:\s+{len(pages)} ", cover)

    with demo_agency(app):
        tickets = {t.id: t for t in db.session.query(Ticket).filter(Ticket.id.in_(thirty))}
        numbers = sorted(t.display_number for t in tickets.values() if t.number)
        expected = numbers + ["(dự thảo)"] * 2  # number order, drafts last
    rows = contents_rows(pages)
    assert [row for row, _, _ in rows] == list(range(1, 31))
    assert [number for _, number, _ in rows] == expected
    front = rows[0][2] - 1  # the cover and the contents pages (those with the heading row)
    assert front >= 3 and all("STT" in page for page in pages[1:front]) and "STT" not in pages[front]
    # the cover is the binder's page 1, unnumbered; the contents pages carry their page number
    assert not first_line(pages[0]).isdigit()
    assert [first_line(page) for page in pages[1:front]] == [str(n) for n in range(2, front + 1)]
    contents = "".join(pages[1:front])
    words = contents.split()
    for label in ("Không cần hành động (từ chối)", "Lãnh đạo đơn vị xem xét"):
        assert in_order(words, label.split()), label
    assert in_order(words, "Tập hồ sơ 5: dòng mô tả số 0 của phiếu.".split())  # the description begins the row

    starts = [page for _, _, page in rows] + [len(pages) + 1]
    for (row, number, start), end in zip(rows, starts[1:]):
        first = pages[start - 1]
        assert FORM_TITLE in first, (row, number)
        assert f"Số phiếu: {number if number != '(dự thảo)' else '.....'}" in first
        assert first_line(first) != "1" and not first_line(first).isdigit(), (row, first[:200])
        for offset, page in enumerate(pages[start:end - 1], start=2):  # the form's own page numbers
            assert first_line(page) == str(offset), (row, offset)
            assert FORM_TITLE not in page
    lengths = [end - start for (_, _, start), end in zip(rows, starts[1:])]
    assert max(lengths) >= min(lengths) + 2  # the long forms did take several pages


def test_each_form_prints_what_it_prints_alone(client_as, thirty):
    """The binder's form is the single form: the same lines on the same pages, page numbers
    included (the layout may move a line by a point, which changes only pdftotext's blank lines).
    The single form of an open ticket is a preview, marked as such at the foot of each page."""
    from app.official.services import PREVIEW_MARK

    client = client_as("IsoSecretary")
    pages = pages_of(binder(client, selected=1, ids=thirty[:6]).data)
    alone = pages_of(client.get(f"/tickets/{thirty[5]}/pdf").data)
    start = contents_rows(pages)[5][2]

    def lines(page):
        # spacing apart: pdftotext spreads a page's columns by everything on it, the mark included
        return [" ".join(line.split()) for line in page.splitlines() if line.strip() and line.strip() != PREVIEW_MARK]

    assert len(alone) >= 2 and [lines(p) for p in pages[start - 1:]] == [lines(p) for p in alone]


def test_one_wkhtmltopdf_run_for_the_forms(client_as, thirty, monkeypatch):
    """The forms are made in one run whatever their number (plus the page-number stamps and the
    cover and contents): 5 and 30 forms take the same number of runs."""
    import reports

    runs = []
    real = reports._wkhtmltopdf
    monkeypatch.setattr(reports, "_wkhtmltopdf", lambda *args: runs.append(1) or real(*args))
    client = client_as("IsoSecretary")
    assert binder(client, selected=1, ids=thirty[:5]).status_code == 200
    five, runs[:] = len(runs), []
    assert binder(client, selected=1, ids=thirty).status_code == 200
    assert len(runs) == five <= 4


def test_everything_the_filter_shows_and_nothing_the_user_may_not_see(client_as, make_ticket):
    hidden = make_ticket(creator="canbo.tnmt", unit_code="TNMT", state="unit_review",
                         description="Phiếu của phòng TNMT, không phải của KTHT")
    mine = make_ticket(state="unit_review", description="Phiếu của phòng KTHT trong tập")
    staff = client_as("Staff")
    listed = staff.get("/tickets/list/", query_string={"state": "unit_review"}).text
    count = int(re.search(r'class="ticket-count">(\d+)<', listed)[1])
    assert "/tickets/binder?state=unit_review" in listed and "In cả" in listed

    text = "\n".join(pages_of(binder(staff, state="unit_review").data))
    assert re.search(rf"Số phiếu:\s+{count}\b", text)
    assert "Tất cả phiếu: trạng thái “Lãnh đạo đơn vị xem xét”" in folded(text)
    assert f"Số phiếu: {mine.display_number}" in text and "Phiếu của phòng KTHT trong tập" in text
    assert hidden.display_number not in text and "Phiếu của phòng TNMT" not in text

    # chosen rows: only those the user sees, whatever ids are sent
    alone = pages_of(binder(staff, selected=1, ids=[mine.id, hidden.id, 2**40, -3]).data)
    assert re.search(r"Số phiếu:\s+1\b", alone[0])
    assert "Phiếu của phòng TNMT" not in "\n".join(alone)
    everything = "\n".join(pages_of(binder(client_as("IsoSecretary"), state="unit_review").data))
    assert "Phiếu của phòng TNMT" in everything


def test_an_empty_selection_says_so(client_as):
    client = client_as("Staff")
    for query, message in (({"selected": 1}, "Hãy chọn ít nhất một phiếu để in."),
                           ({"q": "không-có-phiếu-nào-như-thế", "state": "closed"},
                            "Không có phiếu nào theo bộ lọc này")):
        response = binder(client, **query)
        assert response.status_code == 302 and "/tickets/list/" in response.headers["Location"]
        page = client.get(response.headers["Location"])
        assert message in page.text and "Traceback" not in page.text
    assert "q=kh" in binder(client, q="không-có-phiếu-nào-như-thế").headers["Location"]  # back to the same list


def test_printed_in_vietnamese_from_the_english_interface(client_as, thirty):
    client = client_as("IsoLeader")
    client.get("/lang/en")
    page = client.get("/tickets/list/").text
    assert "Print the selected tickets (PDF)" in page
    text = "\n".join(pages_of(binder(client, selected=1, ids=thirty[:3]).data))
    assert "Lãnh đạo đơn vị xem xét" in text and "MỤC LỤC" in text
    assert "Unit head review" not in text


def test_the_list_offers_the_print_buttons(client_as):
    page = client_as("Staff").get("/tickets/list/").text
    assert 'name="ids"' in page and "In các phiếu đã chọn (PDF)" in page
    assert 'action="/tickets/binder"' in page


def test_command_line_binder(app, tmp_path, thirty):
    from app.extensions import db
    from app.tickets import services
    from app.tickets.binder import tickets_for

    runner = app.test_cli_runner()
    year = services.today().year
    help_text = runner.invoke(args=["qms", "report", "tickets", "--help"]).output
    assert "không cần tài khoản" in help_text and "mọi phiếu của cơ quan" in help_text

    out = tmp_path / "binder.pdf"
    result = runner.invoke(args=["qms", "report", "tickets", "--agency", "CAMLAM", "--year", str(year),
                                 "--state", "declined",
                                 "--unit", "KTHT", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with demo_agency(app):
        unit_id = db.session.execute(db.text("select id from unit where code = 'KTHT'")).scalar()
        expected = tickets_for(None, {"year": str(year), "state": "declined", "unit": str(unit_id)})
        count = len(expected)
    assert count >= 7 and f"{count} phiếu" in result.output
    pages = pages_of(out.read_bytes())
    assert f"Năm {year}" in pages[0] and re.search(rf"Số phiếu:\s+{count}\b", pages[0])
    assert (f"Tất cả phiếu: năm {year}; trạng thái “Không cần hành động (từ chối)”; "
            "đơn vị đề nghị hoặc thực hiện: Phòng Kinh tế và Hạ tầng") in " ".join(pages[0].split())
    assert len(contents_rows(pages)) == count

    unknown = runner.invoke(args=["qms", "report", "tickets", "--agency", "CAMLAM", "--year", str(year),
                                  "--unit", "KHONG", "--out", str(tmp_path / "x.pdf")])
    assert unknown.exit_code == 1 and "Không có đơn vị mã KHONG" in unknown.output
    empty = runner.invoke(args=["qms", "report", "tickets", "--agency", "CAMLAM", "--year", "1999",
                                "--out", str(tmp_path / "y.pdf")])
    assert empty.exit_code == 1 and "Không có phiếu nào" in empty.output and "Traceback" not in empty.output
    assert not (tmp_path / "y.pdf").exists()


def test_too_many_forms_or_no_pdf_engine_say_so(client_as, thirty, monkeypatch, tmp_path):
    from app.tickets import binder as binder_module

    client = client_as("IsoSecretary")
    monkeypatch.setattr(binder_module, "WEB_LIMIT", 5)
    response = binder(client, selected=1, ids=thirty[:6])
    assert response.status_code == 302
    assert "6 phiếu là quá nhiều" in client.get(response.headers["Location"]).text

    monkeypatch.setenv("PATH", str(tmp_path))
    page = binder(client, selected=1, ids=thirty[:2])
    assert page.status_code == 200 and "Traceback" not in page.text
    file_id, state, row = newest_file(client)
    assert state == "failed" and "lỗi" in row and "apt-get install" in row and "/file" not in row
    assert client.get(f"/downloads/{file_id}/file").status_code == 404
    notice = client.get("/notifications/").text
    assert "Không tạo được tệp HoSo-BM.CTCL.01-" in notice and "apt-get install" in notice


def test_a_made_file_is_its_user_s_own(client_as, client_as_user, thirty, app):
    owner = client_as("IsoSecretary")
    response = binder(owner, selected=1, ids=thirty[:2])
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    file_id, state, row = newest_file(owner)
    assert state == "ready" and "sẵn sàng" in row and "KB" in row and "HoSo-BM.CTCL.01-" in row
    notice = owner.get("/notifications/").text
    assert "Tệp HoSo-BM.CTCL.01-" in notice and "đã sẵn sàng để tải về" in notice
    assert f'href="/downloads/#file-{file_id}"' in notice
    assert "Tệp đã tạo" in owner.get("/tickets/list/").text  # in the user's menu

    for other in (client_as("IsoLeader"), client_as_user("xa.admin")):  # same agency, another agency
        assert other.get(f"/downloads/{file_id}/file").status_code == 404
        assert f"file-{file_id}" not in other.get("/downloads/").text
    assert owner.get(f"/downloads/{file_id}/file").status_code == 200


def test_the_inspector_prints_a_binder_of_the_inspected_agency(client_as_user, thirty):
    inspector = client_as_user("so.khcn")
    assert inspector.get("/compliance/inspect/CAMLAM?next=/tickets/list/").status_code == 302
    pages = pages_of(binder(inspector, selected=1, ids=thirty[:1]).data)
    assert re.search(r"Số phiếu:\s+1\b", pages[0])
    file_id, state, _ = newest_file(inspector)
    assert state == "ready"
    assert inspector.get("/compliance/inspect/CAMHIEP?next=/tickets/list/").status_code == 302
    assert inspector.get(f"/downloads/{file_id}/file").status_code == 404  # Cam Lâm's file, out of sight


def test_with_a_queue_the_worker_makes_the_binder_not_the_request(client_as, thirty, job_queue, monkeypatch):
    import reports
    from tests.conftest import work

    runs = []
    real = reports._wkhtmltopdf
    monkeypatch.setattr(reports, "_wkhtmltopdf", lambda *args: runs.append(1) or real(*args))
    client = client_as("IsoSecretary")
    asked = client.get("/tickets/binder", query_string={"selected": 1, "ids": thirty[:3]})
    assert asked.status_code == 302 and asked.headers["Location"].endswith("/downloads/")
    assert runs == [] and job_queue.count == 1  # nothing made in the request
    [job] = job_queue.jobs
    assert job.description == "app.tickets.binder.make" and job.retries_left == 5
    file_id, state, row = newest_file(client)
    assert state == "pending" and "đang tạo" in row
    assert client.get(f"/downloads/{file_id}/file").status_code == 404

    work(job_queue)
    assert runs
    assert newest_file(client)[:2] == (file_id, "ready")
    pages = pages_of(client.get(f"/downloads/{file_id}/file").data)
    assert re.search(r"Số phiếu:\s+3\b", pages[0]) and len(contents_rows(pages)) == 3
    assert "đã sẵn sàng để tải về" in client.get("/notifications/").text
