"""Fault injection for Klaxon's tests: a mitmproxy addon for reverse-proxy mode in front of moto.

    mitmdump --mode reverse:http://127.0.0.1:MOTO_PORT --listen-host 127.0.0.1 \
        --listen-port PORT -s tests/faults/inject.py

Every request is forwarded to moto unchanged unless the plan says to fail it. The plan is set
per test through a control endpoint the addon answers itself (never forwarded):

    POST /__faults/plan   {"seed": 7, "delay_seconds": 2.5,
                           "rules": [{"service": "dynamodb", "operation": "TransactWriteItems",
                                      "rate": 0.2, "kinds": {"conflict": 2, "reset_after": 1}},
                                     {"service": "*", "operation": "*", "rate": 0.1}]}
    GET  /__faults/stats  -> {"requests": {"dynamodb:PutItem": 12, ...},
                              "injected": {"dynamodb:PutItem": {"throttle": 2, ...}, ...},
                              "unanswered": [{"call": "ses:SendEmail", "kind": "delay",
                                              "to": "alice@example.com", "text": "..."}],
                              "upstream_seconds": {"dynamodb:PutItem": 0.84, ...}}

Setting a plan resets the counters and reseeds the generator. The first rule whose service and
operation match (either may be "*") decides: with probability `rate` the call fails, with a kind
drawn by weight from `kinds` (all kinds that apply to the call when omitted), until the rule's
optional `limit` of faults is spent (then its calls are forwarded). Kinds:

- throttle      the service's own throttling error (DynamoDB ThrottlingException, SQS
                RequestThrottled, Scheduler ThrottlingException, SES TooManyRequestsException,
                SNS Throttling), nothing applied;
- provisioned   DynamoDB ProvisionedThroughputExceededException, nothing applied;
- conflict      DynamoDB TransactionCanceledException whose reasons name one TransactionConflict
                (TransactWriteItems only), nothing applied;
- http500/http503  an internal error / service unavailable in the service's error shape,
                nothing applied;
- reset_before  the connection is closed before the request reaches moto;
- reset_after   the request is applied by moto, then the connection is closed without an answer;
- delay         the request is applied by moto and the answer held back `delay_seconds` (longer
                than the client's attempt timeout), so the client gives up on a write that happened.

The service is the signing name in the request's SigV4 credential scope; the operation is the
X-Amz-Target suffix (DynamoDB, SQS), the form's Action (SNS), or method and path (Scheduler and
SES v2 REST APIs).

`unanswered` lists the email and SMS sends (SES SendEmail, SNS Publish) that moto applied but
whose caller cannot have seen the answer: a `reset_after` or `delay` fault, or (kind `slow`) an
unfaulted answer that took at least the plan's optional `slow_seconds` from the request's
arrival (the client's attempt timeout: the client gave up and its SDK sent it again). Each
names the recipient (`to`: the email address or phone number) and `text` (the email's subject,
the SMS's text), so a test can tell a page resent after such a send from any other duplicate.

`upstream_seconds` is, per call, the time moto took over the calls forwarded to it (from the
request's end to the first byte of moto's answer, as the proxy saw them): a profile of where a
slow run spends its time in the emulator, apart from the faults' own waits.
"""

import asyncio
import json
import random
import re
import threading
import urllib.parse

from mitmproxy import http

CONTROL = "/__faults/"
KINDS = ("throttle", "provisioned", "conflict", "http500", "http503", "reset_before",
         "reset_after", "delay")
SCOPE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")


def service_of(request: http.Request) -> str:
    match = SCOPE.search(request.headers.get("authorization", ""))
    return match.group(1) if match else "unknown"


def operation_of(service: str, request: http.Request) -> str:
    target = request.headers.get("x-amz-target", "")
    if target:
        return target.rsplit(".", 1)[-1]
    if service == "sns" or "x-www-form-urlencoded" in request.headers.get("content-type", ""):
        form = urllib.parse.parse_qs(request.get_text(strict=False) or "")
        action = form.get("Action", [""])[0]
        if action:
            return action
    path = request.path.split("?", 1)[0]
    method = request.method
    if service == "scheduler":
        if path.startswith("/schedules/"):
            return {"POST": "CreateSchedule", "GET": "GetSchedule", "PUT": "UpdateSchedule",
                    "DELETE": "DeleteSchedule"}.get(method, method)
        if path.rstrip("/") == "/schedules":
            return "ListSchedules"
        return method + "ScheduleGroup"
    if service == "ses":
        if path.startswith("/v2/email/outbound-emails"):
            return "SendEmail"
        if path.startswith("/v2/email/identities"):
            return method + "EmailIdentity"
    return method + " " + path


def sent_message(service: str, operation: str, request: http.Request):
    """(recipient, text) of an SES v2 SendEmail (address, subject) or an SNS Publish to a phone
    number (number, message); None for any other call."""
    text = request.get_text(strict=False) or ""
    if service == "ses" and operation == "SendEmail":
        try:
            body = json.loads(text)
        except ValueError:
            return None
        to = (body.get("Destination", {}).get("ToAddresses") or [""])[0]
        subject = body.get("Content", {}).get("Simple", {}).get("Subject", {}).get("Data", "")
        return to, subject
    if service == "sns" and operation == "Publish":
        form = urllib.parse.parse_qs(text)
        phone = form.get("PhoneNumber", [""])[0]
        if phone:
            return phone, form.get("Message", [""])[0]
    return None


def applies(kind: str, service: str, operation: str) -> bool:
    if kind == "provisioned":
        return service == "dynamodb"
    if kind == "conflict":
        return service == "dynamodb" and operation == "TransactWriteItems"
    return kind in KINDS


def json_error(status: int, type_name: str, message: str, extra=None, query_error=None):
    body = {"__type": type_name, "message": message}
    body.update(extra or {})
    headers = {"content-type": "application/x-amz-json-1.0",
               "x-amzn-errortype": type_name.rsplit("#", 1)[-1]}
    if query_error:
        headers["x-amzn-query-error"] = query_error
    return http.Response.make(status, json.dumps(body), headers)


def rest_error(status: int, code: str, message: str):
    return http.Response.make(status, json.dumps({"message": message, "Message": message}),
                              {"content-type": "application/json", "x-amzn-errortype": code})


def query_error(status: int, code: str, message: str, fault: str):
    body = ("<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error>"
            f"<Type>{fault}</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>")
    return http.Response.make(status, body, {"content-type": "text/xml"})


def error_response(kind: str, service: str, request: http.Request, rng: random.Random):
    """The answer AWS gives for `kind`, in `service`'s own protocol."""
    status = {"http500": 500, "http503": 503}.get(kind, 400)
    if service == "dynamodb":
        prefix = "com.amazonaws.dynamodb.v20120810#"
        if kind == "provisioned":
            return json_error(400, prefix + "ProvisionedThroughputExceededException",
                              "The level of configured provisioned throughput for the table was "
                              "exceeded. Consider increasing your provisioning level.")
        if kind == "conflict":
            try:
                items = len(json.loads(request.get_text(strict=False) or "{}")
                            .get("TransactItems", [])) or 1
            except ValueError:
                items = 1
            conflicted = rng.randrange(items)
            reasons = [{"Code": "TransactionConflict",
                        "Message": "Transaction is ongoing for the item"}
                       if index == conflicted else {"Code": "None"} for index in range(items)]
            names = ", ".join(r["Code"] for r in reasons)
            return json_error(400, prefix + "TransactionCanceledException",
                              f"Transaction cancelled, please refer cancellation reasons for "
                              f"specific reasons [{names}]", {"CancellationReasons": reasons})
        if kind == "throttle":
            return json_error(400, "com.amazon.coral.availability#ThrottlingException",
                              "Rate of requests exceeds the allowed throughput.")
        if status == 500:
            return json_error(500, prefix + "InternalServerError", "Internal server error")
        return json_error(503, "com.amazon.coral.availability#ServiceUnavailableException",
                          "Service unavailable")
    if service == "sqs":
        if kind == "throttle":
            return json_error(400, "com.amazonaws.sqs#RequestThrottled", "Rate exceeded",
                              query_error="RequestThrottled;Sender")
        code = "InternalError" if status == 500 else "ServiceUnavailable"
        return json_error(status, "com.amazonaws.sqs#" + code, "Service failure",
                          query_error=code + ";Receiver")
    if service == "sns":
        if kind == "throttle":
            return query_error(400, "Throttling", "Rate exceeded", "Sender")
        code = "InternalFailure" if status == 500 else "ServiceUnavailable"
        return query_error(status, code, "Service failure", "Receiver")
    if kind == "throttle":
        if service == "ses":
            return rest_error(429, "TooManyRequestsException", "Too many requests")
        return rest_error(429, "ThrottlingException", "Rate exceeded")
    code = "InternalServerException" if status == 500 else "ServiceUnavailableException"
    return rest_error(status, code, "Service failure")


class Injector:
    def __init__(self):
        self.lock = threading.Lock()
        self.plan = {"rules": []}
        self.rng = random.Random(0)
        self.requests = {}
        self.injected = {}
        self.unanswered = []
        self.upstream = {}

    def set_plan(self, plan):
        with self.lock:
            self.plan = plan
            self.rng = random.Random(plan.get("seed", 0))
            self.requests = {}
            self.injected = {}
            self.unanswered = []
            self.upstream = {}

    def stats(self):
        with self.lock:
            return {"requests": dict(self.requests),
                    "injected": {call: dict(kinds) for call, kinds in self.injected.items()},
                    "unanswered": list(self.unanswered),
                    "upstream_seconds": dict(self.upstream)}

    def record_unanswered(self, flow: http.HTTPFlow, kind: str):
        """Notes an email or SMS send that moto applied but whose answer the caller missed."""
        service = service_of(flow.request)
        operation = operation_of(service, flow.request)
        message = sent_message(service, operation, flow.request)
        if message is None:
            return
        to, text = message
        with self.lock:
            self.unanswered.append({"call": f"{service}:{operation}", "kind": kind,
                                    "to": to, "text": text})

    def choose(self, service, operation, request):
        """The fault for this call (None to forward it), counted."""
        call = f"{service}:{operation}"
        with self.lock:
            self.requests[call] = self.requests.get(call, 0) + 1
            for rule in self.plan.get("rules", []):
                if rule.get("service", "*") not in ("*", service):
                    continue
                if rule.get("operation", "*") not in ("*", operation):
                    continue
                limit = rule.get("limit")
                if limit is not None and rule.get("_used", 0) >= limit:
                    return None
                if self.rng.random() >= float(rule.get("rate", 0)):
                    return None
                weights = rule.get("kinds") or {kind: 1 for kind in KINDS}
                choices = [(k, float(w)) for k, w in weights.items()
                           if w and applies(k, service, operation)]
                if not choices:
                    return None
                kind = self.rng.choices([k for k, _ in choices], [w for _, w in choices])[0]
                rule["_used"] = rule.get("_used", 0) + 1
                counts = self.injected.setdefault(call, {})
                counts[kind] = counts.get(kind, 0) + 1
                return kind
        return None

    def control(self, flow: http.HTTPFlow):
        path = flow.request.path.split("?", 1)[0]
        if path == CONTROL + "plan" and flow.request.method == "POST":
            try:
                self.set_plan(json.loads(flow.request.get_text(strict=False) or "{}"))
            except ValueError as error:
                flow.response = http.Response.make(400, str(error))
                return
            flow.response = http.Response.make(200, "{}", {"content-type": "application/json"})
        elif path == CONTROL + "stats":
            flow.response = http.Response.make(200, json.dumps(self.stats()),
                                               {"content-type": "application/json"})
        else:
            flow.response = http.Response.make(404, "unknown control path")

    async def request(self, flow: http.HTTPFlow):
        if flow.request.path.startswith(CONTROL):
            self.control(flow)
            return
        service = service_of(flow.request)
        operation = operation_of(service, flow.request)
        kind = self.choose(service, operation, flow.request)
        if kind is None:
            return
        if kind == "reset_before":
            flow.kill()
        elif kind in ("reset_after", "delay"):
            flow.metadata["klaxon_fault"] = kind
        else:
            flow.metadata["klaxon_injected"] = kind
            with self.lock:
                flow.response = error_response(kind, service, flow.request, self.rng)

    def record_upstream(self, flow: http.HTTPFlow):
        """Adds the time moto took over a forwarded call to its call's total."""
        sent = flow.request.timestamp_end
        answered = flow.response.timestamp_start if flow.response else None
        if sent is None or answered is None or flow.request.path.startswith(CONTROL):
            return
        service = service_of(flow.request)
        call = f"{service}:{operation_of(service, flow.request)}"
        with self.lock:
            self.upstream[call] = self.upstream.get(call, 0.0) + max(0.0, answered - sent)

    async def response(self, flow: http.HTTPFlow):
        kind = flow.metadata.get("klaxon_fault")
        if "klaxon_injected" not in flow.metadata:
            self.record_upstream(flow)
        if kind in ("reset_after", "delay"):
            self.record_unanswered(flow, kind)
        else:
            slow = self.plan.get("slow_seconds")
            took = (flow.response.timestamp_end or 0) - (flow.request.timestamp_start or 0)
            if slow is not None and flow.response.status_code < 300 and took >= float(slow):
                self.record_unanswered(flow, "slow")
        if kind == "reset_after":
            flow.kill()
        elif kind == "delay":
            await asyncio.sleep(float(self.plan.get("delay_seconds", 5.0)))


addons = [Injector()]
