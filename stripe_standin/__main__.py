"""python -m stripe_standin [--host 127.0.0.1] [--port 12111] [--public-url URL] [--verbose]"""

import argparse

from .server import StandInServer


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m stripe_standin", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--public-url", help="base URL browsers use to reach the hosted checkout page")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args()
    server = StandInServer((args.host, args.port), public_url=args.public_url, quiet=not args.verbose)
    print(f"Stripe stand-in listening on {server.url} (test payments only, state in memory)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
