// Tests of runtime/error.h: messages name the value, the location and the condition.
#include <gtest/gtest.h>

#include <string>

#include "runtime/error.h"

namespace groove {
namespace {

int checked_positive(int v) {
  GROOVE_CHECK(v > 0, "learning_rate steps must be positive, got ", v);
  return v;
}

TEST(Error, CheckPassesThroughValidValues) {
  EXPECT_EQ(checked_positive(3), 3);
}

TEST(Error, CheckMessageNamesValueFileLineAndCondition) {
  try {
    checked_positive(-2);
    FAIL() << "no exception";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("must be positive, got -2"), std::string::npos) << what;
    EXPECT_NE(what.find("test_error.cpp:"), std::string::npos) << what;
    EXPECT_NE(what.find("`v > 0`"), std::string::npos) << what;
    EXPECT_EQ(e.message(), "learning_rate steps must be positive, got -2");
    EXPECT_GT(e.line(), 0);
  }
}

TEST(Error, InternalAssertIsDistinctFromUserError) {
  auto f = [] { GROOVE_ASSERT(1 + 1 == 3, "arithmetic is broken"); };
  EXPECT_THROW(f(), InternalError);
  try {
    f();
  } catch (const InternalError& e) {
    EXPECT_NE(std::string(e.what()).find("internal error"), std::string::npos);
  }
}

TEST(Error, ThrowWithoutCondition) {
  try {
    GROOVE_THROW("bad field '", "model.width", "'");
  } catch (const Error& e) {
    EXPECT_EQ(e.message(), "bad field 'model.width'");
    EXPECT_EQ(std::string(e.what()).find("check `"), std::string::npos);
  }
}

}  // namespace
}  // namespace groove
