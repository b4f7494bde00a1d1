/* A sink plugin in plain C whose first write breaks the completion contract, for the agent's
 * tests of what a sink cannot do to the host. Every later write succeeds at once. Options:
 *   first   never    the first write is never completed
 *           late     the first write is completed (ok) `late_ms` after it was made
 *           twice    the first write is completed twice
 *   late_ms          see above
 */
#include <isitup/plugin.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef PLUGIN_NAME
#define PLUGIN_NAME "faulty_sink"
#endif

typedef struct s_instance {
  char first[16];
  int64_t late_ms;
  atomic_int writes;
} s_instance;

typedef struct late_call {
  isitup_batch_done_fn done;
  void* done_ctx;
  int64_t ms;
} late_call;

/* Late completions still to come: destroy() waits for them (no thread of this library may
 * run once the host unloads it). */
static atomic_int threads_alive;

static void* complete_late(void* arg) {
  late_call* l = arg;
  struct timespec t = {l->ms / 1000, (l->ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
  l->done(l->done_ctx, ISITUP_OK, NULL);
  free(l);
  atomic_fetch_sub(&threads_alive, 1);
  return NULL;
}

static uint32_t s_create(const isitup_host_v1* host, isitup_host_ctx* ctx,
                         const isitup_options* options, void** instance, char* err,
                         size_t err_cap) {
  s_instance* in = calloc(1, sizeof *in);
  const char* first = host->opt_string(options, "first");
  (void)ctx;
  if (!in) {
    snprintf(err, err_cap, "out of memory");
    return ISITUP_ERROR;
  }
  if (strcmp(first, "never") != 0 && strcmp(first, "late") != 0 && strcmp(first, "twice") != 0) {
    free(in);
    snprintf(err, err_cap, "first must be never, late or twice");
    return ISITUP_ERROR;
  }
  snprintf(in->first, sizeof in->first, "%s", first);
  in->late_ms = host->opt_duration_ms(options, "late_ms");
  *instance = in;
  return ISITUP_OK;
}

static void s_write(void* instance, const isitup_batch_v1* batch, isitup_batch_done_fn done,
                    void* done_ctx) {
  s_instance* in = instance;
  (void)batch;
  if (atomic_fetch_add(&in->writes, 1) != 0) {
    done(done_ctx, ISITUP_OK, NULL);
    return;
  }
  if (strcmp(in->first, "twice") == 0) {
    done(done_ctx, ISITUP_OK, NULL);
    done(done_ctx, ISITUP_OK, NULL);
  } else if (strcmp(in->first, "late") == 0) {
    pthread_t t;
    late_call* l = malloc(sizeof *l);
    if (!l) return;
    l->done = done;
    l->done_ctx = done_ctx;
    l->ms = in->late_ms;
    atomic_fetch_add(&threads_alive, 1);
    if (pthread_create(&t, NULL, complete_late, l) == 0) {
      pthread_detach(t);
    } else {
      atomic_fetch_sub(&threads_alive, 1);
      free(l);
    }
  }
}

static uint32_t s_flush(void* instance, int64_t timeout_ms) {
  (void)instance;
  (void)timeout_ms;
  return ISITUP_OK;
}

static void s_destroy(void* instance) {
  struct timespec t = {0, 10 * 1000000L};
  while (atomic_load(&threads_alive) > 0) nanosleep(&t, NULL);
  free(instance);
}

static const isitup_option_v1 s_options[] = {
    {sizeof(isitup_option_v1), "first", ISITUP_OPT_STRING, 0, "never",
     "what the first write does: never, late or twice"},
    {sizeof(isitup_option_v1), "late_ms", ISITUP_OPT_DURATION, 0, "1s",
     "how late a late first write completes"},
};

static const isitup_sink_ops_v1 s_sink_ops = {
    sizeof(isitup_sink_ops_v1), 1, s_options, 2, s_create, s_write, s_flush, s_destroy,
};

static const isitup_plugin_v1 s_descriptor = {
    ISITUP_ABI_VERSION,
    sizeof(isitup_plugin_v1),
    PLUGIN_NAME,
    "0.1.0",
    "a sink whose first write breaks the completion contract",
    ISITUP_KIND_SINK,
    NULL,
    &s_sink_ops,
    NULL,
};

ISITUP_EXPORT const isitup_plugin_v1* isitup_plugin_entry(void) { return &s_descriptor; }
