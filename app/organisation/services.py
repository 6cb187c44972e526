"""Organisation rules as plain functions: settings, role sync, user creation."""
from flask import current_app, g, has_request_context
from flask_appbuilder.security.sqla.models import Role
from sqlalchemy import select

from app.extensions import db
from app.organisation import roles
from app.organisation.models import Agency, QmsUser
from app.tenancy import ALL, agency_scope, current_agency_id


def current_agency() -> Agency:
    """The agency of the current scope: its lines are printed on its documents and its
    numbers drive its rules. Outside any agency (a platform command with no --agency),
    the default lines of a new agency, never saved."""
    agency_id = current_agency_id()
    agency = db.session.get(Agency, agency_id) if agency_id is not None else None
    if agency is not None and has_request_context():
        # kept for the request: nothing else may hold it (the inspector's agency), and the
        # session would read it again at each use (a command's session lasts longer: not there)
        g.qms_agency = agency
    return agency or Agency(
        **{c.key: c.default.arg for c in Agency.__table__.columns if c.default is not None}
    )


def holder_of(role_name: str) -> QmsUser | None:
    """The first active user holding a role: who is expected to sign what that role signs."""
    return db.session.scalar(select(QmsUser).join(QmsUser.roles).where(
        Role.name == role_name, QmsUser.active.is_(True)).order_by(QmsUser.id))


def ensure_agency(code: str, **lines) -> Agency:
    """The agency with this code, created with these lines (and the defaults) if missing,
    whatever agency the caller works as."""
    with agency_scope(ALL):
        agency = db.session.scalar(select(Agency).where(Agency.code == code))
        if agency is None:
            agency = Agency(code=code, **lines)
            db.session.add(agency)
            db.session.commit()
    return agency


def sync_roles() -> dict[str, int]:
    """Write the permissions of roles.ROLE_PERMISSIONS to the database, idempotently.

    Creates every view's permissions first (the app runs with FAB_UPDATE_PERMS off) and
    drops those of views that no longer exist, then sets each role to exactly its
    defined set. Admin (an agency's administrator) gets every permission except the
    platform's own (roles.PLATFORM_ONLY) and the installation-wide groups.
    Returns the number of permissions per role.
    """
    appbuilder = current_app.appbuilder
    sm = appbuilder.sm
    for name in (roles.ADMIN, sm.auth_role_public):
        sm.find_role(name) or sm.add_role(name)
    appbuilder.add_permissions(update_perms=True)
    sm.security_cleanup(appbuilder.baseviews, appbuilder.menu)  # drop renamed/removed views
    counts = {}
    for name, wanted in roles.ROLE_PERMISSIONS.items():
        role = sm.find_role(name) or sm.add_role(name)
        permission_views = []
        for permission, view in sorted(wanted):
            pv = sm.find_permission_view_menu(permission, view)
            if pv is None:
                raise LookupError(f"Permission {permission} on {view} does not exist")
            permission_views.append(pv)
        role.permissions = permission_views
        counts[name] = len(permission_views)
    admin = sm.find_role(roles.ADMIN)
    withheld = roles.PLATFORM_ONLY | roles.INSTALLATION_WIDE
    admin.permissions = [
        pv for pv in db.session.query(sm.permissionview_model).all()
        if (pv.permission.name, pv.view_menu.name) not in withheld
    ]
    counts[roles.ADMIN] = len(admin.permissions)
    db.session.commit()
    # imported here: with it at the top of this module, giving a FAB group to a person failed at
    # flush in some test orders (Group.users refused a QmsUser; cause not found, see models.py)
    from app.organisation.security import forget_permissions

    forget_permissions()
    return counts
