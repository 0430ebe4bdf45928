"""Migration operations shared by the apps."""

from typing import Any

from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.operations import AddIndex
from django.db.migrations.state import ProjectState


class AddIndexConcurrently(AddIndex):
    """AddIndex that builds with CREATE INDEX CONCURRENTLY on PostgreSQL, and plainly elsewhere.

    For indexes added to tables that may already hold millions of rows (the ledger, the usage
    records): a plain CREATE INDEX would block every write to the table while it builds. The
    migration using it must set `atomic = False`. (django.contrib.postgres has the same operation
    for PostgreSQL only; the development database is SQLite.)
    """

    atomic = False

    def database_forwards(
        self, app_label: str, schema_editor: BaseDatabaseSchemaEditor, from_state: ProjectState, to_state: ProjectState
    ) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        if schema_editor.connection.vendor == "postgresql":
            if schema_editor.connection.in_atomic_block:
                raise RuntimeError("AddIndexConcurrently needs a migration with atomic = False")
            postgres: Any = schema_editor  # PostgreSQL's editor takes `concurrently`
            postgres.add_index(model, self.index, concurrently=True)
        else:
            schema_editor.add_index(model, self.index)

    def database_backwards(
        self, app_label: str, schema_editor: BaseDatabaseSchemaEditor, from_state: ProjectState, to_state: ProjectState
    ) -> None:
        model = from_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        if schema_editor.connection.vendor == "postgresql":
            postgres: Any = schema_editor
            postgres.remove_index(model, self.index, concurrently=True)
        else:
            schema_editor.remove_index(model, self.index)
