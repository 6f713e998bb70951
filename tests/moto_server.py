"""moto server for Klaxon's tests: `python3 tests/moto_server.py HOST PORT`.

The same server as `python3 -m moto.server -H HOST -p PORT`, with one difference: DynamoDB
requests are handled one at a time. moto's DynamoDB backend evaluates a condition or an ADD and
then writes, without a lock, while the server handles requests on parallel threads; under load
two concurrent conditional writes can both succeed, or two ADDs can lose one increment. Real
DynamoDB does each single-item write atomically. Serialising DynamoDB requests inside the
emulator gives the tests that guarantee, while a client that reads and then writes in two
requests would still race (its requests still interleave with other clients' requests).
Other services (SQS long polls in particular) stay concurrent.
"""

import os
import sys
import threading

from werkzeug.serving import run_simple

from moto.server import DomainDispatcherApplication, create_backend_app


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: moto_server.py HOST PORT")
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
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
