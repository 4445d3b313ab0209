// Progress reporting for long runs: a throttled live line on terminals, periodic lines in logs.
#include "sweep/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <limits>

#include "runtime/error.h"

namespace groove::sweep {

namespace {

// A terminal is redrawn at most 5 times a second: faster is unreadable and costs syscalls.
constexpr double kRedrawSeconds = 0.2;
// Time constant of the rate's exponential smoothing: long enough to calm the live line's jitter,
// short enough that a log line every 30 s shows (95 %) the rate of its own interval.
constexpr double kSmoothingSeconds = 10;
// Narrower terminals than this get lines of this width anyway (cut by the terminal).
constexpr int kMinWidth = 20;

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Cuts `text` to at most `max_bytes` bytes without splitting a UTF-8 sequence (a label or a
// statistic's name may be UTF-8; bytes >= columns, so the cut line still fits).
std::string fit(const std::string& text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut);
}

std::string percent_text(std::int64_t steps, std::int64_t total) {
  // Floored to 0.1 %, so that 100.0 % means done, not 99.96 %.
  double pct = std::floor(1000.0 * static_cast<double>(steps) / static_cast<double>(total)) / 10.0;
  pct = std::min(100.0, std::max(0.0, pct));
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.1f", pct);
  return buf;
}

}  // namespace

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 1e9) return "--:--:--";
  const long long s = std::llround(seconds);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
  return buf;
}

std::string format_rate(double steps_per_second) {
  if (!std::isfinite(steps_per_second) || steps_per_second <= 0) return "--";
  char buf[32];
  // Whole numbers from 100 up (never "1.2e+04"); three significant digits below.
  std::snprintf(buf, sizeof buf, steps_per_second >= 99.95 ? "%.0f" : "%.3g", steps_per_second);
  return buf;
}

ProgressOptions progress_options_for_stderr(std::string label) {
  ProgressOptions opt;
  opt.label = std::move(label);
  opt.tty = ::isatty(STDERR_FILENO) == 1;
  opt.width = 100;
  const char* columns = std::getenv("COLUMNS");
  char* end = nullptr;
  const long c = columns != nullptr ? std::strtol(columns, &end, 10) : 0;
  struct winsize ws {};
  if (columns != nullptr && *end == '\0' && c > 0 && c <= 100000) {
    opt.width = static_cast<int>(c);
  } else if (opt.tty && ::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
    opt.width = ws.ws_col;
  }
  if (const char* interval = std::getenv("GROOVE_PROGRESS_SECONDS"); interval != nullptr && *interval != '\0') {
    const double v = std::strtod(interval, &end);
    GROOVE_CHECK(*end == '\0' && std::isfinite(v) && v > 0, "GROOVE_PROGRESS_SECONDS='", printable(interval),
                 "': expected a positive number of seconds");
    opt.interval_seconds = v;
  }
  return opt;
}

Progress::Progress(std::int64_t total_steps, ProgressOptions options)
    : total_(total_steps), opt_(std::move(options)), rate_(std::numeric_limits<double>::quiet_NaN()) {
  GROOVE_CHECK(std::isfinite(opt_.interval_seconds) && opt_.interval_seconds > 0,
               "progress: interval_seconds must be a positive number of seconds, not ", opt_.interval_seconds);
  out_ = opt_.out != nullptr ? opt_.out : &std::cerr;
  if (!opt_.clock) opt_.clock = steady_seconds;
  opt_.width = std::max(opt_.width, kMinWidth);
  start_time_ = now();
  last_print_time_ = start_time_;
}

Progress::~Progress() {
  if (!opt_.tty || finished_ || live_line_.empty()) return;
  try {
    *out_ << '\n' << std::flush;
  } catch (...) {  // a destructor must not throw; a lost newline is harmless
  }
}

double Progress::now() const {
  return opt_.clock();
}

bool Progress::due() const {
  return due_at(now());
}

bool Progress::due_at(double t) const {
  if (finished_) return false;
  if (!started_) return opt_.tty;  // a terminal shows the line at once; a log waits for the interval
  return t - last_print_time_ >= (opt_.tty ? kRedrawSeconds : opt_.interval_seconds);
}

void Progress::update(std::int64_t steps_done, const ProgressStats& stats) {
  if (finished_) return;
  const double t = now();
  if (!started_) {
    const bool print_now = due_at(t);
    started_ = true;
    base_time_ = last_sample_time_ = t;
    base_steps_ = last_sample_steps_ = steps_ = steps_done;
    stats_ = stats;
    if (print_now) print(t);
    return;
  }
  steps_ = steps_done;
  if (!due_at(t)) {
    // The last update's statistics are the ones finish() shows, even when it was not printed.
    if (total_ > 0 && steps_done >= total_) stats_ = stats;
    return;
  }
  stats_ = stats;
  sample(t);
  print(t);
}

void Progress::sample(double t) {
  const double dt = t - last_sample_time_;
  const std::int64_t ds = steps_ - last_sample_steps_;
  if (ds < 0) {  // the caller went back (a restart): measure afresh
    base_time_ = last_sample_time_ = t;
    base_steps_ = last_sample_steps_ = steps_;
    rate_ = std::numeric_limits<double>::quiet_NaN();
    return;
  }
  if (dt <= 0) return;
  const double inst = static_cast<double>(ds) / dt;
  rate_ = std::isnan(rate_) ? inst : rate_ + (1 - std::exp(-dt / kSmoothingSeconds)) * (inst - rate_);
  last_sample_time_ = t;
  last_sample_steps_ = steps_;
}

std::string Progress::stats_text() const {
  std::string s;
  for (const auto& [name, value] : stats_) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", value);
    s += (s.empty() ? " | " : " ") + name + " " + buf;
  }
  return s;
}

std::string Progress::counts_text() const {
  std::string s = std::to_string(steps_);
  if (total_ > 0) s += "/" + std::to_string(total_);
  return s;
}

std::string Progress::eta_text() const {
  if (total_ <= 0) return format_duration(std::numeric_limits<double>::quiet_NaN());
  const std::int64_t remaining = total_ - steps_;
  return format_duration(remaining <= 0 ? 0.0 : static_cast<double>(remaining) / rate_);
}

std::string Progress::live_prefix() const {
  std::string s = opt_.label.empty() ? "" : opt_.label + " ";
  const int bar = total_ <= 0 ? 0 : opt_.width >= 80 ? 20 : opt_.width >= 50 ? 10 : 0;
  if (bar > 0) {
    const double frac = std::min(1.0, std::max(0.0, static_cast<double>(steps_) / static_cast<double>(total_)));
    const int filled = static_cast<int>(std::floor(frac * bar));
    s += "[" + std::string(static_cast<std::size_t>(filled), '#') +
         std::string(static_cast<std::size_t>(bar - filled), '.') + "] ";
  }
  s += counts_text();
  if (total_ > 0) s += " " + percent_text(steps_, total_) + "%";
  return s;
}

std::string Progress::log_prefix() const {
  return "[groove] " + (opt_.label.empty() ? "" : opt_.label + ": ");
}

std::string Progress::log_counts() const {
  std::string s = counts_text();
  if (total_ > 0) s += " (" + percent_text(steps_, total_) + "%)";
  return s;
}

void Progress::print(double t) {
  last_print_time_ = t;
  const std::string rate = format_rate(rate_) + " steps/s ETA " + eta_text();
  if (opt_.tty) {
    draw(live_prefix() + " " + rate + stats_text());
  } else {
    *out_ << log_prefix() << "step " << log_counts() << " " << rate << stats_text() << '\n' << std::flush;
  }
}

void Progress::draw(const std::string& line) {
  const std::string shown = fit(line, static_cast<std::size_t>(opt_.width - 1));
  *out_ << '\r' << shown;
  if (shown.size() < live_line_.size()) *out_ << std::string(live_line_.size() - shown.size(), ' ');
  *out_ << std::flush;
  live_line_ = shown;
}

void Progress::message(const std::string& line) {
  if (opt_.tty && !live_line_.empty()) {
    *out_ << '\r' << std::string(live_line_.size(), ' ') << '\r' << line << '\n' << live_line_ << std::flush;
  } else {
    *out_ << line << '\n' << std::flush;
  }
}

void Progress::finish(const std::string& status) {
  if (finished_) return;
  finished_ = true;
  const double t = now();
  const double average = started_ && t > base_time_ ? static_cast<double>(steps_ - base_steps_) / (t - base_time_)
                                                    : std::numeric_limits<double>::quiet_NaN();
  const std::string tail = " after " + format_duration(t - start_time_) + " (" + format_rate(average) + " steps/s)";
  if (opt_.tty) {
    draw(live_prefix() + " " + status + tail + stats_text());
    *out_ << '\n' << std::flush;
    live_line_.clear();
  } else {
    *out_ << log_prefix() << status << " at step " << log_counts() << tail << stats_text() << '\n' << std::flush;
  }
}

}  // namespace groove::sweep
