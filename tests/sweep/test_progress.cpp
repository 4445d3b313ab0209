// Tests of the progress reporter with a fake clock and a string stream: when lines are printed,
// their exact text (rates, ETA, statistics), the live line's redraws, throttling and width, and
// messages printed around the live line. Expected values are computed by hand in the comments.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/error.h"
#include "sweep/progress.h"

namespace groove::sweep {
namespace {

struct Fixture {
  double t = 0;
  std::ostringstream out;
  ProgressOptions options(const std::string& label, bool tty, int width = 100) {
    ProgressOptions o;
    o.label = label;
    o.tty = tty;
    o.width = width;
    o.out = &out;
    o.clock = [this] { return t; };
    return o;
  }
  // Output since the last call.
  std::string take() {
    std::string s = out.str();
    out.str("");
    return s;
  }
};

TEST(ProgressTest, FormatsDurations) {
  EXPECT_EQ(format_duration(0), "0:00:00");
  EXPECT_EQ(format_duration(59.4), "0:00:59");
  EXPECT_EQ(format_duration(59.5), "0:01:00");
  EXPECT_EQ(format_duration(103.53), "0:01:44");
  EXPECT_EQ(format_duration(3599.6), "1:00:00");
  EXPECT_EQ(format_duration(36061), "10:01:01");
  EXPECT_EQ(format_duration(123 * 3600.0), "123:00:00");
  EXPECT_EQ(format_duration(-1), "--:--:--");
  EXPECT_EQ(format_duration(std::numeric_limits<double>::quiet_NaN()), "--:--:--");
  EXPECT_EQ(format_duration(std::numeric_limits<double>::infinity()), "--:--:--");
  EXPECT_EQ(format_duration(2e9), "--:--:--");
}

TEST(ProgressTest, FormatsRates) {
  EXPECT_EQ(format_rate(850), "850");
  EXPECT_EQ(format_rate(12345.6), "12346");
  EXPECT_EQ(format_rate(99.96), "100");
  EXPECT_EQ(format_rate(12.345), "12.3");
  EXPECT_EQ(format_rate(0.5), "0.5");
  EXPECT_EQ(format_rate(0), "--");
  EXPECT_EQ(format_rate(-3), "--");
  EXPECT_EQ(format_rate(std::numeric_limits<double>::quiet_NaN()), "--");
}

TEST(ProgressTest, LogLinesComeExactlyEveryIntervalAndAtFinish) {
  Fixture f;
  Progress p(100000, f.options("sweep odor", false));
  p.update(0);  // the baseline of the rate; prints nothing in a log
  EXPECT_EQ(f.take(), "");
  f.t = 10;
  p.update(4000);
  f.t = 29.9;
  EXPECT_FALSE(p.due());
  p.update(11960);
  EXPECT_EQ(f.take(), "");
  f.t = 30;
  EXPECT_TRUE(p.due());
  // 12000 steps in 30 s: 400 steps/s; 88000 left / 400 = 220 s.
  p.update(12000, {{"loss", 3.2e-5}, {"acc", 1.0}});
  EXPECT_EQ(f.take(), "[groove] sweep odor: step 12000/100000 (12.0%) 400 steps/s ETA 0:03:40 | loss 3.2e-05 acc 1\n");
  f.t = 45;
  p.update(18000);
  EXPECT_EQ(f.take(), "");
  f.t = 60;
  // Still 400 steps/s; 76000 / 400 = 190 s.
  p.update(24000);
  EXPECT_EQ(f.take(), "[groove] sweep odor: step 24000/100000 (24.0%) 400 steps/s ETA 0:03:10\n");
  f.t = 90;
  // The last 30 s ran at 800 steps/s; smoothed: 400 + (1 - e^-3) * 400 = 780.09; 52000 / 780.09 = 66.7 s.
  p.update(48000);
  EXPECT_EQ(f.take(), "[groove] sweep odor: step 48000/100000 (48.0%) 780 steps/s ETA 0:01:07\n");
  f.t = 100;
  p.update(100000, {{"loss", 1e-6}});  // not due, but the final statistics are kept for finish()
  EXPECT_EQ(f.take(), "");
  // 100000 steps in 100 s.
  p.finish();
  EXPECT_EQ(f.take(),
            "[groove] sweep odor: done at step 100000/100000 (100.0%) after 0:01:40 (1000 steps/s) | loss 1e-06\n");
  f.t = 200;
  p.finish("again");
  p.update(5);
  p.message("after");
  EXPECT_EQ(f.take(), "after\n");
}

TEST(ProgressTest, ZeroOrUnknownRateHasNoEta) {
  Fixture f;
  Progress p(100, f.options("stuck", false));
  p.update(0);
  f.t = 30;
  p.update(0);
  EXPECT_EQ(f.take(), "[groove] stuck: step 0/100 (0.0%) -- steps/s ETA --:--:--\n");

  // An unknown total: no percentage and no ETA, but a rate.
  Fixture g;
  Progress q(0, g.options("", false));
  q.update(0);
  g.t = 30;
  q.update(7500);
  EXPECT_EQ(g.take(), "[groove] step 7500 250 steps/s ETA --:--:--\n");

  // finish() before any update: nothing to measure.
  Fixture h;
  Progress r(10, h.options("early", false));
  h.t = 5;
  r.finish("failed");
  EXPECT_EQ(h.take(), "[groove] early: failed at step 0/10 (0.0%) after 0:00:05 (-- steps/s)\n");
}

TEST(ProgressTest, PercentIsFlooredSoThatHundredMeansDone) {
  Fixture f;
  Progress p(10000, f.options("x", false));
  p.update(0);
  f.t = 30;
  p.update(9999);
  // 9999 / 30 = 333.3 steps/s, 1 step left: 0.003 s.
  EXPECT_EQ(f.take(), "[groove] x: step 9999/10000 (99.9%) 333 steps/s ETA 0:00:00\n");
}

TEST(ProgressTest, ResumedRunMeasuresTheRateFromItsFirstUpdate) {
  Fixture f;
  Progress p(100000, f.options("resume", false));
  f.t = 1;
  p.update(50000);  // resumed at step 50000
  f.t = 31;
  p.update(53000);  // 3000 steps in 30 s; 47000 / 100 = 470 s
  EXPECT_EQ(f.take(), "[groove] resume: step 53000/100000 (53.0%) 100 steps/s ETA 0:07:50\n");
}

// The live line's redraws: the text between '\r's (and the final newline).
std::vector<std::string> segments(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == '\r' || c == '\n') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

TEST(ProgressTest, TerminalLineIsRedrawnWithCarriageReturns) {
  Fixture f;
  Progress p(1000, f.options("run", true, 100));
  p.update(0);  // a terminal shows the line at once
  EXPECT_EQ(f.take(), "\rrun [....................] 0/1000 0.0% -- steps/s ETA --:--:--");
  f.t = 0.1;
  EXPECT_FALSE(p.due());
  p.update(10);  // throttled: at most 5 redraws a second
  EXPECT_EQ(f.take(), "");
  f.t = 0.2;
  EXPECT_TRUE(p.due());
  // 20 steps in 0.2 s: 100 steps/s; 980 / 100 = 9.8 s. Bar: floor(0.02 * 20) = 0 of 20.
  p.update(20, {{"loss", 0.5}});
  const std::string line2 = "run [....................] 20/1000 2.0% 100 steps/s ETA 0:00:10 | loss 0.5";
  EXPECT_EQ(f.take(), "\r" + line2);
  f.t = 0.7;
  // 480 steps in 0.5 s: 960/s; smoothed 100 + (1 - e^-0.05) * 860 = 141.94; 500 / 141.94 = 3.5 s.
  // Bar: floor(0.5 * 20) = 10. Shorter than the line before: blanks cover the rest.
  p.update(500);
  const std::string line3 = "run [##########..........] 500/1000 50.0% 142 steps/s ETA 0:00:04";
  EXPECT_EQ(f.take(), "\r" + line3 + std::string(line2.size() - line3.size(), ' '));

  // A message clears the line, prints, and redraws it.
  p.message("saved checkpoint");
  EXPECT_EQ(f.take(), "\r" + std::string(line3.size(), ' ') + "\rsaved checkpoint\n" + line3);

  // finish(): 500 steps in 1.0 s; the status replaces the ETA; then a newline.
  f.t = 1.0;
  p.finish("interrupted");
  const std::string last = "run [##########..........] 500/1000 50.0% interrupted after 0:00:01 (500 steps/s)";
  EXPECT_EQ(f.take(), "\r" + last + "\n");
  // After finish, messages are plain lines.
  p.message("bye");
  EXPECT_EQ(f.take(), "bye\n");
}

TEST(ProgressTest, TerminalLineNeverExceedsTheWidthAndIsThrottled) {
  for (int width : {20, 45, 60, 80}) {
    SCOPED_TRACE(width);
    Fixture f;
    {
      Progress p(1000000, f.options("a rather long label for a sweep", true, width));
      // 10 simulated seconds of updates every 1/1024 s (exact in binary, so the count is exact).
      for (int i = 0; i <= 10240; ++i) {
        f.t = i / 1024.0;
        p.update(i * 100, {{"loss", 1.0 / (i + 1)}, {"accuracy", 0.5}, {"margin", 0.25}, {"name_of_a_stat", 7}});
      }
    }  // the destructor ends the line
    const std::string out = f.take();
    ASSERT_FALSE(out.empty());
    EXPECT_EQ(out.back(), '\n');
    const std::vector<std::string> lines = segments(out);
    // The first update, then a redraw as soon as 0.2 s have passed: every 205 ticks (0.2002 s),
    // ticks 205, 410, ..., 49 * 205 = 10045 <= 10240.
    EXPECT_EQ(lines.size(), 50u);
    for (const std::string& line : lines) {
      EXPECT_LE(line.size(), static_cast<std::size_t>(width - 1)) << line;
    }
  }
}

TEST(ProgressTest, TerminalCutDoesNotSplitUtf8) {
  Fixture f;
  // "é" is 2 bytes; width 20 leaves 19 bytes: "Δ" (2) + 16 'x' = 18 bytes, then a 2-byte "é" that
  // would end at byte 20 is dropped whole.
  Progress p(0, f.options("\xce\x94" + std::string(16, 'x') + "\xc3\xa9\xc3\xa9", true, 20));
  p.update(1);
  EXPECT_EQ(f.take(), "\r\xce\x94" + std::string(16, 'x'));
}

TEST(ProgressTest, LogModeMessagesArePlainLines) {
  Fixture f;
  Progress p(10, f.options("x", false));
  p.message("resumed from step 4");
  EXPECT_EQ(f.take(), "resumed from step 4\n");
}

TEST(ProgressTest, OptionsForStderrReadTheEnvironment) {
  const char* old_interval = std::getenv("GROOVE_PROGRESS_SECONDS");
  const char* old_columns = std::getenv("COLUMNS");
  const std::string saved_interval = old_interval ? old_interval : "", saved_columns = old_columns ? old_columns : "";
  ::setenv("GROOVE_PROGRESS_SECONDS", "5", 1);
  ::setenv("COLUMNS", "77", 1);
  ProgressOptions o = progress_options_for_stderr("lbl");
  EXPECT_EQ(o.label, "lbl");
  EXPECT_EQ(o.interval_seconds, 5);
  EXPECT_EQ(o.width, 77);
  ::unsetenv("GROOVE_PROGRESS_SECONDS");
  EXPECT_EQ(progress_options_for_stderr("lbl").interval_seconds, 30);
  for (const char* bad : {"abc", "0", "-3", "5s", "inf"}) {
    ::setenv("GROOVE_PROGRESS_SECONDS", bad, 1);
    try {
      progress_options_for_stderr("lbl");
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(e.message().find("GROOVE_PROGRESS_SECONDS='" + std::string(bad) + "'"), std::string::npos)
          << e.message();
    }
  }
  if (old_interval) {
    ::setenv("GROOVE_PROGRESS_SECONDS", saved_interval.c_str(), 1);
  } else {
    ::unsetenv("GROOVE_PROGRESS_SECONDS");
  }
  if (old_columns) {
    ::setenv("COLUMNS", saved_columns.c_str(), 1);
  } else {
    ::unsetenv("COLUMNS");
  }
}

TEST(ProgressTest, RejectsABadInterval) {
  Fixture f;
  ProgressOptions o = f.options("x", false);
  o.interval_seconds = 0;
  EXPECT_THROW(Progress(10, o), Error);
}

}  // namespace
}  // namespace groove::sweep
