#!/usr/bin/env python3
"""The official Standard Webhooks library (PyPI: standardwebhooks) as a peer of clawdbot-bridge.

  verify SECRET            stdin: a drop envelope {"headers": {...}, "body": "..."};
                           prints the body and exits 0, or prints the library's error and exits 1
  verify-parts SECRET HEADERS_JSON   stdin: the body; headers as a JSON object
  sign SECRET MSG_ID UNIX_TS         stdin: the body; prints a drop envelope
"""
import json
import sys
from datetime import datetime, timezone

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def verify(secret, headers, body):
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError as e:
        print(f"rejected: {e}")
        sys.exit(1)
    sys.stdout.write(body)


def main():
    command, secret, *rest = sys.argv[1:]
    data = sys.stdin.buffer.read().decode()
    if command == "verify":
        envelope = json.loads(data)
        verify(secret, envelope["headers"], envelope["body"])
    elif command == "verify-parts":
        verify(secret, json.loads(rest[0]), data)
    elif command == "sign":
        msg_id, ts = rest[0], int(rest[1])
        signature = Webhook(secret).sign(msg_id, datetime.fromtimestamp(ts, tz=timezone.utc), data)
        headers = {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": signature}
        print(json.dumps({"headers": headers, "body": data}))
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
