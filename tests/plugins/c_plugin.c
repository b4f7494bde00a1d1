/* A check plugin in plain C against plugin.h, with a hand-written descriptor and function
 * table. Each check reports the outcome its options ask for: `status` (up or down) and `code`.
 *
 * The plugin host's tests also build this file with one thing broken (CMakeLists.txt), so each
 * refusal is caused by exactly that change:
 *   BREAK_NEWER_ABI          declares ABI ISITUP_ABI_VERSION + 1
 *   BREAK_NO_ENTRY           exports its entry under another name
 *   BREAK_NULL_DESCRIPTOR    the entry returns NULL
 *   BREAK_TINY_DESCRIPTOR    descriptor struct_size ends before `kinds`
 *   BREAK_WRONG_NAME         declares a name other than its file's
 *   BREAK_MISSING_OP         check start() is NULL
 *   BREAK_NULL_OPS           claims the sink kind without a sink table
 *   BREAK_SHORT_OPS          check table struct_size ends before destroy()
 *   BREAK_NULL_OPTION_NAME   an option without a name
 *   BREAK_BAD_OPTION_TYPE    an option of an unknown type
 *   BREAK_DUP_OPTION         the same option declared twice
 */
#include <isitup/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PLUGIN_NAME
#define PLUGIN_NAME "c_plugin"
#endif

#ifdef BREAK_NEWER_ABI
#define DESCRIPTOR_ABI (ISITUP_ABI_VERSION + 1u)
#else
#define DESCRIPTOR_ABI ISITUP_ABI_VERSION
#endif

#ifdef BREAK_TINY_DESCRIPTOR
#define DESCRIPTOR_SIZE ((uint32_t)offsetof(isitup_plugin_v1, kinds))
#else
#define DESCRIPTOR_SIZE ((uint32_t)sizeof(isitup_plugin_v1))
#endif

#ifdef BREAK_WRONG_NAME
#define DECLARED_NAME "someone_else"
#else
#define DECLARED_NAME PLUGIN_NAME
#endif

#ifdef BREAK_SHORT_OPS
#define CHECK_OPS_SIZE ((uint32_t)offsetof(isitup_check_ops_v1, destroy))
#else
#define CHECK_OPS_SIZE ((uint32_t)sizeof(isitup_check_ops_v1))
#endif

#if defined(BREAK_NULL_OPTION_NAME)
#define SECOND_OPTION_NAME NULL
#elif defined(BREAK_DUP_OPTION)
#define SECOND_OPTION_NAME "status"
#else
#define SECOND_OPTION_NAME "code"
#endif

#ifdef BREAK_BAD_OPTION_TYPE
#define SECOND_OPTION_TYPE 99
#else
#define SECOND_OPTION_TYPE ISITUP_OPT_INT
#endif

typedef struct c_instance {
  const isitup_host_v1* host;
  isitup_host_ctx* ctx;
} c_instance;

typedef struct c_check {
  int up;
  int32_t code;
} c_check;

static uint32_t c_create(const isitup_host_v1* host, isitup_host_ctx* ctx, void** instance,
                         char* err, size_t err_cap) {
  c_instance* in = calloc(1, sizeof *in);
  if (!in) {
    snprintf(err, err_cap, "out of memory");
    return ISITUP_ERROR;
  }
  in->host = host;
  in->ctx = ctx;
  *instance = in;
  return ISITUP_OK;
}

static uint32_t c_prepare(void* instance, const isitup_check_spec_v1* spec, void** check, char* err,
                          size_t err_cap) {
  const c_instance* in = instance;
  const char* status = in->host->opt_string(spec->options, "status");
  if (!status || (strcmp(status, "up") != 0 && strcmp(status, "down") != 0)) {
    snprintf(err, err_cap, "status must be up or down");
    return ISITUP_ERROR;
  }
  c_check* c = calloc(1, sizeof *c);
  if (!c) {
    snprintf(err, err_cap, "out of memory");
    return ISITUP_ERROR;
  }
  c->up = strcmp(status, "up") == 0;
  c->code = (int32_t)in->host->opt_int(spec->options, "code");
  *check = c;
  return ISITUP_OK;
}

static void c_start(void* instance, void* check, const isitup_run_v1* run,
                    isitup_check_done_fn done, void* done_ctx) {
  const c_check* c = check;
  isitup_record_v1 r;
  (void)instance;
  (void)run;
  isitup_record_init(&r);
  r.status = c->up ? ISITUP_UP : ISITUP_DOWN;
  if (!c->up) {
    r.error_kind = "http_status";
    r.error_message = "configured to be down";
  }
  r.http_code = c->code;
  r.total_ms = 0.5;
  done(done_ctx, &r);
}

static void c_release(void* instance, void* check) {
  (void)instance;
  free(check);
}

static void c_destroy(void* instance) { free(instance); }

static const isitup_option_v1 c_options[] = {
    {sizeof(isitup_option_v1), "status", ISITUP_OPT_STRING, 0, "up",
     "the outcome to report: up or down"},
    {sizeof(isitup_option_v1), SECOND_OPTION_NAME, SECOND_OPTION_TYPE, 0, "204",
     "the HTTP status code to report"},
};

static const isitup_check_ops_v1 c_check_ops = {
    CHECK_OPS_SIZE, 0, /* flags: start() completes at once, no need for the worker pool */
    c_options,      sizeof c_options / sizeof c_options[0],
    c_create,       c_prepare,
#ifdef BREAK_MISSING_OP
    NULL,
#else
    c_start,
#endif
    c_release,      c_destroy,
};

static const isitup_plugin_v1 c_descriptor = {
    DESCRIPTOR_ABI,
    DESCRIPTOR_SIZE,
    DECLARED_NAME,
    "0.1.0",
    "a check written in C that reports what it is told",
#ifdef BREAK_NULL_OPS
    ISITUP_KIND_CHECK | ISITUP_KIND_SINK,
#else
    ISITUP_KIND_CHECK,
#endif
    &c_check_ops,
    NULL,
    NULL,
};

#ifdef BREAK_NO_ENTRY
ISITUP_EXPORT const isitup_plugin_v1* not_the_entry(void) { return &c_descriptor; }
#else
ISITUP_EXPORT const isitup_plugin_v1* isitup_plugin_entry(void) {
#ifdef BREAK_NULL_DESCRIPTOR
  return c_descriptor.abi_version ? NULL : &c_descriptor;
#else
  return &c_descriptor;
#endif
}
#endif
