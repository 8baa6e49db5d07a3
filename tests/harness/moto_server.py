"""moto's server, running one request at a time inside the emulator.

moto's DynamoDB transactions are not atomic under concurrent requests: a cancelled
transaction puts back a copy of the table taken when it started, erasing what a concurrent
request wrote meanwhile. DynamoDB itself has no such race, so the tests that send requests
concurrently would fail now and then for the emulator's sake. Connections are still served
by threads; only the emulator's work is serialised.

moto's SMS opt-out check and its opt-out list disagree (the check says "opted out" for
every number ending in 99 and ignores the list that OptInPhoneNumber edits). In SNS they
are one list, so here a number on the list is opted out too.

Usage: python moto_server.py -H HOST -p PORT
"""
import argparse
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.sns.models import SNSBackend
from werkzeug.serving import run_simple

_moto_check = SNSBackend.check_if_phone_number_is_opted_out


def _check_reads_the_list(self, number: str) -> bool:
    return number in self.opt_out_numbers or _moto_check(self, number)


SNSBackend.check_if_phone_number_is_opted_out = _check_reads_the_list


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()

    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def one_at_a_time(environ, start_response):
        with lock:
            # The whole body is produced under the lock.
            return list(app(environ, start_response))

    run_simple(
        args.host,
        args.port,
        one_at_a_time,
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
