"""Facefinder's SingleStoreDB database backend: ``django_singlestore`` plus the table layout.

``DATABASE_URL=singlestoredb://...`` selects this engine (see ``config.database``). It is the
``django_singlestore`` backend (vendor ``"singlestore"``) with two additions:

- ``schema.py``: frames and faces are sharded by movie, sorted for the queries that read them,
  and faces carry one ``VECTOR(n, F32)`` column per embedder (see ``docs/singlestore.md``);
- ``base.py``: connection failures and unsupported servers raise one clear message, and
  ``manage.py check --database default`` (run by ``migrate``) reports them as check errors.
"""
