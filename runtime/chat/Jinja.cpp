#include "runtime/chat/Jinja.h"
#include "format/Error.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <functional>

namespace mcc::jinja {

// ------------------------------------------------------------------ values

Dict::Dict(std::initializer_list<Entry> init) {
  for (const Entry &e : init)
    (*this)[e.first] = e.second;
}

Value &Dict::operator[](const std::string &k) {
  auto it = find(k);
  if (it != e_.end())
    return it->second;
  e_.emplace_back(k, Value());
  return e_.back().second;
}

std::vector<Dict::Entry>::iterator Dict::find(const std::string &k) {
  return std::find_if(e_.begin(), e_.end(), [&](const Entry &e) { return e.first == k; });
}

std::vector<Dict::Entry>::const_iterator Dict::find(const std::string &k) const {
  return std::find_if(e_.begin(), e_.end(), [&](const Entry &e) { return e.first == k; });
}

size_t Dict::erase(const std::string &k) {
  auto it = find(k);
  if (it == e_.end())
    return 0;
  e_.erase(it);
  return 1;
}

// A float as Python's repr prints it: the shortest digits that read back
// to the same double, in fixed notation for exponents -4..15, else
// scientific with a signed two-digit exponent.
static std::string pythonFloat(double x) {
  if (std::isnan(x))
    return "nan";
  if (std::isinf(x))
    return x < 0 ? "-inf" : "inf";
  char b[64];
  auto r = std::to_chars(b, b + sizeof b, x, std::chars_format::scientific);
  std::string sci(b, r.ptr);
  size_t e = sci.find('e');
  std::string mant = sci.substr(0, e);
  int exp = std::stoi(sci.substr(e + 1));
  bool neg = mant[0] == '-';
  if (neg)
    mant.erase(0, 1);
  std::string digits;
  for (char c : mant)
    if (c != '.')
      digits += c;
  std::string out;
  if (exp >= -4 && exp < 16) {
    if (exp < 0) {
      out = "0." + std::string(size_t(-exp - 1), '0') + digits;
    } else if (size_t(exp) + 1 >= digits.size()) {
      out = digits + std::string(size_t(exp) + 1 - digits.size(), '0') + ".0";
    } else {
      out = digits.substr(0, size_t(exp) + 1) + "." + digits.substr(size_t(exp) + 1);
    }
  } else {
    out = digits.substr(0, 1);
    if (digits.size() > 1)
      out += "." + digits.substr(1);
    char eb[8];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    out += eb;
  }
  return neg ? "-" + out : out;
}

bool Value::truthy() const {
  return std::visit(
      [](auto &&x) -> bool {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Undefined> || std::is_same_v<T, None>)
          return false;
        else if constexpr (std::is_same_v<T, std::string>)
          return !x.empty();
        else if constexpr (std::is_same_v<T, std::shared_ptr<List>> || std::is_same_v<T, std::shared_ptr<Dict>>)
          return !x->empty();
        else
          return x != 0;
      },
      v);
}

static std::string repr(const Value &x);

std::string Value::toString() const {
  return std::visit(
      [&](auto &&x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Undefined>)
          return "";
        else if constexpr (std::is_same_v<T, None>)
          return "None";
        else if constexpr (std::is_same_v<T, bool>)
          return x ? "True" : "False";
        else if constexpr (std::is_same_v<T, int64_t>)
          return std::to_string(x);
        else if constexpr (std::is_same_v<T, double>)
          return pythonFloat(x);
        else if constexpr (std::is_same_v<T, std::string>)
          return x;
        else
          return repr(*this);
      },
      v);
}

// Python's repr, which is how Jinja prints lists and dicts.
static std::string repr(const Value &x) {
  if (x.isString()) {
    std::string s = "'";
    for (char c : x.str()) {
      if (c == '\'' || c == '\\')
        s += '\\';
      if (c == '\n') {
        s += "\\n";
        continue;
      }
      s += c;
    }
    return s + "'";
  }
  if (x.isList()) {
    std::string s = "[";
    for (size_t i = 0; i < x.list().size(); ++i)
      s += (i ? ", " : "") + repr(x.list()[i]);
    return s + "]";
  }
  if (x.isDict()) {
    std::string s = "{";
    bool first = true;
    for (auto &[k, v] : x.dict()) {
      s += (first ? "'" : ", '") + k + "': " + repr(v);
      first = false;
    }
    return s + "}";
  }
  return x.toString();
}

static void jsonString(std::string &out, const std::string &s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    case '\b': out += "\\b"; break;
    case '\f': out += "\\f"; break;
    default:
      if (c < 0x20) {
        char b[8];
        std::snprintf(b, sizeof b, "\\u%04x", c);
        out += b;
      } else {
        out += char(c);
      }
    }
  }
  out += '"';
}

// json.dumps(x, ensure_ascii=False, indent=indent) as transformers' tojson.
static void toJson(std::string &out, const Value &x, int indent, int depth) {
  auto nl = [&](int d) {
    if (indent > 0) {
      out += '\n';
      out.append(size_t(indent * d), ' ');
    }
  };
  if (x.isString())
    jsonString(out, x.str());
  else if (x.isNone() || x.isUndefined())
    out += "null";
  else if (auto b = std::get_if<bool>(&x.v))
    out += *b ? "true" : "false";
  else if (x.isList()) {
    out += '[';
    for (size_t i = 0; i < x.list().size(); ++i) {
      if (i)
        out += indent > 0 ? "," : ", ";
      nl(depth + 1);
      toJson(out, x.list()[i], indent, depth + 1);
    }
    if (!x.list().empty())
      nl(depth);
    out += ']';
  } else if (x.isDict()) {
    out += '{';
    bool first = true;
    for (auto &[k, v] : x.dict()) {
      if (!first)
        out += indent > 0 ? "," : ", ";
      first = false;
      nl(depth + 1);
      jsonString(out, k);
      out += ": ";
      toJson(out, v, indent, depth + 1);
    }
    if (!x.dict().empty())
      nl(depth);
    out += '}';
  } else
    out += x.toString();
}

// Python strings are sequences of code points, not bytes.
static std::vector<std::string> chars(const std::string &s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    size_t j = i + 1;
    while (j < s.size() && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80)
      ++j;
    out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

static double num(const Value &x) {
  if (auto i = std::get_if<int64_t>(&x.v))
    return double(*i);
  if (auto d = std::get_if<double>(&x.v))
    return *d;
  if (auto b = std::get_if<bool>(&x.v))
    return *b;
  throw Error("chat template: expected a number, got " + repr(x));
}

static bool equal(const Value &a, const Value &b) {
  if ((a.isNumber() || std::holds_alternative<bool>(a.v)) && (b.isNumber() || std::holds_alternative<bool>(b.v)))
    return num(a) == num(b);
  if (a.isString() && b.isString())
    return a.str() == b.str();
  if ((a.isNone() && b.isNone()) || (a.isUndefined() && b.isUndefined()))
    return true;
  if (a.isList() && b.isList()) {
    if (a.list().size() != b.list().size())
      return false;
    for (size_t i = 0; i < a.list().size(); ++i)
      if (!equal(a.list()[i], b.list()[i]))
        return false;
    return true;
  }
  return false;
}

// ------------------------------------------------------------------ lexer

namespace {

enum class Tok { Name, String, Int, Float, Op, End };
struct Token {
  Tok kind;
  std::string text;
};

std::vector<Token> lex(const std::string &s) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_'))
        ++j;
      out.push_back({Tok::Name, s.substr(i, j - i)});
      i = j;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t j = i;
      bool isFloat = false;
      while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.')) {
        if (s[j] == '.') {
          if (j + 1 >= s.size() || !std::isdigit(static_cast<unsigned char>(s[j + 1])))
            break;
          isFloat = true;
        }
        ++j;
      }
      out.push_back({isFloat ? Tok::Float : Tok::Int, s.substr(i, j - i)});
      i = j;
    } else if (c == '\'' || c == '"') {
      std::string v;
      size_t j = i + 1;
      for (; j < s.size() && s[j] != c; ++j) {
        if (s[j] == '\\' && j + 1 < s.size()) {
          char e = s[++j];
          v += e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
        } else {
          v += s[j];
        }
      }
      if (j >= s.size())
        throw Error("chat template: unterminated string");
      out.push_back({Tok::String, v});
      i = j + 1;
    } else {
      static const char *two[] = {"==", "!=", "<=", ">=", "//", "**"};
      std::string op(1, c);
      for (const char *t : two)
        if (s.compare(i, 2, t) == 0)
          op = t;
      out.push_back({Tok::Op, op});
      i += op.size();
    }
  }
  out.push_back({Tok::End, ""});
  return out;
}

// ------------------------------------------------------------------ expressions

struct Expr;
using ExprP = std::shared_ptr<Expr>;
struct Arg {
  std::string name; // empty: positional
  ExprP value;
};
struct Expr {
  enum Kind { Lit, Var, Attr, Index, Slice, Call, Filter, Test, Unary, Binary, Cond, ListLit, DictLit } kind;
  Value lit;
  std::string name; // Var, Attr, Filter, Test, operators
  std::vector<ExprP> kids;
  std::vector<Arg> args;
  bool negate = false;
};

// A numeric literal; one the type cannot hold is an error, not an exception
// from the standard library.
template <class T> T number(const std::string &text, const char *what) {
  T v{};
  auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size())
    throw Error(cat("chat template: ", what, " ", text, " is out of range"));
  return v;
}

ExprP mk(Expr::Kind k) { return std::make_shared<Expr>(Expr{k, {}, {}, {}, {}, false}); }

class ExprParser {
public:
  explicit ExprParser(std::vector<Token> t) : t_(std::move(t)) {}
  const Token &peek(size_t k = 0) const { return t_[std::min(p_ + k, t_.size() - 1)]; }
  bool isOp(const char *op, size_t k = 0) const { return peek(k).kind == Tok::Op && peek(k).text == op; }
  bool isName(const char *n, size_t k = 0) const { return peek(k).kind == Tok::Name && peek(k).text == n; }
  bool atEnd() const { return peek().kind == Tok::End; }
  Token next() { return t_[std::min(p_++, t_.size() - 1)]; }
  void expectOp(const char *op) {
    if (!isOp(op))
      throw Error(cat("chat template: expected '", op, "' but found '", peek().text, "'"));
    ++p_;
  }
  std::string name() {
    if (peek().kind != Tok::Name)
      throw Error(cat("chat template: expected a name but found '", peek().text, "'"));
    return next().text;
  }

  ExprP expr() { return ternary(); }

  ExprP ternary() {
    ExprP a = orExpr();
    if (isName("if")) {
      ++p_;
      ExprP c = orExpr();
      ExprP e = nullptr;
      if (isName("else")) {
        ++p_;
        e = ternary();
      }
      ExprP n = mk(Expr::Cond);
      n->kids = {c, a, e ? e : lit(Value())};
      return n;
    }
    return a;
  }
  ExprP lit(Value v) {
    ExprP n = mk(Expr::Lit);
    n->lit = std::move(v);
    return n;
  }
  ExprP bin(const std::string &op, ExprP a, ExprP b) {
    ExprP n = mk(Expr::Binary);
    n->name = op;
    n->kids = {a, b};
    return n;
  }
  ExprP orExpr() {
    ExprP a = andExpr();
    while (isName("or")) {
      ++p_;
      a = bin("or", a, andExpr());
    }
    return a;
  }
  ExprP andExpr() {
    ExprP a = notExpr();
    while (isName("and")) {
      ++p_;
      a = bin("and", a, notExpr());
    }
    return a;
  }
  ExprP notExpr() {
    if (isName("not")) {
      ++p_;
      ExprP n = mk(Expr::Unary);
      n->name = "not";
      n->kids = {notExpr()};
      return n;
    }
    return compare();
  }
  ExprP compare() {
    ExprP a = concat();
    for (;;) {
      if (isOp("==") || isOp("!=") || isOp("<") || isOp(">") || isOp("<=") || isOp(">=")) {
        std::string op = next().text;
        a = bin(op, a, concat());
      } else if (isName("in")) {
        ++p_;
        a = bin("in", a, concat());
      } else if (isName("not") && isName("in", 1)) {
        p_ += 2;
        a = bin("not in", a, concat());
      } else if (isName("is")) {
        ++p_;
        ExprP n = mk(Expr::Test);
        if (isName("not")) {
          ++p_;
          n->negate = true;
        }
        n->name = name();
        n->kids = {a};
        if (peek().kind == Tok::String || peek().kind == Tok::Int || (isOp("(")))
          n->args = isOp("(") ? callArgs() : std::vector<Arg>{{"", primary()}};
        a = n;
      } else {
        return a;
      }
    }
  }
  ExprP concat() {
    ExprP a = additive();
    while (isOp("~")) {
      ++p_;
      a = bin("~", a, additive());
    }
    return a;
  }
  ExprP additive() {
    ExprP a = mult();
    while (isOp("+") || isOp("-")) {
      std::string op = next().text;
      a = bin(op, a, mult());
    }
    return a;
  }
  ExprP mult() {
    ExprP a = unary();
    while (isOp("*") || isOp("/") || isOp("//") || isOp("%")) {
      std::string op = next().text;
      a = bin(op, a, unary());
    }
    return a;
  }
  ExprP unary() {
    if (isOp("-")) {
      ++p_;
      ExprP n = mk(Expr::Unary);
      n->name = "-";
      n->kids = {unary()};
      return n;
    }
    return filtered();
  }
  ExprP filtered() {
    ExprP a = postfix();
    while (isOp("|")) {
      ++p_;
      ExprP n = mk(Expr::Filter);
      n->name = name();
      n->kids = {a};
      if (isOp("("))
        n->args = callArgs();
      a = n;
    }
    return a;
  }
  std::vector<Arg> callArgs() {
    expectOp("(");
    std::vector<Arg> args;
    while (!isOp(")")) {
      Arg a;
      if (peek().kind == Tok::Name && isOp("=", 1)) {
        a.name = next().text;
        ++p_;
      }
      a.value = expr();
      args.push_back(a);
      if (!isOp(")"))
        expectOp(",");
    }
    expectOp(")");
    return args;
  }
  ExprP postfix() {
    ExprP a = primary();
    for (;;) {
      if (isOp(".")) {
        ++p_;
        ExprP n = mk(Expr::Attr);
        n->name = name();
        n->kids = {a};
        a = n;
      } else if (isOp("[")) {
        ++p_;
        ExprP idx[3] = {nullptr, nullptr, nullptr};
        bool slice = false;
        for (int k = 0; k < 3; ++k) {
          if (!isOp(":") && !isOp("]"))
            idx[k] = expr();
          if (isOp(":")) {
            slice = true;
            ++p_;
          } else {
            break;
          }
        }
        expectOp("]");
        ExprP n = mk(slice ? Expr::Slice : Expr::Index);
        n->kids = {a, idx[0], idx[1], idx[2]};
        a = n;
      } else if (isOp("(")) {
        ExprP n = mk(Expr::Call);
        n->kids = {a};
        n->args = callArgs();
        a = n;
      } else {
        return a;
      }
    }
  }
  ExprP primary() {
    Token t = next();
    switch (t.kind) {
    case Tok::String: {
      std::string s = t.text;
      while (peek().kind == Tok::String) // adjacent literals concatenate
        s += next().text;
      return lit(Value(s));
    }
    case Tok::Int: return lit(Value(number<int64_t>(t.text, "integer")));
    case Tok::Float: return lit(Value(number<double>(t.text, "number")));
    case Tok::Name:
      if (t.text == "true" || t.text == "True") return lit(Value(true));
      if (t.text == "false" || t.text == "False") return lit(Value(false));
      if (t.text == "none" || t.text == "None") return lit(Value(None{}));
      {
        ExprP n = mk(Expr::Var);
        n->name = t.text;
        return n;
      }
    case Tok::Op:
      if (t.text == "(") {
        ExprP e = expr();
        expectOp(")");
        return e;
      }
      if (t.text == "[") {
        ExprP n = mk(Expr::ListLit);
        while (!isOp("]")) {
          n->kids.push_back(expr());
          if (!isOp("]"))
            expectOp(",");
        }
        expectOp("]");
        return n;
      }
      if (t.text == "{") {
        ExprP n = mk(Expr::DictLit);
        while (!isOp("}")) {
          n->kids.push_back(expr());
          expectOp(":");
          n->kids.push_back(expr());
          if (!isOp("}"))
            expectOp(",");
        }
        expectOp("}");
        return n;
      }
      break;
    case Tok::End:
      break;
    }
    throw Error(cat("chat template: unexpected '", t.text, "' in an expression"));
  }

private:
  std::vector<Token> t_;
  size_t p_ = 0;
};

// ------------------------------------------------------------------ statements

struct Node;
using Body = std::vector<std::shared_ptr<Node>>;
struct Node {
  enum Kind { Text, Output, For, If, Set, Break, Continue } kind;
  std::string text;
  ExprP expr;                       // Output value, For iterable, Set value
  std::vector<std::string> targets; // For loop variables; Set target (name[, attr])
  ExprP filter;                     // For ... if cond
  std::vector<std::pair<ExprP, Body>> branches; // If
  Body body, elseBody;
  int line = 0; // of the template
};

struct Piece {
  bool isTag; // block tag {% %}
  bool isOut; // {{ }}
  std::string text;
  int line = 0; // of the template, where the piece starts
};

// Splits the template into text and tags, applying -, trim_blocks and lstrip_blocks.
std::vector<Piece> scan(const std::string &s) {
  std::vector<Piece> out;
  size_t i = 0;
  bool trimNext = false, lstripNext = false;
  int line = 1;
  size_t counted = 0; // s[0, counted) has been counted into line
  auto lineAt = [&](size_t at) {
    line += int(std::count(s.begin() + std::ptrdiff_t(counted), s.begin() + std::ptrdiff_t(at), '\n'));
    counted = at;
    return line;
  };
  while (i <= s.size()) {
    size_t open = s.find('{', i);
    while (open != std::string::npos && open + 1 < s.size() && s[open + 1] != '{' && s[open + 1] != '%' &&
           s[open + 1] != '#')
      open = s.find('{', open + 1);
    if (open + 1 >= s.size())
      open = std::string::npos;
    std::string text = s.substr(i, open == std::string::npos ? std::string::npos : open - i);
    size_t textBegin = i;
    if (lstripNext) {
      size_t k = text.find_first_not_of(" \t\r\n");
      text = k == std::string::npos ? "" : text.substr(k);
    } else if (trimNext && !text.empty() && text[0] == '\n') {
      text = text.substr(1);
      ++textBegin;
    }
    trimNext = lstripNext = false;
    if (open == std::string::npos) {
      out.push_back({false, false, text, lineAt(i)});
      break;
    }
    char kind = s[open + 1];
    bool minusLeft = open + 2 < s.size() && s[open + 2] == '-';
    bool plusLeft = open + 2 < s.size() && s[open + 2] == '+';
    if (minusLeft) {
      size_t k = text.find_last_not_of(" \t\r\n");
      text = k == std::string::npos ? "" : text.substr(0, k + 1);
    } else if (kind != '{' && !plusLeft) {
      // lstrip_blocks: spaces and tabs between a line start and a block tag go.
      size_t k = text.find_last_not_of(" \t");
      if (k != std::string::npos ? text[k] == '\n' : textBegin == 0 || s[textBegin - 1] == '\n')
        text = k == std::string::npos ? "" : text.substr(0, k + 1);
    }
    out.push_back({false, false, text, lineAt(i)});
    int tagLine = lineAt(open);
    std::string close = kind == '{' ? "}}" : kind == '%' ? "%}" : "#}";
    size_t end = s.find(close, open + 2);
    if (end == std::string::npos)
      throw Error(cat("chat template, line ", tagLine, ": unclosed tag"));
    size_t innerBegin = open + 2 + (minusLeft || plusLeft ? 1 : 0);
    bool minusRight = end > innerBegin && s[end - 1] == '-';
    bool plusRight = end > innerBegin && s[end - 1] == '+';
    std::string inner = s.substr(innerBegin, end - innerBegin - (minusRight || plusRight ? 1 : 0));
    if (kind != '#')
      out.push_back({kind == '%', kind == '{', inner, tagLine});
    lstripNext = minusRight;
    trimNext = kind != '{' && !plusRight;
    i = end + 2;
  }
  return out;
}

class StmtParser {
public:
  explicit StmtParser(std::vector<Piece> p) : p_(std::move(p)) {}

  // The template line of the piece being parsed, for messages.
  int line() const { return i_ < p_.size() ? p_[i_].line : p_.empty() ? 1 : p_.back().line; }

  Body parse(const std::vector<std::string> &stops, std::string *stoppedAt) {
    Body body;
    while (i_ < p_.size()) {
      const Piece &pc = p_[i_];
      int at = pc.line;
      if (!pc.isTag && !pc.isOut) {
        if (!pc.text.empty())
          body.push_back(std::make_shared<Node>(Node{Node::Text, pc.text, {}, {}, {}, {}, {}, {}, at}));
        ++i_;
        continue;
      }
      if (pc.isOut) {
        ExprParser ep(lex(pc.text));
        auto n = std::make_shared<Node>(Node{Node::Output, {}, ep.expr(), {}, {}, {}, {}, {}, at});
        if (!ep.atEnd())
          throw Error(cat("chat template: unexpected '", ep.peek().text, "' in {{ ", pc.text, " }}"));
        body.push_back(n);
        ++i_;
        continue;
      }
      ExprParser ep(lex(pc.text));
      std::string kw = ep.name();
      if (std::find(stops.begin(), stops.end(), kw) != stops.end()) {
        *stoppedAt = kw;
        return body;
      }
      ++i_;
      auto n = std::make_shared<Node>();
      n->line = at;
      if (kw == "for") {
        n->kind = Node::For;
        n->targets.push_back(ep.name());
        while (ep.isOp(",")) {
          ep.next();
          n->targets.push_back(ep.name());
        }
        if (!ep.isName("in"))
          throw Error("chat template: expected 'in' in a for loop");
        ep.next();
        n->expr = ep.orExpr();
        if (ep.isName("if")) {
          ep.next();
          n->filter = ep.orExpr();
        }
        std::string stop;
        n->body = parse({"endfor", "else"}, &stop);
        if (stop == "else") {
          ++i_;
          n->elseBody = parse({"endfor"}, &stop);
        }
        expectEnd(stop, "endfor");
      } else if (kw == "if") {
        n->kind = Node::If;
        ExprP cond = ep.expr();
        std::string stop;
        for (;;) {
          Body b = parse({"elif", "else", "endif"}, &stop);
          n->branches.push_back({cond, b});
          if (stop != "elif")
            break;
          ExprParser e2(lex(p_[i_].text));
          e2.name();
          cond = e2.expr();
          ++i_;
        }
        if (stop == "else") {
          ++i_;
          n->elseBody = parse({"endif"}, &stop);
        }
        expectEnd(stop, "endif");
      } else if (kw == "set") {
        n->kind = Node::Set;
        n->targets.push_back(ep.name());
        if (ep.isOp(".")) {
          ep.next();
          n->targets.push_back(ep.name());
        }
        ep.expectOp("=");
        n->expr = ep.expr();
      } else if (kw == "break") {
        n->kind = Node::Break;
      } else if (kw == "continue") {
        n->kind = Node::Continue;
      } else {
        throw Error(cat("chat template: '{% ", kw, " %}' is not supported"));
      }
      body.push_back(n);
    }
    if (!stops.empty()) {
      // Name the closing tag (endfor, endif), not an optional else / elif.
      auto end = std::find_if(stops.begin(), stops.end(), [](const std::string &k) { return k.rfind("end", 0) == 0; });
      throw Error(cat("chat template: missing {% ", end != stops.end() ? *end : stops.back(), " %}"));
    }
    return body;
  }

private:
  void expectEnd(const std::string &stop, const char *want) {
    if (stop != want)
      throw Error(cat("chat template: missing {% ", want, " %}"));
    ++i_;
  }
  std::vector<Piece> p_;
  size_t i_ = 0;
};

// ------------------------------------------------------------------ evaluation

struct LoopSignal {
  bool isBreak;
};

class Interp {
public:
  explicit Interp(const Dict &globals) { scopes_.push_back(globals); }

  void run(const Body &b, std::string &out) {
    for (auto &n : b) {
      line_ = n->line;
      exec(*n, out);
    }
  }

  // The template line of the statement running, for messages.
  int line() const { return line_; }

private:
  int line_ = 1;
  std::vector<Dict> scopes_;

  Value lookup(const std::string &n) {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
      auto f = it->find(n);
      if (f != it->end())
        return f->second;
    }
    return Value();
  }

  void exec(const Node &n, std::string &out) {
    switch (n.kind) {
    case Node::Text: out += n.text; return;
    case Node::Output: out += eval(*n.expr).toString(); return;
    case Node::Set: {
      Value v = eval(*n.expr);
      if (n.targets.size() == 1) {
        scopes_.back()[n.targets[0]] = v;
      } else {
        Value ns = lookup(n.targets[0]);
        if (!ns.isDict())
          throw Error(cat("chat template: cannot set an attribute of '", n.targets[0], "'"));
        ns.dict()[n.targets[1]] = v;
      }
      return;
    }
    case Node::If:
      for (auto &[cond, body] : n.branches)
        if (eval(*cond).truthy()) {
          run(body, out);
          return;
        }
      run(n.elseBody, out);
      return;
    case Node::For: {
      Value seq = eval(*n.expr);
      List items;
      if (seq.isList())
        items = seq.list();
      else if (seq.isDict())
        for (auto &[k, v] : seq.dict())
          items.push_back(List{Value(k), v});
      else if (seq.isString())
        for (auto &c : chars(seq.str()))
          items.push_back(Value(c));
      else if (!seq.isUndefined() && !seq.isNone())
        throw Error("chat template: cannot loop over " + repr(seq));
      if (n.filter) {
        List kept;
        for (auto &it : items) {
          scopes_.push_back({});
          bind(n.targets, it);
          if (eval(*n.filter).truthy())
            kept.push_back(it);
          scopes_.pop_back();
        }
        items = std::move(kept);
      }
      if (items.empty()) {
        run(n.elseBody, out);
        return;
      }
      int64_t len = int64_t(items.size());
      for (int64_t i = 0; i < len; ++i) {
        scopes_.push_back({});
        bind(n.targets, items[size_t(i)]);
        scopes_.back()["loop"] = Value(Dict{{"index", Value(i + 1)},
                                           {"index0", Value(i)},
                                           {"revindex", Value(len - i)},
                                           {"revindex0", Value(len - i - 1)},
                                           {"first", Value(i == 0)},
                                           {"last", Value(i == len - 1)},
                                           {"length", Value(len)},
                                           {"previtem", i > 0 ? items[size_t(i - 1)] : Value()},
                                           {"nextitem", i + 1 < len ? items[size_t(i + 1)] : Value()}});
        try {
          run(n.body, out);
        } catch (const LoopSignal &s) {
          scopes_.pop_back();
          if (s.isBreak)
            break;
          continue;
        }
        scopes_.pop_back();
      }
      return;
    }
    case Node::Break: throw LoopSignal{true};
    case Node::Continue: throw LoopSignal{false};
    }
  }

  void bind(const std::vector<std::string> &targets, const Value &v) {
    if (targets.size() == 1) {
      scopes_.back()[targets[0]] = v;
      return;
    }
    if (!v.isList() || v.list().size() != targets.size())
      throw Error("chat template: cannot unpack a loop item");
    for (size_t k = 0; k < targets.size(); ++k)
      scopes_.back()[targets[k]] = v.list()[k];
  }

  static int64_t index(const Value &i, int64_t n) {
    int64_t k = int64_t(num(i));
    return k < 0 ? k + n : k;
  }

  Value attr(const Value &obj, const std::string &name) {
    if (obj.isDict()) {
      auto it = obj.dict().find(name);
      return it == obj.dict().end() ? Value() : it->second;
    }
    return Value();
  }

  Value eval(const Expr &e) {
    switch (e.kind) {
    case Expr::Lit: return e.lit;
    case Expr::Var: return lookup(e.name);
    case Expr::ListLit: {
      List l;
      for (auto &k : e.kids)
        l.push_back(eval(*k));
      return Value(l);
    }
    case Expr::DictLit: {
      Dict d;
      for (size_t i = 0; i + 1 < e.kids.size(); i += 2)
        d[eval(*e.kids[i]).toString()] = eval(*e.kids[i + 1]);
      return Value(d);
    }
    case Expr::Attr: return attr(eval(*e.kids[0]), e.name);
    case Expr::Index: {
      Value o = eval(*e.kids[0]), i = eval(*e.kids[1]);
      if (o.isDict())
        return attr(o, i.toString());
      if (o.isList()) {
        int64_t k = index(i, int64_t(o.list().size()));
        return k >= 0 && k < int64_t(o.list().size()) ? o.list()[size_t(k)] : Value();
      }
      if (o.isString()) {
        auto cs = chars(o.str());
        int64_t k = index(i, int64_t(cs.size()));
        return k >= 0 && k < int64_t(cs.size()) ? Value(cs[size_t(k)]) : Value();
      }
      return Value();
    }
    case Expr::Slice: {
      Value o = eval(*e.kids[0]);
      std::vector<std::string> cs = o.isString() ? chars(o.str()) : std::vector<std::string>{};
      int64_t n = o.isList() ? int64_t(o.list().size()) : int64_t(cs.size());
      int64_t step = e.kids[3] ? int64_t(num(eval(*e.kids[3]))) : 1;
      if (step == 0)
        throw Error("chat template: slice step 0");
      auto clampIdx = [&](const ExprP &x, int64_t dflt) {
        if (!x)
          return dflt;
        int64_t k = index(eval(*x), n);
        return step > 0 ? std::clamp<int64_t>(k, 0, n) : std::clamp<int64_t>(k, -1, n - 1);
      };
      int64_t a = clampIdx(e.kids[1], step > 0 ? 0 : n - 1), b = clampIdx(e.kids[2], step > 0 ? n : -1);
      List l;
      std::string s;
      for (int64_t k = a; step > 0 ? k < b : k > b; k += step) {
        if (o.isList())
          l.push_back(o.list()[size_t(k)]);
        else if (o.isString())
          s += cs[size_t(k)];
      }
      return o.isString() ? Value(s) : Value(l);
    }
    case Expr::Cond: return eval(*e.kids[0]).truthy() ? eval(*e.kids[1]) : eval(*e.kids[2]);
    case Expr::Unary: {
      Value v = eval(*e.kids[0]);
      if (e.name == "not")
        return Value(!v.truthy());
      if (auto i = std::get_if<int64_t>(&v.v))
        return Value(-*i);
      return Value(-num(v));
    }
    case Expr::Binary: return binary(e);
    case Expr::Filter: return filter(e);
    case Expr::Test: return Value(test(e) != e.negate);
    case Expr::Call: return call(e);
    }
    return Value();
  }

  Value binary(const Expr &e) {
    const std::string &op = e.name;
    if (op == "and") {
      Value a = eval(*e.kids[0]);
      return a.truthy() ? eval(*e.kids[1]) : a;
    }
    if (op == "or") {
      Value a = eval(*e.kids[0]);
      return a.truthy() ? a : eval(*e.kids[1]);
    }
    Value a = eval(*e.kids[0]), b = eval(*e.kids[1]);
    if (op == "==") return Value(equal(a, b));
    if (op == "!=") return Value(!equal(a, b));
    if (op == "~") return Value(a.toString() + b.toString());
    if (op == "in" || op == "not in") {
      bool r = false;
      if (b.isString())
        r = b.str().find(a.toString()) != std::string::npos;
      else if (b.isList())
        r = std::any_of(b.list().begin(), b.list().end(), [&](const Value &x) { return equal(a, x); });
      else if (b.isDict())
        r = b.dict().count(a.toString()) > 0;
      return Value(op == "in" ? r : !r);
    }
    if (op == "+") {
      if (a.isString() && b.isString()) return Value(a.str() + b.str());
      if (a.isList() && b.isList()) {
        List l = a.list();
        l.insert(l.end(), b.list().begin(), b.list().end());
        return Value(l);
      }
    }
    if (op == "<" || op == ">" || op == "<=" || op == ">=") {
      bool r;
      if (a.isString() && b.isString())
        r = op == "<" ? a.str() < b.str() : op == ">" ? a.str() > b.str() : op == "<=" ? a.str() <= b.str() : a.str() >= b.str();
      else {
        double x = num(a), y = num(b);
        r = op == "<" ? x < y : op == ">" ? x > y : op == "<=" ? x <= y : x >= y;
      }
      return Value(r);
    }
    bool ints = std::holds_alternative<int64_t>(a.v) && std::holds_alternative<int64_t>(b.v);
    if (ints) {
      int64_t x = std::get<int64_t>(a.v), y = std::get<int64_t>(b.v);
      if (op == "+") return Value(x + y);
      if (op == "-") return Value(x - y);
      if (op == "*") return Value(x * y);
      if ((op == "%" || op == "//") && y == 0)
        throw Error("chat template: division by zero");
      if (op == "%") return Value(((x % y) + y) % y);
      if (op == "//") return Value(int64_t(std::floor(double(x) / double(y))));
    }
    if (op == "*" && a.isString() && std::holds_alternative<int64_t>(b.v)) {
      std::string s;
      for (int64_t k = 0; k < std::get<int64_t>(b.v); ++k)
        s += a.str();
      return Value(s);
    }
    double x = num(a), y = num(b);
    if (op == "+") return Value(x + y);
    if (op == "-") return Value(x - y);
    if (op == "*") return Value(x * y);
    if (op == "/") return Value(x / y);
    if (op == "%") return Value(std::fmod(x, y));
    if (op == "//") return Value(std::floor(x / y));
    throw Error(cat("chat template: operator '", op, "' is not supported"));
  }

  std::vector<Value> positional(const std::vector<Arg> &args) {
    std::vector<Value> v;
    for (auto &a : args)
      if (a.name.empty())
        v.push_back(eval(*a.value));
    return v;
  }
  Value keyword(const std::vector<Arg> &args, const char *name, Value dflt) {
    for (auto &a : args)
      if (a.name == name)
        return eval(*a.value);
    return dflt;
  }

  static std::string strip(const std::string &s, const std::string &chars, bool left, bool right) {
    size_t b = 0, e = s.size();
    while (left && b < e && chars.find(s[b]) != std::string::npos)
      ++b;
    while (right && e > b && chars.find(s[e - 1]) != std::string::npos)
      --e;
    return s.substr(b, e - b);
  }

  Value filter(const Expr &e) {
    Value v = eval(*e.kids[0]);
    std::vector<Value> a = positional(e.args);
    const std::string &f = e.name;
    if (f == "trim") return Value(strip(v.toString(), " \t\r\n\f\v", true, true));
    if (f == "length" || f == "count")
      return Value(int64_t(v.isList() ? v.list().size() : v.isDict() ? v.dict().size() : chars(v.toString()).size()));
    if (f == "upper" || f == "lower") {
      std::string s = v.toString();
      for (char &c : s)
        c = char(f == "upper" ? std::toupper(static_cast<unsigned char>(c)) : std::tolower(static_cast<unsigned char>(c)));
      return Value(s);
    }
    if (f == "capitalize") {
      std::string s = v.toString();
      for (size_t i = 0; i < s.size(); ++i)
        s[i] = char(i ? std::tolower(static_cast<unsigned char>(s[i])) : std::toupper(static_cast<unsigned char>(s[i])));
      return Value(s);
    }
    if (f == "string") return Value(v.toString());
    if (f == "safe") return v;
    if (f == "int") return Value(int64_t(v.isString() ? std::strtoll(v.str().c_str(), nullptr, 10) : int64_t(num(v))));
    if (f == "float") return Value(v.isString() ? std::strtod(v.str().c_str(), nullptr) : num(v));
    if (f == "tojson") {
      std::string out;
      toJson(out, v, int(num(keyword(e.args, "indent", a.empty() ? Value(int64_t(0)) : a[0]))), 0);
      return Value(out);
    }
    if (f == "first" || f == "last") {
      if (v.isList())
        return v.list().empty() ? Value() : (f == "first" ? v.list().front() : v.list().back());
      auto cs = chars(v.toString());
      return cs.empty() ? Value() : Value(f == "first" ? cs.front() : cs.back());
    }
    if (f == "join") {
      std::string sep = a.empty() ? "" : a[0].toString(), out;
      if (v.isList())
        for (size_t i = 0; i < v.list().size(); ++i)
          out += (i ? sep : "") + v.list()[i].toString();
      return Value(out);
    }
    if (f == "default" || f == "d") {
      bool boolean = a.size() > 1 && a[1].truthy();
      return (v.isUndefined() || (boolean && !v.truthy())) ? (a.empty() ? Value("") : a[0]) : v;
    }
    if (f == "reverse") {
      if (v.isList()) {
        List l = v.list();
        std::reverse(l.begin(), l.end());
        return Value(l);
      }
      auto cs = chars(v.toString());
      std::string s;
      for (auto it = cs.rbegin(); it != cs.rend(); ++it)
        s += *it;
      return Value(s);
    }
    if (f == "list") return v.isList() ? v : Value(List{});
    if (f == "items") {
      List l;
      if (v.isDict())
        for (auto &[k, x] : v.dict())
          l.push_back(List{Value(k), x});
      return Value(l);
    }
    if (f == "replace" && a.size() >= 2) return replace(v.toString(), a[0].toString(), a[1].toString());
    throw Error(cat("chat template: filter '", f, "' is not supported"));
  }

  static Value replace(std::string s, const std::string &from, const std::string &to) {
    if (from.empty())
      return Value(s);
    for (size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size())
      s.replace(p, from.size(), to);
    return Value(s);
  }

  bool test(const Expr &e) {
    Value v = eval(*e.kids[0]);
    const std::string &t = e.name;
    if (t == "defined") return !v.isUndefined();
    if (t == "undefined") return v.isUndefined();
    if (t == "none") return v.isNone();
    if (t == "string") return v.isString();
    if (t == "number") return v.isNumber();
    if (t == "integer") return std::holds_alternative<int64_t>(v.v);
    if (t == "float") return std::holds_alternative<double>(v.v);
    if (t == "boolean") return std::holds_alternative<bool>(v.v);
    if (t == "true") return std::holds_alternative<bool>(v.v) && std::get<bool>(v.v);
    if (t == "false") return std::holds_alternative<bool>(v.v) && !std::get<bool>(v.v);
    if (t == "mapping") return v.isDict();
    if (t == "sequence" || t == "iterable") return v.isList() || v.isString() || v.isDict();
    if (t == "even") return int64_t(num(v)) % 2 == 0;
    if (t == "odd") return int64_t(num(v)) % 2 != 0;
    if (t == "equalto" || t == "eq" || t == "sameas") return equal(v, eval(*e.args.at(0).value));
    throw Error(cat("chat template: test '", t, "' is not supported"));
  }

  Value call(const Expr &e) {
    const Expr &callee = *e.kids[0];
    std::vector<Value> a = positional(e.args);
    if (callee.kind == Expr::Var) {
      const std::string &f = callee.name;
      if (f == "raise_exception")
        throw Error("chat template: " + (a.empty() ? std::string("raise_exception") : a[0].toString()));
      if (f == "namespace") {
        Dict d;
        for (auto &arg : e.args)
          if (!arg.name.empty())
            d[arg.name] = eval(*arg.value);
        return Value(d);
      }
      if (f == "range") {
        int64_t lo = a.size() > 1 ? int64_t(num(a[0])) : 0, hi = int64_t(num(a.at(a.size() > 1 ? 1 : 0)));
        List l;
        for (int64_t i = lo; i < hi; ++i)
          l.push_back(Value(i));
        return Value(l);
      }
      if (f == "strftime_now") {
        char buf[128];
        time_t now = time(nullptr);
        struct tm tmv;
        localtime_r(&now, &tmv);
        strftime(buf, sizeof buf, a.empty() ? "%Y-%m-%d" : a[0].toString().c_str(), &tmv);
        return Value(std::string(buf));
      }
      throw Error(cat("chat template: function '", f, "' is not supported"));
    }
    if (callee.kind != Expr::Attr)
      throw Error("chat template: only functions and methods can be called");
    Value obj = eval(*callee.kids[0]);
    const std::string &m = callee.name;
    if (obj.isString()) {
      const std::string &s = obj.str();
      std::string ws = " \t\r\n\f\v";
      if (m == "strip" || m == "lstrip" || m == "rstrip")
        return Value(strip(s, a.empty() || a[0].isNone() ? ws : a[0].toString(), m != "rstrip", m != "lstrip"));
      if (m == "startswith") return Value(s.rfind(a.at(0).toString(), 0) == 0);
      if (m == "endswith") {
        std::string x = a.at(0).toString();
        return Value(s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0);
      }
      if (m == "upper" || m == "lower") {
        std::string r = s;
        for (char &c : r)
          c = char(m == "upper" ? std::toupper(static_cast<unsigned char>(c)) : std::tolower(static_cast<unsigned char>(c)));
        return Value(r);
      }
      if (m == "replace") return replace(s, a.at(0).toString(), a.at(1).toString());
      if (m == "split") {
        List parts;
        if (a.empty() || a[0].isNone()) {
          size_t i = 0;
          while (i < s.size()) {
            while (i < s.size() && ws.find(s[i]) != std::string::npos)
              ++i;
            size_t j = i;
            while (j < s.size() && ws.find(s[j]) == std::string::npos)
              ++j;
            if (j > i)
              parts.push_back(Value(s.substr(i, j - i)));
            i = j;
          }
          return Value(parts);
        }
        std::string sep = a[0].toString();
        int64_t maxSplit = a.size() > 1 ? int64_t(num(a[1])) : -1;
        if (sep.empty())
          throw Error("chat template: split with an empty separator");
        size_t i = 0, p;
        while ((maxSplit < 0 || int64_t(parts.size()) < maxSplit) && (p = s.find(sep, i)) != std::string::npos) {
          parts.push_back(Value(s.substr(i, p - i)));
          i = p + sep.size();
        }
        parts.push_back(Value(s.substr(i)));
        return Value(parts);
      }
    }
    if (obj.isDict()) {
      if (m == "get") {
        auto it = obj.dict().find(a.at(0).toString());
        return it != obj.dict().end() ? it->second : (a.size() > 1 ? a[1] : Value(None{}));
      }
      if (m == "items" || m == "keys" || m == "values") {
        List l;
        for (auto &[k, v] : obj.dict())
          l.push_back(m == "items" ? Value(List{Value(k), v}) : m == "keys" ? Value(k) : v);
        return Value(l);
      }
    }
    if (obj.isList() && m == "append") {
      obj.list().push_back(a.at(0));
      return Value();
    }
    throw Error(cat("chat template: method '", m, "' is not supported on ", repr(obj)));
  }
};

} // namespace

namespace {

// "chat template: what" as "chat template, line N: what"; a message that
// names its line already (the scanner's) is kept.
[[noreturn]] void failAt(int line, const std::string &what) {
  const std::string prefix = "chat template: ";
  if (what.rfind("chat template, line ", 0) == 0)
    throw Error(what);
  std::string rest = what.rfind(prefix, 0) == 0 ? what.substr(prefix.size()) : what;
  throw Error(cat("chat template, line ", line, ": ", rest));
}

} // namespace

std::string render(const std::string &tmpl, const Dict &vars) {
  std::vector<Piece> pieces;
  try {
    pieces = scan(tmpl);
  } catch (const std::exception &e) {
    failAt(1, e.what());
  }
  StmtParser sp(std::move(pieces));
  Body body;
  try {
    std::string stop;
    body = sp.parse({}, &stop);
  } catch (const std::exception &e) {
    failAt(sp.line(), e.what());
  }
  Interp in(vars);
  std::string out;
  try {
    in.run(body, out);
  } catch (const LoopSignal &) {
    failAt(in.line(), "break or continue outside a loop");
  } catch (const std::out_of_range &) {
    // .at() of a call or method given too few arguments.
    failAt(in.line(), "a function or method is missing an argument");
  } catch (const std::exception &e) {
    failAt(in.line(), e.what());
  }
  return out;
}

} // namespace mcc::jinja
