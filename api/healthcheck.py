"""Docker HEALTHCHECK without curl: exit 0 when /health answers status "ok"."""

import json
import os
import sys
import urllib.request


def main() -> int:
    url = f"http://127.0.0.1:{os.environ.get('API_PORT', '8000')}/health"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            healthy = response.status == 200 and json.load(response).get("status") == "ok"
    except Exception as exc:  # any failure is "unhealthy", with the reason in docker inspect
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
