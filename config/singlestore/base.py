"""The database wrapper behind ``ENGINE = "config.singlestore"``.

It is django_singlestore's wrapper (``connection.vendor == "singlestore"``) with the Facefinder
table layout and clear messages for the three start-up faults: wrong credentials, server
unreachable, and a server that is not SingleStoreDB or is older than the supported version.
"""

from __future__ import annotations

from django.core import checks
from django.db import NotSupportedError
from django.db import OperationalError as DjangoOperationalError
from django.utils.functional import cached_property
from django_singlestore.base import DatabaseWrapper as BaseDatabaseWrapper
from django_singlestore.validation import DatabaseValidation as BaseDatabaseValidation

from config.singlestore.schema import DatabaseSchemaEditor

# Client error codes (MySQL protocol) that mean "fix DATABASE_URL".
ACCESS_DENIED = {1044, 1045, 1698}
UNREACHABLE = {2002, 2003, 2005, 2006, 2013}
UNKNOWN_DATABASE = 1049
UNKNOWN_SYSTEM_VARIABLE = 1193

# VECTOR columns exist from 8.5; an ANN index on a nullable VECTOR column needs 8.9.
VECTOR_INDEX_MINIMUM = (8, 9, 0)


def explain_connection_error(error: Exception, settings_dict: dict) -> str:
    """One line that says what is wrong with the connection and where to fix it."""
    code = error.args[0] if error.args and isinstance(error.args[0], int) else None
    where = f"{settings_dict.get('HOST') or 'localhost'}:{settings_dict.get('PORT') or 3306}"
    user = settings_dict.get("USER") or ""
    if code in ACCESS_DENIED:
        return (
            f"SingleStoreDB at {where} refused user {user!r}: wrong user name or password "
            f"in DATABASE_URL ({error.args[1] if len(error.args) > 1 else error})."
        )
    if code in UNREACHABLE:
        return (
            f"Cannot reach SingleStoreDB at {where}: check DATABASE_URL's host and port and "
            f"that the server is running ({error.args[1] if len(error.args) > 1 else error})."
        )
    if code == UNKNOWN_DATABASE:
        return (
            f"SingleStoreDB at {where} has no database {settings_dict.get('NAME')!r}: create "
            "it (CREATE DATABASE ...) or fix the name in DATABASE_URL."
        )
    return f"SingleStoreDB at {where}: {error}"


class DatabaseValidation(BaseDatabaseValidation):
    """Runs with ``manage.py check --database default`` and before every ``migrate``."""

    def check(self, **kwargs):
        issues = super().check(**kwargs)
        issues.extend(self._check_server())
        return issues

    def _check_server(self) -> list[checks.CheckMessage]:
        connection = self.connection
        try:
            connection.ensure_connection()
            version = connection.get_database_version()
        except Exception as error:  # any fault here is a start-up fault worth one line
            return [checks.Error(str(error), id="facefinder.singlestore.E001")]
        if version < VECTOR_INDEX_MINIMUM:
            found = ".".join(map(str, version))
            return [
                checks.Info(
                    f"SingleStoreDB {found}: exact vector search works; the optional ANN "
                    "vector index (manage.py vector_index) needs 8.9 or later.",
                    id="facefinder.singlestore.I001",
                )
            ]
        return []


class DatabaseWrapper(BaseDatabaseWrapper):
    SchemaEditorClass = DatabaseSchemaEditor
    validation_class = DatabaseValidation

    def get_new_connection(self, conn_params):
        try:
            return super().get_new_connection(conn_params)
        except self.Database.OperationalError as error:
            raise self.Database.OperationalError(
                explain_connection_error(error, self.settings_dict)
            ) from error

    @cached_property
    def singlestore_server_data(self):
        try:
            return super().singlestore_server_data
        except (self.Database.OperationalError, DjangoOperationalError) as error:
            if error.args and error.args[0] == UNKNOWN_SYSTEM_VARIABLE:
                raise NotSupportedError(self._not_singlestore_message()) from error
            raise

    def _not_singlestore_message(self) -> str:
        where = f"{self.settings_dict.get('HOST')}:{self.settings_dict.get('PORT')}"
        with self.temporary_connection() as cursor:
            cursor.execute("SELECT VERSION()")
            (server,) = cursor.fetchone()
        return (
            f"The server at {where} is not SingleStoreDB (it reports {server!r}); "
            "singlestoredb:// URLs need SingleStoreDB 8.5.21 or later."
        )
