"""Run the emulator: ``python -m airflow_provider_realtime.testing --port 8765`` (or ``realtime-emulator``).

The only line printed to standard output is the base URL, so scripts can read it and point a connection
at it; the API key it accepts (``--api-key``, by default ``DEFAULT_API_KEY``) goes to standard error. On
exit (SIGTERM or Ctrl-C) it prints its counters as one JSON line to standard error.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys

from airflow_provider_realtime.testing.emulator import DEFAULT_API_KEY, RealtimeEmulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="realtime-emulator",
        description="Offline emulator of the OpenAI Realtime REST API: prints its base URL on standard "
        "output, the API key it accepts on standard error, and serves until Ctrl-C or SIGTERM.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (keep it on loopback)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="the only API key the emulator accepts")
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="milliseconds every answer waits, as a distant server's"
    )
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME",
        help="a model name to accept beside those OpenAI's published spec lists (an Azure deployment, a "
        "newer model); repeat for more",
    )
    args = parser.parse_args(argv)

    # Installed before the URL is printed: a caller may stop us as soon as it has read it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    emulator = RealtimeEmulator(
        args.api_key, host=args.host, port=args.port, latency=args.latency_ms / 1000, extra_models=args.model
    )
    try:
        emulator.start()
    except OSError as error:  # a busy port, an address this machine does not have
        parser.exit(
            2, f"realtime-emulator: cannot listen on {args.host} port {args.port}: {error.strerror}\n"
        )
    try:
        print(emulator.base_url, flush=True)
        print(f"emulator accepts the API key {args.api_key}", file=sys.stderr, flush=True)
        signal.pause()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        emulator.stop()
        print(json.dumps(emulator.stats()), file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
