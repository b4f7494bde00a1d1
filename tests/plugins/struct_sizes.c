/* A C check plugin whose structs differ in size from the host's, as if built against another
 * revision of plugin.h. Built twice (CMakeLists.txt):
 *   SMALL_STRUCTS  an older header: the descriptor ends before `source`, an option entry
 *                  before `description`. (The check table cannot be smaller: in ABI 1 its last
 *                  field, destroy, is required.)
 *   GROWN_STRUCTS  a newer header: descriptor, check table and option entries each have an
 *                  extra field at the end, so option entries are laid out with a larger stride.
 * Both must load. The check reports up with the HTTP code of its `code` option.
 */
#include <isitup/plugin.h>
#include <stdlib.h>

#ifndef PLUGIN_NAME
#define PLUGIN_NAME "small_struct"
#endif

#if defined(SMALL_STRUCTS)

typedef struct test_option {
  uint32_t struct_size;
  const char* name;
  uint32_t type;
  uint32_t required;
  const char* default_value;
} test_option;
#define OPTION(name, type, def, description) \
  { sizeof(test_option), name, type, 0, def }
#define CODE_DEFAULT "200"

typedef struct test_descriptor {
  uint32_t abi_version;
  uint32_t struct_size;
  const char* name;
  const char* version;
  const char* description;
  uint32_t kinds;
  const isitup_check_ops_v1* check;
  const isitup_sink_ops_v1* sink;
} test_descriptor;
_Static_assert(sizeof(test_descriptor) == offsetof(isitup_plugin_v1, source),
               "the small descriptor ends where `source` begins");
_Static_assert(sizeof(test_option) == offsetof(isitup_option_v1, description),
               "the small option ends where `description` begins");

typedef isitup_check_ops_v1 test_check_ops;
#define CHECK_OPS(...) \
  { sizeof(test_check_ops), __VA_ARGS__ }
#define DESCRIPTOR(...) \
  { ISITUP_ABI_VERSION, sizeof(test_descriptor), __VA_ARGS__ }

#elif defined(GROWN_STRUCTS)

typedef struct test_option {
  isitup_option_v1 v1;
  uint64_t future_flags;
} test_option;
#define OPTION(name, type, def, description) \
  { {sizeof(test_option), name, type, 0, def, description}, 0xffffffffffffffffu }
#define CODE_DEFAULT "201"

typedef struct test_check_ops {
  isitup_check_ops_v1 v1;
  void (*future)(void* instance);
} test_check_ops;
#define CHECK_OPS(...) \
  { {sizeof(test_check_ops), __VA_ARGS__}, future_op }

typedef struct test_descriptor {
  isitup_plugin_v1 v1;
  const void* future;
} test_descriptor;
#define DESCRIPTOR(...) \
  { {ISITUP_ABI_VERSION, sizeof(test_descriptor), __VA_ARGS__}, &future_field }

static void future_op(void* instance) { (void)instance; }
static const int future_field = 1;

#else
#error "define SMALL_STRUCTS or GROWN_STRUCTS"
#endif

typedef struct test_instance {
  const isitup_host_v1* host;
} test_instance;

static uint32_t t_create(const isitup_host_v1* host, isitup_host_ctx* ctx, void** instance,
                         char* err, size_t err_cap) {
  test_instance* in = calloc(1, sizeof *in);
  (void)ctx;
  (void)err;
  (void)err_cap;
  if (!in) return ISITUP_ERROR;
  in->host = host;
  *instance = in;
  return ISITUP_OK;
}

static uint32_t t_prepare(void* instance, const isitup_check_spec_v1* spec, void** check, char* err,
                          size_t err_cap) {
  const test_instance* in = instance;
  int32_t* code = malloc(sizeof *code);
  (void)err;
  (void)err_cap;
  if (!code) return ISITUP_ERROR;
  *code = (int32_t)in->host->opt_int(spec->options, "code");
  *check = code;
  return ISITUP_OK;
}

static void t_start(void* instance, void* check, const isitup_run_v1* run,
                    isitup_check_done_fn done, void* done_ctx) {
  isitup_record_v1 r;
  (void)instance;
  (void)run;
  isitup_record_init(&r);
  r.status = ISITUP_UP;
  r.http_code = *(const int32_t*)check;
  done(done_ctx, &r);
}

static void t_release(void* instance, void* check) {
  (void)instance;
  free(check);
}

static void t_destroy(void* instance) { free(instance); }

static const test_option t_options[] = {
    OPTION("label", ISITUP_OPT_STRING, PLUGIN_NAME, "a label"),
    OPTION("code", ISITUP_OPT_INT, CODE_DEFAULT, "the HTTP status code to report"),
};

static const test_check_ops t_check_ops =
    CHECK_OPS(0, (const isitup_option_v1*)t_options, sizeof t_options / sizeof t_options[0],
              t_create, t_prepare, t_start, t_release, t_destroy);

static const test_descriptor t_descriptor =
    DESCRIPTOR(PLUGIN_NAME, "0.1.0", "a check built against another revision of plugin.h",
               ISITUP_KIND_CHECK, (const isitup_check_ops_v1*)&t_check_ops, NULL);

ISITUP_EXPORT const isitup_plugin_v1* isitup_plugin_entry(void) {
  return (const isitup_plugin_v1*)&t_descriptor;
}
