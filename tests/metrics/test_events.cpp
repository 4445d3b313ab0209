// Tests of the streaming events (metrics/events.h): the groove onset on hand-built accuracy streams
// and against a direct evaluation of its definition on random streams; per-example flips against
// hand-built answers and a dense reference; growth per decade against exact answers and a direct
// two-pass least-squares fit in long double.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "metrics/events.h"
#include "metrics/writers.h"
#include "runtime/error.h"
#include "runtime/philox.h"

namespace groove::metrics {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Uniform in [0, 1) from Philox(seed) at counter i.
double uniform(std::uint64_t seed, std::uint64_t i) {
  const U32x4 w = philox_block(seed, 0xe7e7, i);
  return u01_f64(w.v[0], w.v[1]);
}

// ---- Onset ---------------------------------------------------------------------------------

struct Stream {
  std::vector<std::int64_t> steps;
  std::vector<double> acc;
};

// The definition, evaluated directly on the whole stream: the first row j with accuracy 1 such that
// every row at a step in [step_j, step_j + window] has accuracy 1; provisional when no row reaches
// step_j + window.
std::optional<Onset> reference_onset(const Stream& s, std::int64_t window, std::size_t n_rows) {
  for (std::size_t j = 0; j < n_rows; ++j) {
    if (!(s.acc[j] >= 1 - 1e-12)) continue;
    bool held = true, complete = false;
    for (std::size_t k = j; k < n_rows; ++k) {
      if (s.steps[k] >= s.steps[j] + window) complete = true;
      if (s.steps[k] > s.steps[j] + window) break;
      if (!(s.acc[k] >= 1 - 1e-12)) held = false;
    }
    if (held) return Onset{s.steps[j], !complete};
  }
  return std::nullopt;
}

OnsetDetector run_detector(const Stream& s, std::int64_t window) {
  OnsetDetector d(window);
  for (std::size_t r = 0; r < s.steps.size(); ++r) d.add(s.steps[r], s.acc[r]);
  return d;
}

// Rows every `every` steps from 0 to last; accuracy from f(step).
template <typename F>
Stream uniform_stream(std::int64_t every, std::int64_t last, F f) {
  Stream s;
  for (std::int64_t t = 0; t <= last; t += every) {
    s.steps.push_back(t);
    s.acc.push_back(f(t));
  }
  return s;
}

TEST(EventsOnset, ImmediateSaturationConfirmsWhenTheWindowCompletes) {
  OnsetDetector d(100);
  for (std::int64_t t = 0; t <= 1000; t += 10) {
    d.add(t, 1.0);
    ASSERT_TRUE(d.candidate().has_value());
    EXPECT_EQ(*d.candidate(), 0);
    // Confirmed exactly when the row at 0 + window arrives.
    EXPECT_EQ(d.onset().has_value(), t >= 100) << "step " << t;
  }
  ASSERT_TRUE(d.result().has_value());
  EXPECT_EQ(d.result()->step, 0);
  EXPECT_FALSE(d.result()->provisional);
  EXPECT_EQ(d.rows(), 101);
}

TEST(EventsOnset, DipResetsTheCandidate) {
  // 1 on [200, 290], a dip at 300 (= 200 + window: inside the window), 1 from 310 on.
  const Stream s = uniform_stream(10, 1000, [](std::int64_t t) { return t < 200 ? 0.5 : t == 300 ? 0.99 : 1.0; });
  OnsetDetector d(100);
  for (std::size_t r = 0; r < s.steps.size(); ++r) {
    d.add(s.steps[r], s.acc[r]);
    const std::int64_t t = s.steps[r];
    if (t >= 200 && t < 300) {
      EXPECT_EQ(d.candidate(), std::optional<std::int64_t>(200));
    }
    if (t == 300) {
      EXPECT_FALSE(d.candidate().has_value());
    }
    if (t >= 310) {
      EXPECT_EQ(d.candidate(), std::optional<std::int64_t>(310));
    }
    EXPECT_EQ(d.onset().has_value(), t >= 410) << "step " << t;
  }
  EXPECT_EQ(d.onset(), std::optional<std::int64_t>(310));
  // A later drop does not move a confirmed onset.
  d.add(2000, 0.1);
  EXPECT_EQ(d.onset(), std::optional<std::int64_t>(310));
}

TEST(EventsOnset, AccuracyThresholdAndNaN) {
  // 1 - 1e-13 counts as 100%, 1 - 1e-11 does not, NaN does not.
  OnsetDetector d(20);
  d.add(0, 1 - 1e-11);
  EXPECT_FALSE(d.candidate().has_value());
  d.add(10, 1 - 1e-13);
  EXPECT_EQ(d.candidate(), std::optional<std::int64_t>(10));
  d.add(20, kNaN);
  EXPECT_FALSE(d.candidate().has_value());
  d.add(30, 1.0);
  d.add(40, 1.0);
  d.add(50, 1.0);
  EXPECT_EQ(d.onset(), std::optional<std::int64_t>(30));
}

TEST(EventsOnset, WindowLongerThanTheRestOfTheRunIsProvisional) {
  const Stream s = uniform_stream(10, 1000, [](std::int64_t t) { return t < 900 ? 0.9 : 1.0; });
  const OnsetDetector d = run_detector(s, 500);
  EXPECT_FALSE(d.onset().has_value());
  ASSERT_TRUE(d.result().has_value());
  EXPECT_EQ(d.result()->step, 900);
  EXPECT_TRUE(d.result()->provisional);
  // A provisional candidate broken at the last row is discarded.
  Stream broken = s;
  broken.acc.back() = 0.5;
  EXPECT_FALSE(run_detector(broken, 500).result().has_value());
}

TEST(EventsOnset, NeverSaturating) {
  const Stream s = uniform_stream(7, 10000, [](std::int64_t t) { return 0.999 * (1 - 1.0 / (t + 2)); });
  const OnsetDetector d = run_detector(s, 0);
  EXPECT_FALSE(d.result().has_value());
  EXPECT_FALSE(d.onset().has_value());
  EXPECT_FALSE(d.candidate().has_value());
}

TEST(EventsOnset, WindowZeroConfirmsTheFirstFullRow) {
  OnsetDetector d(0);
  d.add(3, 0.5);
  d.add(17, 1.0);
  EXPECT_EQ(d.onset(), std::optional<std::int64_t>(17));
  d.add(18, 0.0);
  EXPECT_EQ(d.onset(), std::optional<std::int64_t>(17));
  EXPECT_FALSE(d.result()->provisional);
}

TEST(EventsOnset, NonUniformSpacing) {
  // Steps 0, 1, 2, 4, ..., 1024. Accuracy 1 from step 8 on except at step 64.
  Stream s;
  for (std::int64_t t = 1; t <= 1024; t *= 2) s.steps.push_back(t);
  s.steps.insert(s.steps.begin(), 0);
  for (std::int64_t t : s.steps) s.acc.push_back(t >= 8 && t != 64 ? 1.0 : 0.7);
  // Window 40: candidate 8's window [8, 48] holds rows 8, 16, 32 (all 1); the row at 64 is past the
  // window, so the onset is confirmed at 64 even though accuracy dips there.
  EXPECT_EQ(run_detector(s, 40).onset(), std::optional<std::int64_t>(8));
  // Window 56: [8, 64] includes the dip at 64, so the search restarts at 128; its window
  // [128, 184] has no other row and is complete at 256.
  EXPECT_EQ(run_detector(s, 56).onset(), std::optional<std::int64_t>(128));
  // Window 896 = 1024 - 128: complete exactly at the last row.
  const auto r = run_detector(s, 896).result();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->step, 128);
  EXPECT_FALSE(r->provisional);
  const auto p = run_detector(s, 897).result();
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->step, 128);
  EXPECT_TRUE(p->provisional);
}

TEST(EventsOnset, MatchesTheDefinitionOnRandomStreams) {
  for (std::uint64_t seed = 1; seed <= 300; ++seed) {
    // Random gaps 1..20, accuracy 1 with probability p (varying), windows 0..60.
    Stream s;
    const double p = 0.5 + 0.5 * uniform(seed, 0);
    const auto window = static_cast<std::int64_t>(61 * uniform(seed, 1));
    std::int64_t t = static_cast<std::int64_t>(5 * uniform(seed, 2));
    const int n = 1 + static_cast<int>(80 * uniform(seed, 3));
    for (int r = 0; r < n; ++r) {
      s.steps.push_back(t);
      s.acc.push_back(uniform(seed, 100 + r) < p ? 1.0 : 0.9);
      t += 1 + static_cast<std::int64_t>(20 * uniform(seed, 1000 + r));
    }
    OnsetDetector d(window);
    for (std::size_t r = 0; r < s.steps.size(); ++r) {
      d.add(s.steps[r], s.acc[r]);
      // The answer after every prefix equals the definition on that prefix.
      const std::optional<Onset> ref = reference_onset(s, window, r + 1);
      const std::optional<Onset> got = d.result();
      ASSERT_EQ(got.has_value(), ref.has_value()) << "seed " << seed << " row " << r;
      if (ref) {
        ASSERT_EQ(got->step, ref->step) << "seed " << seed << " row " << r;
        ASSERT_EQ(got->provisional, ref->provisional) << "seed " << seed << " row " << r;
        ASSERT_EQ(d.onset().has_value(), !ref->provisional);
      }
    }
  }
}

TEST(EventsOnset, Errors) {
  EXPECT_THROW(OnsetDetector(-1), Error);
  OnsetDetector d(5);
  d.add(10, 1.0);
  EXPECT_THROW(d.add(10, 1.0), Error);
  EXPECT_THROW(d.add(9, 1.0), Error);
}

// ---- Flips ---------------------------------------------------------------------------------

TEST(EventsFlips, HandBuiltStreams) {
  // Rows at steps 0, 10, 20, 30, 40; one column per example.
  const std::vector<std::int64_t> steps = {0, 10, 20, 30, 40};
  const std::vector<std::vector<std::uint8_t>> rows = {
      // ex: 0  1  2  3  4
      {0, 1, 1, 0, 0},  // 0
      {0, 1, 0, 0, 1},  // 10
      {1, 1, 1, 0, 0},  // 20
      {1, 1, 0, 0, 0},  // 30
      {1, 1, 0, 0, 1},  // 40
  };
  FlipTracker f(5);
  for (std::size_t r = 0; r < steps.size(); ++r) f.add(steps[r], rows[r].data());
  EXPECT_EQ(f.rows(), 5);
  EXPECT_EQ(f.first_step(), std::optional<std::int64_t>(0));
  EXPECT_EQ(f.last_step(), std::optional<std::int64_t>(40));

  auto flips = [&](std::int64_t i) {
    std::vector<std::pair<std::int64_t, bool>> out;
    for (const Flip& x : f.flips(i)) out.emplace_back(x.step, x.to_correct);
    return out;
  };
  using V = std::vector<std::pair<std::int64_t, bool>>;
  EXPECT_EQ(flips(0), (V{{20, true}}));
  EXPECT_EQ(flips(1), V{});
  EXPECT_EQ(flips(2), (V{{10, false}, {20, true}, {30, false}}));
  EXPECT_EQ(flips(3), V{});
  EXPECT_EQ(flips(4), (V{{10, true}, {20, false}, {40, true}}));
  EXPECT_EQ(f.n_flips(2), 3);
  EXPECT_EQ(f.n_dropped(2), 0);

  EXPECT_EQ(f.first_correct(0), 20);
  EXPECT_EQ(f.first_correct(1), 0);
  EXPECT_EQ(f.first_correct(2), 0);
  EXPECT_EQ(f.first_correct(3), -1);
  EXPECT_EQ(f.first_correct(4), 10);

  const std::vector<bool> final_state = {true, true, false, false, true};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(f.final_correct(i), final_state[i]) << i;

  // State at a step = state at the last recorded step <= it.
  EXPECT_EQ(f.correct_at(2, 0), ExampleState::right);
  EXPECT_EQ(f.correct_at(2, 9), ExampleState::right);
  EXPECT_EQ(f.correct_at(2, 10), ExampleState::wrong);
  EXPECT_EQ(f.correct_at(2, 25), ExampleState::right);
  EXPECT_EQ(f.correct_at(2, 30), ExampleState::wrong);
  EXPECT_EQ(f.correct_at(2, 1000), ExampleState::wrong);
  EXPECT_EQ(f.correct_at(4, 39), ExampleState::wrong);
  EXPECT_EQ(f.correct_at(4, 40), ExampleState::right);

  using I = std::vector<std::int64_t>;
  EXPECT_EQ(f.wrong_at_right_at_end(0), (I{0, 4}));
  EXPECT_EQ(f.wrong_at_right_at_end(10), (I{0}));
  EXPECT_EQ(f.wrong_at_right_at_end(25), (I{4}));
  EXPECT_EQ(f.wrong_at_right_at_end(40), I{});
  EXPECT_EQ(f.unknown_at(25), I{});

  EXPECT_THROW(f.correct_at(0, -1), Error);  // before the first row
  EXPECT_THROW(f.flips(5), Error);
  EXPECT_THROW(f.add(40, rows[0].data()), Error);  // not increasing
}

TEST(EventsFlips, MatchesADenseReference) {
  // Random correctness (any non-zero byte counts as correct), random steps; every query compared
  // with a direct computation on the stored matrix.
  const std::int64_t n = 37;
  const int n_rows = 60;
  std::vector<std::int64_t> steps;
  std::vector<std::vector<std::uint8_t>> m;
  FlipTracker f(n);
  std::int64_t t = 5;
  for (int r = 0; r < n_rows; ++r) {
    std::vector<std::uint8_t> row(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) {
      // Example i flips with probability depending on i; "correct" bytes vary (1, 2, 255).
      const bool prev = r > 0 && m.back()[i] != 0;
      const bool flip = uniform(7, static_cast<std::uint64_t>(r * n + i)) < 0.05 + 0.4 * (i % 3);
      const bool c = r == 0 ? (i % 2 == 0) : (flip ? !prev : prev);
      row[i] = c ? static_cast<std::uint8_t>(1 + (r * 7 + i) % 3 * 127) : 0;
    }
    steps.push_back(t);
    m.push_back(row);
    f.add(t, row.data());
    t += 1 + static_cast<std::int64_t>(9 * uniform(8, r));
  }
  auto ref_state = [&](std::int64_t i, std::int64_t step) {
    std::size_t r = 0;
    while (r + 1 < steps.size() && steps[r + 1] <= step) ++r;
    return m[r][i] != 0;
  };
  for (std::int64_t i = 0; i < n; ++i) {
    std::vector<Flip> ref;
    std::int64_t first = -1;
    for (std::size_t r = 0; r < steps.size(); ++r) {
      const bool c = m[r][i] != 0;
      if (c && first < 0) first = steps[r];
      if (r > 0 && c != (m[r - 1][i] != 0)) ref.push_back({steps[r], c});
    }
    ASSERT_EQ(f.flips(i).size(), ref.size()) << "example " << i;
    for (std::size_t k = 0; k < ref.size(); ++k) {
      EXPECT_EQ(f.flips(i)[k].step, ref[k].step);
      EXPECT_EQ(f.flips(i)[k].to_correct, ref[k].to_correct);
    }
    EXPECT_EQ(f.first_correct(i), first);
    EXPECT_EQ(f.final_correct(i), m.back()[i] != 0);
    for (std::int64_t q = steps.front(); q <= steps.back() + 3; ++q) {
      ASSERT_EQ(f.correct_at(i, q), ref_state(i, q) ? ExampleState::right : ExampleState::wrong)
          << "example " << i << " step " << q;
    }
  }
  for (std::int64_t q : {steps[0], steps[10], steps[10] + 1, steps[33], steps.back()}) {
    std::vector<std::int64_t> ref;
    for (std::int64_t i = 0; i < n; ++i) {
      if (!ref_state(i, q) && m.back()[i] != 0) ref.push_back(i);
    }
    EXPECT_EQ(f.wrong_at_right_at_end(q), ref) << "step " << q;
  }
}

TEST(EventsFlips, CapDropsLaterFlipsAndCountsThem) {
  // Example 0 alternates every row (steps 0, 10, ..., 90: 9 flips); example 1 flips once at 50.
  FlipTracker f(2, 3);
  for (std::int64_t r = 0; r < 10; ++r) {
    const std::uint8_t row[2] = {static_cast<std::uint8_t>(r % 2), static_cast<std::uint8_t>(r >= 5)};
    f.add(10 * r, row);
  }
  ASSERT_EQ(f.flips(0).size(), 3u);
  EXPECT_EQ(f.flips(0)[0].step, 10);
  EXPECT_TRUE(f.flips(0)[0].to_correct);
  EXPECT_EQ(f.flips(0)[1].step, 20);
  EXPECT_FALSE(f.flips(0)[1].to_correct);
  EXPECT_EQ(f.flips(0)[2].step, 30);
  EXPECT_EQ(f.n_dropped(0), 6);
  EXPECT_EQ(f.n_flips(0), 9);
  EXPECT_EQ(f.n_dropped(1), 0);
  EXPECT_EQ(f.first_correct(0), 10);
  EXPECT_TRUE(f.final_correct(0));  // row 9: 9 % 2 = 1

  // Exact before the first dropped flip (40) and from the last flip (90) on; unknown between.
  EXPECT_EQ(f.correct_at(0, 35), ExampleState::right);
  EXPECT_EQ(f.correct_at(0, 39), ExampleState::right);
  EXPECT_EQ(f.correct_at(0, 40), ExampleState::unknown);
  EXPECT_EQ(f.correct_at(0, 89), ExampleState::unknown);
  EXPECT_EQ(f.correct_at(0, 90), ExampleState::right);
  EXPECT_EQ(f.unknown_at(60), std::vector<std::int64_t>{0});
  EXPECT_EQ(f.unknown_at(20), std::vector<std::int64_t>{});
  // At 60 example 1 is right already; example 0 is unknown, so neither is listed.
  EXPECT_EQ(f.wrong_at_right_at_end(60), std::vector<std::int64_t>{});
  // At 20 both are wrong (example 0 flipped to wrong at 20) and right at the end.
  EXPECT_EQ(f.wrong_at_right_at_end(20), (std::vector<std::int64_t>{0, 1}));

  // Cap 0 stores nothing but still counts and keeps first-correct and the final state.
  FlipTracker z(1, 0);
  for (std::int64_t r = 0; r < 4; ++r) {
    const std::uint8_t c = static_cast<std::uint8_t>(r % 2);
    z.add(r, &c);
  }
  EXPECT_TRUE(z.flips(0).empty());
  EXPECT_EQ(z.n_dropped(0), 3);
  EXPECT_EQ(z.first_correct(0), 1);
  EXPECT_EQ(z.correct_at(0, 0), ExampleState::wrong);
  EXPECT_EQ(z.correct_at(0, 1), ExampleState::unknown);
  EXPECT_EQ(z.correct_at(0, 3), ExampleState::right);
}

// ---- Growth --------------------------------------------------------------------------------

// Direct two-pass least squares of y on log10(step) in long double over the given rows.
double direct_slope(const std::vector<std::int64_t>& steps, const std::vector<double>& values, std::int64_t s0) {
  long double sx = 0, sy = 0;
  long double n = 0;
  for (std::size_t r = 0; r < steps.size(); ++r) {
    if (steps[r] < s0 || steps[r] <= 0 || std::isnan(values[r])) continue;
    sx += std::log10(static_cast<long double>(steps[r]));
    sy += values[r];
    n += 1;
  }
  if (n < 2) return kNaN;
  const long double mx = sx / n, my = sy / n;
  long double sxx = 0, sxy = 0;
  for (std::size_t r = 0; r < steps.size(); ++r) {
    if (steps[r] < s0 || steps[r] <= 0 || std::isnan(values[r])) continue;
    const long double dx = std::log10(static_cast<long double>(steps[r])) - mx;
    sxx += dx * dx;
    sxy += dx * (values[r] - my);
  }
  return static_cast<double>(sxy / sxx);
}

TEST(EventsGrowth, RecoversAnExactSlopeWithSymmetricNoiseAfterTheOnset) {
  // Steps 10 * r + r % 7 (non-uniform); accuracy 1 on rows [300, 350), a dip at 350, 1 from row
  // 400 on; window 1000 steps. Before the onset the values are huge, so any leak shows.
  const int n_rows = 20000;
  const std::int64_t window = 1000;
  const double a0 = 2.5, b0 = 0.37, a1 = -1.0, b1 = -4.25;
  std::vector<std::int64_t> steps(n_rows);
  std::vector<double> acc(n_rows);
  for (int r = 0; r < n_rows; ++r) {
    steps[r] = 10 * r + r % 7;
    acc[r] = (r >= 300 && r < 350) || r >= 400 ? 1.0 : 0.5;
  }
  const int first = 400;
  const std::int64_t s0 = steps[first];
  // Column 1 is missing (NaN) at every 5th row after the onset.
  auto missing1 = [&](int r) { return r % 5 == 0; };
  // Noise orthogonal to 1 and log10(step) over each column's fitted rows (Gram-Schmidt in long double),
  // so the least-squares slope is exactly b.
  auto orthogonal_noise = [&](std::uint64_t seed, bool (*skip)(int)) {
    std::vector<long double> e(n_rows, 0), x(n_rows, 0);
    long double sx = 0, se = 0, cnt = 0;
    for (int r = first; r < n_rows; ++r) {
      if (skip(r)) continue;
      x[r] = std::log10(static_cast<long double>(steps[r]));
      e[r] = 2 * uniform(seed, r) - 1;
      sx += x[r];
      se += e[r];
      cnt += 1;
    }
    long double sxx = 0, sxe = 0;
    for (int r = first; r < n_rows; ++r) {
      if (skip(r)) continue;
      e[r] -= se / cnt;
      x[r] -= sx / cnt;
    }
    for (int r = first; r < n_rows; ++r) {
      sxx += x[r] * x[r];
      sxe += x[r] * e[r];
    }
    for (int r = first; r < n_rows; ++r) {
      if (!skip(r)) e[r] -= sxe / sxx * x[r];
    }
    return e;
  };
  const auto e0 = orthogonal_noise(11, [](int) { return false; });
  const auto e1 = orthogonal_noise(12, [](int r) { return r % 5 == 0; });

  OnsetDetector d(window);
  GrowthTracker g(3);
  for (int r = 0; r < n_rows; ++r) {
    const double x = std::log10(static_cast<double>(steps[r]));
    double v[3];
    if (r < first) {
      v[0] = v[1] = v[2] = 1e6 * (r + 1);
    } else {
      v[0] = a0 + b0 * x + static_cast<double>(e0[r]);
      v[1] = missing1(r) ? kNaN : a1 + b1 * x + static_cast<double>(e1[r]);
      v[2] = kNaN;
    }
    d.add(steps[r], acc[r]);
    g.add(steps[r], v, d);
  }
  ASSERT_EQ(d.onset(), std::optional<std::int64_t>(s0));
  ASSERT_EQ(g.onset(), std::optional<std::int64_t>(s0));
  const Growth r0 = g.result(0), r1 = g.result(1), r2 = g.result(2);
  EXPECT_NEAR(r0.per_decade, b0, 1e-12);
  EXPECT_NEAR(r1.per_decade, b1, 1e-12);
  EXPECT_EQ(r0.n, n_rows - first);
  EXPECT_EQ(r1.n, n_rows - first - (n_rows - first) / 5);
  const double x0 = std::log10(static_cast<double>(s0)), xe = std::log10(static_cast<double>(steps.back()));
  EXPECT_EQ(r0.at_onset, a0 + b0 * x0 + static_cast<double>(e0[first]));
  EXPECT_EQ(r0.at_end, a0 + b0 * xe + static_cast<double>(e0[n_rows - 1]));
  EXPECT_TRUE(std::isnan(r1.at_onset));  // row 400 is a missing row of column 1
  EXPECT_TRUE(std::isnan(r2.per_decade));
  EXPECT_EQ(r2.n, 0);
  EXPECT_EQ(g.results().size(), 3u);
}

TEST(EventsGrowth, StreamingEqualsADirectFitOn1e5Rows) {
  const int n_rows = 100000;
  std::vector<std::int64_t> steps(n_rows);
  std::vector<double> values(n_rows), acc(n_rows);
  double walk = 0;
  std::int64_t t = 0;
  for (int r = 0; r < n_rows; ++r) {
    steps[r] = t;
    t += 1 + static_cast<std::int64_t>(200 * uniform(21, r));
    walk += uniform(22, r) - 0.45;
    values[r] = r % 97 == 3 ? kNaN : 1e3 + walk + 0.1 * std::sin(0.001 * r);
    // A candidate at row 1000 broken at 1500, the onset at row 2000.
    acc[r] = (r >= 1000 && r < 1500) || r >= 2000 ? 1.0 : 0.8;
  }
  OnsetDetector d(200000);  // longer than rows [1000, 1500), shorter than the rest
  GrowthTracker g(1);
  for (int r = 0; r < n_rows; ++r) {
    d.add(steps[r], acc[r]);
    g.add(steps[r], &values[r], d);
  }
  ASSERT_EQ(d.onset(), std::optional<std::int64_t>(steps[2000]));
  const double ref = direct_slope(steps, values, steps[2000]);
  const Growth got = g.result(0);
  EXPECT_NEAR(got.per_decade, ref, 1e-12 * std::fabs(ref)) << "reference " << ref;
  const Growth batch = growth_per_decade(steps, values, steps[2000]);
  EXPECT_NEAR(batch.per_decade, ref, 1e-12 * std::fabs(ref));
  EXPECT_EQ(batch.n, got.n);
  EXPECT_EQ(batch.at_onset, values[2000]);
  EXPECT_EQ(got.at_onset, values[2000]);
  EXPECT_EQ(got.at_end, values.back());
}

TEST(EventsGrowth, DegenerateCases) {
  // No onset: at_end only.
  OnsetDetector d(10);
  GrowthTracker g(1);
  for (std::int64_t t = 0; t < 5; ++t) {
    const double v = 3.0 * t;
    d.add(t, 0.5);
    g.add(t, &v, d);
  }
  Growth r = g.result(0);
  EXPECT_TRUE(std::isnan(r.at_onset));
  EXPECT_TRUE(std::isnan(r.per_decade));
  EXPECT_EQ(r.at_end, 12.0);
  EXPECT_EQ(r.n, 0);

  // Onset at the last row (provisional): one row, slope NaN.
  const double v = 7.0;
  d.add(100, 1.0);
  g.add(100, &v, d);
  r = g.result(0);
  EXPECT_EQ(r.at_onset, 7.0);
  EXPECT_EQ(r.n, 1);
  EXPECT_TRUE(std::isnan(r.per_decade));

  // Onset at step 0: the row at 0 is the value at onset but not part of the fit (log10 0).
  const std::vector<std::int64_t> steps = {0, 10, 100, 1000};
  const std::vector<double> values = {-5.0, 1.0, 3.0, 5.0};
  Growth b = growth_per_decade(steps, values, 0);
  EXPECT_EQ(b.at_onset, -5.0);
  EXPECT_EQ(b.at_end, 5.0);
  EXPECT_EQ(b.n, 3);
  EXPECT_NEAR(b.per_decade, 2.0, 1e-14);
  // Onset between rows: the row before it gives at_onset; the fit starts after it.
  b = growth_per_decade(steps, values, 50);
  EXPECT_EQ(b.at_onset, 1.0);
  EXPECT_EQ(b.n, 2);
  EXPECT_NEAR(b.per_decade, 2.0, 1e-14);

  // Equal steps: NaN. NaN values and step <= 0 are ignored.
  SlopeAccumulator s;
  s.add(5, 1.0);
  s.add(5, 2.0);
  EXPECT_EQ(s.n(), 2);
  EXPECT_TRUE(std::isnan(s.slope()));
  s.reset();
  s.add(0, 1.0);
  s.add(-3, 1.0);
  s.add(10, kNaN);
  s.add(10, 1.0);
  s.add(1000, 5.0);
  EXPECT_EQ(s.n(), 2);
  EXPECT_NEAR(s.slope(), 2.0, 1e-15);
}

TEST(EventsGrowth, PeriodicColumnsTakeTheirLastComputedValueAtTheOnset) {
  // Column 0 is computed every row, column 1 only at steps 0 and 20 (a periodic statistic).
  GrowthTracker g(2);
  const double rows[4][2] = {{1.0, 7.0}, {2.0, kNotComputed}, {3.0, kNotComputed}, {4.0, 9.0}};
  const std::int64_t steps[4] = {0, 5, 10, 20};
  for (int i = 0; i < 4; ++i) {
    g.add(steps[i], rows[i], i >= 1 ? std::optional<std::int64_t>(5) : std::nullopt);
  }
  EXPECT_EQ(g.result(0).at_onset, 2.0);
  EXPECT_EQ(g.result(1).at_onset, 7.0);  // not computed at step 5: the value of step 0
  EXPECT_EQ(g.result(1).at_end, 9.0);
  // A computed NaN stays NaN.
  GrowthTracker h(1);
  const double nan_row[1] = {std::nan("")};
  h.add(3, nan_row, std::optional<std::int64_t>(3));
  EXPECT_TRUE(std::isnan(h.result(0).at_onset));
  // The state survives save/load.
  StateWriter out;
  g.save(out);
  GrowthTracker back(2);
  StateReader in(out.data.data(), out.data.size(), "test");
  back.load(in);
  EXPECT_TRUE(in.done());
  for (int c = 0; c < 2; ++c) {
    EXPECT_EQ(back.result(c).at_onset, g.result(c).at_onset);
    const double a = back.result(c).per_decade, b = g.result(c).per_decade;
    EXPECT_TRUE(a == b || (std::isnan(a) && std::isnan(b))) << a << " vs " << b;
    EXPECT_EQ(back.result(c).n, g.result(c).n);
  }
}

TEST(EventsGrowth, Errors) {
  OnsetDetector d(10);
  GrowthTracker g(1);
  const double v = 1.0;
  d.add(0, 1.0);
  d.add(1, 1.0);
  // The tracker missed the candidate row 0.
  EXPECT_THROW(g.add(1, &v, d), Error);
  GrowthTracker h(1);
  EXPECT_THROW(h.add(5, &v, d), Error);  // not the detector's last row
  EXPECT_THROW(g.result(1), Error);
  EXPECT_THROW(growth_per_decade({1, 1}, {1.0, 2.0}, 0), Error);
  EXPECT_THROW(growth_per_decade({1, 2}, {1.0}, 0), Error);
}

}  // namespace
}  // namespace groove::metrics
