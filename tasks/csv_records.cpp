// tasks/csv_records.h: libcsv records with their line numbers, and the cell helpers of the CSV
// loaders. libcsv is C, so its callbacks never throw: they record the first error and the parse
// stops after the line being fed.
#include "tasks/csv_records.h"

#include <csv.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <system_error>

#include "runtime/error.h"

namespace groove::tasks::csv {

std::string show(std::string_view text, std::size_t max_chars) {
  return "'" + printable(text, max_chars, /*keep_utf8=*/true) + "'";
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// For a decimal literal that from_chars reported out of range: true when it underflows (its
// magnitude is below 1), false when it overflows.
bool underflows(std::string_view s) {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  std::int64_t order = 0;  // decimal exponent of the leading digit, + 1
  bool seen_nonzero = false, after_point = false;
  for (; i < s.size() && (is_digit(s[i]) || s[i] == '.'); ++i) {
    if (s[i] == '.') {
      after_point = true;
    } else if (!seen_nonzero) {
      if (s[i] != '0') {
        seen_nonzero = true;
        if (!after_point) order = 1;
      } else if (after_point) {
        --order;
      }
    } else if (!after_point) {
      ++order;
    }
  }
  std::int64_t exponent = 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    const bool negative = i < s.size() && s[i] == '-';
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    for (; i < s.size() && is_digit(s[i]); ++i)
      exponent = std::min<std::int64_t>(exponent * 10 + (s[i] - '0'), 1 << 30);
    if (negative) exponent = -exponent;
  }
  return order + exponent <= 0;
}

class Records {
 public:
  Records(const std::string& what, const RecordHandler& handler) : what_(what), handler_(handler) {}
  void run(std::string_view text);

 private:
  static void on_field(void* s, std::size_t len, void* self) {
    auto* p = static_cast<Records*>(self);
    if (p->error_) return;
    try {
      p->fields_.emplace_back(s ? static_cast<const char*>(s) : "", s ? len : 0);
    } catch (...) {
      p->error_ = std::current_exception();
    }
  }
  static void on_record(int /*terminator*/, void* self) {
    auto* p = static_cast<Records*>(self);
    if (!p->error_) {
      try {
        p->handler_(p->fields_, p->record_line_);
      } catch (...) {
        p->error_ = std::current_exception();
      }
    }
    p->fields_.clear();
    p->record_line_ = 0;
  }

  const std::string& what_;
  const RecordHandler& handler_;
  std::exception_ptr error_;
  std::vector<std::string> fields_;  // of the record being parsed
  std::int64_t record_line_ = 0;     // line where it starts (0: not started)
};

void Records::run(std::string_view text) {
  if (text.size() >= 3 && std::memcmp(text.data(), "\xEF\xBB\xBF", 3) == 0) text.remove_prefix(3);  // UTF-8 BOM
  struct Guard {
    csv_parser p{};
    bool ready = false;
    ~Guard() {
      if (ready) csv_free(&p);
    }
  } g;
  GROOVE_CHECK(csv_init(&g.p, CSV_STRICT | CSV_STRICT_FINI) == 0, what_, ": cannot initialize the CSV parser");
  g.ready = true;
  // Fed one line at a time, so that every record knows the line it starts on.
  std::int64_t line = 1;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = pos;
    while (end < text.size() && text[end] != '\n' &&
           !(text[end] == '\r' && (end + 1 >= text.size() || text[end + 1] != '\n'))) {
      ++end;
    }
    if (end < text.size()) ++end;  // include the terminator
    const std::string_view chunk = text.substr(pos, end - pos);
    if (record_line_ == 0 && chunk.find_first_not_of(" \t\r\n") != std::string_view::npos) record_line_ = line;
    const std::size_t parsed = csv_parse(&g.p, chunk.data(), chunk.size(), on_field, on_record, this);
    if (error_) std::rethrow_exception(error_);
    if (parsed != chunk.size()) {
      GROOVE_THROW(what_, ": line ", line, ", character ", parsed + 1, ": malformed CSV (",
                   csv_strerror(csv_error(&g.p)),
                   "; a quote may only appear inside a quoted field, doubled, and a quoted field must end with a ",
                   "quote followed by a comma or the end of the line)");
    }
    pos = end;
    ++line;
  }
  const std::int64_t open_line = record_line_;
  if (csv_fini(&g.p, on_field, on_record, this) != 0) {
    GROOVE_THROW(what_, ": line ", open_line, ": malformed CSV (", csv_strerror(csv_error(&g.p)),
                 "): a quoted field that starts here is never closed");
  }
  if (error_) std::rethrow_exception(error_);
}

}  // namespace

Parsed parse_number(std::string_view cell, double* out) {
  std::string_view s = trim(cell);
  if (!s.empty() && s.front() == '+' && s.size() > 1 && s[1] != '-' && s[1] != '+') s.remove_prefix(1);
  if (s.empty()) return Parsed::not_a_number;
  double v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ptr != s.data() + s.size()) return Parsed::not_a_number;
  if (ec == std::errc::result_out_of_range) {
    if (!underflows(s)) return Parsed::overflow;
    v = s.front() == '-' ? -0.0 : 0.0;
  } else if (ec != std::errc()) {
    return Parsed::not_a_number;
  }
  *out = v;
  return Parsed::ok;
}

void read_records(std::string_view text, const std::string& what, const RecordHandler& handler) {
  Records(what, handler).run(text);
}

}  // namespace groove::tasks::csv
