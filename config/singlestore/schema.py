"""Schema editor that gives frames and faces their SingleStoreDB layout (see ``layout.py``).

Every other table is created as django_singlestore creates it, the apps of
``layout.REFERENCE_APPS`` as reference tables.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.exceptions import ImproperlyConfigured
from django_singlestore.schema import DatabaseSchemaEditor as BaseSchemaEditor

from config.singlestore.layout import (
    LAYOUTS,
    REFERENCE_APPS,
    REFERENCE_STORAGE_TYPE,
    VECTOR_DIMENSIONS,
    TableLayout,
    vector_column,
)

STORAGE_TYPE_VARIABLE = "DJANGO_SINGLESTORE_TABLE_STORAGE_TYPE_"


@contextmanager
def reference_table_default(app_label: str) -> Iterator[None]:
    """Give a reference app its storage type while django_singlestore builds one table.

    django_singlestore takes an app's storage type only from the environment variable
    ``DJANGO_SINGLESTORE_TABLE_STORAGE_TYPE_<APP>``. The default is set for the one call that
    reads it and removed afterwards, so that nothing else sees it; a variable the operator
    set is left as it is and wins.
    """
    variable = STORAGE_TYPE_VARIABLE + app_label.upper()
    if app_label not in REFERENCE_APPS or variable in os.environ:
        yield
        return
    os.environ[variable] = REFERENCE_STORAGE_TYPE
    try:
        yield
    finally:
        os.environ.pop(variable, None)


class DatabaseSchemaEditor(BaseSchemaEditor):
    def _layout(self, model) -> TableLayout | None:
        return LAYOUTS.get(model._meta.label)

    def column_sql(self, model, field, include_default=False):
        definition, params = super().column_sql(model, field, include_default=include_default)
        if definition and field.primary_key and self._layout(model):
            # A unique key must contain the shard key (movie_id); id stays AUTO_INCREMENT.
            definition = definition.removesuffix(" PRIMARY KEY")
        return definition, params

    def table_sql(self, model):
        with reference_table_default(model._meta.app_label):
            sql, params = super().table_sql(model)
        layout = self._layout(model)
        if layout is None:
            return sql, params
        pk_shard_key = f"SHARD KEY ({self.quote_name(model._meta.pk.column)})"
        if pk_shard_key not in sql:
            raise ImproperlyConfigured(
                f"{model._meta.db_table} must be a distributed columnstore table (unset "
                f"{STORAGE_TYPE_VARIABLE}{model._meta.app_label.upper()})."
            )
        return sql.replace(pk_shard_key, ", ".join(self._layout_definitions(layout))), params

    def _layout_definitions(self, layout: TableLayout) -> list[str]:
        definitions = [self._vector_column_sql(name) for name in layout.vector_embedders]
        definitions += [f"KEY ({self._columns(key)}) USING HASH" for key in layout.hash_keys]
        definitions.append(f"SHARD KEY ({self._columns(layout.shard_key)})")
        definitions.append(f"SORT KEY ({self._columns(layout.sort_key)})")
        return definitions

    def add_vector_column(self, model, embedder: str) -> None:
        """Add ``embedder``'s persisted VECTOR column to a table created without it."""
        table = self.quote_name(model._meta.db_table)
        self.execute(f"ALTER TABLE {table} ADD COLUMN {self._vector_column_sql(embedder)}")

    def remove_vector_column(self, model, embedder: str) -> None:
        table = self.quote_name(model._meta.db_table)
        self.execute(f"ALTER TABLE {table} DROP COLUMN {self.quote_name(vector_column(embedder))}")

    def _columns(self, columns: tuple[str, ...]) -> str:
        return ", ".join(self.quote_name(column) for column in columns)

    def _vector_column_sql(self, embedder: str) -> str:
        # Embedder names are fixed identifiers from layout.py, never user input.
        vector_type = f"VECTOR({VECTOR_DIMENSIONS[embedder]}, F32)"
        return (
            f"{self.quote_name(vector_column(embedder))} AS (CASE WHEN "
            f"{self.quote_name('embedder')} = '{embedder}' THEN "
            f"{self.quote_name('embedding')} :> {vector_type} ELSE NULL END) "
            f"PERSISTED {vector_type}"
        )
