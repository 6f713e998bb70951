"""moto server for Klaxon's tests: `python3 tests/moto_server.py HOST PORT`.

The same server as `python3 -m moto.server -H HOST -p PORT`, with one difference: DynamoDB
requests are handled one at a time. moto's DynamoDB backend evaluates a condition or an ADD and
then writes, without a lock, while the server handles requests on parallel threads; under load
two concurrent conditional writes can both succeed, or two ADDs can lose one increment. Real
DynamoDB does each single-item write atomically. Serialising DynamoDB requests inside the
emulator gives the tests that guarantee, while a client that reads and then writes in two
requests would still race (its requests still interleave with other clients' requests).
Other services (SQS long polls in particular) stay concurrent.

One more difference, in cost only: moto's `TransactWriteItems` keeps a deep copy of the whole
table for each item of the transaction, to restore on a cancellation, so a transaction costs
time in proportion to the table's size (on the chaos run's table, seconds per transaction once
it holds a few thousand items). Here it saves a copy of only the items the transaction names
and restores just those when the transaction raises (cancelled, or refused as invalid): the
same outcome, since a transaction changes nothing but the items it names (the table's indexes
are derived from its items at query time), at a cost independent of the table's size.

And `Query`: moto lists and sorts every item of the table for each query, then keeps those of
the asked partition (or index key), so a query also costs time in proportion to the table
(130 ms at 4,000 items, measured). Here a query of the table reads only its partition, and a
query of an index scans the items without sorting them first (the query sorts what it keeps
by the index's and the table's keys, which are unique): the same results in the same order.
Scans and everything else are moto's own.
"""

import copy
import inspect
import os
import sys
import threading

from werkzeug.serving import run_simple

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models.table import Table
from moto.server import DomainDispatcherApplication, create_backend_app


class _TableKeepingCopy:
    """The `copy` module as moto's DynamoDB backend sees it: `deepcopy` of a whole table gives
    the table itself (its transaction's own rollback is then a no-op), anything else is copied."""

    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value, memo=None):
        if isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)


def _named_items(backend, transact_items):
    """(table, hash key, range key, deep copy of the item or None) for each item a transaction
    names; entries moto will refuse as invalid are skipped (moto raises for them itself)."""
    saved = []
    for entry in transact_items:
        try:
            op_type, op = next(iter(entry.items()))
            table = backend.get_table(op["TableName"])
            attrs = op["Item"] if op_type == "Put" else op["Key"]
            hash_value, range_value = backend.get_keys_value(table, attrs)
            current = table.get_item(hash_value, range_value)
        except Exception:  # noqa: BLE001 - moto reports the invalid entry itself
            continue
        saved.append((table, hash_value, range_value, copy.deepcopy(current)))
    return saved


def _restore(saved):
    """Puts each saved item back as it was (or removes it if it did not exist), last first."""
    for table, hash_value, range_value, item in reversed(saved):
        if range_value is None:
            if item is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = item
        elif item is None:
            table.items[hash_value].pop(range_value, None)
        else:
            table.items[hash_value][range_value] = item


_QUERY_SCOPE = threading.local()


def _patch_queries():
    """Makes `Query` read only what it can return (see the module)."""
    original_query = Table.query
    original_all_items = Table.all_items
    signature = inspect.signature(original_query)

    def all_items(self):
        scope = getattr(_QUERY_SCOPE, "value", None)
        if scope is None:
            return original_all_items(self)
        if scope[0] == "partition":
            partition = self.items.get(scope[1])
            if partition is None:
                return []
            return list(partition.values()) if self.range_key_attr else [partition]
        if self.range_key_attr:
            return [item for partition in self.items.values() for item in partition.values()]
        return list(self.items.values())

    def query(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        index_name = bound.arguments.get("index_name")
        hash_key = bound.arguments.get("hash_key")
        if index_name:
            scope = ("index", None)
        elif hash_key is not None:
            scope = ("partition", hash_key)
        else:
            scope = None
        _QUERY_SCOPE.value = scope
        try:
            return original_query(self, *args, **kwargs)
        finally:
            _QUERY_SCOPE.value = None

    Table.all_items = all_items
    Table.query = query


def _patch_transactions():
    """Makes `TransactWriteItems` save and restore only the items it names (see the module)."""
    backend_class = dynamodb_models.DynamoDBBackend
    original = backend_class.transact_write_items
    dynamodb_models.copy = _TableKeepingCopy()

    def transact_write_items(self, transact_items):
        saved = _named_items(self, transact_items)
        try:
            return original(self, transact_items)
        except BaseException:
            _restore(saved)
            raise

    backend_class.transact_write_items = transact_write_items


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: moto_server.py HOST PORT")
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    _patch_transactions()
    _patch_queries()
    moto = DomainDispatcherApplication(create_backend_app)
    dynamodb_lock = threading.Lock()

    def app(environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith("DynamoDB_"):
            with dynamodb_lock:
                # Drain the response inside the lock: the write happens while it is produced.
                return list(moto(environ, start_response))
        return moto(environ, start_response)

    run_simple(host, port, app, threaded=True)


if __name__ == "__main__":
    main()
