#include "config_internal.hpp"

#include <isitup/text.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <unordered_set>

namespace isitup::config::detail {

location at(const std::string& file, const YAML::Mark& mark) {
  location where{file, 0, 0};
  if (!mark.is_null() && mark.line >= 0) {
    where.line = mark.line + 1;
    where.column = mark.column + 1;
  }
  return where;
}

location at(const std::string& file, const YAML::Node& node) { return at(file, node.Mark()); }

void fail(const location& where, const std::string& message) { throw config_error(where, message); }

std::string quote(std::string_view text) { return sdk::quoted_value(text); }

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Scalar:
      return "the scalar " + quote(node.Scalar());
    default:
      return "an empty value";
  }
}

std::string join(std::span<const std::string_view> names) {
  std::string out;
  for (const auto& name : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

namespace {

bool is_name_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

}  // namespace

bool substitute_env(std::string_view text, std::string& out, substitution_error& error) {
  out.clear();
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c != '$' || i + 1 == text.size() || (text[i + 1] != '$' && text[i + 1] != '{')) {
      out += c;
      ++i;
      continue;
    }
    if (text[i + 1] == '$') {
      out += '$';
      i += 2;
      continue;
    }
    const std::size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      error = {i, "unterminated '${' (expected ${NAME} or ${NAME:-default}; write $$ for a '$')"};
      return false;
    }
    const std::string_view inner = text.substr(i + 2, close - i - 2);
    const std::size_t separator = inner.find(":-");
    const std::string_view name = inner.substr(0, separator);
    const bool valid_name = !name.empty() && is_name_start(name[0]) &&
                            std::all_of(name.begin(), name.end(), is_name_char);
    if (!valid_name) {
      error = {i, "bad variable reference " + quote(text.substr(i, close - i + 1)) +
                      " (expected ${NAME} or ${NAME:-default}; write $$ for a '$')"};
      return false;
    }
    const std::string name_text(name);
    // NOLINTNEXTLINE(concurrency-mt-unsafe): nothing in the agent calls setenv or putenv
    const char* value = std::getenv(name_text.c_str());
    if (separator != std::string_view::npos) {
      out += (value != nullptr && *value != '\0') ? std::string_view(value)
                                                  : inner.substr(separator + 2);
    } else if (value == nullptr) {
      error = {i, "environment variable " + name_text + " is not set (use ${" + name_text +
                      ":-default} to give a default)"};
      return false;
    } else {
      out += value;
    }
    i = close + 1;
  }
  return true;
}

namespace {

// Aliases (*name) share their node with the anchor: substitute each scalar once, keyed by its
// position in the text (two distinct scalars never start at the same place). Every visit
// counts against the budget, so a tree that aliases expand past it ends the walk early.
class substituter {
 public:
  substituter(const std::string& file, std::size_t max_nodes)
      : file_(file), left_(max_nodes), max_nodes_(max_nodes) {}

  void walk(YAML::Node node, bool substitute) {
    if (left_ == 0) {
      fail(at(file_, node), "YAML aliases expand this document past " + std::to_string(max_nodes_) +
                                " nodes; refusing it (is it a \"billion laughs\"?)");
    }
    --left_;
    switch (node.Type()) {
      case YAML::NodeType::Scalar:
        if (substitute) substitute_scalar(node);
        return;
      case YAML::NodeType::Sequence:
        for (auto it = node.begin(); it != node.end(); ++it) walk(*it, substitute);
        return;
      case YAML::NodeType::Map:
        for (auto it = node.begin(); it != node.end(); ++it) {
          walk(it->first, false);
          walk(it->second, substitute);
        }
        return;
      default:
        return;
    }
  }

 private:
  void substitute_scalar(YAML::Node& node) {
    if (!done_.insert(node.Mark().pos).second) return;
    const std::string& text = node.Scalar();
    if (text.find('$') == std::string::npos) return;
    std::string out;
    substitution_error error;
    if (!substitute_env(text, out, error)) fail(at(file_, node), error.message);
    node = out;
  }

  const std::string& file_;
  std::size_t left_;
  std::size_t max_nodes_;
  std::unordered_set<int> done_;
};

}  // namespace

void substitute_tree(const std::string& file, YAML::Node& node, std::size_t max_nodes) {
  substituter(file, max_nodes).walk(node, true);
}

std::vector<entry> mapping_entries(const std::string& file, const YAML::Node& node,
                                   const std::string& path,
                                   std::span<const std::string_view> allowed) {
  const std::string prefix = path.empty() ? "" : path + ": ";
  if (!node.IsMap()) fail(at(file, node), prefix + "expected a mapping, got " + describe(node));
  std::vector<entry> entries;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node key = it->first;  // the iterator hands out a temporary
    if (!key.IsScalar()) fail(at(file, key), prefix + "expected a key, got " + describe(key));
    const std::string& name = key.Scalar();
    for (const auto& seen : entries) {
      if (seen.key == name) {
        const location first = at(file, seen.key_node);
        fail(at(file, key),
             prefix + "duplicate key " + quote(name) + " (first at " + to_string(first) + ")");
      }
    }
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      std::string message = "unknown key " + quote(name);
      message += path.empty() ? " at the top level" : " in " + path;
      if (name == "<<") message += " (YAML merge keys are not supported)";
      message += suggestion(name, allowed) + "; valid keys: " + join(allowed);
      fail(at(file, key), message);
    }
    entries.push_back({name, key, it->second});
  }
  return entries;
}

}  // namespace isitup::config::detail
