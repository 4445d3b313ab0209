// Progress of a long run on stderr, in the two places people watch it:
//   a terminal   one live line rewritten with '\r' at most 5 times a second:
//                  sweep odor [#####...............] 12000/100000 12.0% 850 steps/s ETA 0:01:44 | loss 3.2e-05 acc 1
//                cut to the terminal width, ended with a newline by finish();
//   a log file   (Slurm's output, a pipe) one plain, self-contained line every interval_seconds and
//                one at finish, so `tail` and `grep` of a log always show where a job is:
//                  [groove] sweep odor: step 12000/100000 (12.0%) 850 steps/s ETA 0:01:44 | loss 3.2e-05 acc 1
// The clock, the stream and the terminal flag are injectable so that tests are exact.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

namespace groove::sweep {

struct ProgressOptions {
  std::string label;              // "sweep odor"; may be empty
  bool tty = false;               // live bar; else periodic plain lines
  double interval_seconds = 30;   // plain lines: seconds between two lines (> 0)
  int width = 100;                // live bar: terminal columns; lines stay at most width - 1 long
  std::ostream* out = nullptr;    // default std::cerr
  std::function<double()> clock;  // seconds, monotonic; default std::chrono::steady_clock
};

// Options for stderr: tty from isatty(2); width from COLUMNS, else the terminal (TIOCGWINSZ), else
// 100; interval_seconds from GROOVE_PROGRESS_SECONDS when set (a positive number, else
// groove::Error naming the variable).
ProgressOptions progress_options_for_stderr(std::string label);

// Key statistics shown after the counts, in order: {"loss", 3.2e-05} prints "loss 3.2e-05" (%.4g).
using ProgressStats = std::vector<std::pair<std::string, double>>;

class Progress {
 public:
  // total_steps <= 0: unknown total (no percentage, bar or ETA).
  Progress(std::int64_t total_steps, ProgressOptions options);
  // Ends a live line that finish() did not end, so later output starts on a line of its own.
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Whether update() would print now: lets a caller skip computing statistics that would not be
  // shown. One clock read.
  bool due() const;
  // Records progress; prints only when due (one clock read otherwise). The rate is measured from
  // the first update(), so a resumed run should call it once with its starting step.
  void update(std::int64_t steps_done, const ProgressStats& stats = {});
  // Prints `line` on a line of its own; on a terminal the live line is cleared first and redrawn
  // after it.
  void message(const std::string& line);
  // Prints the final line ("done", "diverged", "interrupted", ...) with the elapsed time and the
  // average rate; on a terminal ends the live line. Later calls do nothing.
  void finish(const std::string& status = "done");

 private:
  double now() const;
  bool due_at(double t) const;
  void sample(double t);  // updates the smoothed rate
  void print(double t);
  std::string counts_text() const;  // "12000/100000"
  std::string eta_text() const;
  std::string stats_text() const;      // " | loss 3.2e-05 acc 1" or ""
  std::string live_prefix() const;     // "label [###...] 12000/100000 12.0%"
  std::string log_prefix() const;      // "[groove] label: "
  std::string log_counts() const;      // "12000/100000 (12.0%)"
  void draw(const std::string& line);  // a live line: '\r', the line, blanks over the former one

  std::int64_t total_;
  ProgressOptions opt_;
  std::ostream* out_ = nullptr;
  double start_time_ = 0;
  bool started_ = false;  // an update() was seen
  bool finished_ = false;
  double base_time_ = 0, last_sample_time_ = 0, last_print_time_ = 0;
  std::int64_t base_steps_ = 0, last_sample_steps_ = 0, steps_ = 0;
  double rate_;  // smoothed steps/s; NaN while unknown
  ProgressStats stats_;
  std::string live_line_;  // what the terminal shows now ("" = nothing drawn)
};

// Durations as h:mm:ss rounded to the second ("0:01:44", "123:00:00"); "--:--:--" when negative,
// not finite or above 10^9 s.
std::string format_duration(double seconds);
// Rates: "850", "12.3", "0.5"; "--" when unknown (not finite or <= 0).
std::string format_rate(double steps_per_second);

}  // namespace groove::sweep
