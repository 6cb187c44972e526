from flask import flash, g, jsonify, redirect, request
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import gettext

from app.saved_filters import services
from app.ui import keep_typed, render_error
from app.workflow import WorkflowError


class SavedFilterView(BaseView):
    """Save the filter a list shows under a name, and delete a saved one; the list offers the
    user's own saved filters (macros/saved_filters.html)."""

    route_base = "/saved-filters"

    @expose("/save", methods=["POST"])
    @has_access
    @permission_name("save")
    def save(self):
        form = request.form
        list_key = form.get("list", "")
        if list_key not in services.LISTS:
            return render_error(404)
        try:
            saved, replaced = services.save_filter(g.user, list_key, form.get("name"), form.get("query"))
        except WorkflowError as error:
            flash(error.message, "danger")
            keep_typed(services.typed_form(list_key), form.get("name"))  # back in the name box
            return redirect(_back_to_list(list_key, form.get("query")))
        if replaced:
            flash(gettext("The filter “%(name)s” was replaced.", name=saved.name), "success")
        else:
            flash(gettext("The filter “%(name)s” was saved.", name=saved.name), "success")
        return redirect(services.filter_url(saved))

    @expose("/menu.json")
    @has_access
    @permission_name("save")
    def menu(self):
        """The user's saved filters, read when the user menu opens, or those of one list (`list`)
        when its bar's menu opens (not on every page)."""
        list_key = request.args.get("list")
        if list_key is not None and list_key not in services.LISTS:
            return render_error(404)
        return jsonify(services.menu(g.user, list_key))

    @expose("/<int:pk>/delete", methods=["POST"])
    @has_access
    @permission_name("delete")
    def delete(self, pk):
        try:
            saved = services.delete_filter(g.user, pk)
        except WorkflowError as error:
            return render_error(404, error.message)
        flash(gettext("The saved filter “%(name)s” was deleted.", name=saved.name), "success")
        return redirect(_back_to_list(saved.list_key, request.form.get("query")))


def _back_to_list(list_key: str, query) -> str:
    """The list the form was sent from, with its filter (when it is one of the list's own)."""
    try:
        return services.list_url(list_key, services.clean_query(list_key, query))
    except WorkflowError:
        return services.list_url(list_key)
