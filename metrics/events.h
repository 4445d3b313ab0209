// Streaming event detection on the host, one instance per model (docs/metrics.md, "Events"):
//   OnsetDetector  the groove onset: the first recorded step from which train accuracy is exactly 1
//                  for a whole window of steps;
//   FlipTracker    per held-out example: every change of classification, first-correct step, state
//                  at any recorded step and at the end;
//   GrowthTracker  per statistic: value at the onset, value at the end and the least-squares growth
//                  per decade of steps after the onset.
// Rows arrive in strictly increasing step order (possibly millions of them); memory stays
// O(examples + stored flips + statistics), never O(rows). Out-of-order rows throw groove::Error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace groove::metrics {

// Checkpoint state: a flat stream of doubles (integers are stored exactly below 2^53, NaN payloads
// bitwise when the stream is stored as f64). Readers throw groove::Error on a short or malformed
// stream, naming `what`.
struct StateWriter {
  std::vector<double> data;
  void put(double v) { data.push_back(v); }
  void put_int(std::int64_t v) { data.push_back(static_cast<double>(v)); }
};
class StateReader {
 public:
  StateReader(const double* data, std::size_t n, std::string what) : data_(data), n_(n), what_(std::move(what)) {}
  double get();
  std::int64_t get_int();
  std::size_t get_size(std::size_t max);
  bool done() const { return pos_ == n_; }

 private:
  const double* data_;
  std::size_t n_, pos_ = 0;
  std::string what_;
};

// Train accuracy counts as 1 ("100%") when acc >= kFullAccuracy (NaN never does).
inline constexpr double kFullAccuracy = 1.0 - 1e-12;

// ---------------------------------------------------------------------------------------------
// Groove onset

struct Onset {
  std::int64_t step = 0;
  // True when the run ended before the window [step, step + window] was complete (accuracy was 1
  // at every recorded step from `step` to the last row).
  bool provisional = false;
};

// The groove onset is the first recorded step s such that acc(t) >= kFullAccuracy at every recorded
// step t in [s, s + window]. Candidate: the first row of the current unbroken run of rows with
// accuracy 1; a row with accuracy < 1 (or NaN) at a step <= candidate + window discards it (the
// search restarts at the next row with accuracy 1). The candidate is confirmed by the first row at a
// step >= candidate + window (a row at exactly candidate + window must itself have accuracy 1; a
// row past it is outside the window, so its accuracy does not matter). Once confirmed, the onset
// never changes. window = 0 confirms the first row with accuracy 1 at once.
class OnsetDetector {
 public:
  explicit OnsetDetector(std::int64_t window);

  void add(std::int64_t step, double train_acc);

  // The confirmed onset, or nothing.
  std::optional<std::int64_t> onset() const;
  // The confirmed onset, else the current candidate, else nothing: the step from which a
  // GrowthTracker accumulates.
  std::optional<std::int64_t> candidate() const;
  // The answer at the end of a run: the confirmed onset (provisional = false), else the candidate
  // that held until the last row (provisional = true), else nothing.
  std::optional<Onset> result() const;

  std::int64_t window() const { return window_; }
  std::int64_t rows() const { return rows_; }
  std::optional<std::int64_t> last_step() const;

  void save(StateWriter& out) const;
  void load(StateReader& in);

 private:
  std::int64_t window_;
  std::int64_t rows_ = 0;
  std::int64_t last_step_ = 0;
  bool has_candidate_ = false;
  bool confirmed_ = false;
  std::int64_t candidate_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Per-example flips

struct Flip {
  std::int64_t step;  // the first recorded step with the new state
  bool to_correct;    // true: wrong -> right; false: right -> wrong
};

// The state of an example at a step, as far as the stored flips tell.
enum class ExampleState : std::int8_t { wrong = 0, right = 1, unknown = -1 };

// Tracks the held-out examples' correctness over the recorded rows. The first row sets each
// example's initial state (no flip); a flip of example i is recorded at every later row whose state
// differs from the previous row's. At most `max_stored_flips` flips per example are stored (the
// first ones, in step order); later ones are only counted (n_dropped).
class FlipTracker {
 public:
  explicit FlipTracker(std::int64_t n_examples, std::int64_t max_stored_flips = 1000);

  // correct[i] != 0: example i is classified correctly at `step`. Reads n_examples bytes.
  void add(std::int64_t step, const std::uint8_t* correct);

  std::int64_t n_examples() const { return n_; }
  std::int64_t max_stored_flips() const { return cap_; }
  std::int64_t rows() const { return rows_; }
  std::optional<std::int64_t> first_step() const;
  std::optional<std::int64_t> last_step() const;

  // The stored flips of example i, in step order (the first max_stored_flips of them).
  const std::vector<Flip>& flips(std::int64_t i) const;
  // Every flip of example i (stored + dropped), and the dropped ones alone.
  std::int64_t n_flips(std::int64_t i) const;
  std::int64_t n_dropped(std::int64_t i) const;
  // The first recorded step at which example i is correct (its first row included); -1 if never.
  std::int64_t first_correct(std::int64_t i) const;
  // The state at the last row (needs at least one row).
  bool final_correct(std::int64_t i) const;
  // The state at the last recorded step <= step (step must be >= the first row's step). unknown only
  // when flips of example i were dropped and `step` lies in [first dropped flip, last flip).
  ExampleState correct_at(std::int64_t i, std::int64_t step) const;

  // Examples (ascending indices) wrong at the last recorded step <= step and right at the end.
  // Examples whose state at `step` is unknown (dropped flips) are left out; see unknown_at.
  std::vector<std::int64_t> wrong_at_right_at_end(std::int64_t step) const;
  // Examples whose state at `step` is unknown because of dropped flips.
  std::vector<std::int64_t> unknown_at(std::int64_t step) const;

  void save(StateWriter& out) const;
  void load(StateReader& in);  // n_examples and max_stored_flips must match

 private:
  void check_index(std::int64_t i) const;
  void check_query_step(std::int64_t step) const;

  std::int64_t n_;
  std::int64_t cap_;
  std::int64_t rows_ = 0;
  std::int64_t first_step_ = 0;
  std::int64_t last_step_ = 0;
  std::vector<std::uint8_t> initial_;  // state at the first row (0/1)
  std::vector<std::uint8_t> state_;    // state at the last row (0/1)
  std::vector<std::int64_t> first_correct_;
  std::vector<std::int64_t> n_dropped_;
  std::vector<std::int64_t> first_dropped_step_;  // step of the first dropped flip (if any)
  std::vector<std::int64_t> last_flip_step_;      // step of the last flip, stored or not (-1: none)
  std::vector<std::vector<Flip>> flips_;
};

// ---------------------------------------------------------------------------------------------
// Growth per decade

// The growth of a statistic after the onset s0:
//   at_onset    the value in the row at s0 (the last row with step <= s0); for a statistic not
//               computed at that row (kNotComputed: a periodic one), its last computed value before;
//   at_end      the value in the last row;
//   per_decade  the least-squares slope b of value ~ a + b * log10(step) over the rows with
//               step >= s0, step > 0 and a value that is not NaN; NaN when fewer than 2 such rows
//               or when all their steps are equal;
//   n           the number of rows in that fit.
// Without an onset, at_onset and per_decade are NaN and n = 0; without rows every value is NaN.
struct Growth {
  double at_onset;
  double at_end;
  double per_decade;
  std::int64_t n;
};

// Streaming least-squares fit of y against x = log10(step) (Welford-style co-moment updates, so
// the result stays accurate over millions of rows).
class SlopeAccumulator {
 public:
  // Adds (log10(step), value); ignored when value is NaN or step <= 0.
  void add(std::int64_t step, double value);
  void reset() { *this = SlopeAccumulator(); }
  // Sum_i (x_i - mean x)(y_i - mean y) / Sum_i (x_i - mean x)^2; NaN for n < 2 or constant x.
  double slope() const;
  std::int64_t n() const { return n_; }

  void save(StateWriter& out) const;
  void load(StateReader& in);

 private:
  std::int64_t n_ = 0;
  double mean_x_ = 0, mean_y_ = 0;
  double m2_x_ = 0, c_xy_ = 0;  // Sum (x - mean x)^2, Sum (x - mean x)(y - mean y)
};

// The Growth of one series given all its rows (steps strictly increasing) and the onset s0.
Growth growth_per_decade(const std::vector<std::int64_t>& steps, const std::vector<double>& values, std::int64_t onset);

// Streaming Growth of n_columns statistics of one model. Feed every row after passing the same row's
// train accuracy to the OnsetDetector: rows are accumulated from the detector's candidate on and the
// sums are restarted whenever the candidate is discarded or replaced, so the result for the final
// (confirmed or provisional) onset is exact without buffering any rows.
class GrowthTracker {
 public:
  explicit GrowthTracker(std::int64_t n_columns);

  // values: n_columns numbers (NaN = missing in this row).
  void add(std::int64_t step, const double* values, const OnsetDetector& detector);
  // The same with the candidate passed directly (nothing: no candidate). A new candidate must be
  // this row's step.
  void add(std::int64_t step, const double* values, std::optional<std::int64_t> candidate);

  std::int64_t n_columns() const { return static_cast<std::int64_t>(slopes_.size()); }
  // The onset the sums belong to (the candidate of the last row), or nothing.
  std::optional<std::int64_t> onset() const;
  Growth result(std::int64_t column) const;
  std::vector<Growth> results() const;

  void save(StateWriter& out) const;
  void load(StateReader& in);  // n_columns must match

 private:
  bool has_onset_ = false;
  bool has_rows_ = false;
  std::int64_t onset_ = 0;
  std::int64_t last_step_ = 0;
  std::vector<double> at_onset_, at_end_;
  std::vector<double> last_computed_;  // last value that was not kNotComputed, per column
  std::vector<SlopeAccumulator> slopes_;
};

}  // namespace groove::metrics
