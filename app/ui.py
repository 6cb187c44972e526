"""Shared pieces for our FAB views: eager-loading lists and Vietnamese date display."""
import datetime

from flask_appbuilder import ModelView
from flask_appbuilder.models.sqla.interface import SQLAInterface
from sqlalchemy import Date, DateTime
from sqlalchemy.orm import selectinload


class EagerInterface(SQLAInterface):
    """SQLAInterface that loads the named relations of a page of rows in one query each.

    FAB's list query loads relations lazily, one query per row and relation.
    """

    def __init__(self, obj, eager: tuple[str, ...] = (), session=None):
        super().__init__(obj, session=session)
        self.eager = eager

    def apply_all(self, query, *args, **kwargs):
        query = super().apply_all(query, *args, **kwargs)
        return query.options(*(selectinload(getattr(self.obj, name)) for name in self.eager))


def format_date(value) -> str:
    """dd/mm/yyyy (and HH:MM for date-times), the way Vietnamese documents write dates."""
    if isinstance(value, datetime.datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, datetime.date):
        return value.strftime("%d/%m/%Y")
    return "" if value is None else str(value)


def date_formatters(model) -> dict:
    """A formatter for every date and date-time column of the model."""
    return {
        column.key: format_date
        for column in model.__table__.columns
        if isinstance(column.type, (Date, DateTime))
    }


class QmsModelView(ModelView):
    """Base of our CRUD views: dates shown as dd/mm/yyyy."""

    def __init__(self, **kwargs):
        self.formatters_columns = {
            **date_formatters(self.datamodel.obj),
            **(self.formatters_columns or {}),
        }
        super().__init__(**kwargs)
