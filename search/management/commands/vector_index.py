"""``manage.py vector_index create|drop|status`` — the optional SingleStoreDB ANN index.

Examples::

    manage.py vector_index status
    manage.py vector_index create dlib-resnet --type HNSW_FLAT
    manage.py vector_index create facenet-vggface2 --type IVF_PQFS --option nlist=1024
    manage.py vector_index drop dlib-resnet
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from search.backends.singlestore import (
    INDEX_TYPES,
    VectorIndexError,
    create_vector_index,
    drop_vector_index,
    vector_index_status,
)


def parse_option(text: str) -> tuple[str, int]:
    name, separator, value = text.partition("=")
    if not separator or not value.strip().isdigit():
        raise CommandError(f"--option {text!r}: write NAME=INTEGER, e.g. nlist=1024.")
    return name.strip(), int(value)


class Command(BaseCommand):
    help = "Create, drop or list the ANN vector indexes (SingleStoreDB only; metric DOT_PRODUCT)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Index one embedder's VECTOR column.")
        create.add_argument("embedder")
        create.add_argument("--type", default="AUTO", choices=INDEX_TYPES, dest="index_type")
        create.add_argument(
            "--option", action="append", default=[], help="Build option NAME=INTEGER (repeat)."
        )
        drop = actions.add_parser("drop", help="Drop one embedder's vector index.")
        drop.add_argument("embedder")
        actions.add_parser("status", help="Show which embedders have an index.")

    def handle(self, *args, action: str, **options) -> None:
        try:
            if action == "create":
                build = dict(parse_option(text) for text in options["option"])
                sql = create_vector_index(options["embedder"], options["index_type"], build)
                self.stdout.write(f"created: {sql}")
            elif action == "drop":
                self.stdout.write(f"dropped: {drop_vector_index(options['embedder'])}")
            else:
                for embedder, index_type in vector_index_status().items():
                    state = index_type or "none (exact scans)"
                    self.stdout.write(f"{embedder}: {state}")
        except VectorIndexError as error:
            raise CommandError(str(error)) from error
