// Tests of decode/ (groove decode): the host pieces against direct computations, the config, and
// whole pipelines on the synthetic neural-like data (trend recovery, chance level, every input
// format giving the same results).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "decode/decode.h"
#include "metrics/writers.h"
#include "runtime/npy.h"
#include "runtime/philox.h"
#include "tasks/neural_gen.h"
#include "tests/common/mat_writer.h"
#include "tests/common/test_util.h"

namespace groove::decode {
namespace {

using test::TempDir;

std::vector<double> random_matrix(std::int64_t rows, std::int64_t cols, std::uint64_t seed) {
  std::vector<double> v(static_cast<std::size_t>(rows * cols));
  for (std::size_t i = 0; i < v.size(); i += 2) {
    double z0 = 0, z1 = 0;
    normal_pair(philox_block(seed, 7, i / 2), z0, z1);
    v[i] = z0;
    if (i + 1 < v.size()) v[i + 1] = z1;
  }
  return v;
}

// CSV file -> rows of cells (no quoting needed for groove's numeric outputs and plain keys).
std::vector<std::map<std::string, std::string>> read_csv(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::vector<std::string> header;
  std::vector<std::map<std::string, std::string>> rows;
  auto split = [](const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string cell;
    while (std::getline(ss, cell, ',')) out.push_back(cell);
    if (!s.empty() && s.back() == ',') out.push_back("");
    return out;
  };
  if (!std::getline(in, line)) return rows;
  header = split(line);
  while (std::getline(in, line)) {
    const std::vector<std::string> cells = split(line);
    EXPECT_EQ(cells.size(), header.size()) << path << ": " << line;
    std::map<std::string, std::string> row;
    for (std::size_t i = 0; i < header.size() && i < cells.size(); ++i) row[header[i]] = cells[i];
    rows.push_back(row);
  }
  return rows;
}

double num(const std::map<std::string, std::string>& row, const std::string& key) {
  auto it = row.find(key);
  EXPECT_NE(it, row.end()) << "no column " << key;
  if (it == row.end() || it->second.empty()) return std::nan("");
  return std::stod(it->second);
}

TEST(DecodeFolds, StratifiedBalancedDeterministic) {
  std::vector<std::int32_t> labels;
  for (int t = 0; t < 37; ++t) labels.push_back(t % 3 == 0 ? 2 : (t % 3 == 1 ? 1 : 0));
  const auto a = stratified_folds(labels, 5, 3, 11), b = stratified_folds(labels, 5, 3, 11);
  const auto c = stratified_folds(labels, 5, 3, 12);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::map<int, std::map<int, int>> count;  // fold -> label -> n
  for (std::size_t t = 0; t < labels.size(); ++t) {
    if (labels[t] == 2) {
      EXPECT_EQ(a[t], -1);
      continue;
    }
    ASSERT_GE(a[t], 0);
    ASSERT_LT(a[t], 5);
    ++count[a[t]][labels[t]];
  }
  int lo = 1 << 30, hi = 0;
  for (auto& [f, m] : count) {
    lo = std::min(lo, m[0] + m[1]), hi = std::max(hi, m[0] + m[1]);
    EXPECT_GE(m[1], 2);  // 12 targets over 5 folds: 2 or 3 each
    EXPECT_LE(m[1], 3);
  }
  EXPECT_LE(hi - lo, 1);
  const auto p = permutation(50, 1, 2);
  std::set<std::int64_t> seen(p.begin(), p.end());
  EXPECT_EQ(seen.size(), 50u);
  EXPECT_EQ(*seen.begin(), 0);
  EXPECT_EQ(*seen.rbegin(), 49);
}

TEST(DecodeRsm, BlocksEqualTheMeansOfTheFullMatrix) {
  const std::int64_t T = 23, N = 7;
  const std::vector<double> x = random_matrix(T, N, 5);
  std::vector<std::int32_t> labels;
  for (int t = 0; t < T; ++t) labels.push_back(t < 9 ? 1 : t < 20 ? 0 : 2);
  const RsmBlocks b = rsm_blocks(x, T, N, labels);
  const std::vector<double> r = rsm_matrix(x, T, N);
  double within_t = 0, within_n = 0, between = 0;
  int nt = 0, nn = 0, nb = 0;
  for (int i = 0; i < T; ++i) {
    EXPECT_NEAR(r[static_cast<std::size_t>(i * T + i)], 1.0, 1e-12);
    for (int j = 0; j < T; ++j) {
      const double v = r[static_cast<std::size_t>(i * T + j)];
      if (i != j && labels[i] == 1 && labels[j] == 1) within_t += v, ++nt;
      if (i != j && labels[i] == 0 && labels[j] == 0) within_n += v, ++nn;
      if (labels[i] == 1 && labels[j] == 0) between += v, ++nb;
    }
  }
  EXPECT_NEAR(b.target, within_t / nt, 1e-12);
  EXPECT_NEAR(b.nontarget, within_n / nn, 1e-12);
  EXPECT_NEAR(b.between, between / nb, 1e-12);
  EXPECT_NEAR(b.index, (b.target + b.nontarget) / 2 - b.between, 1e-15);
  // Pearson correlation of two trials, directly.
  double ma = 0, mb = 0;
  for (int j = 0; j < N; ++j) ma += x[static_cast<std::size_t>(j)] / N, mb += x[static_cast<std::size_t>(N + j)] / N;
  double sab = 0, saa = 0, sbb = 0;
  for (int j = 0; j < N; ++j) {
    const double da = x[static_cast<std::size_t>(j)] - ma, db = x[static_cast<std::size_t>(N + j)] - mb;
    sab += da * db, saa += da * da, sbb += db * db;
  }
  EXPECT_NEAR(r[1], sab / std::sqrt(saa * sbb), 1e-12);
}

TEST(DecodePca, RecoversKnownAxesAndVariances) {
  // x = a u + b v + small noise, u and v orthonormal, var(a) = 9, var(b) = 1.
  const std::int64_t T = 400, N = 5;
  const std::vector<double> z = random_matrix(T, 3, 9), noise = random_matrix(T, N, 10);
  const double s2 = std::sqrt(0.5);
  const std::vector<double> u = {s2, s2, 0, 0, 0}, v = {0, 0, 1, 0, 0};
  std::vector<double> x(static_cast<std::size_t>(T * N));
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t j = 0; j < N; ++j)
      x[static_cast<std::size_t>(t * N + j)] = 3 * z[static_cast<std::size_t>(t * 3)] * u[static_cast<std::size_t>(j)] +
                                               z[static_cast<std::size_t>(t * 3 + 1)] * v[static_cast<std::size_t>(j)] +
                                               0.01 * noise[static_cast<std::size_t>(t * N + j)] + 2.0;
  const PcaResult p = pca(x, T, N, 3);
  ASSERT_EQ(p.k, 3);
  double d0 = 0, d1 = 0;
  for (int j = 0; j < N; ++j)
    d0 += p.components[static_cast<std::size_t>(j)] * u[static_cast<std::size_t>(j)],
        d1 += p.components[static_cast<std::size_t>(N + j)] * v[static_cast<std::size_t>(j)];
  EXPECT_NEAR(std::fabs(d0), 1.0, 1e-3);
  EXPECT_NEAR(std::fabs(d1), 1.0, 1e-3);
  EXPECT_GT(p.variance_fraction[0], 0.8);
  EXPECT_LT(p.variance_fraction[2], 1e-3);
  // The projections' variance is the component's share of the total variance.
  double total = 0;
  std::vector<double> mean(N, 0.0);
  for (std::int64_t t = 0; t < T; ++t)
    for (int j = 0; j < N; ++j) mean[static_cast<std::size_t>(j)] += x[static_cast<std::size_t>(t * N + j)] / T;
  for (std::int64_t t = 0; t < T; ++t)
    for (int j = 0; j < N; ++j)
      total += std::pow(x[static_cast<std::size_t>(t * N + j)] - mean[static_cast<std::size_t>(j)], 2);
  for (int c = 0; c < 3; ++c) {
    double var = 0;
    for (std::int64_t t = 0; t < T; ++t) var += std::pow(p.projections[static_cast<std::size_t>(t * 3 + c)], 2);
    EXPECT_NEAR(var / total, p.variance_fraction[static_cast<std::size_t>(c)], 1e-9);
  }
}

TEST(DecodeSmoothing, WindowMeansAndTrend) {
  const std::vector<std::int64_t> days = {1, 2, 3, 4, 6};
  const std::vector<double> v = {1, 2, 4, std::nan(""), 10};
  const std::vector<WindowStat> w = smooth(days, v, 3);
  ASSERT_EQ(w.size(), 5u);
  EXPECT_EQ(w[0].day, 1);
  EXPECT_EQ(w[0].n, 2);  // days 0..2
  EXPECT_DOUBLE_EQ(w[0].mean, 1.5);
  EXPECT_NEAR(w[0].se, std::sqrt(0.5) / std::sqrt(2.0), 1e-15);
  EXPECT_EQ(w[1].n, 3);
  EXPECT_NEAR(w[1].mean, 7.0 / 3, 1e-15);
  EXPECT_EQ(w[3].n, 1);  // day 4: days 3..5, NaN skipped
  EXPECT_TRUE(std::isnan(w[3].se));
  EXPECT_DOUBLE_EQ(w[4].mean, 10);
  const Trend t = trend({1, 2, 3}, {1, 3, 5});
  EXPECT_NEAR(t.slope, 2, 1e-15);
  EXPECT_NEAR(t.r, 1, 1e-15);
}

TEST(DecodePreprocess, DropsSilentAndConstantNeuronsAndZScores) {
  tasks::NeuralSession s;
  s.subject = "M1";
  s.key = "M1/day1";
  s.day = 1;
  const std::int64_t T = 6;
  std::vector<double> r;
  for (std::int64_t t = 0; t < T; ++t) {
    r.push_back(static_cast<double>(t));  // kept
    r.push_back(t == 0 ? 1.0 : 0.0);      // 1 spike in total: dropped
    r.push_back(5.0);                     // constant: dropped
    r.push_back(static_cast<double>(t % 2) * 3);
  }
  s.responses = Tensor::from_vector<double>({T, 4}, r);
  s.labels = {1, 0, 1, 0, 2, 1};
  s.stimulus = {0, 1, 0, 1, 2, 0};
  s.neuron_ids = {"a", "b", "c", "d"};
  const Session p = preprocess(s, PreprocessOptions{}, 0);
  EXPECT_EQ(p.neurons, 2);
  EXPECT_EQ(p.dropped, 2);
  EXPECT_EQ(p.neuron_ids, (std::vector<std::string>{"a", "d"}));
  for (int j = 0; j < 2; ++j) {
    double m = 0, ss = 0;
    for (std::int64_t t = 0; t < T; ++t) m += p.x[static_cast<std::size_t>(t * 2 + j)] / T;
    for (std::int64_t t = 0; t < T; ++t) ss += std::pow(p.x[static_cast<std::size_t>(t * 2 + j)] - m, 2) / T;
    EXPECT_NEAR(m, 0, 1e-12);
    EXPECT_NEAR(ss, 1, 1e-12);
  }
  PreprocessOptions pseudo;
  pseudo.pseudo_population = 1;
  EXPECT_EQ(preprocess(s, pseudo, 0).neurons, 1);
  pseudo.pseudo_population = 3;
  EXPECT_TRUE(test::throws_mentioning([&] { preprocess(s, pseudo, 0); }, {"M1/day1", "pseudo_population"}));
}

TEST(DecodeConfig, ErrorsNameTheFileKeyAndNearestKey) {
  TempDir dir;
  const std::string path = dir.file("d.yaml");
  std::ofstream(path) << "name: x\ncv:\n  fold: 3\n";
  EXPECT_TRUE(test::throws_mentioning([&] { load_config(path); }, {"d.yaml:3", "cv.fold", "cv.folds"}));
  EXPECT_TRUE(test::throws_mentioning([&] { parse_config("decoders: [lda, qda]\n", "x.yaml"); }, {"qda"}));
  EXPECT_TRUE(test::throws_mentioning([&] { parse_config("data:\n  kind: npz\n", "x.yaml"); }, {"data.path"}));
  EXPECT_TRUE(test::throws_mentioning([&] { parse_config("cv:\n  folds: 1\n", "x.yaml"); }, {"cv.folds"}));
  const sweep::Config c = parse_config("", "empty", {"cv.shuffles=3"});
  EXPECT_EQ(c.integer("cv.shuffles"), 3);
  EXPECT_EQ(c.integer("cv.folds"), 10);
  EXPECT_EQ(c.integer("cv.permutations"), 1000);
  EXPECT_EQ(c.integer("rsm.null"), 500);
}

TEST(DecodeConfig, DocsTableIsCurrent) {
  const std::string doc = test::read_file(std::string(GROOVE_SOURCE_DIR) + "/docs/decode.md");
  EXPECT_NE(doc.find(sweep::schema_markdown(schema())), std::string::npos)
      << "docs/decode.md's key table is out of date: regenerate it with `groove config --schema decode`";
}

// A small synthetic study decoded end to end.
std::vector<std::string> small_overrides(const std::string& out) {
  return {"out=" + out,
          "name=study",
          "data.synthetic.subjects=2",
          "data.synthetic.days=6",
          "data.synthetic.neurons=20",
          "data.synthetic.target_trials=30",
          "data.synthetic.nontarget_trials=30",
          "data.synthetic.probe_trials=12",
          "data.synthetic.separation_start=0.2",
          "data.synthetic.separation_growth=0.6",
          "data.synthetic.seed=3",
          "cv.shuffles=4",
          "cv.permutations=40",
          "rsm.null=40",
          "decoders=[lda, svm, logistic]",
          "device=cpu"};
}

// The generator spec small_overrides() describes, with `days` days.
tasks::NeuralLikeSpec small_spec(std::int64_t days) {
  tasks::NeuralLikeSpec spec;
  spec.subjects = 2, spec.days = days, spec.neurons = 20, spec.target_trials = 30, spec.nontarget_trials = 30;
  spec.probe_trials = 12, spec.separation_start = 0.2, spec.separation_growth = 0.6, spec.seed = 3;
  return spec;
}

// small_overrides() shortened to 3 days, few permutations and nulls, with these decoders.
std::vector<std::string> three_day_overrides(const std::string& out, const std::string& decoders) {
  std::vector<std::string> ov = small_overrides(out);
  for (const char* o : {"data.synthetic.days=3", "cv.permutations=10", "rsm.null=5"}) ov.push_back(o);
  ov.push_back("decoders=" + decoders);
  return ov;
}

TEST(DecodePipeline, RecoversTheGrowingSeparation) {
  TempDir dir;
  DecodeOptions o;
  o.progress = false;
  const sweep::Config c = parse_config("", "test", small_overrides(dir.path()));
  const DecodeResult r = run_decode(c, o);
  EXPECT_EQ(r.sessions, 12);
  const std::string d = dir.path() + "/study";
  for (const char* f : {"sessions.csv", "days.csv", "stimuli.csv", "flips.csv", "generalization.csv", "summary.json",
                        "decode.json", "decode.yaml", "rsm/M1_day1.npy", "rsm/M2_day6.null.npy", "pca/M1_day6.npy",
                        "pca/M1_day6.labels.npy", "pca/M2_day1.centres.npy"})
    EXPECT_TRUE(std::filesystem::exists(d + "/" + f)) << f;
  const auto rows = read_csv(d + "/sessions.csv");
  ASSERT_EQ(rows.size(), 12u);
  tasks::NeuralLikeTruth truth;
  const tasks::NeuralLikeSpec spec = small_spec(6);
  tasks::generate_neural_like(spec, &truth);
  for (std::size_t s = 0; s < rows.size(); ++s) {
    const auto& row = rows[s];
    for (const char* dec : {"lda", "svm", "logistic"}) {
      const double acc = num(row, std::string(dec) + "_accuracy");
      EXPECT_GE(acc, 0.0);
      EXPECT_LE(acc, 1.0);
      // Cross-validated accuracy cannot beat the Bayes-optimal accuracy of the generative model
      // (beyond sampling noise); with 20 neurons and 54 training trials it falls well short of it.
      EXPECT_LE(acc, truth.ideal_accuracy[s] + 0.15) << row.at("key") << " " << dec;
      EXPECT_NEAR(num(row, std::string(dec) + "_chance"), 0.5, 0.1) << row.at("key");
    }
    EXPECT_EQ(num(row, "trials_target"), 30);
    EXPECT_EQ(num(row, "trials_probe"), 12);
  }
  // Per subject: accuracy and margins grow with the day; the last day is decoded far above chance.
  const auto summary = nlohmann::json::parse(test::read_file(d + "/summary.json"));
  for (const char* subj : {"M1", "M2", "pooled"}) {
    EXPECT_GT(summary["trend"][subj]["lda_accuracy"]["slope"].get<double>(), 0.03) << subj;
    EXPECT_GT(summary["trend"][subj]["lda_accuracy"]["r"].get<double>(), 0.6) << subj;
    EXPECT_GT(summary["trend"][subj]["closest5_norm"]["slope"].get<double>(), 0) << subj;
    EXPECT_GT(summary["trend"][subj]["rsm_index"]["slope"].get<double>(), 0) << subj;
  }
  const auto& first = rows[0];
  const auto& last = rows[5];
  EXPECT_LT(num(first, "lda_accuracy") + 0.2, num(last, "lda_accuracy"));
  EXPECT_LE(num(last, "lda_p"), 1.0 / 41 + 1e-12);  // no permutation reaches the real accuracy
  EXPECT_GT(num(last, "rsm_z"), num(first, "rsm_z"));
  // Probes move toward the non-targets over days: decoded as non-target more often.
  EXPECT_GT(num(last, "lda_probe_accuracy"), num(first, "lda_probe_accuracy"));
  // Days and pooled rows.
  const auto days = read_csv(d + "/days.csv");
  int pooled = 0;
  for (const auto& row : days) pooled += row.at("subject") == "pooled";
  EXPECT_EQ(pooled, 6);
  EXPECT_EQ(days.size(), 18u);
  // Generalization: a full day x day matrix per subject, diagonal = the cross-validated accuracy.
  const auto gen = read_csv(d + "/generalization.csv");
  EXPECT_EQ(gen.size(), 2u * 36u);
  EXPECT_DOUBLE_EQ(num(gen[0], "accuracy"), num(rows[0], "lda_accuracy"));
  // Flips: every stimulus of every subject has a row.
  const auto flips = read_csv(d + "/flips.csv");
  EXPECT_EQ(flips.size(), 2u * (1 + 4 + 2));
}

// The same dataset through the NPZ and CSV loaders gives the same sessions.csv.
TEST(DecodePipeline, NpzAndCsvInputsGiveTheSameResults) {
  TempDir dir;
  DecodeOptions o;
  o.progress = false;
  std::vector<std::string> ov = three_day_overrides(dir.path(), "[lda]");
  run_decode(parse_config("", "test", ov), o);
  const std::string reference = test::read_file(dir.path() + "/study/sessions.csv");
  // Write the generated dataset as NPZ and as CSV.
  const tasks::NeuralDataset data = tasks::generate_neural_like(small_spec(3));
  std::vector<NamedTensor> arrays;
  std::vector<std::int32_t> subject, day;
  std::ostringstream csv;
  csv << "subject,day,label,stimulus";
  for (int n = 0; n < 20; ++n) csv << ",n" << n;
  csv << '\n';
  for (std::size_t i = 0; i < data.sessions.size(); ++i) {
    const tasks::NeuralSession& s = data.sessions[i];
    arrays.push_back({"responses_" + std::to_string(i), s.responses});
    arrays.push_back(
        {"labels_" + std::to_string(i), Tensor::from_vector<std::int32_t>({s.responses.dim(0)}, s.labels)});
    arrays.push_back(
        {"stimulus_" + std::to_string(i), Tensor::from_vector<std::int32_t>({s.responses.dim(0)}, s.stimulus)});
    subject.push_back(s.subject == "M1" ? 0 : 1);
    day.push_back(static_cast<std::int32_t>(s.day));
    for (std::int64_t t = 0; t < s.responses.dim(0); ++t) {
      csv << s.subject << ',' << s.day << ',' << s.labels[static_cast<std::size_t>(t)] << ','
          << s.stimulus[static_cast<std::size_t>(t)];
      for (int n = 0; n < 20; ++n) csv << ',' << metrics::csv_number(s.responses.data<double>()[t * 20 + n]);
      csv << '\n';
    }
  }
  arrays.push_back(
      {"subject", Tensor::from_vector<std::int32_t>({static_cast<std::int64_t>(subject.size())}, subject)});
  arrays.push_back({"day", Tensor::from_vector<std::int32_t>({static_cast<std::int64_t>(day.size())}, day)});
  write_npz(dir.file("data.npz"), arrays);
  std::ofstream(dir.file("data.neural.json")) << R"({"subjects": ["M1", "M2"]})";
  std::ofstream(dir.file("data.csv")) << csv.str();
  for (const char* kind : {"npz", "csv"}) {
    std::vector<std::string> ov2 = ov;
    ov2.push_back(std::string("data.kind=") + kind);
    ov2.push_back("data.path=" + dir.file(std::string("data.") + kind));
    ov2.push_back(std::string("name=") + kind);
    if (std::string(kind) == "csv") ov2.push_back("data.csv.stimulus_column=stimulus");
    run_decode(parse_config("", "test", ov2), o);
    EXPECT_EQ(test::read_file(dir.path() + "/" + kind + "/sessions.csv"), reference) << kind;
  }
}

// The same dataset as Neural Decoding Toolbox rasters (one .mat file per neuron and session, spike
// trains in 1-ms bins with spikes outside the count window, neurons named by a label field so that
// they are tracked across days) gives the synthetic run's results, generalization included.
TEST(DecodePipeline, NdtRastersGiveTheSameResults) {
  TempDir dir;
  DecodeOptions o;
  o.progress = false;
  std::vector<std::string> ov = three_day_overrides(dir.path(), "[lda, svm]");
  run_decode(parse_config("", "test", ov), o);
  const tasks::NeuralDataset data = tasks::generate_neural_like(small_spec(3));
  std::filesystem::create_directories(dir.file("rasters"));
  test::NdtStudyLayout layout;  // 120 bins, window [45, 95), 3 spikes per trial outside it
  test::write_ndt_study(dir.file("rasters"), data, layout);
  ASSERT_EQ(std::distance(std::filesystem::directory_iterator(dir.file("rasters")), {}), 2 * 3 * 20);
  ov.push_back("data.kind=ndt");
  ov.push_back("data.path=" + dir.file("rasters"));
  ov.push_back("data.ndt.onset_bin=40");
  ov.push_back("data.ndt.window_start=5");
  ov.push_back("data.ndt.window_bins=50");
  ov.push_back("data.ndt.stimulus_field=odor");
  ov.push_back("data.ndt.neuron_field=neuron");
  ov.push_back("name=ndt");
  EXPECT_EQ(run_decode(parse_config("", "test", ov), o).sessions, 6);
  for (const char* f : {"sessions.csv", "days.csv", "generalization.csv", "flips.csv", "stimuli.csv", "rsm/M2_day3.npy",
                        "pca/M1_day2.npy"})
    EXPECT_EQ(test::read_file(dir.path() + "/ndt/" + f), test::read_file(dir.path() + "/study/" + f)) << f;
  // A window that misses the counts decodes nothing above chance... and is different.
  ov.push_back("data.ndt.window_start=-40");
  ov.push_back("data.ndt.window_bins=40");
  ov.push_back("name=pre_onset");
  run_decode(parse_config("", "test", ov), o);
  EXPECT_NE(test::read_file(dir.path() + "/pre_onset/sessions.csv"), test::read_file(dir.path() + "/study/sessions.csv"));
}

}  // namespace
}  // namespace groove::decode
