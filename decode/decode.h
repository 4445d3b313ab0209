// groove decode: the neural-data reanalysis of ../docs/decode.md. Sessions (subject x day) of
// trials x neurons responses are preprocessed (drop silent neurons, z-score, optional
// pseudo-population), decoded target vs non-target with cross-validated linear decoders (every
// session x shuffle x fold, and every label permutation of the chance level, as one batched op on
// the device: ops::fit_linear_decoders), and described by max-margin statistics, representational
// similarity against a Gaussian null, PCA, per-stimulus flips, day x day generalization and
// sliding-window smoothing over days. Results go to <out>/<name>/ (sessions.csv, days.csv,
// stimuli.csv, flips.csv, generalization.csv, rsm/, pca/, summary.json, decode.json).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sweep/config.h"
#include "tasks/neural.h"

namespace groove::decode {

// Every key of a decode config (docs/decode.md's table: `groove config --schema decode`).
const std::vector<sweep::KeyInfo>& schema();

// Loads and checks a decode config (cross-key rules included).
sweep::Config load_config(const std::string& path, const std::vector<std::string>& overrides = {});
sweep::Config parse_config(const std::string& yaml_text, const std::string& what,
                           const std::vector<std::string>& overrides = {});

// The dataset a config names (synthetic generator, NPZ, CSV or NDT rasters), validated.
tasks::NeuralDataset load_dataset(const sweep::Config& config);

struct DecodeOptions {
  std::vector<std::string> overrides;
  bool progress = true;  // one line per stage on stderr
};

struct DecodeResult {
  std::string dir;  // <out>/<name>
  std::int64_t sessions = 0, models = 0;
  double seconds = 0;
};

// groove decode CONFIG: runs the pipeline and writes the results; throws groove::Error on bad input.
DecodeResult run_decode(const std::string& config_path, const DecodeOptions& options = {});
DecodeResult run_decode(const sweep::Config& config, const DecodeOptions& options = {});

// ---------------------------------------------------------------------------------------------
// Pieces of the pipeline (host, double precision), exposed for tests.

// One preprocessed session: z-scored responses of the kept neurons.
struct Session {
  std::string subject, key;
  std::int64_t day = 0;
  std::int64_t trials = 0, neurons = 0, dropped = 0;
  std::vector<double> x;                // [trials, neurons] row-major
  std::vector<std::int32_t> labels;     // TrialLabel per trial
  std::vector<std::int32_t> stimulus;   // per trial, -1 when unknown
  std::vector<std::string> neuron_ids;  // kept neurons
};

struct PreprocessOptions {
  double min_spikes = 4;               // drop neurons whose summed response over all trials is below
  bool zscore = true;                  // per neuron, over all trials of the session (ddof = 0)
  std::int64_t pseudo_population = 0;  // > 0: keep this many neurons per session, drawn without replacement
  std::uint64_t seed = 0;
};
// Throws naming the session when pseudo_population exceeds its kept neurons.
Session preprocess(const tasks::NeuralSession& s, const PreprocessOptions& options, std::int64_t session_index);

// Stratified fold of each trial for one shuffle: target and non-target trials are each put in a
// random order (Philox keys of (seed, stream)) and dealt round-robin into `folds` folds, the
// non-target deal continuing where the target deal stopped so fold sizes differ by at most one.
// Probe trials get -1.
std::vector<std::int32_t> stratified_folds(const std::vector<std::int32_t>& labels, int folds, std::uint64_t seed,
                                           std::uint64_t stream);
// A random permutation of 0..n-1 (Philox sort keys of (seed, stream)).
std::vector<std::int64_t> permutation(std::int64_t n, std::uint64_t seed, std::uint64_t stream);

// Mean similarities of the Pearson-correlation RSM of the trials' population vectors: within the
// target trials (off the diagonal), within the non-target trials, and between the two; index =
// (within_target + within_nontarget) / 2 - between. Computed from sums of the normalized vectors
// (O(trials x neurons)); equal to averaging the blocks of rsm_matrix.
struct RsmBlocks {
  double target = 0, nontarget = 0, between = 0, index = 0;
};
RsmBlocks rsm_blocks(const std::vector<double>& x, std::int64_t trials, std::int64_t neurons,
                     const std::vector<std::int32_t>& labels);
// The full RSM [trials, trials] of the trials in the given order.
std::vector<double> rsm_matrix(const std::vector<double>& x, std::int64_t trials, std::int64_t neurons);

// Top-k principal components of x [trials, neurons] (centred per neuron): projections
// [trials, k], the fraction of the total variance of each component, and the components [k,
// neurons] (unit norm, sign: largest-magnitude loading positive), by Jacobi rotations of the
// neurons x neurons covariance.
struct PcaResult {
  std::vector<double> projections, variance_fraction, components;
  std::int64_t k = 0;
};
PcaResult pca(const std::vector<double>& x, std::int64_t trials, std::int64_t neurons, std::int64_t k);

// Sliding-window mean and standard error over days: for each day d in `days` (sorted, distinct),
// the values whose day lies in [d - (window - 1) / 2, d + window / 2]; NaN values are skipped.
// se = sd / sqrt(n) (ddof = 1), NaN when n < 2.
struct WindowStat {
  std::int64_t day = 0, n = 0;
  double mean = 0, se = 0;
};
std::vector<WindowStat> smooth(const std::vector<std::int64_t>& days, const std::vector<double>& values,
                               std::int64_t window);

// Least-squares slope of values over days and Pearson's r (NaN values skipped; NaN when < 2).
struct Trend {
  double slope = 0, r = 0;
};
Trend trend(const std::vector<std::int64_t>& days, const std::vector<double>& values);

}  // namespace groove::decode
