#!/usr/bin/python3
"""An independent client: reads a topic with kafka-python (Debian's python3-kafka) and validates
every message against the v1 result record, as written in the design notes.

usage: read_topic.py BOOTSTRAP TOPIC EXPECTED TIMEOUT_S
Over TLS when KAFKA_SSL_CAFILE is set in the environment (with KAFKA_SSL_CERTFILE,
KAFKA_SSL_KEYFILE and KAFKA_SSL_PASSWORD for a client certificate).
Prints one line "ok COUNT" and exits 0 when at least EXPECTED valid records were read and none
was invalid; otherwise prints what was wrong and exits 1.
"""
import json
import os
import re
import sys
import time

from kafka import KafkaConsumer

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
KIND = re.compile(r"^[a-z0-9_]+$")


def number_or_null(v):
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


def validate(key, rec):
    """Returns None when rec is a valid v1 record keyed by its check name, else the reason."""
    if not isinstance(rec, dict):
        return "not an object"
    if rec.get("v") != 1:
        return "v must be 1"
    for f in ("agent", "check", "plugin", "target"):
        if not isinstance(rec.get(f), str) or not rec[f]:
            return f + ": expected a non-empty string"
    if rec.get("location") is not None and not isinstance(rec["location"], str):
        return "location: expected a string or null"
    for f in ("scheduled_at", "started_at"):
        if not isinstance(rec.get(f), str) or not TIME.match(rec[f]):
            return f + ": expected a UTC time with milliseconds"
    if rec.get("status") not in ("up", "down"):
        return "status: expected up or down"
    err = rec.get("error")
    if rec["status"] == "up" and err is not None:
        return "error: must be null when up"
    if rec["status"] == "down":
        if not isinstance(err, dict) or not isinstance(err.get("kind"), str) \
                or not KIND.match(err["kind"]) or not isinstance(err.get("message"), str):
            return "error: expected {kind, message} when down"
    http = rec.get("http")
    if http is not None:
        code = http.get("code") if isinstance(http, dict) else None
        if code is not None and (not isinstance(code, int) or not 100 <= code <= 599):
            return "http.code: expected 100..599"
    timing = rec.get("timing_ms")
    if timing is not None:
        if not isinstance(timing, dict):
            return "timing_ms: expected an object or null"
        for f in ("dns", "connect", "tls", "ttfb", "total"):
            if not number_or_null(timing.get(f)):
                return "timing_ms." + f + ": expected a number or null"
    if rec.get("regex_match") not in (None, True, False):
        return "regex_match: expected a boolean or null"
    if key != rec["check"]:
        return "message key %r is not the check name %r" % (key, rec["check"])
    return None


def main():
    bootstrap, topic, expected, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    tls = {}
    if os.environ.get("KAFKA_SSL_CAFILE"):
        tls = {"security_protocol": "SSL", "ssl_cafile": os.environ["KAFKA_SSL_CAFILE"],
               "ssl_certfile": os.environ.get("KAFKA_SSL_CERTFILE"),
               "ssl_keyfile": os.environ.get("KAFKA_SSL_KEYFILE"),
               "ssl_password": os.environ.get("KAFKA_SSL_PASSWORD")}
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap.split(","), group_id=None,
                             auto_offset_reset="earliest", consumer_timeout_ms=2000, **tls)
    deadline = time.time() + timeout
    count = 0
    while count < expected and time.time() < deadline:
        for msg in consumer:
            key = msg.key.decode() if msg.key is not None else None
            try:
                rec = json.loads(msg.value)
            except ValueError as e:
                print("invalid JSON at partition %d offset %d: %s" % (msg.partition, msg.offset, e))
                return 1
            why = validate(key, rec)
            if why:
                print("invalid record at partition %d offset %d: %s" % (msg.partition, msg.offset, why))
                return 1
            count += 1
            if time.time() >= deadline:
                break
    consumer.close()
    print("ok %d" % count)
    return 0 if count >= expected else 1


if __name__ == "__main__":
    sys.exit(main())
