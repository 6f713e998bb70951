"""Opsgenie's own Python SDK (opsgenie-sdk) against Klaxon, unmodified: create, poll the request
status, get, update message and priority, add a note, acknowledge, close by alias.

Usage: opsgenie_sdk_flow.py BASE_URL GENIE_KEY ALIAS. Prints one JSON line with what the SDK
read back; any SDK error fails the script (non-zero exit).
"""

import json
import sys

import opsgenie_sdk


def main() -> None:
    base_url, key, alias = sys.argv[1:4]
    conf = opsgenie_sdk.configuration.Configuration()
    conf.host = base_url
    conf.api_key["Authorization"] = key
    conf.short_polling_max_retries = 5
    alerts = opsgenie_sdk.AlertApi(api_client=opsgenie_sdk.api_client.ApiClient(configuration=conf))

    created = alerts.create_alert(
        create_alert_payload=opsgenie_sdk.CreateAlertPayload(
            message="Disk 90% on db-1",
            alias=alias,
            description="root volume",
            priority="P3",
            tags=["db", "env:prod"],
        )
    )
    # The SDK's own polling (`id` runs retrieve_result: get_request_status until isSuccess).
    alert_id = created.id
    status = alerts.get_request_status(request_id=created.request_id)
    assert alert_id == status.data.alert_id, (alert_id, status.data.alert_id)

    first = alerts.get_alert(identifier=alert_id, identifier_type="id").data
    alerts.update_alert_message(
        identifier=alert_id,
        identifier_type="id",
        update_alert_message_payload=opsgenie_sdk.UpdateAlertMessagePayload(message="Disk 97% on db-1"),
    )
    alerts.update_alert_priority(
        identifier=alias,
        identifier_type="alias",
        update_alert_priority_payload=opsgenie_sdk.UpdateAlertPriorityPayload(priority="P1"),
    )
    alerts.add_note(
        identifier=alias,
        identifier_type="alias",
        add_note_to_alert_payload=opsgenie_sdk.AddNoteToAlertPayload(note="resizing the volume", user="alice"),
    )
    acked = alerts.acknowledge_alert(
        identifier=alias,
        identifier_type="alias",
        acknowledge_alert_payload=opsgenie_sdk.AcknowledgeAlertPayload(user="alice"),
    )
    ack_status = alerts.get_request_status(request_id=acked.request_id).data
    updated = alerts.get_alert(identifier=alias, identifier_type="alias").data
    closed = alerts.close_alert(
        identifier=alias,
        identifier_type="alias",
        close_alert_payload=opsgenie_sdk.CloseAlertPayload(note="fixed"),
    )
    close_status = alerts.get_request_status(request_id=closed.request_id).data
    listed = alerts.list_alerts(query="alias:" + alias, limit=10).data
    print(
        json.dumps(
            {
                "create_action": status.data.action,
                "create_success": status.data.is_success,
                "alert_id": alert_id,
                "first_message": first.message,
                "first_priority": first.priority,
                "tiny_id": first.tiny_id,
                "message": updated.message,
                "priority": updated.priority,
                "ack_success": ack_status.is_success,
                "close_action": close_status.action,
                "close_success": close_status.is_success,
                "listed": [a.alias for a in listed],
            }
        )
    )


if __name__ == "__main__":
    main()
