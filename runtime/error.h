// Errors and checks. Two kinds of check, as in pytorch's c10:
//   GROOVE_CHECK(cond, msg...)   user errors (bad config, file, shape): throws groove::Error whose
//                                message names the bad value; the message is built only on failure.
//   GROOVE_ASSERT(cond, msg...)  broken internal invariants: throws groove::InternalError.
// Library code never exits or aborts; the CLI turns errors into messages and exit codes.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

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
