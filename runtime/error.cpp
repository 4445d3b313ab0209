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

std::string printable(std::string_view text, std::size_t max_chars, bool keep_utf8) {
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < max_chars; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != 0x7f && (c < 0x80 || keep_utf8)) {
      out.push_back(static_cast<char>(c));
    } else {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  if (text.size() > max_chars) out += "...";
  return out;
}

namespace detail {
void throw_error(const char* file, int line, const char* condition, const std::string& message) {
  throw Error(message, file, line, condition);
}
void throw_internal(const char* file, int line, const char* condition, const std::string& message) {
  throw InternalError("internal error (a bug in groove, please report it): " + message, file, line, condition);
}
}  // namespace detail
}  // namespace groove
