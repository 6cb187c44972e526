"""The roles of SPEC §1 and the permissions each one holds: seven work inside an agency,
two (the platform admin and the province inspector) stand above the agencies (§10).

This module is the only place where role permissions are defined; `flask qms sync-roles`
writes them to the database (the app itself runs with FAB_UPDATE_PERMS = False).
A permission is a pair (permission name, view or menu name), as FAB stores it.
"""
from flask_babel import lazy_gettext as _l

ADMIN = "Admin"
STAFF = "Staff"
UNIT_HEAD = "UnitHead"
AUDITOR = "Auditor"
ISO_SECRETARY = "IsoSecretary"
ISO_LEADER = "IsoLeader"
TOP_LEADER = "TopLeader"
PLATFORM_ADMIN = "PlatformAdmin"
PROVINCE_INSPECTOR = "ProvinceInspector"

ROLE_LABELS = {
    ADMIN: _l("System administrator"),
    STAFF: _l("Staff (civil servants, public employees, workers)"),
    UNIT_HEAD: _l("Unit head"),
    AUDITOR: _l("Internal auditor"),
    ISO_SECRETARY: _l("ISO secretary"),
    ISO_LEADER: _l("ISO committee leader"),
    TOP_LEADER: _l("Agency top leader"),
    PLATFORM_ADMIN: _l("Platform administrator"),
    PROVINCE_INSPECTOR: _l("Department of Science and Technology (QMS inspection)"),
}
ALL_ROLES = tuple(ROLE_LABELS)
# Held by people of no agency; an agency's administrator cannot give them.
PLATFORM_ROLES = (PLATFORM_ADMIN, PROVINCE_INSPECTOR)
AGENCY_ROLES = tuple(r for r in ALL_ROLES if r not in PLATFORM_ROLES)
# Those who steer the QMS and see the procedure's warnings on their home page.
STEERING = (ADMIN, ISO_SECRETARY, ISO_LEADER, TOP_LEADER)


def role_label(name: str) -> str:
    """Vietnamese (current locale) label of a role; unknown roles show their name."""
    label = ROLE_LABELS.get(name)
    return str(label) if label is not None else name


def _view(view: str, *perms: str) -> set[tuple[str, str]]:
    return {(perm, view) for perm in perms}


def _menus(*menus: str) -> set[tuple[str, str]]:
    return {("menu_access", menu) for menu in menus}


# Every signed-in user: own profile, own password, the home page, read the units.
SELF_SERVICE = (
    _view("QmsUserDBModelView", "can_userinfo", "userinfoedit", "resetmypassword")
    | _view("UserInfoEditView", "can_this_form_get", "can_this_form_post")
    | _view("ResetMyPasswordView", "can_this_form_get", "can_this_form_post")
    | _view("UnitModelView", "can_list", "can_show")
    | _view("NotificationView", "can_index", "can_edit")  # the e-mail choice (app.reminders.handoff)
    | _view("DownloadView", "can_index", "can_download")
    | _view("OpenApi", "can_get")
    | _view("MenuApi", "can_get")
    | _menus("Organisation", "Units")
)

# One help page per workflow (app/help), each a menu item of its own.
HELP_MENUS = ("Workflow tickets", "Workflow objectives", "Workflow review-meeting", "Workflow review-report")

# Tickets and nonconformities: every role works on them; which ticket and which step is
# decided per record by the workflow table and the visibility rule (app/tickets).
TICKET_WORK = (
    _view("TicketView", "can_list", "can_show", "can_add", "can_edit", "can_delete",
          "can_transition", "can_progress", "can_upload", "can_download", "can_pdf", "can_export")
    | _view("NonconformityView", "can_list", "can_show", "can_add", "can_edit",
            "can_upload", "can_open_ticket", "can_disposition", "can_export")
    | _view("RecurringNonconformityView", "can_index", "can_open_ticket")
    | _view("NcCategoryView", "can_list", "can_show")
    | _view("WorkflowHelpView", "can_workflow")
    | _view("TicketApi", "can_get", "can_info", "can_post", "can_put", "can_delete",
            "can_transition", "can_pdf", "can_upload")
    | _view("NonconformityApi", "can_get", "can_info", "can_post", "can_put", "can_upload")
    | _menus("Improvement", "Tickets", "Nonconformities", "Recurring nonconformities",
             "Nonconformity categories", "Help")
    | _menus(*HELP_MENUS)
)
# Each user's own saved filters of the ticket and nonconformity lists (app/saved_filters).
SAVED_FILTERS = _view("SavedFilterView", "can_save", "can_delete")
# Objective plans and reports: who drafts and who approves is decided per plan by
# app/objectives/workflow.py (unit staff/head, Ban ISO, top leader).
OFFICIAL_COPIES = (
    _view("OfficialCopyView", "can_show", "can_pdf")
    | _view("DocumentApi", "can_get", "can_verify")
)
SIGNING = _view("OfficialCopyView", "can_sign") | _menus("My signing certificate")
OBJECTIVE_WORK = (
    _view("ObjectivePlanView", "can_list", "can_show", "can_add", "can_delete", "can_edit_rows",
          "can_transition", "can_export")
    | _view("ObjectiveSummaryView", "can_index")
    | _view("ObjectivePlanApi", "can_get", "can_info", "can_post", "can_delete", "can_edit_rows",
            "can_transition", "can_pdf")
    | _menus("Objective plans", "Objectives summary")
)
# Management reviews: everyone reads them (units act on the notice); Ban ISO, the top
# leader and unit heads (who comment on the QMS report) work on them, each step checked by
# app/reviews/workflow.py; Ban ISO records the internal audits.
REVIEW_READ = (
    _view("ReviewView", "can_list", "can_show", "can_export")
    | _view("InternalAuditView", "can_list", "can_show")
    | _view("ReviewApi", "can_get", "can_info", "can_pdf", "can_inputs", "can_transition")
    | _menus("Management reviews", "Internal audits")
)
REVIEW_WORK = (
    _view("ReviewView", "can_add", "can_write", "can_transition", "can_comment")
    | _view("ReviewApi", "can_post")
)
AUDIT_RECORDS = _view("InternalAuditView", "can_add", "can_edit", "can_delete")
RETENTION = _view("RetentionView", "can_index") | _menus("Records retention")
# The conversation on the records each person sees (app.conversation).
CONVERSATION = _view("CommentView", "can_comment")
EVERYONE = (SELF_SERVICE | TICKET_WORK | SAVED_FILTERS | OBJECTIVE_WORK | REVIEW_READ | OFFICIAL_COPIES | SIGNING
            | CONVERSATION)

# The province inspector reads every record of the agency they inspect and changes nothing.
_OWN_ACCOUNT = (
    _view("QmsUserDBModelView", "can_userinfo", "userinfoedit", "resetmypassword")
    | _view("UserInfoEditView", "can_this_form_get", "can_this_form_post")
    | _view("ResetMyPasswordView", "can_this_form_get", "can_this_form_post")
)
# The Sở KHCN's compliance board (app/compliance): the province inspector's alone.
COMPLIANCE_BOARD = (
    _view("ComplianceView", "can_index", "can_inspect", "can_export")
    | _menus("Province", "Compliance board")
)
INSPECTION = (
    _OWN_ACCOUNT
    | COMPLIANCE_BOARD
    | _view("UnitModelView", "can_list", "can_show")
    | _view("TicketView", "can_list", "can_show", "can_download", "can_pdf", "can_export")
    | _view("DownloadView", "can_index", "can_download")  # the binders they printed (their own files)
    | _view("NonconformityView", "can_list", "can_show", "can_export")
    | _view("RecurringNonconformityView", "can_index")
    | _view("NcCategoryView", "can_list", "can_show")
    | _view("WorkflowHelpView", "can_workflow")
    | _view("ObjectivePlanView", "can_list", "can_show", "can_export")
    | _view("ObjectiveSummaryView", "can_index")
    | _view("ReviewView", "can_list", "can_show", "can_export")
    | _view("InternalAuditView", "can_list", "can_show")
    | OFFICIAL_COPIES
    | _menus("Organisation", "Units", "Improvement", "Tickets", "Nonconformities",
             "Recurring nonconformities", "Nonconformity categories", "Objective plans",
             "Objectives summary", "Management reviews", "Internal audits", "Help")
    | _menus(*HELP_MENUS)
)
# The platform admin manages agencies and their first administrator, nothing of theirs.
AGENCY_ADMINISTRATION = (
    _view("AgencyAdminView", "can_list", "can_add", "can_edit", "can_activate", "can_deactivate")
    | _menus("Platform", "Agencies")
)
PLATFORM_WORK = _OWN_ACCOUNT | AGENCY_ADMINISTRATION
# Work above the agencies, held by the platform's people only: an agency's Admin holds every other permission.
PLATFORM_ONLY = COMPLIANCE_BOARD | AGENCY_ADMINISTRATION
# FAB's screens of the whole installation, given to nobody: groups (a group gives roles to
# people of any agency; roles come from this module), the registries of permissions and
# views (FAB's own English names) and the log-in statistics of every agency's people.
INSTALLATION_WIDE = (
    _view("QmsGroupModelView", "can_list", "can_show")
    | _view("PermissionModelView", "can_list")
    | _view("ViewMenuModelView", "can_list")
    | _view("PermissionViewModelView", "can_list")
    | _view("UserStatsChartView", "can_chart")
    | _menus("List Groups", "Base Permissions", "Views/Menus", "Permission on Views/Menus",
             "User's Statistics")
)
BAN_ISO = EVERYONE | REVIEW_WORK | AUDIT_RECORDS

ROLE_PERMISSIONS: dict[str, set[tuple[str, str]]] = {
    STAFF: EVERYONE,
    UNIT_HEAD: EVERYONE | REVIEW_WORK,
    AUDITOR: EVERYONE,
    ISO_SECRETARY: BAN_ISO | RETENTION,
    ISO_LEADER: BAN_ISO,
    TOP_LEADER: EVERYONE | REVIEW_WORK,
    PROVINCE_INSPECTOR: INSPECTION,
    PLATFORM_ADMIN: PLATFORM_WORK,
}
"""Admin is not listed: it holds every permission that exists except PLATFORM_ONLY and
INSTALLATION_WIDE."""


def held_by(user) -> list:
    """The roles a user holds, given directly or through a FAB group (as FAB counts them)."""
    return [*user.roles, *(role for group in getattr(user, "groups", None) or () for role in group.roles)]
