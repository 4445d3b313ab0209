// Streaming event detection: groove onset, per-example flips, growth per decade (events.h).
#include "metrics/events.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "metrics/writers.h"
#include "runtime/error.h"

namespace groove::metrics {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool is_full(double acc) {
  return acc >= kFullAccuracy;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// OnsetDetector

OnsetDetector::OnsetDetector(std::int64_t window) : window_(window) {
  GROOVE_CHECK(window >= 0, "OnsetDetector: window must be >= 0 steps, got ", window);
}

void OnsetDetector::add(std::int64_t step, double train_acc) {
  GROOVE_CHECK(rows_ == 0 || step > last_step_, "OnsetDetector: rows must come in increasing step order; step ", step,
               " after step ", last_step_);
  ++rows_;
  last_step_ = step;
  if (confirmed_) return;
  if (has_candidate_) {
    // Differences, not candidate_ + window_, so a huge window cannot overflow.
    const std::int64_t since = step - candidate_;
    if (since > window_) {
      // No recorded step in (last row, step) and this row is past the window: it held throughout.
      confirmed_ = true;
    } else if (!is_full(train_acc)) {
      has_candidate_ = false;
    } else if (since == window_) {
      confirmed_ = true;
    }
    return;
  }
  if (is_full(train_acc)) {
    has_candidate_ = true;
    candidate_ = step;
    confirmed_ = window_ == 0;
  }
}

std::optional<std::int64_t> OnsetDetector::onset() const {
  if (confirmed_) return candidate_;
  return std::nullopt;
}

std::optional<std::int64_t> OnsetDetector::candidate() const {
  if (has_candidate_) return candidate_;
  return std::nullopt;
}

std::optional<Onset> OnsetDetector::result() const {
  if (!has_candidate_) return std::nullopt;
  return Onset{candidate_, !confirmed_};
}

std::optional<std::int64_t> OnsetDetector::last_step() const {
  if (rows_ > 0) return last_step_;
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// FlipTracker

FlipTracker::FlipTracker(std::int64_t n_examples, std::int64_t max_stored_flips)
    : n_(n_examples), cap_(max_stored_flips) {
  GROOVE_CHECK(n_examples >= 0, "FlipTracker: n_examples must be >= 0, got ", n_examples);
  GROOVE_CHECK(max_stored_flips >= 0, "FlipTracker: max_stored_flips must be >= 0, got ", max_stored_flips);
  const auto n = static_cast<std::size_t>(n_examples);
  initial_.assign(n, 0);
  state_.assign(n, 0);
  first_correct_.assign(n, -1);
  n_dropped_.assign(n, 0);
  first_dropped_step_.assign(n, 0);
  last_flip_step_.assign(n, -1);
  flips_.resize(n);
}

void FlipTracker::add(std::int64_t step, const std::uint8_t* correct) {
  GROOVE_CHECK(rows_ == 0 || step > last_step_, "FlipTracker: rows must come in increasing step order; step ", step,
               " after step ", last_step_);
  GROOVE_CHECK(correct != nullptr || n_ == 0, "FlipTracker::add: `correct` is null");
  if (rows_ == 0) {
    first_step_ = step;
    for (std::int64_t i = 0; i < n_; ++i) {
      const std::uint8_t c = correct[i] != 0 ? 1 : 0;
      initial_[i] = state_[i] = c;
      if (c) first_correct_[i] = step;
    }
  } else if (n_ > 0 && std::memcmp(correct, state_.data(), static_cast<std::size_t>(n_)) != 0) {
    // (Equal bytes mean no change: state_ holds only 0/1.)
    for (std::int64_t i = 0; i < n_; ++i) {
      const std::uint8_t c = correct[i] != 0 ? 1 : 0;
      if (c == state_[i]) continue;
      state_[i] = c;
      if (c && first_correct_[i] < 0) first_correct_[i] = step;
      last_flip_step_[i] = step;
      auto& list = flips_[i];
      if (static_cast<std::int64_t>(list.size()) < cap_) {
        list.push_back({step, c != 0});
      } else {
        if (n_dropped_[i] == 0) first_dropped_step_[i] = step;
        ++n_dropped_[i];
      }
    }
  }
  ++rows_;
  last_step_ = step;
}

std::optional<std::int64_t> FlipTracker::first_step() const {
  if (rows_ > 0) return first_step_;
  return std::nullopt;
}

std::optional<std::int64_t> FlipTracker::last_step() const {
  if (rows_ > 0) return last_step_;
  return std::nullopt;
}

void FlipTracker::check_index(std::int64_t i) const {
  GROOVE_CHECK(i >= 0 && i < n_, "FlipTracker: example index ", i, " out of range [0, ", n_, ")");
}

void FlipTracker::check_query_step(std::int64_t step) const {
  GROOVE_CHECK(rows_ > 0, "FlipTracker: no rows recorded yet");
  GROOVE_CHECK(step >= first_step_, "FlipTracker: step ", step, " precedes the first recorded step ", first_step_,
               "; the examples' state there was never seen");
}

const std::vector<Flip>& FlipTracker::flips(std::int64_t i) const {
  check_index(i);
  return flips_[static_cast<std::size_t>(i)];
}

std::int64_t FlipTracker::n_flips(std::int64_t i) const {
  check_index(i);
  return static_cast<std::int64_t>(flips_[static_cast<std::size_t>(i)].size()) + n_dropped_[i];
}

std::int64_t FlipTracker::n_dropped(std::int64_t i) const {
  check_index(i);
  return n_dropped_[i];
}

std::int64_t FlipTracker::first_correct(std::int64_t i) const {
  check_index(i);
  return first_correct_[i];
}

bool FlipTracker::final_correct(std::int64_t i) const {
  check_index(i);
  GROOVE_CHECK(rows_ > 0, "FlipTracker: no rows recorded yet");
  return state_[i] != 0;
}

ExampleState FlipTracker::correct_at(std::int64_t i, std::int64_t step) const {
  check_index(i);
  check_query_step(step);
  auto state = [](bool right) { return right ? ExampleState::right : ExampleState::wrong; };
  if (step >= last_step_ || step >= last_flip_step_[i]) return state(state_[i] != 0);
  if (n_dropped_[i] > 0 && step >= first_dropped_step_[i]) return ExampleState::unknown;
  // Every flip at or before `step` is stored: the last of them gives the state.
  const auto& list = flips_[static_cast<std::size_t>(i)];
  const auto after =
      std::upper_bound(list.begin(), list.end(), step, [](std::int64_t s, const Flip& f) { return s < f.step; });
  if (after == list.begin()) return state(initial_[i] != 0);
  return state(std::prev(after)->to_correct);
}

std::vector<std::int64_t> FlipTracker::wrong_at_right_at_end(std::int64_t step) const {
  check_query_step(step);
  std::vector<std::int64_t> out;
  for (std::int64_t i = 0; i < n_; ++i) {
    if (state_[i] != 0 && correct_at(i, step) == ExampleState::wrong) out.push_back(i);
  }
  return out;
}

std::vector<std::int64_t> FlipTracker::unknown_at(std::int64_t step) const {
  check_query_step(step);
  std::vector<std::int64_t> out;
  for (std::int64_t i = 0; i < n_; ++i) {
    if (n_dropped_[i] > 0 && correct_at(i, step) == ExampleState::unknown) out.push_back(i);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Growth per decade

void SlopeAccumulator::add(std::int64_t step, double value) {
  if (std::isnan(value) || step <= 0) return;
  const double x = std::log10(static_cast<double>(step));
  ++n_;
  const double inv_n = 1.0 / static_cast<double>(n_);
  const double dx = x - mean_x_;
  mean_x_ += dx * inv_n;
  mean_y_ += (value - mean_y_) * inv_n;
  // Co-moments with the old x deviation and the new means (exact updates, Welford 1962).
  m2_x_ += dx * (x - mean_x_);
  c_xy_ += dx * (value - mean_y_);
}

double SlopeAccumulator::slope() const {
  if (n_ < 2 || !(m2_x_ > 0)) return kNaN;
  return c_xy_ / m2_x_;
}

Growth growth_per_decade(const std::vector<std::int64_t>& steps, const std::vector<double>& values,
                         std::int64_t onset) {
  GROOVE_CHECK(steps.size() == values.size(), "growth_per_decade: ", steps.size(), " steps but ", values.size(),
               " values");
  Growth g{kNaN, kNaN, kNaN, 0};
  if (steps.empty()) return g;
  SlopeAccumulator acc;
  for (std::size_t r = 0; r < steps.size(); ++r) {
    GROOVE_CHECK(r == 0 || steps[r] > steps[r - 1], "growth_per_decade: steps must increase; step ", steps[r],
                 " at row ", r, " after step ", steps[r - 1]);
    if (steps[r] <= onset) g.at_onset = values[r];
    if (steps[r] >= onset) acc.add(steps[r], values[r]);
  }
  g.at_end = values.back();
  g.per_decade = acc.slope();
  g.n = acc.n();
  return g;
}

GrowthTracker::GrowthTracker(std::int64_t n_columns) {
  GROOVE_CHECK(n_columns >= 0, "GrowthTracker: n_columns must be >= 0, got ", n_columns);
  const auto n = static_cast<std::size_t>(n_columns);
  at_onset_.assign(n, kNaN);
  at_end_.assign(n, kNaN);
  last_computed_.assign(n, kNotComputed);
  slopes_.resize(n);
}

void GrowthTracker::add(std::int64_t step, const double* values, const OnsetDetector& detector) {
  GROOVE_CHECK(detector.last_step() == step, "GrowthTracker::add: step ", step,
               " is not the last row the OnsetDetector saw (",
               detector.last_step() ? std::to_string(*detector.last_step()) : std::string("none"),
               "); pass each row to the detector first");
  add(step, values, detector.candidate());
}

void GrowthTracker::add(std::int64_t step, const double* values, std::optional<std::int64_t> candidate) {
  GROOVE_CHECK(!has_rows_ || step > last_step_, "GrowthTracker: rows must come in increasing step order; step ", step,
               " after step ", last_step_);
  GROOVE_CHECK(values != nullptr || slopes_.empty(), "GrowthTracker::add: `values` is null");
  const std::size_t n = slopes_.size();
  if (!candidate) {
    has_onset_ = false;
  } else if (!has_onset_ || *candidate != onset_) {
    // A new candidate starts at this row; the rows before it are not part of the fit.
    GROOVE_CHECK(*candidate == step, "GrowthTracker: the onset candidate ", *candidate, " is not this row's step ",
                 step, "; feed every row to the GrowthTracker, in order");
    has_onset_ = true;
    onset_ = step;
    for (std::size_t c = 0; c < n; ++c) {
      slopes_[c].reset();
      // A statistic not computed at this row (a periodic one) takes its last computed value.
      at_onset_[c] = is_not_computed(values[c]) ? last_computed_[c] : values[c];
    }
  }
  for (std::size_t c = 0; c < n; ++c) {
    if (!is_not_computed(values[c])) last_computed_[c] = values[c];
    at_end_[c] = values[c];
    if (has_onset_) slopes_[c].add(step, values[c]);
  }
  has_rows_ = true;
  last_step_ = step;
}

std::optional<std::int64_t> GrowthTracker::onset() const {
  if (has_onset_) return onset_;
  return std::nullopt;
}

Growth GrowthTracker::result(std::int64_t column) const {
  GROOVE_CHECK(column >= 0 && column < n_columns(), "GrowthTracker: column ", column, " out of range [0, ", n_columns(),
               ")");
  const auto c = static_cast<std::size_t>(column);
  if (!has_onset_) return Growth{kNaN, at_end_[c], kNaN, 0};
  return Growth{at_onset_[c], at_end_[c], slopes_[c].slope(), slopes_[c].n()};
}

std::vector<Growth> GrowthTracker::results() const {
  std::vector<Growth> out;
  out.reserve(slopes_.size());
  for (std::int64_t c = 0; c < n_columns(); ++c) out.push_back(result(c));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Checkpoint state

double StateReader::get() {
  GROOVE_CHECK(pos_ < n_, what_, ": the saved state ends early (", n_, " values)");
  return data_[pos_++];
}

std::int64_t StateReader::get_int() {
  const double v = get();
  GROOVE_CHECK(std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9.007199254740992e15, what_,
               ": malformed saved state (value ", pos_ - 1, " is not an integer)");
  return static_cast<std::int64_t>(v);
}

std::size_t StateReader::get_size(std::size_t max) {
  const std::int64_t v = get_int();
  GROOVE_CHECK(v >= 0 && static_cast<std::size_t>(v) <= max, what_, ": malformed saved state (size ", v, ")");
  return static_cast<std::size_t>(v);
}

void OnsetDetector::save(StateWriter& out) const {
  out.put_int(window_);
  out.put_int(rows_);
  out.put_int(last_step_);
  out.put_int(has_candidate_);
  out.put_int(confirmed_);
  out.put_int(candidate_);
}

void OnsetDetector::load(StateReader& in) {
  GROOVE_CHECK(in.get_int() == window_, "onset state: saved with a different window");
  rows_ = in.get_int();
  last_step_ = in.get_int();
  has_candidate_ = in.get_int() != 0;
  confirmed_ = in.get_int() != 0;
  candidate_ = in.get_int();
}

void FlipTracker::save(StateWriter& out) const {
  out.put_int(n_);
  out.put_int(cap_);
  out.put_int(rows_);
  out.put_int(first_step_);
  out.put_int(last_step_);
  for (std::size_t i = 0; i < static_cast<std::size_t>(n_); ++i) {
    out.put_int(initial_[i]);
    out.put_int(state_[i]);
    out.put_int(first_correct_[i]);
    out.put_int(n_dropped_[i]);
    out.put_int(first_dropped_step_[i]);
    out.put_int(last_flip_step_[i]);
    out.put_int(static_cast<std::int64_t>(flips_[i].size()));
    for (const Flip& f : flips_[i]) out.put_int(f.to_correct ? f.step + 1 : -(f.step + 1));
  }
}

void FlipTracker::load(StateReader& in) {
  GROOVE_CHECK(in.get_int() == n_ && in.get_int() == cap_, "flip state: saved for a different number of examples");
  rows_ = in.get_int();
  first_step_ = in.get_int();
  last_step_ = in.get_int();
  for (std::size_t i = 0; i < static_cast<std::size_t>(n_); ++i) {
    initial_[i] = static_cast<std::uint8_t>(in.get_int() != 0);
    state_[i] = static_cast<std::uint8_t>(in.get_int() != 0);
    first_correct_[i] = in.get_int();
    n_dropped_[i] = in.get_int();
    first_dropped_step_[i] = in.get_int();
    last_flip_step_[i] = in.get_int();
    flips_[i].resize(in.get_size(static_cast<std::size_t>(cap_)));
    for (Flip& f : flips_[i]) {
      const std::int64_t v = in.get_int();
      f.to_correct = v > 0;
      f.step = (v > 0 ? v : -v) - 1;
    }
  }
}

void SlopeAccumulator::save(StateWriter& out) const {
  out.put_int(n_);
  out.put(mean_x_);
  out.put(mean_y_);
  out.put(m2_x_);
  out.put(c_xy_);
}

void SlopeAccumulator::load(StateReader& in) {
  n_ = in.get_int();
  mean_x_ = in.get();
  mean_y_ = in.get();
  m2_x_ = in.get();
  c_xy_ = in.get();
}

void GrowthTracker::save(StateWriter& out) const {
  out.put_int(n_columns());
  out.put_int(has_onset_);
  out.put_int(has_rows_);
  out.put_int(onset_);
  out.put_int(last_step_);
  for (std::size_t c = 0; c < slopes_.size(); ++c) {
    out.put(at_onset_[c]);
    out.put(at_end_[c]);
    out.put(last_computed_[c]);
    slopes_[c].save(out);
  }
}

void GrowthTracker::load(StateReader& in) {
  GROOVE_CHECK(in.get_int() == n_columns(), "growth state: saved for a different number of columns");
  has_onset_ = in.get_int() != 0;
  has_rows_ = in.get_int() != 0;
  onset_ = in.get_int();
  last_step_ = in.get_int();
  for (std::size_t c = 0; c < slopes_.size(); ++c) {
    at_onset_[c] = in.get();
    at_end_[c] = in.get();
    last_computed_[c] = in.get();
    slopes_[c].load(in);
  }
}

}  // namespace groove::metrics
