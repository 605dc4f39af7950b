"""Schema editor that gives frames and faces their SingleStoreDB layout (see ``layout.py``).

Every other table is created exactly as django_singlestore creates it.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django_singlestore.schema import DatabaseSchemaEditor as BaseSchemaEditor

from config.singlestore.layout import LAYOUTS, VECTOR_DIMENSIONS, TableLayout, vector_column


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
        sql, params = super().table_sql(model)
        layout = self._layout(model)
        if layout is None:
            return sql, params
        pk_shard_key = f"SHARD KEY ({self.quote_name(model._meta.pk.column)})"
        if pk_shard_key not in sql:
            raise ImproperlyConfigured(
                f"{model._meta.db_table} must be a distributed columnstore table (unset "
                f"DJANGO_SINGLESTORE_TABLE_STORAGE_TYPE_{model._meta.app_label.upper()})."
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
