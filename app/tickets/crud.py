"""The rules every create, edit and delete of a ticket or a nonconformity follows. FAB calls
these hooks from the pages (ModelView) and from the REST API (ModelRestApi) alike, so both
classes take them from here."""
from flask import g

from app import webhooks
from app.extensions import db
from app.tickets import services


class TicketRules:
    def pre_add(self, item):
        services.check_box1(g.user, item.requesting_unit.id if item.requesting_unit else None)
        services.check_ticket_dates(item)
        item.created_by_id = item.requester_id = g.user.id
        item.state = "draft"

    def post_add(self, item):
        services.record_creation(g.user, item)
        db.session.commit()

    def pre_update(self, item):
        services.ensure_own_draft(g.user, item)
        services.check_box1(g.user, item.requesting_unit.id)  # the unit given now, not the stored one
        services.check_ticket_dates(item)

    def pre_delete(self, item):
        services.ensure_own_draft(g.user, item, "delete_draft")


class NonconformityRules:
    def pre_add(self, item):
        services.check_box1(g.user, item.unit.id if item.unit else None)
        item.created_by_id = item.detected_by_id = g.user.id
        services.check_nonconformity_dates(item)
        services.record_nc_creation(g.user, item)

    def post_add(self, item):
        webhooks.nonconformity_created(g.user, item)  # after FAB's commit: the NC has its id

    def pre_update(self, item):
        services.check_nonconformity_change(g.user, item)  # queries without flushing
        services.record_nc_edit(g.user, item)  # before any flush: it reads the values loaded
        services.check_nonconformity_dates(item)

    def pre_delete(self, item):
        services.check_nonconformity_change(g.user, item)
