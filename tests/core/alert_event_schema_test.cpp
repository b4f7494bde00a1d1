// The agent's own event text (core/alert_event: the `json` field every sink gets, and
// webhook_sink's body of format json) against plugins/webhook_sink/event.schema.json, for every
// transition type and hostile values.
#include <gtest/gtest.h>

#include <string>

#include <isitup/core/alert_event.hpp>
#include "webhook_schema.hpp"

namespace isitup::test {
namespace {

alert::transition transition_of(alert::transition_type type) {
  alert::transition t;
  t.type = type;
  t.event_id = alert::stable_id({"event", alert::to_string(type)});
  t.inc.id = alert::stable_id({"incident", "shop"});
  t.inc.opened_at_ms = 1'796'234'400'000;
  t.inc.error_kind = "http_status";
  t.inc.error_message = "unexpected status 503";
  t.inc.locations = {"eu-west", "us-east"};
  t.at_ms = t.inc.opened_at_ms + 60'000;
  if (type == alert::transition_type::resolved) t.resolved_at_ms = t.at_ms;
  return t;
}

TEST(alert_event_schema, every_transition_type_matches_the_schema) {
  for (const auto type : {alert::transition_type::opened, alert::transition_type::resolved,
                          alert::transition_type::reminder}) {
    const alert::event e =
        alert::make_event(transition_of(type), "shop", "http_check", "https://shop.example/");
    EXPECT_EQ(schema_errors(e.json), "") << alert::to_string(type);
  }
}

TEST(alert_event_schema, hostile_values_still_match_and_userinfo_is_gone) {
  alert::transition t = transition_of(alert::transition_type::opened);
  t.inc.error_message = "quote \" backslash \\ newline \n nul-free control \x01 <!channel>";
  t.inc.locations = {};
  const alert::event e =
      alert::make_event(t, "shöp \"x\"", "http_check", "https://alice:s3cret@shop.example/path");
  EXPECT_EQ(schema_errors(e.json), "");
  EXPECT_EQ(e.json.find("s3cret"), std::string::npos) << e.json;
  EXPECT_EQ(e.json.find('\n'), std::string::npos);

  alert::transition no_error = transition_of(alert::transition_type::opened);
  no_error.inc.error_kind.clear();
  no_error.inc.error_message.clear();
  EXPECT_EQ(schema_errors(alert::make_event(no_error, "shop", "http_check", "x").json), "");
}

}  // namespace
}  // namespace isitup::test
