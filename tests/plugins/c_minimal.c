/* The shortest check in plain C, with ISITUP_C_CHECK: up when the target is an https:// URL.
 * Built as C99 with -pedantic -Wall -Wextra -Werror (CMakeLists.txt). */
#include <isitup/plugin.h>

static void check_target(const char* target, const isitup_run_v1* run, isitup_record_v1* r) {
  (void)run;
  if (strncmp(target, "https://", 8) != 0) isitup_set_down(r, "protocol", "not https://");
  r->total_ms = 0.25;
}

ISITUP_C_CHECK(PLUGIN_NAME, "1.0.0", "Up when the target is an https:// URL", check_target)
