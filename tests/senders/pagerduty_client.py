"""PagerDuty's official Python client (`pagerduty`), unmodified, against Klaxon over HTTPS: the
client refuses any base URL that is not https://. It trusts Klaxon's self-signed authority
through SSL_CERT_FILE (the client is built on httpx, which reads it), as documented in
docs/local-mode.md.

Usage: pagerduty_client.py trigger|change BASE_URL ROUTING_KEY DEDUP_KEY. `trigger` checks that
the client refuses http:// and triggers an alert; `change` sends a change event. Prints one JSON
line; any client error fails the script.
"""

import json
import sys

import pagerduty


def main() -> None:
    mode, base_url, key, dedup_key = sys.argv[1:5]
    client = pagerduty.EventsApiV2Client(key, base_url=base_url)
    if mode == "change":
        # send_change_event, not submit(): submit() in pagerduty 7.2.0 fails on its own
        # timestamp (datetime.timezone); the event is the same.
        client.send_change_event(
            payload={"summary": "Deploy api v1.2", "source": "ci.example.com", "custom_details": {"build": "12"}},
            links=[{"href": "https://ci.example.com/builds/12", "text": "Build 12"}],
        )
        print(json.dumps({"change": "sent"}))
        return
    try:
        pagerduty.EventsApiV2Client(key, base_url=base_url.replace("https://", "http://"))
        refused_http = False
    except pagerduty.UrlError:
        refused_http = True
    answered = client.trigger("Disk full on db-1", "db-1", dedup_key=dedup_key, severity="error")
    print(json.dumps({"refused_http": refused_http, "dedup_key": answered}))


if __name__ == "__main__":
    main()
