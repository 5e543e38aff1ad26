// The chat-template engine where it must agree with Python's jinja2: dict
// order, float printing, and one-line errors that name the template line.
#include "format/Error.h"
#include "runtime/chat/Jinja.h"

#include <gtest/gtest.h>

using namespace mcc;
using namespace mcc::jinja;

namespace {

std::string r(const std::string &t, const Dict &vars = {}) { return render(t, vars); }

std::string errorOf(const std::string &t) {
  try {
    r(t);
  } catch (const Error &e) {
    return e.what();
  }
  return "(no error)";
}

} // namespace

TEST(Jinja, DictsKeepInsertionOrder) {
  EXPECT_EQ(r("{% set d = {'b': 1, 'a': 2, 'c': 3} %}{% for k, v in d.items() %}{{ k }}{{ v }} {% endfor %}"),
            "b1 a2 c3 ");
  EXPECT_EQ(r("{{ {'z': 1, 'a': [1, 2]} | tojson }}"), "{\"z\": 1, \"a\": [1, 2]}");
  Dict m{{"role", "user"}, {"content", "hi"}};
  EXPECT_EQ(r("{{ m }}", Dict{{"m", Value(m)}}), "{'role': 'user', 'content': 'hi'}");
}

TEST(Jinja, FloatsPrintAsPython) {
  EXPECT_EQ(r("{{ 0.1 }}"), "0.1");
  EXPECT_EQ(r("{{ 1.5 * 2 }}"), "3.0");
  EXPECT_EQ(r("{{ 1 / 3 }}"), "0.3333333333333333");
  EXPECT_EQ(r("{{ 0.0001 }}"), "0.0001");
  EXPECT_EQ(r("{{ 0.00001 }}"), "1e-05");
  EXPECT_EQ(r("{{ 10000000000000000.0 }}"), "1e+16");
  EXPECT_EQ(r("{{ 123456789012345.0 }}"), "123456789012345.0");
  EXPECT_EQ(r("{{ -2.5 }}"), "-2.5");
}

TEST(Jinja, ErrorsNameTheLine) {
  EXPECT_EQ(errorOf("a\nb\n{{ 99999999999999999999 }}"), "chat template, line 3: integer 99999999999999999999 is out of range");
  EXPECT_EQ(errorOf("x\n{% if true %}\n{{ 'a'.startswith() }}\n{% endif %}"),
            "chat template, line 3: a function or method is missing an argument");
  EXPECT_EQ(errorOf("one\ntwo {{ x"), "chat template, line 2: unclosed tag");
  EXPECT_EQ(errorOf("\n\n{% for x in y %}"), "chat template, line 3: missing {% endfor %}");
  EXPECT_EQ(errorOf("{{ raise_exception('no system role') }}"), "chat template, line 1: no system role");
}
