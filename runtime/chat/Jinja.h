// A Jinja2 interpreter for the subset chat templates use: text, {{ }}, {% %}
// (for/if/elif/else/set/break/continue, macro-free), expressions with
// filters, tests, method calls on strings/dicts/lists, namespace(), and the
// whitespace rules Hugging Face renders with (trim_blocks, lstrip_blocks).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace mcc::jinja {

struct Value;
using List = std::vector<Value>;
using Dict = std::map<std::string, Value>;

struct Undefined {};
struct None {};

struct Value {
  std::variant<Undefined, None, bool, int64_t, double, std::string, std::shared_ptr<List>, std::shared_ptr<Dict>> v;

  Value() = default;
  Value(None n) : v(n) {}
  Value(bool b) : v(b) {}
  Value(int64_t i) : v(i) {}
  Value(int i) : v(int64_t(i)) {}
  Value(double d) : v(d) {}
  Value(std::string s) : v(std::move(s)) {}
  Value(const char *s) : v(std::string(s)) {}
  Value(List l) : v(std::make_shared<List>(std::move(l))) {}
  Value(Dict d) : v(std::make_shared<Dict>(std::move(d))) {}

  bool isUndefined() const { return std::holds_alternative<Undefined>(v); }
  bool isNone() const { return std::holds_alternative<None>(v); }
  bool isString() const { return std::holds_alternative<std::string>(v); }
  bool isList() const { return std::holds_alternative<std::shared_ptr<List>>(v); }
  bool isDict() const { return std::holds_alternative<std::shared_ptr<Dict>>(v); }
  bool isNumber() const { return std::holds_alternative<int64_t>(v) || std::holds_alternative<double>(v); }
  const std::string &str() const { return std::get<std::string>(v); }
  List &list() const { return *std::get<std::shared_ptr<List>>(v); }
  Dict &dict() const { return *std::get<std::shared_ptr<Dict>>(v); }
  bool truthy() const;
  std::string toString() const; // as {{ }} prints it
};

// Renders TEMPLATE with the given variables. Throws mcc::Error on a syntax
// error or raise_exception().
std::string render(const std::string &tmpl, const Dict &vars);

} // namespace mcc::jinja
