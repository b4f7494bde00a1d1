/* A check plugin in plain C that breaks the completion contract on purpose, for the agent's
 * tests of what a plugin cannot do to the host. Built twice (CMakeLists.txt): as faulty_check
 * (async: start() returns at once) and, with FAULTY_BLOCKING, as faulty_blocking (the host runs
 * start() on its worker pool). Option `mode`:
 *   up           reports up, as it should
 *   twice        calls done twice in a row
 *   twice_later  calls done, then again from another thread 300 ms later
 *   hang         start() never returns (blocking) or done is never called (async)
 *   no_done      start() returns without calling done
 *   counters     reports up, and adds 1 to each of 40 counters (c0..c39) and to one whose
 *                name is 200 bytes with a line break
 */
#include <isitup/plugin.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef PLUGIN_NAME
#define PLUGIN_NAME "faulty_check"
#endif

#ifdef FAULTY_BLOCKING
#define CHECK_FLAGS ISITUP_CHECK_BLOCKING
#else
#define CHECK_FLAGS 0u
#endif

typedef enum mode {
  MODE_UP,
  MODE_TWICE,
  MODE_TWICE_LATER,
  MODE_HANG,
  MODE_NO_DONE,
  MODE_COUNTERS
} mode;

typedef struct f_instance {
  const isitup_host_v1* host;
  isitup_host_ctx* ctx;
} f_instance;

typedef struct f_check {
  mode m;
} f_check;

typedef struct later {
  isitup_check_done_fn done;
  void* done_ctx;
} later;

/* Threads still to call a completion again: destroy() waits for them, so no thread of this
 * library runs once the host unloads it (what the ABI asks of every plugin). */
static atomic_int threads_alive;

static void sleep_ms(long ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
}

static uint32_t f_create(const isitup_host_v1* host, isitup_host_ctx* ctx, void** instance,
                         char* err, size_t err_cap) {
  f_instance* in = calloc(1, sizeof *in);
  if (!in) {
    snprintf(err, err_cap, "out of memory");
    return ISITUP_ERROR;
  }
  in->host = host;
  in->ctx = ctx;
  *instance = in;
  return ISITUP_OK;
}

static uint32_t f_prepare(void* instance, const isitup_check_spec_v1* spec, void** check, char* err,
                          size_t err_cap) {
  const f_instance* in = instance;
  const char* m = in->host->opt_string(spec->options, "mode");
  f_check* c = calloc(1, sizeof *c);
  if (!c) {
    snprintf(err, err_cap, "out of memory");
    return ISITUP_ERROR;
  }
  if (strcmp(m, "up") == 0) {
    c->m = MODE_UP;
  } else if (strcmp(m, "twice") == 0) {
    c->m = MODE_TWICE;
  } else if (strcmp(m, "twice_later") == 0) {
    c->m = MODE_TWICE_LATER;
  } else if (strcmp(m, "hang") == 0) {
    c->m = MODE_HANG;
  } else if (strcmp(m, "no_done") == 0) {
    c->m = MODE_NO_DONE;
  } else if (strcmp(m, "counters") == 0) {
    c->m = MODE_COUNTERS;
  } else {
    free(c);
    snprintf(err, err_cap, "mode must be up, twice, twice_later, hang, no_done or counters");
    return ISITUP_ERROR;
  }
  *check = c;
  return ISITUP_OK;
}

static void* call_again(void* arg) {
  later* l = arg;
  isitup_record_v1 r;
  sleep_ms(300);
  isitup_record_init(&r);
  r.status = ISITUP_UP;
  l->done(l->done_ctx, &r);
  free(l);
  atomic_fetch_sub(&threads_alive, 1);
  return NULL;
}

static void f_start(void* instance, void* check, const isitup_run_v1* run,
                    isitup_check_done_fn done, void* done_ctx) {
  const f_check* c = check;
  const f_instance* in = instance;
  isitup_record_v1 r;
  (void)run;
  isitup_record_init(&r);
  r.status = ISITUP_UP;
  r.total_ms = 0.25;
  switch (c->m) {
    case MODE_UP:
      done(done_ctx, &r);
      break;
    case MODE_COUNTERS: {
      char name[256];
      int i;
      for (i = 0; i < 40; ++i) {
        snprintf(name, sizeof name, "c%d", i);
        in->host->counter_add(in->ctx, name, 1);
      }
      memset(name, 'x', 200);
      name[100] = '\n';
      name[200] = '\0';
      in->host->counter_add(in->ctx, name, 1);
      done(done_ctx, &r);
      break;
    }
    case MODE_TWICE:
      done(done_ctx, &r);
      done(done_ctx, &r);
      break;
    case MODE_TWICE_LATER: {
      pthread_t t;
      later* l = malloc(sizeof *l);
      done(done_ctx, &r);
      if (!l) break;
      l->done = done;
      l->done_ctx = done_ctx;
      atomic_fetch_add(&threads_alive, 1);
      if (pthread_create(&t, NULL, call_again, l) == 0) {
        pthread_detach(t);
      } else {
        atomic_fetch_sub(&threads_alive, 1);
        free(l);
      }
      break;
    }
    case MODE_HANG:
#ifdef FAULTY_BLOCKING
      for (;;) sleep_ms(1000);
#endif
      /* without FAULTY_BLOCKING a hang is a check that never calls done, as no_done */
    case MODE_NO_DONE:
      break;
  }
}

static void f_release(void* instance, void* check) {
  (void)instance;
  free(check);
}

static void f_destroy(void* instance) {
  while (atomic_load(&threads_alive) > 0) sleep_ms(10);
  free(instance);
}

static const isitup_option_v1 f_options[] = {
    {sizeof(isitup_option_v1), "mode", ISITUP_OPT_STRING, 0, "up",
     "up, twice, twice_later, hang, no_done or counters"},
};

static const isitup_check_ops_v1 f_check_ops = {
    sizeof(isitup_check_ops_v1),
    CHECK_FLAGS,
    f_options,
    1,
    f_create,
    f_prepare,
    f_start,
    f_release,
    f_destroy,
};

static const isitup_plugin_v1 f_descriptor = {
    ISITUP_ABI_VERSION,
    sizeof(isitup_plugin_v1),
    PLUGIN_NAME,
    "0.1.0",
    "a check that breaks the completion contract on purpose",
    ISITUP_KIND_CHECK,
    &f_check_ops,
    NULL,
    NULL,
};

ISITUP_EXPORT const isitup_plugin_v1* isitup_plugin_entry(void) { return &f_descriptor; }
