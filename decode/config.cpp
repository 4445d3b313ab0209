// groove decode's config schema, its cross-key checks, and the dataset a config names.
#include <groove/config.h>

#include <filesystem>

#include "decode/decode.h"
#include "runtime/error.h"
#include "sweep/runner_internal.h"
#include "tasks/ndt.h"
#include "tasks/neural_gen.h"
#include "tasks/neural_loaders.h"

namespace groove::decode {

using sweep::KeyType;
using sweep::make_key;
using sweep::with_choices;
using sweep::with_range;
using T = KeyType;

namespace {

constexpr double kInf = 1e308;

std::vector<sweep::KeyInfo> make_schema() {
  std::vector<sweep::KeyInfo> s;
  auto add = [&](sweep::KeyInfo k) { s.push_back(std::move(k)); };
  add(make_key("name", T::string, "decode", "results go to `out`/`name`/"));
  add(make_key("out", T::string, "results", "output root folder"));
  add(make_key("device", T::string, "auto", "auto (the first GPU when present, else the CPU), cpu, cuda or cuda:N"));
  add(with_range(make_key("seed", T::integer, "0", "seed of folds, permutations, pseudo-populations and nulls"), 0,
                 9.2e18));
  // Data.
  add(with_choices(make_key("data.kind", T::string, "synthetic",
                            "synthetic (tasks/neural_gen.h), npz, csv or ndt (Neural Decoding Toolbox rasters)"),
                   {"synthetic", "npz", "csv", "ndt"}));
  add(make_key("data.path", T::string, "",
               "npz: archive or folder; csv: file; ndt: folder of .mat rasters (relative to the config file)"));
  add(with_range(make_key("data.synthetic.subjects", T::integer, "2", "mice"), 1, 1000));
  add(with_range(make_key("data.synthetic.days", T::integer, "5", "sessions per mouse"), 1, 10000));
  add(with_range(make_key("data.synthetic.neurons", T::integer, "40", "neurons per session"), 1, 100000));
  add(with_range(make_key("data.synthetic.target_trials", T::integer, "40", "target trials per session"), 1, 1e7));
  add(with_range(make_key("data.synthetic.nontarget_trials", T::integer, "40", "non-target trials per session"), 1,
                 1e7));
  add(with_range(make_key("data.synthetic.probe_trials", T::integer, "20", "probe trials per session"), 0, 1e7));
  add(with_range(make_key("data.synthetic.nontarget_stimuli", T::integer, "4", "distinct non-target odors"), 1, 1e6));
  add(with_range(make_key("data.synthetic.probe_stimuli", T::integer, "2", "distinct probe odors"), 1, 1e6));
  add(make_key("data.synthetic.baseline_mean", T::number, "8.0", "mean baseline rate on day 1"));
  add(with_range(make_key("data.synthetic.baseline_std", T::number, "2.0", "spread of baselines across neurons"), 0,
                 kInf));
  add(with_range(make_key("data.synthetic.drift", T::number, "0.5", "per-day random-walk step of the baselines"), 0,
                 kInf));
  add(with_range(make_key("data.synthetic.stimulus_spread", T::number, "1.0", "per-odor offsets (orthogonal to w)"), 0,
                 kInf));
  add(with_range(make_key("data.synthetic.noise", T::number, "2.0", "per-trial noise stddev"), 0, kInf, true));
  add(make_key("data.synthetic.separation_start", T::number, "1.0", "target vs non-target separation on day 1"));
  add(make_key("data.synthetic.separation_growth", T::number, "1.0", "separation added per day"));
  add(with_range(make_key("data.synthetic.probe_similarity", T::number, "0.8", "probe position on day 1 (0..1)"), 0,
                 1));
  add(with_range(make_key("data.synthetic.probe_decay", T::number, "0.6", "probe position factor per day"), 0, 1));
  add(make_key("data.synthetic.counts", T::boolean, "true", "spike counts (else Gaussian rates)"));
  add(with_range(make_key("data.synthetic.seed", T::integer, "0", "seed of the generated data"), 0, 9.2e18));
  add(make_key("data.csv.subject_column", T::string, "subject", "csv: column of the subject (mouse)"));
  add(make_key("data.csv.day_column", T::string, "day", "csv: column of the day"));
  add(make_key("data.csv.label_column", T::string, "label", "csv: column of the trial label"));
  add(make_key("data.csv.stimulus_column", T::string, "", "csv: column of the stimulus (odor), optional"));
  add(make_key("data.ndt.onset_bin", T::integer, "5000", "ndt: 0-based bin of the odor onset"));
  add(make_key("data.ndt.window_start", T::integer, "0", "ndt: first bin of the count window relative to onset"));
  add(with_range(make_key("data.ndt.window_bins", T::integer, "500", "ndt: bins in the count window"), 1, 1e9));
  add(make_key("data.ndt.session_fields", T::string_list, "[mouse_name, day_of_behavior]",
               "ndt: raster_labels fields naming the session: subject, then day"));
  add(make_key("data.ndt.label_field", T::string, "stimulus_category_with_probes", "ndt: field of the trial label"));
  add(make_key("data.ndt.stimulus_field", T::string, "", "ndt: field of the stimulus (odor), optional"));
  add(make_key("data.ndt.neuron_field", T::string, "",
               "ndt: field naming the neuron (tracked across sessions); empty: the file name"));
  // Preprocessing.
  add(with_range(make_key("preprocess.min_spikes", T::number, "4",
                          "drop neurons whose summed response over all trials of a session is below this"),
                 -kInf, kInf));
  add(make_key("preprocess.zscore", T::boolean, "true", "z-score each neuron within its session (ddof 0)"));
  add(with_range(make_key("preprocess.pseudo_population", T::integer, "0",
                          "> 0: draw this many neurons per session (without replacement)"),
                 0, 1e9));
  // Decoders.
  add(make_key("decoders", T::string_list, "[lda]",
               "decoders, the first is primary: lda, svm (linear SVM, squared hinge) and/or logistic"));
  add(with_range(make_key("lda.shrinkage", T::number, "0", "LDA covariance shrinkage toward a scaled identity"), 0, 1));
  add(with_range(make_key("svm.c", T::number, "1", "linear SVM decoder: C (sklearn LinearSVC)"), 0, kInf, true));
  add(with_range(make_key("logistic.c", T::number, "1", "logistic decoder: C (sklearn LogisticRegression)"), 0, kInf,
                 true));
  add(with_range(make_key("solver.max_iter", T::integer, "1000", "svm / logistic: iterations"), 1, 1e9));
  add(with_range(make_key("solver.tol", T::number, "1e-8", "svm / logistic: stopping tolerance"), 0, 1, true));
  add(with_range(make_key("cv.folds", T::integer, "10", "cross-validation folds (stratified)"), 2, 1e6));
  add(with_range(make_key("cv.shuffles", T::integer, "20", "repetitions of the cross-validation with new folds"), 1,
                 1e6));
  add(with_range(
      make_key("cv.permutations", T::integer, "1000", "label permutations for the chance level and p-value (0: none)"),
      0, 1e7));
  // Statistics.
  add(make_key("margins.enabled", T::boolean, "true", "max-margin statistics (linear SVM on all trials)"));
  add(with_range(
      make_key("margins.c", T::number, "0", "SVM box relative to the squared feature scale; 0 = hard margin (C = inf)"),
      0, kInf));
  add(with_range(make_key("rsm.null", T::integer, "500", "Gaussian null matrices per session"), 0, 1e7));
  add(make_key("rsm.save", T::boolean, "true", "write every session's RSM to rsm/"));
  add(with_range(make_key("pca.components", T::integer, "3", "principal components per session"), 1, 100));
  add(make_key("generalization", T::boolean, "true",
               "day x day generalization within each subject (needs neurons shared across its sessions)"));
  add(with_range(make_key("flips.overtraining_day", T::integer, "0",
                          "first overtraining day of every subject; 0 = the first session whose primary "
                          "accuracy reaches flips.overtraining_accuracy"),
                 0, 1e9));
  add(with_range(make_key("flips.overtraining_accuracy", T::number, "0.8", "see flips.overtraining_day"), 0, 1));
  add(with_range(make_key("smoothing.window", T::integer, "3", "sliding window over days (days)"), 1, 1e6));
  add(with_choices(make_key("probe_label", T::string, "nontarget", "the correct answer for probe trials"),
                   {"nontarget", "target"}));
  add(make_key("save_preprocessed", T::boolean, "false",
               "write preprocessed.npz (responses, labels, folds per session) for other tools"));
  return s;
}

void check(const sweep::Config& c) {
  const std::vector<std::string> decoders = c.strings("decoders");
  GROOVE_CHECK(!decoders.empty(), c.setting("decoders").where, ": decoders: name at least one of lda, svm, logistic");
  for (std::size_t i = 0; i < decoders.size(); ++i) {
    const std::string& d = decoders[i];
    GROOVE_CHECK(d == "lda" || d == "svm" || d == "logistic", c.setting("decoders").where, ": decoders: unknown '", d,
                 "' (expected lda, svm or logistic)");
    for (std::size_t j = 0; j < i; ++j)
      GROOVE_CHECK(decoders[j] != d, c.setting("decoders").where, ": decoders: '", d, "' appears twice");
  }
  const std::string kind = c.string("data.kind");
  GROOVE_CHECK(kind == "synthetic" || !c.string("data.path").empty(), c.setting("data.kind").where, ": data.kind ",
               kind, " needs data.path");
}

}  // namespace

const std::vector<sweep::KeyInfo>& schema() {
  static const std::vector<sweep::KeyInfo> s = make_schema();
  return s;
}

sweep::Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  sweep::Config c = sweep::Config::load(path, overrides, &schema());
  check(c);
  return c;
}

sweep::Config parse_config(const std::string& yaml_text, const std::string& what,
                           const std::vector<std::string>& overrides) {
  sweep::Config c = sweep::Config::parse(yaml_text, what, overrides, &schema());
  check(c);
  return c;
}

tasks::NeuralDataset load_dataset(const sweep::Config& c) {
  const std::string kind = c.string("data.kind");
  std::string path = c.string("data.path");
  if (!path.empty() && std::filesystem::path(path).is_relative())  // relative to the config file, as runs
    path = (std::filesystem::path(sweep::detail::config_dir(c.source())) / path).string();
  tasks::NeuralDataset data;
  if (kind == "synthetic") {
    tasks::NeuralLikeSpec s;
    s.subjects = c.integer("data.synthetic.subjects");
    s.days = c.integer("data.synthetic.days");
    s.neurons = c.integer("data.synthetic.neurons");
    s.target_trials = c.integer("data.synthetic.target_trials");
    s.nontarget_trials = c.integer("data.synthetic.nontarget_trials");
    s.probe_trials = c.integer("data.synthetic.probe_trials");
    s.nontarget_stimuli = c.integer("data.synthetic.nontarget_stimuli");
    s.probe_stimuli = c.integer("data.synthetic.probe_stimuli");
    s.baseline_mean = c.number("data.synthetic.baseline_mean");
    s.baseline_std = c.number("data.synthetic.baseline_std");
    s.drift = c.number("data.synthetic.drift");
    s.stimulus_spread = c.number("data.synthetic.stimulus_spread");
    s.noise = c.number("data.synthetic.noise");
    s.separation_start = c.number("data.synthetic.separation_start");
    s.separation_growth = c.number("data.synthetic.separation_growth");
    s.probe_similarity = c.number("data.synthetic.probe_similarity");
    s.probe_decay = c.number("data.synthetic.probe_decay");
    s.counts = c.boolean("data.synthetic.counts");
    s.seed = static_cast<std::uint64_t>(c.integer("data.synthetic.seed"));
    data = tasks::generate_neural_like(s);
  } else if (kind == "npz") {
    data = tasks::load_neural_npz(path);
  } else if (kind == "csv") {
    tasks::NeuralCsvOptions o;
    o.subject_column = c.string("data.csv.subject_column");
    o.day_column = c.string("data.csv.day_column");
    o.label_column = c.string("data.csv.label_column");
    o.stimulus_column = c.string("data.csv.stimulus_column");
    data = tasks::load_neural_csv(path, o);
  } else {
    tasks::NdtOptions o;
    o.onset_bin = c.integer("data.ndt.onset_bin");
    o.window_start = c.integer("data.ndt.window_start");
    o.window_bins = c.integer("data.ndt.window_bins");
    o.session_fields = c.strings("data.ndt.session_fields");
    o.label_field = c.string("data.ndt.label_field");
    o.stimulus_field = c.string("data.ndt.stimulus_field");
    o.neuron_field = c.string("data.ndt.neuron_field");
    data = tasks::load_ndt_rasters(path, o);
  }
  GROOVE_CHECK(!data.sessions.empty(), c.source(), ": the dataset (", data.source, ") has no sessions");
  return data;
}

}  // namespace groove::decode
