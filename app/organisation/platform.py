"""The platform admin's page: the agencies of the installation and their first administrator.

The platform admin works in no agency (scope NONE): they see the agencies themselves, never
an agency's records. The rules are in app/organisation/agencies.py.
"""
from flask import flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext, lazy_gettext as _l
from wtforms import PasswordField, StringField

from app.organisation import agencies
from app.organisation.views import LINE_LABELS
from app.ui import render_error


class AgencyLinesForm(DynamicForm):
    agency_name = StringField(LINE_LABELS["agency_name"])
    parent_body = StringField(LINE_LABELS["parent_body"])
    place_name = StringField(LINE_LABELS["place_name"], description=_l(
        "Leave empty to read it from the agency's name."))
    steering_committee = StringField(LINE_LABELS["steering_committee"])
    procedure_code = StringField(LINE_LABELS["procedure_code"])
    procedure_issue = StringField(LINE_LABELS["procedure_issue"])
    procedure_date = StringField(LINE_LABELS["procedure_date"])
    retention_years = StringField(LINE_LABELS["retention_years"])
    recurrence_threshold = StringField(LINE_LABELS["recurrence_threshold"])
    report_interval_days = StringField(LINE_LABELS["report_interval_days"])
    max_upload_mb = StringField(LINE_LABELS["max_upload_mb"])
    email = StringField(LINE_LABELS["email"])
    tsa_url = StringField(LINE_LABELS["tsa_url"])


class NewAgencyForm(AgencyLinesForm):
    code = StringField(_l("Agency code"), description=_l(
        "Capital letters and digits, e.g. CAMHIEP; used by the commands (--agency CODE); "
        "it cannot be changed later."))
    admin_username = StringField(_l("Administrator's user name"))
    admin_last_name = StringField(_l("Family and middle name"))
    admin_first_name = StringField(_l("Given name"))
    admin_email = StringField(_l("Email"))
    admin_password = PasswordField(_l("Password"))
    admin_conf_password = PasswordField(_l("Confirm password"))


NEW_AGENCY_FIELDS = ("code", *agencies.LINES)
FIRST_ADMIN_FIELDS = ("admin_username", "admin_last_name", "admin_first_name", "admin_email",
                      "admin_password", "admin_conf_password")


class AgencyAdminView(BaseView):
    """Cơ quan: list (with the number of people), add with the first Admin, edit the lines,
    deactivate and reactivate. For the platform admin only (roles.AGENCY_ADMINISTRATION)."""

    route_base = "/agencies"
    default_view = "list"

    @expose("/")
    @has_access
    def list(self):
        return self.render_template("agencies.html", rows=agencies.agency_list())

    @expose("/add", methods=["GET", "POST"])
    @has_access
    def add(self):
        form = NewAgencyForm()
        errors = {}
        if request.method == "GET":
            form.process(data={**agencies.default_lines(), "place_name": ""})
        else:
            data = {name: form[name].data for name in NEW_AGENCY_FIELDS + FIRST_ADMIN_FIELDS}
            password, confirmation = data.pop("admin_password"), data.pop("admin_conf_password")
            try:
                if password != confirmation:
                    raise agencies.AgencyError(
                        gettext("Passwords must match"),
                        {"admin_conf_password": gettext("Passwords must match")})
                agency = agencies.create_agency(
                    data.pop("code"), data.pop("agency_name"), admin_password=password, **data)
            except agencies.AgencyError as error:
                errors = error.errors
                flash(error.message, "danger")
            else:
                flash(gettext("Agency %(code)s created with its administrator %(user)s.",
                              code=agency.code, user=form.admin_username.data.strip()), "success")
                return redirect(url_for(".list"))
        return self.render_template(
            "agency_form.html", form=form, errors=errors, title=gettext("Add agency"),
            groups=[(gettext("Agency"), NEW_AGENCY_FIELDS),
                    (gettext("Its first administrator"), FIRST_ADMIN_FIELDS)])

    @expose("/edit/<int:pk>", methods=["GET", "POST"])
    @has_access
    def edit(self, pk):
        try:
            agency = agencies.get_agency(pk)
        except agencies.AgencyError as error:
            return render_error(404, error.message)
        form = AgencyLinesForm()
        errors = {}
        if request.method == "GET":
            form.process(data={name: getattr(agency, name) for name in agencies.LINES})
        else:
            try:
                agencies.update_agency(agency, **{name: form[name].data for name in agencies.LINES})
            except agencies.AgencyError as error:
                errors = error.errors
                flash(error.message, "danger")
            else:
                flash(gettext("Agency %(code)s saved.", code=agency.code), "success")
                return redirect(url_for(".list"))
        return self.render_template(
            "agency_form.html", form=form, errors=errors,
            title=gettext("Edit agency %(code)s", code=agency.code),
            groups=[(gettext("Agency"), agencies.LINES)])

    @expose("/deactivate/<int:pk>", methods=["POST"])
    @has_access
    def deactivate(self, pk):
        return self._set_active(pk, False)

    @expose("/activate/<int:pk>", methods=["POST"])
    @has_access
    def activate(self, pk):
        return self._set_active(pk, True)

    def _set_active(self, pk, active):
        try:
            agency = agencies.set_active(agencies.get_agency(pk), active)
        except agencies.AgencyError as error:
            return render_error(404, error.message)
        if active:
            message = gettext("Agency %(code)s is active again: its people can sign in.", code=agency.code)
        else:
            message = gettext("Agency %(code)s is deactivated: its people can no longer sign in; "
                              "its records stay.", code=agency.code)
        flash(message, "success")
        return redirect(url_for(".list"))
