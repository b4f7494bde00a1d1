/*
 * isitup plugin ABI, version 1.
 *
 * A plugin is a shared object that exports one C function, isitup_plugin_entry(), returning a
 * static descriptor (isitup_plugin_v1). The host (isitup-agent) reads abi_version first and
 * refuses a plugin built for an ABI it does not support; it reads only the fields that fit in
 * each struct's struct_size, so a plugin built against an older, smaller struct still loads.
 *
 * Rules of this ABI:
 * - Every struct starts with struct_size (or abi_version + struct_size for the descriptor) and
 *   only ever grows at the end. Set struct_size = sizeof(the struct) you compiled against.
 * - Plain C types only. No exception, longjmp or C++ object crosses the boundary.
 * - Strings are NUL-terminated UTF-8. A string the host passes in is valid for the duration of
 *   the call unless stated otherwise; a string the plugin returns or passes to the host is
 *   copied by the host before the call returns.
 * - The host passes its services (isitup_host_v1) to the plugin; a plugin links nothing of the
 *   agent.
 *
 * Threads: the host calls create/destroy/prepare/release from its main thread; check start()
 * from its scheduler thread (or a worker-pool thread for blocking checks); sink write() from
 * the host's one pipeline thread, which every sink instance shares (hand the batch off and
 * return), and write_events() from the event thread; source start/stop from the main thread
 * and ack() from any thread (the one that completed the batch's last sink write; with no
 * sinks, from inside submit). Completions (isitup_check_done_fn, isitup_batch_done_fn) and
 * host services may be called from any thread. The host's side: core/THREADS.md.
 *
 * What the host guarantees, also to a plugin that breaks these rules:
 * - A completion's done_ctx is a ticket, not a pointer: calling a completion a second time,
 *   or after the host ended the run or write, is refused, logged (rate-limited) and counted;
 *   it never touches freed memory. Any done_ctx value is safe to pass.
 * - A check is never started again while its previous start() has not returned. A run with
 *   no result by its timeout + 1 s is reported as "timeout" by the host; the run's completion
 *   is void from then on. A blocking start() that has not returned then keeps its worker
 *   thread (logged; another thread takes its place, up to a bound) and the check's runs are
 *   skipped and counted until it returns. At shutdown (and with --once) the host waits for
 *   such a start() until its timeout + 1 s, then gives up: it names the check, leaves the
 *   thread behind, and neither releases the check nor destroys the instance.
 * - A sink write not completed within the agent's pipeline.sink_timeout is sent again (as
 *   for ISITUP_RETRY); the batch stays valid for the sink until its late completion, which
 *   is ignored.
 * - A blocking start() that returns without calling done yields a down result "internal".
 */
#ifndef ISITUP_PLUGIN_H
#define ISITUP_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI this header describes. The host supports every version up to its own. */
#define ISITUP_ABI_VERSION 1u

/* The one symbol a plugin exports. */
#define ISITUP_ENTRY_SYMBOL "isitup_plugin_entry"

#if defined(_WIN32)
#define ISITUP_EXPORT __declspec(dllexport)
#else
#define ISITUP_EXPORT __attribute__((visibility("default")))
#endif

/* ---------------------------------------------------------------- status and kinds */

typedef enum isitup_status {
  ISITUP_OK = 0,    /* done (for sinks: the batch is durable) */
  ISITUP_RETRY = 1, /* temporary failure: the host tries again later with backoff */
  ISITUP_ERROR = 2  /* permanent failure: retrying will not help */
} isitup_status;

typedef enum isitup_kind {
  ISITUP_KIND_CHECK = 1u,  /* runs checks against targets */
  ISITUP_KIND_SINK = 2u,   /* receives batches of results */
  ISITUP_KIND_SOURCE = 4u, /* feeds results from elsewhere (e.g. a Kafka consumer) */
  ISITUP_KIND_CATALOG = 8u /* holds the check catalog a probe fleet shares (grown later) */
} isitup_kind;

typedef enum isitup_log_level {
  ISITUP_LOG_TRACE = 0,
  ISITUP_LOG_DEBUG = 1,
  ISITUP_LOG_INFO = 2,
  ISITUP_LOG_WARN = 3,
  ISITUP_LOG_ERROR = 4
} isitup_log_level;

/* ---------------------------------------------------------------- declared options */

typedef enum isitup_option_type {
  ISITUP_OPT_STRING = 1,
  ISITUP_OPT_INT = 2,   /* 64-bit signed */
  ISITUP_OPT_FLOAT = 3, /* double */
  ISITUP_OPT_BOOL = 4,
  ISITUP_OPT_DURATION = 5, /* "500ms", "30s", "5m", "1h"; read as milliseconds */
  ISITUP_OPT_LIST = 6,     /* a sequence of scalars, read as strings */
  ISITUP_OPT_MAP = 7       /* a mapping of string keys to scalars, read as strings */
} isitup_option_type;

/* One option a plugin accepts. The host validates every config section against these
 * (unknown key, wrong type, missing required: start-up error with file:line:column) and
 * prints them for `isitup-agent --describe-plugin NAME`. */
typedef struct isitup_option_v1 {
  uint32_t struct_size;
  const char* name;
  uint32_t type;             /* isitup_option_type */
  uint32_t required;         /* non-zero: must be given (default_value is then ignored) */
  const char* default_value; /* YAML text of the default ("5s", "[200, 301]"), or NULL */
  const char* description;   /* one line */
} isitup_option_v1;

/* Validated option values of one config section, owned by the host. Read them with the
 * accessors in isitup_host_v1; a value not given in the config reads as its default. */
typedef struct isitup_options isitup_options;

/* ---------------------------------------------------------------- the result record */

#define ISITUP_DOWN 0
#define ISITUP_UP 1

/* "absent" markers for numeric fields of isitup_record_v1 */
#define ISITUP_ABSENT_INT (-1)
#define ISITUP_ABSENT_MS (-1.0)
#define ISITUP_ABSENT_TIME INT64_MIN
#define ISITUP_ABSENT_DAYS INT32_MIN /* tls_days_left: negative days are real (expired) */

/* One check result: the v1 wire record (see the codec). A check plugin fills the fields from
 * `status` on; the host fills the identity fields (agent .. started_at_ms) and ignores what
 * the plugin put there. Absent fields: NULL strings, ISITUP_ABSENT_* numbers. */
typedef struct isitup_record_v1 {
  uint32_t struct_size;
  /* identity, filled by the host */
  const char* agent;
  const char* location; /* may be NULL */
  const char* check;
  const char* plugin;
  const char* target;
  int64_t scheduled_at_ms; /* Unix epoch milliseconds, UTC */
  int64_t started_at_ms;
  /* outcome, filled by the check */
  int32_t status;            /* ISITUP_UP or ISITUP_DOWN */
  const char* error_kind;    /* down only: dns, connect, tls, timeout, http_status,
                                body_mismatch, too_large, protocol, internal, or a
                                plugin's own kind ([a-z0-9_]+) */
  const char* error_message; /* down only: one line for humans */
  int32_t http_code;
  const char* http_version; /* "1.0", "1.1", "2", "3" */
  int64_t http_bytes;       /* body bytes received */
  double dns_ms, connect_ms, tls_ms, ttfb_ms, total_ms;
  int32_t regex_match;      /* 0 or 1 */
  int64_t tls_not_after_ms; /* end of the peer certificate's validity */
  int32_t tls_days_left;
  int32_t redirects;
  const char* ip;         /* address the check connected to */
  const char* extra_json; /* NULL or a JSON object with plugin-specific fields */
} isitup_record_v1;

/* Fill every field with "absent", status down, struct_size set. */
static inline void isitup_record_init(isitup_record_v1* r) {
  memset(r, 0, sizeof *r);
  r->struct_size = (uint32_t)sizeof(isitup_record_v1);
  r->status = ISITUP_DOWN;
  r->scheduled_at_ms = ISITUP_ABSENT_TIME;
  r->started_at_ms = ISITUP_ABSENT_TIME;
  r->http_code = ISITUP_ABSENT_INT;
  r->http_bytes = ISITUP_ABSENT_INT;
  r->dns_ms = r->connect_ms = r->tls_ms = r->ttfb_ms = r->total_ms = ISITUP_ABSENT_MS;
  r->regex_match = ISITUP_ABSENT_INT;
  r->tls_not_after_ms = ISITUP_ABSENT_TIME;
  r->tls_days_left = ISITUP_ABSENT_DAYS;
  r->redirects = ISITUP_ABSENT_INT;
}

/* One partition's share of what a source read (a Kafka topic partition). */
typedef struct isitup_position_v1 {
  uint32_t struct_size;
  int32_t partition;
  /* A batch covers the offsets [first_offset, next_offset) of the partition: first_offset is
   * where the previous batch of that partition ended (or where reading started). */
  int64_t first_offset;
  /* claim_positions: the stored next offset to read from, -1 when none is stored. */
  int64_t next_offset;
  /* The owner epoch claim_positions gave this reader; 0: none (the sink does not fence). */
  int64_t epoch;
} isitup_position_v1;

/* The positions of one source's batch, or a claim: partitions of one topic read by one group. */
typedef struct isitup_positions_v1 {
  uint32_t struct_size;
  const char* group; /* consumer group */
  const char* topic;
  isitup_position_v1* items;
  size_t count;
} isitup_positions_v1;

/* A batch of results handed to a sink, owned by the host and valid until the sink calls the
 * batch's completion. records[i] are pointers because the struct may grow. */
typedef struct isitup_batch_v1 {
  uint32_t struct_size;
  size_t count;
  const isitup_record_v1* const* records;
  uint64_t sequence; /* increases by one per new batch; a batch sent again keeps its number */
  /* Grown after the first release: read it only when struct_size reaches it. */
  /* Where the records were read from a partitioned log (isitup_host_v1.submit_at), handed only
   * to the sink that keeps positions (ISITUP_SINK_POSITIONS); NULL otherwise. */
  const isitup_positions_v1* positions;
} isitup_batch_v1;

/* A record decoded from JSON by the host (isitup_host_v1.record_parse). */
typedef struct isitup_parsed_record isitup_parsed_record;

/* ---------------------------------------------------------------- host services */

/* Per-instance handle the host passes to create(); pass it back to every host service. */
typedef struct isitup_host_ctx isitup_host_ctx;

typedef struct isitup_host_v1 {
  uint32_t struct_size;
  uint32_t abi_version; /* the host's ISITUP_ABI_VERSION */

  /* Logs one line, prefixed by the host with [plugin.instance]. Any thread. */
  void (*log)(isitup_host_ctx* ctx, uint32_t level, const char* message);

  /* Option accessors. `name` must be a declared option. Any thread. Strings returned live as
   * long as the options object (until the instance or prepared check is destroyed). */
  int (*opt_is_set)(const isitup_options* o, const char* name);         /* given in config */
  const char* (*opt_string)(const isitup_options* o, const char* name); /* NULL: no value */
  int64_t (*opt_int)(const isitup_options* o, const char* name);
  double (*opt_float)(const isitup_options* o, const char* name);
  int (*opt_bool)(const isitup_options* o, const char* name);
  int64_t (*opt_duration_ms)(const isitup_options* o, const char* name);
  size_t (*opt_list_size)(const isitup_options* o, const char* name);
  const char* (*opt_list_item)(const isitup_options* o, const char* name, size_t i);
  size_t (*opt_map_size)(const isitup_options* o, const char* name);
  const char* (*opt_map_key)(const isitup_options* o, const char* name, size_t i);
  const char* (*opt_map_value)(const isitup_options* o, const char* name, size_t i);

  /* The v1 record codec. record_to_json writes the JSON object (no newline) into buf (up to
   * cap bytes, NUL-terminated when it fits) and returns its length without the NUL; call again
   * with a larger buffer when the result is >= cap. record_parse decodes and validates; on
   * failure it returns NULL and writes the reason into err. Any thread. */
  size_t (*record_to_json)(const isitup_record_v1* r, char* buf, size_t cap);
  isitup_parsed_record* (*record_parse)(const char* json, size_t len, char* err, size_t err_cap);
  const isitup_record_v1* (*record_view)(const isitup_parsed_record* p);
  void (*record_free)(isitup_parsed_record* p);

  /* Sources: hand the host a batch. The host copies the records before returning. ISITUP_OK:
   * accepted; the host will call the source's ack(token) once every sink made it durable.
   * ISITUP_RETRY: the pipeline is full; keep the batch and submit it again later (pause
   * input meanwhile). Any thread. */
  uint32_t (*submit)(isitup_host_ctx* ctx, const isitup_record_v1* const* records, size_t count,
                     uint64_t token);

  /* Adds delta to a named counter of this instance (self-metrics, shown in the agent's 60 s
   * status line). At most 32 names per instance (further ones add up under "other"); a name
   * is cut to 64 bytes and characters other than [A-Za-z0-9_.-] become '_'. Any thread. */
  void (*counter_add)(isitup_host_ctx* ctx, const char* name, int64_t delta);

  /* Grown after the first release: call it only when struct_size reaches it. */
  /* Sources that read a share of partitioned input (a Kafka consumer group) say when the share
   * changes, from the thread that calls submit: ISITUP_PARTITIONS_JOINING once in start() (the
   * share is empty until the group assigns), ISITUP_PARTITIONS_ASSIGNED with the partitions
   * added (count may be 0) before the first submit of a record read from them, and
   * ISITUP_PARTITIONS_REVOKED with those that left (or were lost) after the last submit of their
   * records, once their batches were acknowledged or the source gave up waiting. The host may
   * block in it for up to a minute (it reloads the alert state the new share's checks had). A
   * source that never calls it is not partitioned: the agent is ready without an assignment. */
  void (*source_partitions)(isitup_host_ctx* ctx, uint32_t change, const int32_t* partitions,
                            size_t count);

  /* Grown after the first release: call these only when struct_size reaches them. */
  /* submit() of records read at `positions` (one item per partition with records or skipped
   * messages in the batch; copied before returning). The sink that keeps positions stores
   * them with the rows, so a batch is applied once. NULL positions: as submit(). */
  uint32_t (*submit_at)(isitup_host_ctx* ctx, const isitup_record_v1* const* records, size_t count,
                        uint64_t token, const isitup_positions_v1* positions);
  /* A source that is assigned partitions claims them before reading: for each item (partition
   * set by the caller) the host fills next_offset (where the stored rows end: read from there;
   * -1 when nothing is stored) and epoch (stamp it on every position of the partition's
   * batches until the next claim; a batch of an older epoch is refused once another reader
   * claimed the partition). Blocks up to timeout_ms. ISITUP_OK with every item filled, or
   * ISITUP_RETRY/ISITUP_ERROR with a reason (items then have next_offset -1, epoch 0: read
   * from the log's own committed offsets, unfenced). From the thread that calls submit. */
  uint32_t (*claim_positions)(isitup_host_ctx* ctx, isitup_positions_v1* claim, int64_t timeout_ms,
                              char* err, size_t err_cap);

  /* Grown after the first release: call it only when struct_size reaches it. */
  /* submit_at() of records the host decoded (record_parse, which validated them): the host
   * takes them as they are, without the copy and second validation of submit_at. ISITUP_OK:
   * the host owns the records now (do not record_free them). Otherwise they are still the
   * caller's, unchanged (ISITUP_RETRY: submit them again later). Each record at most once in
   * a call. */
  uint32_t (*submit_parsed)(isitup_host_ctx* ctx, isitup_parsed_record* const* records,
                            size_t count, uint64_t token, const isitup_positions_v1* positions);
} isitup_host_v1;

/* isitup_host_v1.source_partitions: what changed. */
#define ISITUP_PARTITIONS_JOINING 0u
#define ISITUP_PARTITIONS_ASSIGNED 1u
#define ISITUP_PARTITIONS_REVOKED 2u

/* ---------------------------------------------------------------- check plugins */

/* What the config says about one check; passed to prepare(). */
typedef struct isitup_check_spec_v1 {
  uint32_t struct_size;
  const char* name;
  const char* target;
  int64_t interval_ms;
  int64_t timeout_ms;
  const isitup_options* options; /* the check's validated `options:`; lives until release() */
} isitup_check_spec_v1;

/* One run of a prepared check; passed to start(). */
typedef struct isitup_run_v1 {
  uint32_t struct_size;
  int64_t scheduled_at_ms; /* when the run was due (epoch ms) */
  int64_t timeout_ms;      /* the check must complete within this */
} isitup_run_v1;

/* Called exactly once per start(), from any thread, with the outcome. `result` and its strings
 * are owned by the plugin and need only stay valid during the call. Further calls are ignored
 * (and counted), as is a call after the host reported the run as timed out. */
typedef void (*isitup_check_done_fn)(void* done_ctx, const isitup_record_v1* result);

/* Set in isitup_check_ops_v1.flags: start() blocks until the check is done, so the host calls
 * it on its worker pool (the blocking adapter) instead of its scheduler thread. */
#define ISITUP_CHECK_BLOCKING 1u

typedef struct isitup_check_ops_v1 {
  uint32_t struct_size;
  uint32_t flags;                  /* ISITUP_CHECK_BLOCKING */
  const isitup_option_v1* options; /* per-check options (a check's `options:` section) */
  size_t option_count;

  /* One instance per plugin per agent. Main thread. On failure write a reason into err. */
  uint32_t (*create)(const isitup_host_v1* host, isitup_host_ctx* ctx, void** instance, char* err,
                     size_t err_cap);
  /* Validate and pre-compile one check (parse the target, compile regexes). A failure is a
   * config error reported at the check's line. Main thread. */
  uint32_t (*prepare)(void* instance, const isitup_check_spec_v1* spec, void** check, char* err,
                      size_t err_cap);
  /* Start one run. Async plugins return at once and call done later from any thread; with
   * ISITUP_CHECK_BLOCKING the call itself may block (on a host worker thread) and must call
   * done before it returns. The host never runs one check twice at once: it does not start a
   * check again before its previous start() has returned and the run has ended (by done, or
   * by the host's timeout: see the guarantees at the top). */
  void (*start)(void* instance, void* check, const isitup_run_v1* run, isitup_check_done_fn done,
                void* done_ctx);
  /* Free a prepared check; no run of it is in flight. Main thread. */
  void (*release)(void* instance, void* check);
  /* Shut down. The host first waits for in-flight runs (up to their timeout); any run still
   * in flight when destroy() is called must be abandoned without calling its done. */
  void (*destroy)(void* instance);
} isitup_check_ops_v1;

/* ---------------------------------------------------------------- sink plugins */

/* Called exactly once per write() (further calls are ignored and counted; so is a call after
 * pipeline.sink_timeout, when the host has sent the batch again), from any thread: ISITUP_OK
 * when the batch is durable,
 * ISITUP_RETRY to have the host send the same batch again after a backoff, ISITUP_ERROR when
 * it can never be written (the host counts and logs the records as lost). `message` may be
 * NULL on success. */
typedef void (*isitup_batch_done_fn)(void* done_ctx, uint32_t status, const char* message);

/* One state transition of a check (an incident opened, resolved, or a reminder that it is
 * still open), handed to sinks that take events. Owned by the host, valid until the call's
 * completion. Absent strings are NULL, absent times ISITUP_ABSENT_TIME. */
typedef struct isitup_event_v1 {
  uint32_t struct_size;
  const char* event_id;    /* the same on every retry and replay of one transition (32 hex) */
  const char* type;        /* "incident_opened" | "incident_resolved" | "incident_reminder" */
  const char* incident_id; /* the same for every event of one incident (32 hex) */
  const char* check;
  const char* plugin;
  const char* target;     /* userinfo already redacted */
  int64_t at_ms;          /* when the transition was decided (epoch ms) */
  int64_t opened_at_ms;   /* scheduled_at of the first down result of the run that crossed the
                             failure threshold */
  int64_t resolved_at_ms; /* ISITUP_ABSENT_TIME while open */
  const char* error_kind; /* the error that opened the incident */
  const char* error_message;
  const char* locations_json; /* JSON array of the locations that saw it down: ["eu-west"] */
  const char* json;           /* the whole event as one JSON object (no newline) */
} isitup_event_v1;

/* isitup_sink_ops_v1.sink_flags: the sink is a notifier. It receives only the events of checks
 * that name it in their alert `notify` list, and never result batches (write is not called). */
#define ISITUP_SINK_NOTIFIER 1u
/* isitup_sink_ops_v1.sink_flags: the sink persists the agent's alert state (check state,
 * incidents and the event outbox) in the same transaction as the result rows they came from,
 * and gives it back at start (write_with_state, load_state, events_delivered: all non-NULL).
 * The agent then keeps no journal of its own. */
#define ISITUP_SINK_ALERT_STATE 2u

/* isitup_sink_ops_v1.sink_flags: the sink answers read_history (non-NULL) with up/total counts
 * and latency percentiles per check and time bucket, from what it stored; the agent's status
 * page then shows days it has not seen itself (e.g. a writer agent over PostgreSQL). */
#define ISITUP_SINK_HISTORY 4u

/* isitup_sink_ops_v1.sink_flags: the sink stores the positions a batch was read at with its
 * rows, in the same transaction (claim_positions non-NULL): sources seek there on assignment,
 * and a batch of a reader whose claim another reader replaced is refused (ISITUP_ERROR). The
 * host uses the first sink with this flag; only it gets isitup_batch_v1.positions. */
#define ISITUP_SINK_POSITIONS 8u

/* One bucket of a check's history (read_history). Owned by the sink, valid during the call. */
typedef struct isitup_history_bucket_v1 {
  uint32_t struct_size;
  const char* check; /* the check's name, not NUL-terminated: use check_len */
  size_t check_len;
  int64_t start_ms;    /* bucket start (epoch ms), a multiple of length_ms (UTC-aligned) */
  int64_t length_ms;   /* the length asked for */
  uint64_t results;    /* results in the bucket, over all locations and agents */
  uint64_t up;         /* of which up */
  double p50_total_ms; /* percentiles of the results' total time; NaN when none had one */
  double p95_total_ms;
} isitup_history_bucket_v1;

/* Called by read_history once per non-empty (check, bucket); the bucket is valid during the
 * call only. */
typedef void (*isitup_history_fn)(void* ctx, const isitup_history_bucket_v1* bucket);

/* One check's alert state after a batch, in the host's own encoding. */
typedef struct isitup_check_state_v1 {
  uint32_t struct_size;
  const char* check;
  int64_t version;        /* grows with every change of the check's state: never replace a
                             stored state by one with a lower or equal version */
  const char* state_json; /* a JSON object: store it as given, hand it back on load */
} isitup_check_state_v1;

/* An event of the outbox and the sinks (their config names) that must receive it. */
typedef struct isitup_outbox_event_v1 {
  uint32_t struct_size;
  const isitup_event_v1* event;
  const char* const* sinks;
  size_t sink_count;
} isitup_outbox_event_v1;

/* What goes with a batch (write_with_state) or comes back at start (load_state). */
typedef struct isitup_alert_state_v1 {
  uint32_t struct_size;
  const isitup_check_state_v1* states;
  size_t state_count;
  const isitup_outbox_event_v1* events; /* in the order they were decided */
  size_t event_count;
} isitup_alert_state_v1;

/* load_state hands everything over in one call; the pointers are valid during the call. */
typedef void (*isitup_alert_load_fn)(void* ctx, const isitup_alert_state_v1* loaded);

typedef struct isitup_sink_ops_v1 {
  uint32_t struct_size;
  uint32_t max_in_flight; /* batches written but not yet done; 0 means 1 */
  const isitup_option_v1* options;
  size_t option_count;

  /* Validate the options and set up; refuse bad values with a reason in err. Must not block
   * or need the server to be reachable: `isitup-agent --check-config` creates and destroys
   * instances to validate a config. Connect lazily, on the sink's own thread. Main thread. */
  uint32_t (*create)(const isitup_host_v1* host, isitup_host_ctx* ctx,
                     const isitup_options* options, void** instance, char* err, size_t err_cap);
  /* Take a batch; must not block for long (hand it to the sink's own I/O). Pipeline thread. */
  void (*write)(void* instance, const isitup_batch_v1* batch, isitup_batch_done_fn done,
                void* done_ctx);
  /* Block until every written batch is done or timeout_ms has passed. At shutdown. */
  uint32_t (*flush)(void* instance, int64_t timeout_ms);
  void (*destroy)(void* instance);

  /* Grown after the first release: a plugin built against an older header has a struct_size
   * that ends before these, and the host reads them as 0/NULL. */
  uint32_t sink_flags; /* ISITUP_SINK_NOTIFIER, _ALERT_STATE, _HISTORY, _POSITIONS */
  /* Take state transitions. NULL: the sink takes no events. Called from the host's event
   * thread (one per agent): never twice at once on one instance, but possibly while write()
   * runs on the pipeline thread, so guard what the two share. Must not block for long. Call
   * done exactly once, from any thread: ISITUP_OK when delivered (or durable),
   * ISITUP_RETRY to be handed the same events again after a backoff (same event ids, same
   * order per check), ISITUP_ERROR when they can never be delivered (logged, dropped). */
  void (*write_events)(void* instance, const isitup_event_v1* const* events, size_t count,
                       isitup_batch_done_fn done, void* done_ctx);

  /* Grown with ISITUP_SINK_ALERT_STATE (NULL without the flag). */
  /* write() with the alert state the batch's records produced. In the transaction that
   * commits the batch's last rows, also: store each check state unless one with a higher or
   * equal version is stored; store each event once (by event_id) with the incident it opens
   * or resolves; add one outbox entry per (event, sink) unless there is one. done(ISITUP_OK)
   * only after the COMMIT. `state` is valid until done. Pipeline thread. */
  void (*write_with_state)(void* instance, const isitup_batch_v1* batch,
                           const isitup_alert_state_v1* state, isitup_batch_done_fn done,
                           void* done_ctx);
  /* At start, before any write: call `loaded` once with every stored check state and every
   * outbox event some sink has not had (with those sinks only), blocking at most timeout_ms.
   * ISITUP_OK, or ISITUP_RETRY/ISITUP_ERROR with a reason in err. Main thread; also again
   * whenever a source's partition share grows (see source_partitions), then from that source's
   * thread while write() may run: never disturb write() (e.g. read on a connection of its own). */
  uint32_t (*load_state)(void* instance, int64_t timeout_ms, isitup_alert_load_fn loaded, void* ctx,
                         char* err, size_t err_cap);
  /* These events reached `sink` (or were refused by it for good): mark them delivered when
   * convenient. Must not block; a mark that is lost means the event is sent again, with the
   * same id, after a restart. Event thread. */
  void (*events_delivered)(void* instance, const char* sink, const char* const* event_ids,
                           size_t count);

  /* Grown with ISITUP_SINK_HISTORY (NULL without the flag). */
  /* Calls fn once per non-empty (check, bucket) with buckets of length_ms (3600000 or
   * 86400000) whose start is in [from_ms, to_ms), in any order, and returns within timeout_ms:
   * ISITUP_OK, or ISITUP_RETRY/ISITUP_ERROR with a reason in err (the host then shows what it
   * has in memory). Any thread, never twice at once on one instance (the host serializes);
   * must not disturb write() (use a connection of its own). The host bounds and validates
   * what it is given. */
  uint32_t (*read_history)(void* instance, int64_t from_ms, int64_t to_ms, int64_t length_ms,
                           isitup_history_fn fn, void* ctx, int64_t timeout_ms, char* err,
                           size_t err_cap);

  /* Grown with ISITUP_SINK_POSITIONS (NULL without the flag). */
  /* Takes the partitions of claim->group/topic for this reader: for each item, a new epoch
   * (greater than any given before for that partition) into epoch and the stored next offset
   * into next_offset (-1: none). Returns within timeout_ms: ISITUP_OK, or ISITUP_RETRY/
   * ISITUP_ERROR with a reason in err. The source's thread, while write() may run: use a
   * connection of its own. */
  uint32_t (*claim_positions)(void* instance, isitup_positions_v1* claim, int64_t timeout_ms,
                              char* err, size_t err_cap);
} isitup_sink_ops_v1;

/* ---------------------------------------------------------------- source plugins */

typedef struct isitup_source_ops_v1 {
  uint32_t struct_size;
  const isitup_option_v1* options;
  size_t option_count;

  /* As for sinks: validate, set up, connect nothing yet (--check-config creates instances). */
  uint32_t (*create)(const isitup_host_v1* host, isitup_host_ctx* ctx,
                     const isitup_options* options, void** instance, char* err, size_t err_cap);
  /* Begin feeding batches through host->submit from the source's own threads. Main thread. */
  uint32_t (*start)(void* instance, char* err, size_t err_cap);
  /* A submitted batch is done: ISITUP_OK when every sink made it durable (commit it),
   * ISITUP_ERROR when a sink refused it for good. Any thread. */
  void (*ack)(void* instance, uint64_t token, uint32_t status);
  /* Stop submitting; after stop() returns no submit() comes. Acks may still arrive until
   * destroy(). Main thread. */
  void (*stop)(void* instance);
  void (*destroy)(void* instance);
} isitup_source_ops_v1;

/* ---------------------------------------------------------------- catalog plugins */

/* A check catalog: a keyed log of check definitions shared by a fleet of probe agents (e.g. a
 * Kafka topic read in a consumer group). Grown after the first release: a descriptor whose
 * struct_size ends before isitup_plugin_v1.catalog provides no catalog.
 *
 * One message of the catalog: key = the check's name, value = its definition (versioned JSON,
 * parsed and validated by the host, hostile until then) or NULL for a tombstone (the check is
 * deleted). Owned by whoever passes it, valid for the duration of the call. Neither key nor
 * value is NUL-terminated: use the lengths. */
typedef struct isitup_catalog_entry_v1 {
  uint32_t struct_size;
  const char* key;
  size_t key_len;
  const char* value; /* NULL: tombstone */
  size_t value_len;
  int32_t partition; /* where the message was read (-1 when publishing) */
  int64_t offset;
} isitup_catalog_entry_v1;

typedef void (*isitup_catalog_entry_fn)(void* ctx, const isitup_catalog_entry_v1* entry);
typedef void (*isitup_catalog_partitions_fn)(void* ctx, const int32_t* partitions, size_t count);

/* What a started catalog tells the host, always from the plugin's one consumer thread, never
 * two calls at once. assigned: this agent now owns these partitions; their messages follow
 * through entry() from the beginning of each partition, then every new one as it arrives (the
 * last message per key wins). revoked: it no longer owns them (their checks stop; the host
 * returns once they did). lost: the group could not be reached for a session timeout and the
 * partitions may already be someone else's (e.g. the broker is down): the host keeps running
 * their checks until the next assigned() call, which lists everything this agent owns again;
 * a lost partition not in it stops then. A plugin reads `lost` only within struct_size and,
 * when it is absent (NULL), calls revoked instead. Owned by the host; valid from start() until
 * stop() returns. */
typedef struct isitup_catalog_events_v1 {
  uint32_t struct_size;
  void* ctx;
  isitup_catalog_partitions_fn assigned;
  isitup_catalog_partitions_fn revoked;
  isitup_catalog_entry_fn entry;
  isitup_catalog_partitions_fn lost;
} isitup_catalog_events_v1;

typedef struct isitup_catalog_ops_v1 {
  uint32_t struct_size;
  const isitup_option_v1* options;
  size_t option_count;

  /* As for sources: validate, set up, connect nothing yet (--check-config creates instances).
   * Main thread. */
  uint32_t (*create)(const isitup_host_v1* host, isitup_host_ctx* ctx,
                     const isitup_options* options, void** instance, char* err, size_t err_cap);
  /* Reads the whole catalog, every partition from its beginning to its end as of the call,
   * and calls fn once per message, in each partition's order (for --publish-checks). Blocks;
   * fails (ISITUP_ERROR and a reason) when the catalog cannot be read in time. Main thread. */
  uint32_t (*read_all)(void* instance, isitup_catalog_entry_fn fn, void* fn_ctx, char* err,
                       size_t err_cap);
  /* Writes entries (value NULL: tombstone), each to the partition of its key, and blocks until
   * every one is durable (ISITUP_OK) or failed (ISITUP_ERROR and a reason). Main thread. */
  uint32_t (*publish)(void* instance, const isitup_catalog_entry_v1* const* entries, size_t count,
                      char* err, size_t err_cap);
  /* Joins the group and begins calling `events` from the plugin's own thread. Main thread. */
  uint32_t (*start)(void* instance, const isitup_catalog_events_v1* events, char* err,
                    size_t err_cap);
  /* Leaves the group; after stop() returns no event comes. Main thread. */
  void (*stop)(void* instance);
  void (*destroy)(void* instance);
  /* Grown later (read within struct_size; absent or NULL: unknown). How long the group waits
   * for a member that stopped answering before it gives that member's partitions to others
   * (Kafka: session.timeout.ms), in ms; 0: unknown. The host derives from it how long a stall
   * of its own process may last before its partitions may have moved. Main thread. */
  int64_t (*session_timeout_ms)(void* instance);
} isitup_catalog_ops_v1;

/* ---------------------------------------------------------------- the descriptor */

typedef struct isitup_plugin_v1 {
  uint32_t abi_version; /* ISITUP_ABI_VERSION the plugin was built for; always first */
  uint32_t struct_size;
  const char* name;                   /* must equal the file name without .so: [a-z0-9_]+ */
  const char* version;                /* the plugin's own version */
  const char* description;            /* one line */
  uint32_t kinds;                     /* OR of isitup_kind */
  const isitup_check_ops_v1* check;   /* non-NULL iff kinds has ISITUP_KIND_CHECK */
  const isitup_sink_ops_v1* sink;     /* non-NULL iff kinds has ISITUP_KIND_SINK */
  const isitup_source_ops_v1* source; /* non-NULL iff kinds has ISITUP_KIND_SOURCE */
  /* Grown after the first release (a smaller descriptor has no catalog). */
  const isitup_catalog_ops_v1* catalog; /* non-NULL iff kinds has ISITUP_KIND_CATALOG */
} isitup_plugin_v1;

/* The exported entry point: returns a descriptor with static storage duration. */
typedef const isitup_plugin_v1* (*isitup_plugin_entry_fn)(void);

/* ---------------------------------------------------------------- a check in plain C, briefly */

/* Marks a result down with an error kind and a one-line message (both need only live until
 * the result is handed over). */
static inline void isitup_set_down(isitup_record_v1* r, const char* kind, const char* message) {
  r->status = ISITUP_DOWN;
  r->error_kind = kind;
  r->error_message = message;
}

/* What ISITUP_C_CHECK runs: one run of the check of `target` (the config's target; valid until
 * the check is released), filling `result`, which starts up with every other field absent.
 * Called on a host worker thread, never twice at once for one check; may block up to
 * run->timeout_ms. */
typedef void (*isitup_c_check_fn)(const char* target, const isitup_run_v1* run,
                                  isitup_record_v1* result);

#ifdef __cplusplus
#define ISITUP_EXTERN_C extern "C"
#else
#define ISITUP_EXTERN_C
#endif

/* ISITUP_C_CHECK(name, version, description, fn): the entry point and every table of a plugin
 * that is one blocking check without options, calling `fn` (an isitup_c_check_fn) for each
 * run. Use it once, at file scope, in the plugin's one source file:
 *
 *   #include <isitup/plugin.h>
 *   #include <unistd.h>
 *
 *   static void run(const char* target, const isitup_run_v1* run, isitup_record_v1* r) {
 *     (void)run;
 *     if (access(target, F_OK) != 0) isitup_set_down(r, "missing", "no such file");
 *   }
 *
 *   ISITUP_C_CHECK("file_check", "1.0.0", "Up while the target file exists", run)
 *
 * A check with options or an asynchronous one fills isitup_plugin_v1 itself. */
#define ISITUP_C_CHECK(name, version, description, fn)                                           \
  static isitup_c_check_fn isitup_c_check_fn_ = (fn);                                            \
  static uint32_t isitup_c_check_create_(const isitup_host_v1* host, isitup_host_ctx* ctx,       \
                                         void** instance, char* err, size_t err_cap) {           \
    (void)host, (void)ctx, (void)err, (void)err_cap;                                             \
    *instance = &isitup_c_check_fn_;                                                             \
    return ISITUP_OK;                                                                            \
  }                                                                                              \
  static uint32_t isitup_c_check_prepare_(void* instance, const isitup_check_spec_v1* spec,      \
                                          void** check, char* err, size_t err_cap) {             \
    const size_t size = strlen(spec->target) + 1;                                                \
    char* target = (char*)malloc(size);                                                          \
    (void)instance;                                                                              \
    if (!target) {                                                                               \
      const char* why = "out of memory";                                                         \
      size_t i = 0;                                                                              \
      for (; err_cap && i + 1 < err_cap && why[i]; ++i) err[i] = why[i];                         \
      if (err_cap) err[i] = '\0';                                                                \
      return ISITUP_ERROR;                                                                       \
    }                                                                                            \
    memcpy(target, spec->target, size);                                                          \
    *check = target;                                                                             \
    return ISITUP_OK;                                                                            \
  }                                                                                              \
  static void isitup_c_check_start_(void* instance, void* check, const isitup_run_v1* run,       \
                                    isitup_check_done_fn done, void* done_ctx) {                 \
    isitup_record_v1 result;                                                                     \
    isitup_record_init(&result);                                                                 \
    result.status = ISITUP_UP;                                                                   \
    (*(isitup_c_check_fn*)instance)((const char*)check, run, &result);                           \
    done(done_ctx, &result);                                                                     \
  }                                                                                              \
  static void isitup_c_check_release_(void* instance, void* check) {                             \
    (void)instance;                                                                              \
    free(check);                                                                                 \
  }                                                                                              \
  static void isitup_c_check_destroy_(void* instance) { (void)instance; }                        \
  static const isitup_check_ops_v1 isitup_c_check_ops_ = {(uint32_t)sizeof(isitup_check_ops_v1), \
                                                          ISITUP_CHECK_BLOCKING,                 \
                                                          NULL,                                  \
                                                          0,                                     \
                                                          isitup_c_check_create_,                \
                                                          isitup_c_check_prepare_,               \
                                                          isitup_c_check_start_,                 \
                                                          isitup_c_check_release_,               \
                                                          isitup_c_check_destroy_};              \
  static const isitup_plugin_v1 isitup_c_check_plugin_ = {ISITUP_ABI_VERSION,                    \
                                                          (uint32_t)sizeof(isitup_plugin_v1),    \
                                                          (name),                                \
                                                          (version),                             \
                                                          (description),                         \
                                                          ISITUP_KIND_CHECK,                     \
                                                          &isitup_c_check_ops_,                  \
                                                          NULL,                                  \
                                                          NULL,                                  \
                                                          NULL};                                 \
  ISITUP_EXTERN_C ISITUP_EXPORT const isitup_plugin_v1* isitup_plugin_entry(void) {              \
    return &isitup_c_check_plugin_;                                                              \
  }

#ifdef __cplusplus
}
#endif

#endif /* ISITUP_PLUGIN_H */
