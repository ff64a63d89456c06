"""Patient history: patients, prescriptions, sessions and repetitions in one SQLite file.

>>> from rehab.store import open_store
>>> with open_store("/tmp/clinic.sqlite") as store:          # doctest: +SKIP
...     store.add_patient("p01", "Ada L.", affected_side="left")
...     sid = store.record_analysis("p01", analysis, started=datetime.now())

See `rehab.store.store` for how sessions are written (one transaction for an analysis, one
per rep for a live session) and `rehab.store.db` for the file, its permissions and the
schema migrations. Importing this package opens nothing.
"""

from __future__ import annotations

from rehab.store.db import MIGRATIONS, StoreError, default_db_path, schema_version
from rehab.store.models import Patient, Prescription, SessionRecord
from rehab.store.store import SessionWriter, Store, open_existing_store, open_store

__all__ = [
    "MIGRATIONS", "Patient", "Prescription", "SessionRecord", "SessionWriter", "Store",
    "StoreError", "default_db_path", "open_existing_store", "open_store", "schema_version",
]
