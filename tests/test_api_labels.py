"""Every REST API says its column labels in Vietnamese (issue 14): `_info`'s add and edit
fields, the list's and a record's `label_columns`, and no description is the translation
catalogue's header (FAB's gettext("") for a column without one)."""
import re

import prison
from flask_appbuilder.api import BaseApi, ModelRestApi

# the few labels that are the same words in Vietnamese
ASCII_LABELS = {"ID", "SHA-256", "URL", "Email"}
CATALOGUE_HEADER = ("Project-Id-Version", "Content-Type:", "MIME-Version")
READERS = ("admin", "canbo.ktht", "so.khcn")


def _model_apis(app):
    return [view for view in app.appbuilder.baseviews if isinstance(view, ModelRestApi)]


def _english(column: str, label) -> bool:
    label = str(label or "").strip()
    if not label or label in (column, BaseApi._prettify_column(column), column.title()):
        return True
    return label.isascii() and label not in ASCII_LABELS


def _header(text) -> bool:
    return any(marker in str(text or "") for marker in CATALOGUE_HEADER)


def _labels_of(view, prefix, labels: dict, columns, faults):
    for column in columns:
        label = labels.get(column)
        if _english(column, label):
            faults.append(f"{prefix} {column}: {label!r}")


def test_every_api_labels_its_columns_in_vietnamese(app, api):
    apis = _model_apis(app)
    assert {view.resource_name for view in apis} >= {"tickets", "nonconformities", "objective-plans", "reviews"}
    clients = {}
    faults = []
    for view in apis:
        base = f"/api/v1/{view.resource_name}"
        for username in READERS:
            client = clients.setdefault(username, api(username))
            client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "vi"
            info = client.get(f"{base}/_info")
            if info.status_code == 200:
                break
        else:
            faults.append(f"{base}: nobody of {READERS} may read it")
            continue
        for key in ("add_columns", "edit_columns"):
            for field in info.json.get(key, []):
                if _english(field["name"], field["label"]):
                    faults.append(f"{base}/_info {key} {field['name']}: {field['label']!r}")
                if _header(field.get("description")) or _header(field.get("label")):
                    faults.append(f"{base}/_info {key} {field['name']}: the catalogue header")
        keys = prison.dumps({"keys": ["label_columns", "list_columns", "description_columns"]})
        listed = client.get(f"{base}/?q={keys}")
        assert listed.status_code == 200, (base, listed.text)
        _labels_of(view, f"{base}/ list", listed.json["label_columns"], view.list_columns, faults)
        for column, text in listed.json.get("description_columns", {}).items():
            if _header(text):
                faults.append(f"{base}/ list description {column}: the catalogue header")
        page = client.get(f"{base}/?q={prison.dumps({'page_size': 1})}")
        if page.json.get("ids"):
            keys = prison.dumps({"keys": ["label_columns", "show_columns", "description_columns"]})
            shown = client.get(f"{base}/{page.json['ids'][0]}?q={keys}")
            assert shown.status_code == 200, (base, shown.text)
            _labels_of(view, f"{base}/<id> show", shown.json["label_columns"], view.show_columns, faults)
            for column, text in shown.json.get("description_columns", {}).items():
                if _header(text):
                    faults.append(f"{base}/<id> show description {column}: the catalogue header")
    assert not faults, "\n".join(faults)


def test_the_check_knows_english():
    assert _english("unit.name", "Unit.Name") and _english("unit.name", "Unit Name")
    assert _english("due_date", "Due Date") and _english("state", None)
    assert not _english("unit.name", "Đơn vị") and not _english("id", "ID")
    assert re.sub("[._]", " ", "unit.name").title() == "Unit Name"
