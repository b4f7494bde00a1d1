// The plugin host against real shared objects: the test plugins (tests/plugins/) are copied
// into a fresh directory per test, loaded, refused, and called through their C tables with a
// small fake host table.
#include <isitup/core/plugin_host.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <map>
#include <string>
#include <tuple>
#include <vector>

namespace {

namespace fs = std::filesystem;
using isitup::loaded_plugin;
using isitup::option_schema;
using isitup::option_type;
using isitup::plugin_error;
using isitup::plugin_host;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// ---------------------------------------------------------------- a fake host table

// Option values the fake accessors serve: the schema's defaults unless a test sets others.
struct fake_options {
  std::map<std::string, std::string> values;
};

struct fake_ctx {
  std::map<std::string, int64_t> counters;
};

fake_options defaults_of(const std::vector<option_schema>& schema) {
  fake_options o;
  for (const option_schema& s : schema)
    if (s.default_yaml) o.values[s.name] = *s.default_yaml;
  return o;
}

const isitup_options* as_options(const fake_options* o) {
  return reinterpret_cast<const isitup_options*>(o);
}
isitup_host_ctx* as_ctx(fake_ctx* c) { return reinterpret_cast<isitup_host_ctx*>(c); }

const char* opt_text(const isitup_options* o, const char* name) {
  const auto& values = reinterpret_cast<const fake_options*>(o)->values;
  auto it = values.find(name);
  return it == values.end() ? nullptr : it->second.c_str();
}

// The services the test plugins use; the list, map, codec and submit entries they never call
// are left NULL.
const isitup_host_v1& fake_host() {
  static const isitup_host_v1 h = [] {
    isitup_host_v1 h{};
    h.struct_size = sizeof h;
    h.abi_version = ISITUP_ABI_VERSION;
    h.log = [](isitup_host_ctx*, uint32_t, const char*) {};
    h.opt_is_set = [](const isitup_options* o, const char* n) { return opt_text(o, n) ? 1 : 0; };
    h.opt_string = &opt_text;
    h.opt_int = [](const isitup_options* o, const char* n) -> int64_t {
      const char* t = opt_text(o, n);
      return t ? std::strtoll(t, nullptr, 10) : 0;
    };
    h.opt_float = [](const isitup_options* o, const char* n) {
      const char* t = opt_text(o, n);
      return t ? std::strtod(t, nullptr) : 0.0;
    };
    h.opt_bool = [](const isitup_options* o, const char* n) {
      const char* t = opt_text(o, n);
      return t && std::string(t) == "true" ? 1 : 0;
    };
    h.opt_duration_ms = [](const isitup_options* o, const char* n) -> int64_t {
      const char* t = opt_text(o, n);
      return t ? std::strtoll(t, nullptr, 10) : 0;  // the tests only use "<n>ms"
    };
    h.counter_add = [](isitup_host_ctx* c, const char* n, int64_t d) {
      reinterpret_cast<fake_ctx*>(c)->counters[n] += d;
    };
    return h;
  }();
  return h;
}

struct outcome {
  int calls = 0;
  int32_t status = -1;
  int32_t http_code = 0;
  std::string error_kind;
};

// create, prepare, start, release, destroy one check through the plugin's table.
outcome run_check(const loaded_plugin& p, const fake_options& options,
                  const char* target = "https://example.com/") {
  outcome out;
  const isitup_check_ops_v1* ops = p.check_ops();
  if (!ops) {
    ADD_FAILURE() << p.name() << " has no check";
    return out;
  }
  fake_ctx ctx;
  char err[256] = "";
  void* instance = nullptr;
  if (ops->create(&fake_host(), as_ctx(&ctx), &instance, err, sizeof err) != ISITUP_OK) {
    ADD_FAILURE() << "create: " << err;
    return out;
  }
  const isitup_check_spec_v1 spec{sizeof spec, "t", target, 30000, 5000, as_options(&options)};
  void* check = nullptr;
  if (ops->prepare(instance, &spec, &check, err, sizeof err) == ISITUP_OK) {
    const isitup_run_v1 run{sizeof run, 1'700'000'000'000, 5000};
    ops->start(
        instance, check, &run,
        [](void* c, const isitup_record_v1* r) {
          auto* o = static_cast<outcome*>(c);
          ++o->calls;
          o->status = r->status;
          o->http_code = r->http_code;
          o->error_kind = r->error_kind ? r->error_kind : "";
        },
        &out);
    ops->release(instance, check);
  } else {
    ADD_FAILURE() << "prepare: " << err;
  }
  ops->destroy(instance);
  return out;
}

// ---------------------------------------------------------------- the fixture

class plugin_host_test : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "isitup-plugin-host-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    dir_ = root_ / "plugins";
    fs::create_directory(dir_);
    fs::permissions(dir_, static_cast<fs::perms>(0755));
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  // Copies test plugin `plugin` to `to` (default: <dir>/<plugin>.so), mode 0644.
  fs::path install(const std::string& plugin, fs::path to = {}) {
    if (to.empty()) to = dir_ / (plugin + ".so");
    fs::copy_file(fs::path(ISITUP_TEST_PLUGIN_DIR) / (plugin + ".so"), to,
                  fs::copy_options::overwrite_existing);
    fs::permissions(to, static_cast<fs::perms>(0644));
    return to;
  }

  std::string refusal(std::string_view name) {
    plugin_host host(dir_);
    try {
      host.load(name);
    } catch (const plugin_error& e) {
      return e.what();
    }
    ADD_FAILURE() << "'" << name << "' was loaded";
    return {};
  }

  // The refusal of `name` is one line naming <dir>/<name>.so and containing `reason`.
  void expect_refusal(const std::string& name, const std::string& reason) {
    const std::string msg = refusal(name);
    EXPECT_THAT(msg, StartsWith((dir_ / (name + ".so")).string() + ": "));
    EXPECT_THAT(msg, HasSubstr(reason));
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }

  fs::path root_, dir_;
};

// ---------------------------------------------------------------- loading

TEST_F(plugin_host_test, loads_and_runs_a_c_check_made_with_the_one_macro) {
  install("c_minimal");
  plugin_host host(dir_);
  auto p = host.load("c_minimal");
  EXPECT_EQ(p->version(), "1.0.0");
  EXPECT_EQ(p->kinds(), static_cast<uint32_t>(ISITUP_KIND_CHECK));
  ASSERT_NE(p->check_ops(), nullptr);
  EXPECT_EQ(p->check_ops()->flags, ISITUP_CHECK_BLOCKING);
  EXPECT_TRUE(p->check_schema().empty());
  const fake_options none = defaults_of(p->check_schema());
  const outcome up = run_check(*p, none);
  EXPECT_EQ(up.calls, 1);
  EXPECT_EQ(up.status, ISITUP_UP);
  const outcome down = run_check(*p, none, "http://example.com/");
  EXPECT_EQ(down.calls, 1);
  EXPECT_EQ(down.status, ISITUP_DOWN);
  EXPECT_EQ(down.error_kind, "protocol");
}

TEST_F(plugin_host_test, loads_and_runs_a_plugin_written_in_c) {
  install("c_plugin");
  plugin_host host(dir_);
  auto p = host.load("c_plugin");
  EXPECT_EQ(p->name(), "c_plugin");
  EXPECT_EQ(p->path(), dir_ / "c_plugin.so");
  EXPECT_EQ(p->abi_version(), 1u);
  EXPECT_EQ(p->kinds(), static_cast<uint32_t>(ISITUP_KIND_CHECK));
  EXPECT_EQ(p->version(), "0.1.0");
  EXPECT_EQ(p->description(), "a check written in C that reports what it is told");
  ASSERT_NE(p->check_ops(), nullptr);
  EXPECT_EQ(p->check_ops()->flags, 0u);
  EXPECT_EQ(p->sink_ops(), nullptr);
  EXPECT_EQ(p->source_ops(), nullptr);
  EXPECT_TRUE(p->sink_schema().empty());

  fake_options options = defaults_of(p->check_schema());
  outcome up = run_check(*p, options);
  EXPECT_EQ(up.calls, 1);
  EXPECT_EQ(up.status, ISITUP_UP);
  EXPECT_EQ(up.http_code, 204);

  options.values["status"] = "down";
  options.values["code"] = "503";
  outcome down = run_check(*p, options);
  EXPECT_EQ(down.calls, 1);
  EXPECT_EQ(down.status, ISITUP_DOWN);
  EXPECT_EQ(down.http_code, 503);
  EXPECT_EQ(down.error_kind, "http_status");
}

TEST_F(plugin_host_test, loads_each_name_once) {
  install("c_plugin");
  plugin_host host(dir_);
  EXPECT_EQ(host.load("c_plugin"), host.load("c_plugin"));
}

TEST_F(plugin_host_test, a_plugin_stays_mapped_after_its_host_is_gone) {
  install("c_plugin");
  std::shared_ptr<loaded_plugin> p;
  {
    plugin_host host(dir_);
    p = host.load("c_plugin");
  }
  EXPECT_EQ(run_check(*p, defaults_of(p->check_schema())).http_code, 204);
}

TEST_F(plugin_host_test, converts_the_declared_options_of_a_cpp_plugin) {
  install("good_cpp");
  plugin_host host(dir_);
  auto p = host.load("good_cpp");
  EXPECT_EQ(p->kinds(), static_cast<uint32_t>(ISITUP_KIND_CHECK | ISITUP_KIND_SINK));
  EXPECT_EQ(p->version(), "1.2.3");
  ASSERT_NE(p->check_ops(), nullptr);
  EXPECT_EQ(p->check_ops()->flags, ISITUP_CHECK_BLOCKING);

  struct expected {
    const char* name;
    option_type type;
    const char* default_yaml;
  };
  const std::vector<expected> want = {
      {"up", option_type::boolean, "true"},      {"code", option_type::integer, "200"},
      {"message", option_type::string, nullptr}, {"ratio", option_type::number, "0.5"},
      {"delay", option_type::duration, "10ms"},  {"expect", option_type::list, "[200, 204]"},
      {"headers", option_type::map, "{}"}};
  const auto& schema = p->check_schema();
  ASSERT_EQ(schema.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(want[i].name);
    EXPECT_EQ(schema[i].name, want[i].name);
    EXPECT_EQ(schema[i].type, want[i].type);
    EXPECT_FALSE(schema[i].required);
    if (want[i].default_yaml)
      EXPECT_EQ(schema[i].default_yaml, std::optional<std::string>(want[i].default_yaml));
    else
      EXPECT_EQ(schema[i].default_yaml, std::nullopt);
    EXPECT_FALSE(schema[i].description.empty());
  }
  EXPECT_EQ(schema[0].description, "report up (true) or down");

  ASSERT_EQ(p->sink_schema().size(), 1u);
  const option_schema& prefix = p->sink_schema()[0];
  EXPECT_EQ(prefix.name, "prefix");
  EXPECT_TRUE(prefix.required);
  EXPECT_EQ(prefix.default_yaml, std::nullopt);  // ignored for a required option
  EXPECT_EQ(prefix.description, "a required option");
}

TEST_F(plugin_host_test, runs_the_check_and_sink_of_a_cpp_plugin) {
  install("good_cpp");
  plugin_host host(dir_);
  auto p = host.load("good_cpp");

  fake_options options = defaults_of(p->check_schema());
  outcome up = run_check(*p, options);
  EXPECT_EQ(up.status, ISITUP_UP);
  EXPECT_EQ(up.http_code, 200);
  options.values["up"] = "false";
  options.values["message"] = "nope";
  EXPECT_EQ(run_check(*p, options).error_kind, "http_status");

  const isitup_sink_ops_v1* sink = p->sink_ops();
  ASSERT_NE(sink, nullptr);
  fake_ctx ctx;
  char err[256] = "";
  void* instance = nullptr;
  fake_options empty_prefix{{{"prefix", ""}}};
  EXPECT_EQ(sink->create(&fake_host(), as_ctx(&ctx), as_options(&empty_prefix), &instance, err,
                         sizeof err),
            ISITUP_ERROR);
  EXPECT_STREQ(err, "prefix must not be empty");

  fake_options sink_options{{{"prefix", "x"}}};
  ASSERT_EQ(sink->create(&fake_host(), as_ctx(&ctx), as_options(&sink_options), &instance, err,
                         sizeof err),
            ISITUP_OK)
      << err;
  isitup_record_v1 a, b;
  isitup_record_init(&a);
  isitup_record_init(&b);
  const isitup_record_v1* records[] = {&a, &b};
  const isitup_batch_v1 batch{sizeof batch, 2, records, 1, nullptr};
  uint32_t status = 99;
  sink->write(
      instance, &batch, [](void* c, uint32_t s, const char*) { *static_cast<uint32_t*>(c) = s; },
      &status);
  EXPECT_EQ(status, static_cast<uint32_t>(ISITUP_OK));
  EXPECT_EQ(ctx.counters["records"], 2);
  EXPECT_TRUE(p->takes_events());  // good_cpp's sink class has write_events
  EXPECT_FALSE(p->is_notifier());
  isitup_event_v1 e{};
  e.struct_size = sizeof e;
  const isitup_event_v1* events[] = {&e, &e, &e};
  status = 99;
  sink->write_events(
      instance, events, 3, [](void* c, uint32_t s, const char*) { *static_cast<uint32_t*>(c) = s; },
      &status);
  EXPECT_EQ(status, static_cast<uint32_t>(ISITUP_OK));
  EXPECT_EQ(ctx.counters["events"], 3);
  EXPECT_EQ(sink->flush(instance, 1000), static_cast<uint32_t>(ISITUP_OK));
  sink->destroy(instance);
}

// Creates the plugin's sink, hands it one batch of `records` records and, when it takes
// events, `events` events; returns its counters.
std::map<std::string, int64_t> feed_sink(const loaded_plugin& p, size_t records, size_t events) {
  const isitup_sink_ops_v1* sink = p.sink_ops();
  fake_ctx ctx;
  fake_options none;
  char err[256] = "";
  void* instance = nullptr;
  EXPECT_EQ(sink->create(&fake_host(), as_ctx(&ctx), as_options(&none), &instance, err, sizeof err),
            ISITUP_OK);
  std::vector<isitup_record_v1> rs(records);
  std::vector<const isitup_record_v1*> rp;
  for (isitup_record_v1& r : rs) isitup_record_init(&r), rp.push_back(&r);
  const isitup_batch_v1 batch{sizeof batch, rp.size(), rp.data(), 1, nullptr};
  auto ignore = [](void*, uint32_t, const char*) {};
  sink->write(instance, &batch, ignore, nullptr);
  std::vector<isitup_event_v1> es(events);
  std::vector<const isitup_event_v1*> ep;
  for (isitup_event_v1& e : es) e.struct_size = sizeof e, ep.push_back(&e);
  if (sink->write_events) sink->write_events(instance, ep.data(), ep.size(), ignore, nullptr);
  sink->destroy(instance);
  return ctx.counters;
}

TEST_F(plugin_host_test, a_sink_table_of_the_first_release_loads_and_takes_no_events) {
  install("old_sink");
  plugin_host host(dir_);
  auto p = host.load("old_sink");
  ASSERT_NE(p->sink_ops(), nullptr);
  EXPECT_FALSE(p->takes_events());
  EXPECT_FALSE(p->is_notifier());
  EXPECT_EQ(p->sink_ops()->sink_flags, 0u);  // beyond its struct_size: read as 0
  auto counters = feed_sink(*p, 2, 1);
  EXPECT_EQ(counters["records"], 2);
  EXPECT_EQ(counters.count("events"), 0u);
}

TEST_F(plugin_host_test, a_sink_with_write_events_is_seen_as_taking_events) {
  install("event_sink");
  plugin_host host(dir_);
  auto p = host.load("event_sink");
  EXPECT_TRUE(p->takes_events());
  EXPECT_TRUE(p->is_notifier());
  auto counters = feed_sink(*p, 1, 4);
  EXPECT_EQ(counters["events"], 4);
}

TEST_F(plugin_host_test, a_sink_table_ending_at_write_events_loads_and_keeps_no_alert_state) {
  install("pre_state_sink");
  plugin_host host(dir_);
  auto p = host.load("pre_state_sink");
  EXPECT_TRUE(p->takes_events());
  EXPECT_FALSE(p->keeps_alert_state());
  EXPECT_EQ(p->sink_ops()->write_with_state, nullptr);  // beyond its struct_size: NULL
  EXPECT_EQ(p->sink_ops()->load_state, nullptr);
}

TEST_F(plugin_host_test, a_sink_keeping_alert_state_loads_with_its_three_calls) {
  install("state_sink");
  plugin_host host(dir_);
  auto p = host.load("state_sink");
  ASSERT_TRUE(p->keeps_alert_state());
  EXPECT_FALSE(p->is_notifier());
  const isitup_sink_ops_v1* ops = p->sink_ops();
  struct got {
    std::string check;
    int64_t version = 0;
  } g;
  char err[64] = "";
  EXPECT_EQ(ops->load_state(
                nullptr, 1000,
                [](void* ctx, const isitup_alert_state_v1* s) {
                  auto* out = static_cast<got*>(ctx);
                  ASSERT_EQ(s->state_count, 1u);
                  out->check = s->states[0].check;
                  out->version = s->states[0].version;
                },
                &g, err, sizeof err),
            static_cast<uint32_t>(ISITUP_OK));
  EXPECT_EQ(g.check, "shop");
  EXPECT_EQ(g.version, 7);
}

TEST_F(plugin_host_test, a_sink_answering_history_loads_and_hands_its_buckets_over) {
  install("history_sink");
  plugin_host host(dir_);
  auto p = host.load("history_sink");
  ASSERT_TRUE(p->answers_history());
  EXPECT_TRUE(p->keeps_alert_state());
  const isitup_sink_ops_v1* ops = p->sink_ops();
  ASSERT_NE(ops->read_history, nullptr);
  fake_ctx ctx;
  fake_options none;
  char err[256] = "";
  void* instance = nullptr;
  ASSERT_EQ(ops->create(&fake_host(), as_ctx(&ctx), as_options(&none), &instance, err, sizeof err),
            ISITUP_OK);
  std::vector<std::tuple<std::string, int64_t, int64_t, uint64_t, uint64_t>> got;
  EXPECT_EQ(ops->read_history(
                instance, 86'400'000, int64_t{10} * 86'400'000, 86'400'000,
                [](void* c, const isitup_history_bucket_v1* b) {
                  static_cast<decltype(got)*>(c)->emplace_back(std::string(b->check, b->check_len),
                                                               b->start_ms, b->length_ms,
                                                               b->results, b->up);
                },
                &got, 1500, err, sizeof err),
            static_cast<uint32_t>(ISITUP_OK));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], std::make_tuple(std::string("shop"), int64_t{86'400'000}, int64_t{86'400'000},
                                    uint64_t{10}, uint64_t{9}));
  EXPECT_EQ(std::get<1>(got[1]), 2 * 86'400'000);
  EXPECT_EQ(ctx.counters["history_timeout_ms"], 1500);
  ops->destroy(instance);
}

TEST_F(plugin_host_test, a_sink_table_ending_before_read_history_answers_no_history) {
  install("pre_history_sink");
  plugin_host host(dir_);
  auto p = host.load("pre_history_sink");  // its memory past struct_size holds a read_history
  EXPECT_TRUE(p->keeps_alert_state());
  EXPECT_FALSE(p->answers_history());
  EXPECT_EQ(p->sink_ops()->read_history, nullptr);  // beyond its struct_size: NULL
}

TEST_F(plugin_host_test, a_sink_claiming_positions_loads_with_its_call) {
  install("positions_sink");
  plugin_host host(dir_);
  auto p = host.load("positions_sink");
  const isitup_sink_ops_v1* ops = p->sink_ops();
  ASSERT_TRUE(ops->sink_flags & ISITUP_SINK_POSITIONS);
  ASSERT_NE(ops->claim_positions, nullptr);
  isitup_position_v1 items[2] = {{sizeof(isitup_position_v1), 3, -1, -1, 0},
                                 {sizeof(isitup_position_v1), 0, -1, -1, 0}};
  isitup_positions_v1 claim{sizeof claim, "writers", "results", items, 2};
  fake_ctx ctx;
  fake_options none;
  void* instance = nullptr;
  char err[64] = "";
  ASSERT_EQ(ops->create(&fake_host(), as_ctx(&ctx), as_options(&none), &instance, err, sizeof err),
            ISITUP_OK);
  EXPECT_EQ(ops->claim_positions(instance, &claim, 1000, err, sizeof err), ISITUP_OK);
  EXPECT_EQ(items[0].epoch, 7);
  EXPECT_EQ(items[0].next_offset, 103);
  EXPECT_EQ(items[1].next_offset, 100);
  ops->destroy(instance);
  EXPECT_EQ(ctx.counters["claims"], 1);
}

TEST_F(plugin_host_test, a_sink_table_ending_before_claim_positions_loads_and_keeps_none) {
  install("pre_positions_sink");
  plugin_host host(dir_);
  auto p = host.load("pre_positions_sink");  // its memory past struct_size holds a claim
  EXPECT_TRUE(p->answers_history());
  EXPECT_FALSE(p->sink_ops()->sink_flags & ISITUP_SINK_POSITIONS);
  EXPECT_EQ(p->sink_ops()->claim_positions, nullptr);  // beyond its struct_size: NULL
}

TEST_F(plugin_host_test, accepts_structs_from_an_older_smaller_header) {
  install("small_struct");
  plugin_host host(dir_);
  auto p = host.load("small_struct");
  EXPECT_EQ(p->kinds(), static_cast<uint32_t>(ISITUP_KIND_CHECK));
  EXPECT_EQ(p->source_ops(), nullptr);
  const auto& schema = p->check_schema();
  ASSERT_EQ(schema.size(), 2u);
  EXPECT_EQ(schema[0].name, "label");
  EXPECT_EQ(schema[0].default_yaml, std::optional<std::string>("small_struct"));
  EXPECT_EQ(schema[0].description, "");  // beyond the option's struct_size
  EXPECT_EQ(schema[1].name, "code");
  EXPECT_EQ(schema[1].type, option_type::integer);
  outcome o = run_check(*p, defaults_of(schema));
  EXPECT_EQ(o.status, ISITUP_UP);
  EXPECT_EQ(o.http_code, 200);
}

TEST_F(plugin_host_test, accepts_structs_from_a_newer_larger_header) {
  install("grown_struct");
  plugin_host host(dir_);
  auto p = host.load("grown_struct");
  const auto& schema = p->check_schema();
  ASSERT_EQ(schema.size(), 2u);  // read with the plugin's stride, not ours
  EXPECT_EQ(schema[0].name, "label");
  EXPECT_EQ(schema[0].description, "a label");
  EXPECT_EQ(schema[1].name, "code");
  EXPECT_EQ(schema[1].default_yaml, std::optional<std::string>("201"));
  EXPECT_EQ(run_check(*p, defaults_of(schema)).http_code, 201);
}

TEST_F(plugin_host_test, a_catalog_plugin_loads_with_its_table_and_schema) {
  install("c_catalog");
  plugin_host host(dir_);
  auto p = host.load("c_catalog");
  EXPECT_EQ(p->kinds(), static_cast<uint32_t>(ISITUP_KIND_CATALOG));
  EXPECT_EQ(p->check_ops(), nullptr);
  const isitup_catalog_ops_v1* ops = p->catalog_ops();
  ASSERT_NE(ops, nullptr);
  ASSERT_EQ(p->catalog_schema().size(), 1u);
  EXPECT_EQ(p->catalog_schema()[0].name, "brokers");
  EXPECT_TRUE(p->catalog_schema()[0].required);
  void* instance = nullptr;
  fake_ctx ctx;
  fake_options o;
  char err[256] = "";
  ASSERT_EQ(ops->create(&fake_host(), as_ctx(&ctx), as_options(&o), &instance, err, sizeof err),
            static_cast<uint32_t>(ISITUP_OK));
  std::vector<std::pair<std::string, std::string>> seen;
  auto collect = [](void* c, const isitup_catalog_entry_v1* e) {
    static_cast<std::vector<std::pair<std::string, std::string>>*>(c)->emplace_back(
        std::string(e->key, e->key_len),
        e->value ? std::string(e->value, e->value_len) : "(tombstone)");
  };
  ASSERT_EQ(ops->read_all(instance, collect, &seen, err, sizeof err),
            static_cast<uint32_t>(ISITUP_OK));
  ops->destroy(instance);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[2], (std::pair<std::string, std::string>{"a", "(tombstone)"}));
}

TEST_F(plugin_host_test, plugins_without_a_catalog_have_no_catalog_table) {
  install("small_struct");  // its descriptor ends even before `source`
  install("good_cpp");
  plugin_host host(dir_);
  EXPECT_EQ(host.load("small_struct")->catalog_ops(), nullptr);
  EXPECT_EQ(host.load("good_cpp")->catalog_ops(), nullptr);
}

// ---------------------------------------------------------------- refusals

TEST_F(plugin_host_test, refuses_a_catalog_kind_from_a_descriptor_that_ends_before_its_table) {
  install("catalog_old_descriptor");
  expect_refusal("catalog_old_descriptor", "declares kind catalog but its catalog table is NULL");
}

TEST_F(plugin_host_test, refuses_a_catalog_table_without_a_required_function) {
  install("catalog_missing_op");
  expect_refusal("catalog_missing_op", "required catalog function publish is NULL");
}

TEST_F(plugin_host_test, refuses_a_catalog_table_too_small_for_its_functions) {
  install("catalog_short_table");
  expect_refusal("catalog_short_table", "the catalog table's struct_size");
}

TEST_F(plugin_host_test, refuses_a_name_that_is_not_bare) {
  for (const char* name : {"../x", "a/b", "X", "x.so", "", "/etc/passwd"}) {
    EXPECT_EQ(refusal(name),
              "plugin name '" + std::string(name) + "' is not a bare name ([a-z0-9_]+)");
  }
}

TEST_F(plugin_host_test, a_missing_file_lists_what_is_available) {
  expect_refusal("nope", "no such plugin file (available: none)");
  install("good_cpp");
  install("c_plugin");
  expect_refusal("nope", "no such plugin file (available: c_plugin, good_cpp)");
  plugin_host host(root_ / "absent");
  EXPECT_THAT([&] { host.load("nope"); },
              ::testing::ThrowsMessage<plugin_error>(
                  HasSubstr("no such plugin file (the plugins directory does not exist)")));
}

TEST_F(plugin_host_test, refuses_a_file_that_is_not_a_shared_object) {
  {
    std::ofstream text(dir_ / "bad.so");
    for (int i = 0; i < 20; ++i) text << "a text file that someone named bad.so\n";
  }
  fs::permissions(dir_ / "bad.so", static_cast<fs::perms>(0644));
  expect_refusal("bad", "not a loadable shared object (invalid ELF header)");
}

TEST_F(plugin_host_test, a_refusal_is_not_remembered) {
  plugin_host host(dir_);
  EXPECT_THROW(host.load("c_plugin"), plugin_error);
  install("c_plugin");
  EXPECT_NE(host.load("c_plugin"), nullptr);
}

struct broken_case {
  const char* plugin;
  const char* reason;
};

class refuses_broken_plugin : public plugin_host_test,
                              public ::testing::WithParamInterface<broken_case> {};

TEST_P(refuses_broken_plugin, naming_the_file_and_reason) {
  install(GetParam().plugin);
  expect_refusal(GetParam().plugin, GetParam().reason);
}

INSTANTIATE_TEST_SUITE_P(
    abi, refuses_broken_plugin,
    ::testing::Values(
        broken_case{"no_entry", "no entry symbol isitup_plugin_entry (not an isitup plugin?)"},
        broken_case{"newer_abi", "built for plugin ABI 2, this agent supports up to 1"},
        broken_case{"null_descriptor", "isitup_plugin_entry returned no descriptor (NULL)"},
        broken_case{"tiny_descriptor", "descriptor struct_size 32 is too small (at least 36"},
        broken_case{"wrong_name",
                    "declares name 'someone_else' but the file is named 'wrong_name'"},
        broken_case{"missing_op", "required check function start is NULL"},
        broken_case{"null_ops", "declares kind sink but its sink table is NULL"},
        broken_case{"notifier_no_events",
                    "declares a notifier sink (ISITUP_SINK_NOTIFIER) without write_events"},
        broken_case{"state_no_load",
                    "declares ISITUP_SINK_ALERT_STATE without all of write_with_state, "
                    "load_state and events_delivered"},
        broken_case{"state_no_flag",
                    "has write_with_state, load_state or events_delivered without "
                    "ISITUP_SINK_ALERT_STATE"},
        broken_case{"history_no_call", "declares ISITUP_SINK_HISTORY without read_history"},
        broken_case{"history_no_flag", "has read_history without ISITUP_SINK_HISTORY"},
        broken_case{"positions_no_call", "declares ISITUP_SINK_POSITIONS without claim_positions"},
        broken_case{"positions_no_flag", "has claim_positions without ISITUP_SINK_POSITIONS"},
        broken_case{"short_ops", "the check table's struct_size 56 is too small (at least 64"},
        broken_case{"null_option_name", "check option 1 has no name"},
        broken_case{"bad_option_type", "check option 'code' has unknown type 99"},
        broken_case{"dup_option", "declares check option 'status' twice"}),
    [](const auto& info) { return std::string(info.param.plugin); });

TEST_F(plugin_host_test, refuses_a_file_writable_by_group_or_others) {
  const fs::path file = install("c_plugin");
  fs::permissions(file, static_cast<fs::perms>(0666));
  expect_refusal("c_plugin", "is writable by group or others (mode 0666); fix with chmod go-w " +
                                 file.string());
  fs::permissions(file, static_cast<fs::perms>(0664));
  expect_refusal("c_plugin", "(mode 0664)");
  fs::permissions(file, static_cast<fs::perms>(0755));
  EXPECT_NE(plugin_host(dir_).load("c_plugin"), nullptr);
}

TEST_F(plugin_host_test, refuses_a_directory_writable_by_group_or_others) {
  install("c_plugin");
  fs::permissions(dir_, static_cast<fs::perms>(0775));
  expect_refusal("c_plugin", "the plugins directory " + dir_.string() +
                                 " is writable by group or others (mode 0775)");
}

TEST_F(plugin_host_test, accepts_a_symlink_inside_the_directory) {
  install("c_plugin", dir_ / "c_plugin.so.1");
  fs::create_symlink("c_plugin.so.1", dir_ / "c_plugin.so");
  fs::create_directory(dir_ / "versions");
  fs::permissions(dir_ / "versions", static_cast<fs::perms>(0755));
  install("good_cpp", dir_ / "versions" / "good_cpp.so");
  fs::create_symlink(dir_ / "versions" / "good_cpp.so", dir_ / "good_cpp.so");
  plugin_host host(dir_);
  EXPECT_EQ(host.load("c_plugin")->path(), dir_ / "c_plugin.so");
  EXPECT_EQ(host.load("good_cpp")->name(), "good_cpp");

  fs::permissions(dir_ / "versions", static_cast<fs::perms>(0777));
  expect_refusal("good_cpp", "its target's directory " + (dir_ / "versions").string() +
                                 " is writable by group or others (mode 0777)");
}

TEST_F(plugin_host_test, refuses_a_symlink_pointing_outside_the_directory) {
  fs::create_directory(root_ / "outside");
  install("c_plugin", root_ / "outside" / "c_plugin.so");
  fs::create_symlink("../outside/c_plugin.so", dir_ / "c_plugin.so");
  expect_refusal("c_plugin", "is a symlink pointing outside the plugins directory");
  fs::create_symlink("missing.so", dir_ / "dangling.so");
  expect_refusal("dangling", "is a symlink to a missing file");
}

TEST_F(plugin_host_test, refuses_what_is_not_a_regular_file) {
  fs::create_directory(dir_ / "c_plugin.so");
  expect_refusal("c_plugin", "is not a regular file");
}

// ---------------------------------------------------------------- list() and helpers

TEST_F(plugin_host_test, lists_every_shared_object_loaded_or_refused) {
  install("c_plugin");
  install("good_cpp");
  install("newer_abi");
  // A copy under another file name: the name rule refuses it before it could be a duplicate.
  install("good_cpp", dir_ / "good_copy.so");
  install("c_plugin", dir_ / "Upper.so");
  std::ofstream(dir_ / "README.md") << "not a plugin\n";

  plugin_host host(dir_);
  const auto listed = host.list();
  std::vector<std::string> files;
  files.reserve(listed.size());
  for (const auto& l : listed) files.push_back(l.file);
  EXPECT_THAT(files, ::testing::ElementsAre("Upper.so", "c_plugin.so", "good_copy.so",
                                            "good_cpp.so", "newer_abi.so"));
  ASSERT_EQ(listed.size(), 5u);
  EXPECT_EQ(listed[0].plugin, nullptr);
  EXPECT_EQ(listed[0].error,
            (dir_ / "Upper.so").string() + ": plugin name 'Upper' is not a bare name ([a-z0-9_]+)");
  EXPECT_EQ(listed[1].plugin, host.load("c_plugin"));
  EXPECT_EQ(listed[1].error, "");
  EXPECT_EQ(listed[2].plugin, nullptr);
  EXPECT_EQ(listed[2].error, (dir_ / "good_copy.so").string() +
                                 ": declares name 'good_cpp' but the file is named 'good_copy'");
  EXPECT_EQ(listed[3].plugin->name(), "good_cpp");
  EXPECT_EQ(listed[4].plugin, nullptr);
  EXPECT_THAT(listed[4].error, HasSubstr("built for plugin ABI 2"));

  EXPECT_THROW(plugin_host(root_ / "absent").list(), plugin_error);
}

TEST(kinds_to_string, joins_the_kinds_in_a_fixed_order) {
  EXPECT_EQ(isitup::kinds_to_string(0), "");
  EXPECT_EQ(isitup::kinds_to_string(ISITUP_KIND_CHECK), "check");
  EXPECT_EQ(isitup::kinds_to_string(ISITUP_KIND_SOURCE | ISITUP_KIND_SINK), "sink,source");
  EXPECT_EQ(isitup::kinds_to_string(ISITUP_KIND_CHECK | ISITUP_KIND_SINK | ISITUP_KIND_SOURCE),
            "check,sink,source");
  EXPECT_EQ(isitup::kinds_to_string(ISITUP_KIND_CATALOG | ISITUP_KIND_SINK), "sink,catalog");
}

TEST(default_plugins_dir, prefers_the_build_tree_when_it_holds_plugins) {
  const fs::path exe = fs::read_symlink("/proc/self/exe");
  const fs::path build_plugins = (exe.parent_path() / ".." / "plugins").lexically_normal();
  bool has_plugins = false;
  std::error_code ec;
  for (fs::directory_iterator it(build_plugins, ec), end; !ec && it != end; it.increment(ec))
    has_plugins |= it->path().extension() == ".so";
  const fs::path chosen = isitup::default_plugins_dir();
  if (has_plugins) {
    EXPECT_EQ(chosen, build_plugins);
  } else {
    EXPECT_NE(chosen, build_plugins);
    EXPECT_EQ(chosen.filename(), "plugins");
    EXPECT_EQ(chosen.parent_path().filename(), "isitup");
  }
}

}  // namespace
