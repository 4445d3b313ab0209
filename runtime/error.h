// Errors and checks. Two kinds of check, as in pytorch's c10:
//   GROOVE_CHECK(cond, msg...)   user errors (bad config, file, shape): throws groove::Error whose
//                                message names the bad value; the message is built only on failure.
//   GROOVE_ASSERT(cond, msg...)  broken internal invariants: throws groove::InternalError.
// Library code never exits or aborts; the CLI turns errors into messages and exit codes.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace groove {

// A user-facing error: what() is the message, then "(at file:line: check `cond` failed)".
class Error : public std::runtime_error {
 public:
  Error(std::string message, const char* file, int line, const char* condition);
  const std::string& message() const { return message_; }
  const char* file() const { return file_; }
  int line() const { return line_; }

 private:
  std::string message_;
  const char* file_;
  int line_;
};

// A broken invariant inside groove (a bug, not bad input).
class InternalError : public Error {
 public:
  using Error::Error;
};

// Text from a file made safe for an error message: at most max_chars bytes (then "..."), control
// bytes escaped as \xNN. Bytes >= 0x80 are escaped too unless keep_utf8 (CSV cells may be UTF-8).
std::string printable(std::string_view text, std::size_t max_chars = 200, bool keep_utf8 = false);

namespace detail {
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (void)(os << ... << args);
  return os.str();
}
[[noreturn]] void throw_error(const char* file, int line, const char* condition, const std::string& message);
[[noreturn]] void throw_internal(const char* file, int line, const char* condition, const std::string& message);
}  // namespace detail

}  // namespace groove

#define GROOVE_CHECK(cond, ...)                                                                        \
  do {                                                                                                 \
    if (!(cond)) {                                                                                     \
      ::groove::detail::throw_error(__FILE__, __LINE__, #cond, ::groove::detail::concat(__VA_ARGS__)); \
    }                                                                                                  \
  } while (0)

#define GROOVE_THROW(...) \
  ::groove::detail::throw_error(__FILE__, __LINE__, nullptr, ::groove::detail::concat(__VA_ARGS__))

#define GROOVE_ASSERT(cond, ...)                                                                          \
  do {                                                                                                    \
    if (!(cond)) {                                                                                        \
      ::groove::detail::throw_internal(__FILE__, __LINE__, #cond, ::groove::detail::concat(__VA_ARGS__)); \
    }                                                                                                     \
  } while (0)
