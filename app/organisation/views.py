from flask_babel import gettext, lazy_gettext as _l
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
from wtforms import StringField
from wtforms.validators import Length, NumberRange, Optional, ValidationError

from app.organisation import agencies
from app.organisation.models import Agency, Unit
from app.ui import QmsInterface, QmsModelView


# The lines of an agency, as its administrator (settings) and the platform admin (agencies) see them.
LINE_LABELS = {
    "agency_name": _l("Agency name"),
    "parent_body": _l("Parent body"),
    "place_name": _l("Place name for date lines"),
    "steering_committee": _l("Steering committee"),
    "procedure_code": _l("Procedure code"),
    "procedure_issue": _l("Procedure issue"),
    "procedure_date": _l("Procedure issue date"),
    "retention_years": _l("Record retention (years)"),
    "recurrence_threshold": _l("Recurrence threshold"),
    "report_interval_days": _l("Progress report interval (days)"),
    "max_upload_mb": _l("Largest evidence file (MB)"),
    "email": _l("Agency e-mail (printed in its digital signature)"),
    "tsa_url": _l("Timestamp authority (optional)"),
}


def _procedure_date(form, field) -> None:
    if not agencies.is_procedure_date(field.data):
        raise ValidationError(gettext("Enter a date as dd/mm/yyyy, e.g. 28/02/2022."))


def _agency_line(form, field) -> None:
    """The rule the platform's agency form applies to the same line (agencies.line_errors)."""
    problem = agencies.line_errors({"agency_name": "-", field.name: field.data}).get(field.name)
    if problem:
        raise ValidationError(problem)


class AgencySettingsView(QmsModelView):
    """The agency's own settings (its row only, by the agency scope): edited, never added or deleted."""

    datamodel = QmsInterface(Agency)
    route_base = "/settings"
    base_permissions = ["can_list", "can_show", "can_edit"]
    list_title = _l("Agency settings")
    show_title = _l("Agency settings")
    edit_title = _l("Edit agency settings")
    label_columns = dict(LINE_LABELS)
    description_columns = {
        "recurrence_threshold": _l(
            "A corrective action is proposed when the same nonconformity is recorded "
            "at the same unit more than this many times in a row (5.2.2)."
        ),
        "report_interval_days": _l("Long actions report their progress at this interval (5.5)."),
    }
    list_columns = ["agency_name", "place_name", "procedure_code", "procedure_issue"]
    edit_columns = list(label_columns)
    show_columns = list(label_columns)
    search_columns = ["agency_name"]
    # Optional lines: the columns are NOT NULL (empty string when unset), which FAB would make required.
    edit_form_extra_fields = {
        name: StringField(LINE_LABELS[name], validators=[Optional(), Length(max=length), _agency_line],
                          widget=BS3TextFieldWidget(),
                          filters=[lambda value: (value or "").strip()])
        for name, length in (("email", 200), ("tsa_url", 300))
    }
    show_template = "agency_settings_show.html"
    list_template = "agency_settings_list.html"
    validators_columns = {
        **{name: [NumberRange(min=1, max=100, message=_l("Enter a whole number from 1 to 100."))]
           for name in agencies.NUMBERS},
        "procedure_date": [_procedure_date],
    }

    def render_template(self, template, **kwargs):
        """Every page of the settings also says with which certificate official copies are signed."""
        from app.official import services
        from app.organisation.services import current_agency

        agency = current_agency()
        kwargs.setdefault("agency_certificate", services.active_credential())
        kwargs.setdefault("agency_code", agency.code if agency is not None else None)
        return super().render_template(template, **kwargs)


class UnitModelView(QmsModelView):
    datamodel = QmsInterface(Unit, eager=("head",))
    list_title = _l("Units")
    show_title = _l("Unit")
    add_title = _l("Add unit")
    edit_title = _l("Edit unit")
    label_columns = {
        "code": _l("Code"),
        "name": _l("Unit name"),
        "head": _l("Unit head"),
        "in_qms_scope": _l("In QMS scope"),
        "active": _l("Active"),
    }
    list_columns = ["code", "name", "head", "in_qms_scope", "active"]
    add_columns = edit_columns = show_columns = list_columns
    search_columns = ["code", "name", "in_qms_scope", "active"]
    order_columns = ["code", "name"]
    base_order = ("code", "asc")
