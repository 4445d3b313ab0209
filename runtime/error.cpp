// groove::Error and the throw helpers behind GROOVE_CHECK / GROOVE_ASSERT.
#include "runtime/error.h"

#include <cstring>

namespace groove {
namespace {
const char* basename_of(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash ? slash + 1 : path;
}

std::string format_error(const std::string& message, const char* file, int line, const char* condition) {
  std::string out = message.empty() ? std::string("check failed") : message;
  out += " (at ";
  out += basename_of(file);
  out += ":" + std::to_string(line);
  if (condition) {
    out += ": check `";
    out += condition;
    out += "` failed";
  }
  out += ")";
  return out;
}
}  // namespace

Error::Error(std::string message, const char* file, int line, const char* condition)
    : std::runtime_error(format_error(message, file, line, condition)),
      message_(std::move(message)),
      file_(file),
      line_(line) {}

namespace detail {
void throw_error(const char* file, int line, const char* condition, const std::string& message) {
  throw Error(message, file, line, condition);
}
void throw_internal(const char* file, int line, const char* condition, const std::string& message) {
  throw InternalError("internal error (a bug in groove, please report it): " + message, file, line, condition);
}
}  // namespace detail
}  // namespace groove
