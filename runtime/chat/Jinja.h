// A Jinja2 interpreter for the subset chat templates use: text, {{ }}, {% %}
// (for/if/elif/else/set/break/continue, macro-free), expressions with
// filters, tests, method calls on strings/dicts/lists, namespace(), and the
// whitespace rules Hugging Face renders with (trim_blocks, lstrip_blocks).
#pragma once

#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace mcc::jinja {

struct Value;
using List = std::vector<Value>;
class Dict;

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
  Value(Dict d); // below Dict

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

// A dict that keeps insertion order, as Python's does (items(), tojson and
// printing follow it). Chat-template dicts hold a handful of keys: a linear
// search is the fastest lookup at that size.
class Dict {
public:
  using Entry = std::pair<std::string, Value>;
  Dict() = default;
  Dict(std::initializer_list<Entry> init);
  Value &operator[](const std::string &k);
  std::vector<Entry>::iterator find(const std::string &k);
  std::vector<Entry>::const_iterator find(const std::string &k) const;
  size_t count(const std::string &k) const { return find(k) != e_.end(); }
  size_t erase(const std::string &k);
  auto begin() { return e_.begin(); }
  auto end() { return e_.end(); }
  auto begin() const { return e_.begin(); }
  auto end() const { return e_.end(); }
  size_t size() const { return e_.size(); }
  bool empty() const { return e_.empty(); }

private:
  std::vector<Entry> e_;
};

inline Value::Value(Dict d) : v(std::make_shared<Dict>(std::move(d))) {}

// Renders TEMPLATE with the given variables. Throws mcc::Error, one line
// naming the template line ("chat template, line 3: ..."), on a syntax error,
// an error while rendering, or raise_exception(); nothing else escapes.
std::string render(const std::string &tmpl, const Dict &vars);

} // namespace mcc::jinja
