"""python -m farm: run the site farm in the foreground; prints one JSON line, serves until SIGINT/SIGTERM."""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading

from farm import Farm, FarmConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m farm", description=__doc__)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", choices=("demo", "large"), default="demo")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--faults", default=None,
                        help='JSON: switches for every site, or {"site id": {switches}}, e.g. \'{"seoul": {"failure_rate": 0.3}}\'')
    parser.add_argument("--directories", type=int, default=300, help="large scale: directory sites (default 300)")
    parser.add_argument("--boards", type=int, default=200, help="large scale: boards (default 200)")
    parser.add_argument("--address-base", metavar="IPV4",
                        help="sites listen on this address + i instead of 127.0.1.x (e.g. 198.18.0.100)")
    parser.add_argument("--write-sites", metavar="DIR", help="also write this farm's site definitions (YAML) into DIR")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    parser.add_argument("--log-out", metavar="FILE",
                        help="at stop, write the request log to FILE: one JSON line per request (host, arrival "
                             "time by the kernel's receive timestamp, method, path)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr)

    farm = Farm(FarmConfig(seed=args.seed, scale=args.scale, port=args.port,
                           faults=json.loads(args.faults) if args.faults else None,
                           directories=args.directories, boards=args.boards,
                           address_base=args.address_base))
    if args.write_sites:
        farm.write_site_definitions(args.write_sites)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    farm.start()
    try:
        print(json.dumps({"port": farm.port, "sites": farm.sites}, ensure_ascii=False), flush=True)
        while not done.wait(1.0):
            pass
    finally:
        farm.stop()
        if args.log_out:
            with open(args.log_out, "w", encoding="utf-8") as out:
                for host, arrived, method, target in farm.request_log():
                    out.write(json.dumps([host, arrived, method, target], ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
