/* A catalog plugin in plain C, for the plugin host's tests of the catalog kind. Its catalog is
 * fixed: read_all reports two checks and a tombstone. Built several ways (CMakeLists.txt):
 *   CATALOG_GOOD          a full catalog table
 *   CATALOG_OLD_DESCRIPTOR the descriptor ends before `catalog` (an older header) but kinds
 *                          claims a catalog: refused (the table reads as NULL)
 *   CATALOG_MISSING_OP    publish is NULL: refused
 *   CATALOG_SHORT_TABLE   the table ends before `destroy`: refused
 */
#include <isitup/plugin.h>
#include <stdlib.h>

#ifndef PLUGIN_NAME
#define PLUGIN_NAME "c_catalog"
#endif

static uint32_t t_create(const isitup_host_v1* host, isitup_host_ctx* ctx,
                         const isitup_options* options, void** instance, char* err,
                         size_t err_cap) {
  (void)host;
  (void)ctx;
  (void)options;
  (void)err;
  (void)err_cap;
  *instance = malloc(1);
  return *instance ? ISITUP_OK : ISITUP_ERROR;
}

static void report(isitup_catalog_entry_fn fn, void* ctx, const char* key, const char* value,
                   int64_t offset) {
  isitup_catalog_entry_v1 e;
  memset(&e, 0, sizeof e);
  e.struct_size = sizeof e;
  e.key = key;
  e.key_len = strlen(key);
  e.value = value;
  e.value_len = value ? strlen(value) : 0;
  e.partition = 0;
  e.offset = offset;
  fn(ctx, &e);
}

static uint32_t t_read_all(void* instance, isitup_catalog_entry_fn fn, void* fn_ctx, char* err,
                           size_t err_cap) {
  (void)instance;
  (void)err;
  (void)err_cap;
  report(fn, fn_ctx, "a", "{\"v\":1}", 0);
  report(fn, fn_ctx, "b", "{\"v\":1}", 1);
  report(fn, fn_ctx, "a", NULL, 2);
  return ISITUP_OK;
}

static uint32_t t_publish(void* instance, const isitup_catalog_entry_v1* const* entries,
                          size_t count, char* err, size_t err_cap) {
  (void)instance;
  (void)entries;
  (void)count;
  (void)err;
  (void)err_cap;
  return ISITUP_OK;
}

static uint32_t t_start(void* instance, const isitup_catalog_events_v1* events, char* err,
                        size_t err_cap) {
  (void)instance;
  (void)events;
  (void)err;
  (void)err_cap;
  return ISITUP_OK;
}

static void t_stop(void* instance) { (void)instance; }
static void t_destroy(void* instance) { free(instance); }

static const isitup_option_v1 t_options[] = {
    {sizeof(isitup_option_v1), "brokers", ISITUP_OPT_STRING, 1, NULL, "where the catalog is"},
};

#if defined(CATALOG_MISSING_OP)
#define PUBLISH NULL
#else
#define PUBLISH t_publish
#endif

#if defined(CATALOG_SHORT_TABLE)
#define TABLE_SIZE offsetof(isitup_catalog_ops_v1, destroy)
#else
#define TABLE_SIZE sizeof(isitup_catalog_ops_v1)
#endif

static const isitup_catalog_ops_v1 t_catalog = {TABLE_SIZE, t_options, 1,      t_create, t_read_all,
                                                PUBLISH,    t_start,   t_stop, t_destroy};

#if defined(CATALOG_OLD_DESCRIPTOR)
#define DESCRIPTOR_SIZE offsetof(isitup_plugin_v1, catalog)
#else
#define DESCRIPTOR_SIZE sizeof(isitup_plugin_v1)
#endif

static const isitup_plugin_v1 t_descriptor = {ISITUP_ABI_VERSION,
                                              DESCRIPTOR_SIZE,
                                              PLUGIN_NAME,
                                              "0.1.0",
                                              "a fixed catalog in plain C",
                                              ISITUP_KIND_CATALOG,
                                              NULL,
                                              NULL,
                                              NULL,
                                              &t_catalog};

ISITUP_EXPORT const isitup_plugin_v1* isitup_plugin_entry(void) { return &t_descriptor; }
