/* A C sink plugin, built three times (CMakeLists.txt):
 *   OLD_SINK       its sink table ends before sink_flags, as if built against the header of
 *                  the first release: it must load and take no events.
 *   EVENT_SINK     the full table with write_events and ISITUP_SINK_NOTIFIER: a notifier.
 *   FLAGS_NO_EVENTS ISITUP_SINK_NOTIFIER without write_events: refused (it could receive
 *                  nothing).
 *   PRE_STATE_SINK its table ends before write_with_state (built against the header that
 *                  added write_events): a notifier that keeps no alert state.
 *   STATE_SINK     ISITUP_SINK_ALERT_STATE with write_with_state, load_state and
 *                  events_delivered: loads; load_state hands back one check state.
 *   STATE_NO_LOAD  ISITUP_SINK_ALERT_STATE without load_state: refused.
 *   STATE_NO_FLAG  the three state calls without ISITUP_SINK_ALERT_STATE: refused.
 *   HISTORY_SINK   a state sink that also answers read_history (ISITUP_SINK_HISTORY): two
 *                  buckets of check "shop" per call, and its arguments in counters.
 *   PRE_HISTORY_SINK a state sink whose table ends before read_history (built against the
 *                  header that added the state calls) but whose memory past it holds a
 *                  read_history: loads, answers no history.
 *   HISTORY_NO_CALL ISITUP_SINK_HISTORY without read_history: refused.
 *   HISTORY_NO_FLAG read_history without ISITUP_SINK_HISTORY: refused.
 *   POSITIONS_SINK a history sink that also claims positions (ISITUP_SINK_POSITIONS): each
 *                  item gets epoch 7 and next_offset 100 + its partition.
 *   PRE_POSITIONS_SINK a history sink whose table ends before claim_positions (built against
 *                  the header that added read_history) but whose memory past it holds one:
 *                  loads, keeps no positions.
 *   POSITIONS_NO_CALL ISITUP_SINK_POSITIONS without claim_positions: refused.
 *   POSITIONS_NO_FLAG claim_positions without ISITUP_SINK_POSITIONS: refused.
 * write() and write_events() count what they are given with the host's counter_add
 * ("records", "events") and report it delivered at once.
 */
#include <isitup/plugin.h>
#include <stddef.h>
#include <stdlib.h>

#ifndef PLUGIN_NAME
#define PLUGIN_NAME "event_sink"
#endif

typedef struct e_instance {
  const isitup_host_v1* host;
  isitup_host_ctx* ctx;
} e_instance;

static uint32_t e_create(const isitup_host_v1* host, isitup_host_ctx* ctx,
                         const isitup_options* options, void** instance, char* err,
                         size_t err_cap) {
  (void)options;
  (void)err;
  (void)err_cap;
  e_instance* in = calloc(1, sizeof *in);
  if (!in) return ISITUP_ERROR;
  in->host = host;
  in->ctx = ctx;
  *instance = in;
  return ISITUP_OK;
}

static void e_write(void* instance, const isitup_batch_v1* batch, isitup_batch_done_fn done,
                    void* done_ctx) {
  e_instance* in = instance;
  in->host->counter_add(in->ctx, "records", (int64_t)batch->count);
  done(done_ctx, ISITUP_OK, NULL);
}

static uint32_t e_flush(void* instance, int64_t timeout_ms) {
  (void)instance;
  (void)timeout_ms;
  return ISITUP_OK;
}

static void e_destroy(void* instance) { free(instance); }

#if defined(OLD_SINK)
/* The sink table exactly as the first release of plugin.h declared it. */
typedef struct old_sink_ops {
  uint32_t struct_size;
  uint32_t max_in_flight;
  const isitup_option_v1* options;
  size_t option_count;
  void* create;
  void* write;
  void* flush;
  void* destroy;
} old_sink_ops;
_Static_assert(sizeof(old_sink_ops) == offsetof(isitup_sink_ops_v1, sink_flags),
               "the old sink table ends where sink_flags begins");
static const old_sink_ops e_sink_ops = {
    sizeof(old_sink_ops), 1, NULL, 0, (void*)e_create, (void*)e_write, (void*)e_flush,
    (void*)e_destroy};
#else
static void e_write_events(void* instance, const isitup_event_v1* const* events, size_t count,
                           isitup_batch_done_fn done, void* done_ctx) {
  e_instance* in = instance;
  (void)events;
  in->host->counter_add(in->ctx, "events", (int64_t)count);
  done(done_ctx, ISITUP_OK, NULL);
}
#if defined(FLAGS_NO_EVENTS)
#define WRITE_EVENTS NULL
#else
#define WRITE_EVENTS e_write_events
#endif
#if defined(PRE_STATE_SINK)
static const size_t e_table_size = offsetof(isitup_sink_ops_v1, write_with_state);
#else
static const size_t e_table_size = sizeof(isitup_sink_ops_v1);
#endif
#if defined(POSITIONS_SINK) || defined(PRE_POSITIONS_SINK) || defined(POSITIONS_NO_CALL) || \
    defined(POSITIONS_NO_FLAG)
#define POSITIONS_VARIANT 1
#endif
#if defined(HISTORY_SINK) || defined(PRE_HISTORY_SINK) || defined(HISTORY_NO_CALL) || \
    defined(HISTORY_NO_FLAG) || defined(POSITIONS_VARIANT)
#define HISTORY_VARIANT 1
#endif
#if defined(STATE_SINK) || defined(STATE_NO_LOAD) || defined(STATE_NO_FLAG) || \
    defined(HISTORY_VARIANT)
static void e_write_with_state(void* instance, const isitup_batch_v1* batch,
                               const isitup_alert_state_v1* state, isitup_batch_done_fn done,
                               void* done_ctx) {
  e_instance* in = instance;
  in->host->counter_add(in->ctx, "states", (int64_t)state->state_count);
  e_write(instance, batch, done, done_ctx);
}
static uint32_t e_load_state(void* instance, int64_t timeout_ms, isitup_alert_load_fn loaded,
                             void* ctx, char* err, size_t err_cap) {
  (void)instance;
  (void)timeout_ms;
  (void)err;
  (void)err_cap;
  const isitup_check_state_v1 st = {sizeof st, "shop", 7, "{}"};
  const isitup_alert_state_v1 all = {sizeof all, &st, 1, NULL, 0};
  loaded(ctx, &all);
  return ISITUP_OK;
}
static void e_events_delivered(void* instance, const char* sink, const char* const* ids,
                               size_t count) {
  e_instance* in = instance;
  (void)sink;
  (void)ids;
  in->host->counter_add(in->ctx, "delivered", (int64_t)count);
}
#if defined(STATE_NO_LOAD)
#define LOAD_STATE NULL
#else
#define LOAD_STATE e_load_state
#endif
#if defined(STATE_NO_FLAG)
#define E_FLAGS 0u
#elif defined(POSITIONS_SINK) || defined(POSITIONS_NO_CALL)
#define E_FLAGS (ISITUP_SINK_ALERT_STATE | ISITUP_SINK_HISTORY | ISITUP_SINK_POSITIONS)
#elif defined(HISTORY_SINK) || defined(HISTORY_NO_CALL) || defined(POSITIONS_VARIANT)
#define E_FLAGS (ISITUP_SINK_ALERT_STATE | ISITUP_SINK_HISTORY)
#else
#define E_FLAGS ISITUP_SINK_ALERT_STATE
#endif
#if defined(HISTORY_NO_CALL) || !defined(HISTORY_VARIANT)
#define READ_HISTORY NULL
#else
static uint32_t e_read_history(void* instance, int64_t from_ms, int64_t to_ms, int64_t length_ms,
                               isitup_history_fn fn, void* ctx, int64_t timeout_ms, char* err,
                               size_t err_cap) {
  e_instance* in = instance;
  (void)to_ms;
  (void)err;
  (void)err_cap;
  in->host->counter_add(in->ctx, "history_calls", 1);
  in->host->counter_add(in->ctx, "history_timeout_ms", timeout_ms);
  isitup_history_bucket_v1 b = {sizeof b, "shop-and-more", 4, from_ms, length_ms, 10, 9, 12.5,
                                40.0};
  fn(ctx, &b);
  b.start_ms = from_ms + length_ms;
  b.up = 10;
  fn(ctx, &b);
  return ISITUP_OK;
}
#define READ_HISTORY e_read_history
#endif
#if defined(POSITIONS_VARIANT) && !defined(POSITIONS_NO_CALL)
static uint32_t e_claim_positions(void* instance, isitup_positions_v1* claim, int64_t timeout_ms,
                                  char* err, size_t err_cap) {
  e_instance* in = instance;
  size_t i;
  (void)timeout_ms;
  (void)err;
  (void)err_cap;
  in->host->counter_add(in->ctx, "claims", 1);
  for (i = 0; i < claim->count; ++i) {
    claim->items[i].epoch = 7;
    claim->items[i].next_offset = 100 + claim->items[i].partition;
  }
  return ISITUP_OK;
}
#define CLAIM_POSITIONS e_claim_positions
#else
#define CLAIM_POSITIONS NULL
#endif
#if defined(PRE_POSITIONS_SINK)
#define STATE_TABLE_SIZE offsetof(isitup_sink_ops_v1, claim_positions)
#elif defined(PRE_HISTORY_SINK)
#define STATE_TABLE_SIZE offsetof(isitup_sink_ops_v1, read_history)
#else
#define STATE_TABLE_SIZE sizeof(isitup_sink_ops_v1)
#endif
static const isitup_sink_ops_v1 e_sink_ops = {STATE_TABLE_SIZE,
                                              1,
                                              NULL,
                                              0,
                                              e_create,
                                              e_write,
                                              e_flush,
                                              e_destroy,
                                              E_FLAGS,
                                              WRITE_EVENTS,
                                              e_write_with_state,
                                              LOAD_STATE,
                                              e_events_delivered,
                                              READ_HISTORY,
                                              CLAIM_POSITIONS};
#else
static const isitup_sink_ops_v1 e_sink_ops = {
    e_table_size,         1,           NULL, 0, e_create, e_write, e_flush, e_destroy,
    ISITUP_SINK_NOTIFIER, WRITE_EVENTS};
#endif
#endif

static const isitup_plugin_v1 e_descriptor = {ISITUP_ABI_VERSION,
                                              sizeof(isitup_plugin_v1),
                                              PLUGIN_NAME,
                                              "1.0.0",
                                              "test plugin: a sink with or without events",
                                              ISITUP_KIND_SINK,
                                              NULL,
                                              (const isitup_sink_ops_v1*)&e_sink_ops,
                                              NULL};

ISITUP_EXPORT const isitup_plugin_v1* isitup_plugin_entry(void) { return &e_descriptor; }
