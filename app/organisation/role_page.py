"""The roles page in words (issue 16): each role's Vietnamese label and what it is for, and
its permissions as Vietnamese words grouped by screen, read-only (roles are defined in
app/organisation/roles.py). Nothing of FAB's English permission names reaches the page."""
from collections import defaultdict

from flask import current_app
from flask_babel import gettext, lazy_gettext as _l
from markupsafe import Markup, escape

from app.organisation import roles

ROLE_DESCRIPTIONS = {  # SPEC §1, "may do"
    roles.ADMIN: _l("Users, roles, units and settings of the agency; everything."),
    roles.STAFF: _l("Record nonconformities and open tickets for their own unit; carry out assigned "
                    "actions; report progress."),
    roles.UNIT_HEAD: _l("Decide dispositions and the need for corrective action; forward to the ISO "
                        "secretary; approve the unit's objective plans and reports."),
    roles.AUDITOR: _l("Open tickets for any unit from audit findings; read all tickets."),
    roles.ISO_SECRETARY: _l("Consolidate tickets for the ISO committee; draft review minutes, the QMS "
                            "report and notices; keep records."),
    roles.ISO_LEADER: _l("Assign, approve solutions and changes, close tickets, approve the QMS report."),
    roles.TOP_LEADER: _l("Verify results, chair reviews, approve notices and the agency's objective plans."),
    roles.PLATFORM_ADMIN: _l("Create and deactivate agencies and their first administrator."),
    roles.PROVINCE_INSPECTOR: _l("Read every agency's records and the compliance board; change nothing."),
}

# The API and helper views of a screen are shown with it.
SCREEN_OF = {
    "TicketApi": "TicketView", "NonconformityApi": "NonconformityView",
    "ObjectivePlanApi": "ObjectivePlanView", "ReviewApi": "ReviewView", "DocumentApi": "OfficialCopyView",
    "UserInfoEditView": "QmsUserDBModelView", "ResetMyPasswordView": "QmsUserDBModelView",
    "ResetPasswordView": "QmsUserDBModelView", "OpenApi": "SwaggerView", "MenuApi": "SwaggerView",
}
# Screens with no menu entry of their own.
SCREEN_LABELS = {
    "NotificationView": _l("Notifications"),
    "CommentView": _l("Conversation"),
    "WorkflowHelpView": _l("Workflow help"),
    "SwaggerView": _l("API documentation"),
    "QmsUserDBModelView": _l("Users"),
    "QmsRoleModelView": _l("Roles"),
}
API_VIEWS = {"TicketApi", "NonconformityApi", "ObjectivePlanApi", "ReviewApi", "DocumentApi", "OpenApi",
             "MenuApi"}
WORDS = {
    "can_list": _l("see the list"), "can_show": _l("see a record"), "can_add": _l("add"),
    "can_edit": _l("edit"), "can_delete": _l("delete"), "can_transition": _l("take workflow steps"),
    "can_progress": _l("report progress"), "can_upload": _l("attach files"),
    "can_download": _l("download files"), "can_pdf": _l("print PDF"), "can_export": _l("export to a file"),
    "can_open_ticket": _l("open a ticket"), "can_disposition": _l("decide the disposition"),
    "can_index": _l("open the page"), "can_workflow": _l("read the workflow"),
    "can_edit_rows": _l("edit the rows"), "can_verify": _l("verify an official copy"),
    "can_sign": _l("sign"), "can_sign_agency": _l("sign for the agency"),
    "can_write": _l("write the content"), "can_comment": _l("comment"),
    "can_inputs": _l("gather the inputs"), "can_userinfo": _l("see own account"),
    "userinfoedit": _l("edit own account"), "resetmypassword": _l("change own password"),
    "resetpasswords": _l("reset passwords"), "can_inspect": _l("inspect an agency"),
    "can_activate": _l("activate"), "can_deactivate": _l("deactivate"), "can_retry": _l("retry"),
    "can_chart": _l("see the chart"), "can_this_form_get": _l("open the form"),
    "can_this_form_post": _l("send the form"),
}
API_WORDS = {
    "can_get": _l("read through the API"), "can_info": _l("read through the API"),
    "can_post": _l("create through the API"), "can_put": _l("edit through the API"),
    "can_delete": _l("delete through the API"), "can_transition": _l("take workflow steps through the API"),
    "can_upload": _l("attach files through the API"), "can_pdf": _l("print PDF through the API"),
    "can_edit_rows": _l("edit the rows through the API"), "can_inputs": _l("gather the inputs through the API"),
    "can_verify": _l("verify an official copy through the API"),
}


# the words in the order above: the page's own permissions first, then the API's
_RANK = {key: rank for rank, key in enumerate([(False, name) for name in WORDS] + [(True, name) for name in API_WORDS])}


def _menu_labels() -> tuple[dict[str, str], dict[str, str]]:
    """Menu names and view names, each with the label its menu entry shows."""
    menus, views = {}, {}

    def walk(items):
        for item in items:
            menus[item.name] = gettext(str(item.label or item.name))  # as the menu bar shows it
            if item.baseview is not None:
                views.setdefault(type(item.baseview).__name__, str(item.label))
            walk(item.childs)

    walk(current_app.appbuilder.menu.get_list())
    return menus, views


def permission_groups(role) -> list[tuple[str, list[str]]]:
    """(screen, [what the role may do there]) in Vietnamese, the menu entries last."""
    menus, views = _menu_labels()
    screens: dict[str, list[tuple[int, str]]] = defaultdict(list)
    menu_entries = []
    for permission_view in role.permissions:
        permission, view = permission_view.permission.name, permission_view.view_menu.name
        if permission == "menu_access":
            menu_entries.append(menus.get(view) or gettext("other menu entries"))
            continue
        screen = SCREEN_OF.get(view, view)
        label = views.get(screen) or SCREEN_LABELS.get(screen)
        label = str(label) if label is not None else gettext("Other screens")
        words = (API_WORDS if view in API_VIEWS else WORDS).get(permission)
        rank = _RANK.get((view in API_VIEWS, permission), len(_RANK))
        word = str(words) if words is not None else gettext("other permissions")
        if (rank, word) not in screens[label]:
            screens[label].append((rank, word))
    groups = [(label, [word for _, word in sorted(words)]) for label, words in sorted(screens.items())]
    if menu_entries:
        groups.append((gettext("Menu entries"), sorted(set(menu_entries))))
    return groups


def format_role_name(name: str) -> Markup:
    """The role's Vietnamese label, and what it is for."""
    description = ROLE_DESCRIPTIONS.get(name)
    label = escape(roles.role_label(name))
    if description is None:
        return Markup("<strong>{}</strong>").format(label)
    return Markup('<strong>{}</strong><br><small class="text-muted role-description">{}</small>').format(
        label, str(description))


def format_permissions(permission_views) -> Markup:
    class _Role:  # the formatter receives the role's permissions, not the role
        permissions = permission_views

    items = Markup("").join(
        Markup('<li><strong>{}</strong>: {}</li>').format(screen, ", ".join(words))
        for screen, words in permission_groups(_Role)
    )
    return Markup('<ul class="list-unstyled role-permissions">{}</ul>').format(items)
