#!/usr/bin/env python3
"""Cold-start init time of the Lambda functions, measured locally.

For each function binary this starts the process the way Lambda does (the runtime API address
in AWS_LAMBDA_RUNTIME_API and the usual AWS_LAMBDA_* variables), serving the runtime API
itself, and measures the time from exec to the function's first
`GET /2018-06-01/runtime/invocation/next`: everything the function does before it can take
an event (logging, configuration, rulebook parsing, AWS clients). No AWS account is needed:
no AWS call is made during init.

Usage: scripts/coldstart.py [runs=20] [binary …]  (default: target/release/nudge-{evaluate,send,inbound,ingest,receipts})
"""
import http.server
import os
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    first_poll = None  # set by the server on the first /next request

    def do_GET(self):  # noqa: N802 (the handler name is the stdlib's)
        if self.path.endswith("/runtime/invocation/next") and RuntimeApi.first_poll is None:
            RuntimeApi.first_poll = time.perf_counter()
            polled.set()
        # Never answer with an event: the measurement ends at the first poll.
        time.sleep(5)
        self.send_response(500)
        self.end_headers()

    def log_message(self, *args):
        pass


polled = threading.Event()


def measure(binary, port):
    RuntimeApi.first_poll = None
    polled.clear()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": os.path.basename(binary),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        "AWS_LAMBDA_LOG_GROUP_NAME": "local",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_EC2_METADATA_DISABLED": "true",
        "TABLE_NAME": "nudge",
        "EVENT_BUS_NAME": "nudge-events",
        "RULEBOOK_PATH": os.path.join(ROOT, "infra", "rulebooks"),
        "RUST_LOG": "warn",
    }
    started = time.perf_counter()
    process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not polled.wait(10):
            err = process.stderr.read1(4096).decode(errors="replace") if process.poll() is not None else ""
            raise SystemExit(f"{binary}: no runtime poll within 10 s {err}")
        return (RuntimeApi.first_poll - started) * 1000
    finally:
        process.kill()
        process.wait()


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    binaries = sys.argv[2:] or [
        os.path.join(ROOT, "target", "release", f"nudge-{name}")
        for name in ("evaluate", "send", "inbound", "ingest", "receipts")
    ]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    for binary in binaries:
        measure(binary, port)  # warm the page cache: Lambda's own cold start is not ours to time
        times = sorted(measure(binary, port) for _ in range(runs))
        print(
            f"{os.path.basename(binary):>15}: init median {statistics.median(times):6.1f} ms, "
            f"p90 {times[int(len(times) * 0.9) - 1]:6.1f} ms, max {times[-1]:6.1f} ms ({runs} runs)"
        )


if __name__ == "__main__":
    main()
