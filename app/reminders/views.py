from flask import flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import gettext

from app.extensions import db
from app.reminders import handoff, services


class NotificationView(BaseView):
    """The user's own reminders and hand-offs, 25 a page; opening a page marks those it shows
    read. The user chooses there whether they also come by e-mail."""

    route_base = "/notifications"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        number = min(max(1, request.args.get("page", 1, type=int)), services.LAST_PAGE)
        notifications, older = services.notifications_page(g.user, number)
        unread = {n.id for n in notifications if n.read_at is None}
        services.mark_read(g.user, notifications)
        # rendered before the commit (the bell already reads them as read): a commit first would
        # expire the user, roles and permissions the menu reads, a dozen statements again
        page = self.render_template("notifications.html", notifications=notifications, unread=unread,
                                    page=number, older=older)
        if unread:
            db.session.commit()
        return page

    @expose("/read-all", methods=["POST"])
    @has_access
    @permission_name("index")
    def read_all(self):
        services.mark_all_read(g.user)
        db.session.commit()
        flash(gettext("Every notification is marked as read."), "success")
        return redirect(url_for(".index"))

    @expose("/settings", methods=["GET", "POST"])
    @has_access
    @permission_name("edit")
    def settings(self):
        if request.method == "POST":
            choice = request.form.get("notify_email")
            if choice not in handoff.EMAIL_CHOICES:
                flash(gettext("Choose one of the options."), "danger")
            else:
                handoff.choose_email(g.user, choice)
                flash(gettext("Your choice was saved."), "success")
                return redirect(url_for(".settings"))
        return self.render_template("notification_settings.html", choices=handoff.EMAIL_CHOICES,
                                    current=g.user.notify_email)
