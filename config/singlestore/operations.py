"""Migration operations that only SingleStoreDB carries out (no-ops on other databases)."""

from __future__ import annotations

from django.db.migrations.operations.base import Operation

VENDOR = "singlestore"


class AddVectorColumn(Operation):
    """Add an embedder's persisted VECTOR column to a table of vectors (``layout.py``): a new
    embedder needs one for faces and one for appearances.

    Other databases keep vectors only in the ``embedding`` BLOB, so nothing happens there. The
    statement is produced by the schema editor, so ``sqlmigrate`` shows it too.
    """

    reduces_to_sql = True
    reversible = True

    def __init__(self, model_name: str, embedder: str) -> None:
        self.model_name = model_name
        self.embedder = embedder

    def deconstruct(self):
        return (f"{__name__}.{type(self).__name__}", [self.model_name, self.embedder], {})

    def state_forwards(self, app_label, state) -> None:
        """The column is not a model field: the ORM never reads or writes it."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor == VENDOR:
            model = to_state.apps.get_model(app_label, self.model_name)
            schema_editor.add_vector_column(model, self.embedder)

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor == VENDOR:
            model = from_state.apps.get_model(app_label, self.model_name)
            schema_editor.remove_vector_column(model, self.embedder)

    def describe(self) -> str:
        return f"Add the {self.embedder} VECTOR column to {self.model_name} (SingleStoreDB only)"

    @property
    def migration_name_fragment(self) -> str:
        return f"{self.model_name.lower()}_{self.embedder.replace('-', '_')}_vector"
