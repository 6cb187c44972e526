import datetime

from flask import g
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from sqlalchemy import select, update

from app.extensions import db
from app.reminders.models import Notification


class NotificationView(BaseView):
    """The user's own reminders; opening the page marks them read."""

    route_base = "/notifications"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        notifications = db.session.scalars(
            select(Notification).where(Notification.user_id == g.user.id)
            .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(50)
        ).all()
        unread = {n.id for n in notifications if n.read_at is None}
        db.session.execute(update(Notification).where(
            Notification.user_id == g.user.id, Notification.read_at.is_(None)).values(read_at=datetime.datetime.now()))
        # rendered before the commit (the bell already reads them as read): a commit first would
        # expire the user, roles and permissions the menu reads, a dozen statements again
        page = self.render_template("notifications.html", notifications=notifications, unread=unread)
        db.session.commit()
        return page
