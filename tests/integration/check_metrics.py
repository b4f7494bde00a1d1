#!/usr/bin/python3
"""Checks two scrapes of isitup's /metrics, taken in order, with the prometheus_client parser.

usage: check_metrics.py FIRST SECOND MAX_CHECK_SERIES
Fails (exit 1, the reasons on stderr) unless both parse, every counter of the first is in the
second and no smaller, the plugin counters and the core families are there, and at most
MAX_CHECK_SERIES checks have isitup_check_up series. Prints the number of isitup_check_up
series.
"""
import sys

from prometheus_client.parser import text_string_to_metric_families


def samples(path):
    families = {}
    with open(path, encoding="utf-8") as f:
        for family in text_string_to_metric_families(f.read()):
            families[family.name] = family
    return families


def counters(families):
    out = {}
    for family in families.values():
        if family.type not in ("counter", "histogram"):
            continue
        for s in family.samples:
            if s.name.endswith("_created"):
                continue
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def main():
    first, second, limit = samples(sys.argv[1]), samples(sys.argv[2]), int(sys.argv[3])
    errors = []
    for name in ("isitup_runs_started", "isitup_runs_finished", "isitup_results",
                 "isitup_runs_skipped", "isitup_scheduler_lateness_seconds",
                 "isitup_queue_results", "isitup_sink_delivered_results", "isitup_sink_retries",
                 "isitup_sink_lost_results", "isitup_plugin_counter", "isitup_config_reloads",
                 "isitup_config_last_reload_success_timestamp_seconds",
                 "process_cpu_seconds", "process_resident_memory_bytes", "process_open_fds"):
        if name not in second:
            errors.append("missing family " + name)
    before, after = counters(first), counters(second)
    for key, value in before.items():
        if key not in after:
            errors.append("counter gone: %s" % (key,))
        elif after[key] < value:
            errors.append("counter went down: %s %s -> %s" % (key, value, after[key]))
    plugin = [s for s in second["isitup_plugin_counter"].samples
              if s.labels.get("name") == "lines" and s.value > 0]
    if not plugin:
        errors.append("no plugin counter 'lines' from stdout_sink")
    started = sum(s.value for s in second["isitup_runs_started"].samples)
    if started <= sum(s.value for s in first["isitup_runs_started"].samples):
        errors.append("runs_started did not grow between scrapes")
    up = second.get("isitup_check_up")
    series = len(up.samples) if up else 0
    if series > limit:
        errors.append("%d isitup_check_up series, the limit is %d" % (series, limit))
    for e in errors:
        print(e, file=sys.stderr)
    print(series)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
