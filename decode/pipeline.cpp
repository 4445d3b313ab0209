// groove decode's pipeline (decode/decode.h, docs/decode.md): preprocessing, batched decoding on
// the device, statistics, and the output folder.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>
#include <sstream>

#include "decode/decode.h"
#include "kernels/decode_ops.h"
#include "metrics/svm.h"
#include "metrics/writers.h"
#include "runtime/context.h"
#include "runtime/device.h"
#include "runtime/error.h"
#include "runtime/npy.h"
#include "runtime/philox.h"

namespace groove::decode {

namespace fs = std::filesystem;
using metrics::csv_field;
using metrics::csv_number;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr std::int32_t kTarget = static_cast<std::int32_t>(tasks::TrialLabel::target);
constexpr std::int32_t kNontarget = static_cast<std::int32_t>(tasks::TrialLabel::nontarget);
constexpr std::int32_t kProbe = static_cast<std::int32_t>(tasks::TrialLabel::probe);

// Philox streams of the pipeline's random draws (all from the config's seed).
std::uint64_t fold_stream(std::int64_t s, std::int64_t r) {
  return 0x464F000000000000ull + (static_cast<std::uint64_t>(s) << 24) + static_cast<std::uint64_t>(r);
}
std::uint64_t perm_stream(std::int64_t s, std::int64_t p) {
  return 0x5045000000000000ull + (static_cast<std::uint64_t>(s) << 24) + static_cast<std::uint64_t>(p);
}
std::uint64_t null_stream(std::int64_t s) {
  return 0x4E55000000000000ull + static_cast<std::uint64_t>(s);
}

bool decoded(std::int32_t label) {
  return label == kTarget || label == kNontarget;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string file_key(const std::string& key) {
  std::string k = key;
  for (char& ch : k)
    if (ch == '/' || ch == '\\' || ch == ' ') ch = '_';
  return k;
}

Tensor on(const Tensor& host, Context& ctx) {
  return ctx.device().is_cpu() ? host : host.to(ctx);
}

double mean_of(const std::vector<double>& v) {
  double s = 0;
  std::int64_t n = 0;
  for (double x : v)
    if (!std::isnan(x)) s += x, ++n;
  return n ? s / static_cast<double>(n) : kNaN;
}

// Sample standard deviation (ddof = 1) of the non-NaN values, and the standard error of their mean.
double sd_of(const std::vector<double>& v, std::int64_t* count = nullptr) {
  const double m = mean_of(v);
  double ss = 0;
  std::int64_t n = 0;
  for (double x : v)
    if (!std::isnan(x)) ss += (x - m) * (x - m), ++n;
  if (count) *count = n;
  return n > 1 ? std::sqrt(ss / static_cast<double>(n - 1)) : kNaN;
}

double se_of(const std::vector<double>& v) {
  std::int64_t n = 0;
  const double sd = sd_of(v, &n);
  return sd / std::sqrt(static_cast<double>(n));
}

// Per-session results (NaN = not computed).
struct DecoderStats {
  double accuracy = kNaN, accuracy_se = kNaN, chance = kNaN, chance_sd = kNaN, p = kNaN, probe_accuracy = kNaN;
};
struct SessionStats {
  std::vector<DecoderStats> decoders;
  double margin = kNaN, closest1 = kNaN, closest5 = kNaN, separable = kNaN;
  double margin_norm = kNaN, closest1_norm = kNaN, closest5_norm = kNaN;
  RsmBlocks rsm{kNaN, kNaN, kNaN, kNaN};
  double rsm_null_mean = kNaN, rsm_null_sd = kNaN, rsm_z = kNaN, rsm_p = kNaN;
  std::vector<double> pca_var;
  // Primary decoder: how often each trial was decoded correctly (CV for target / non-target trials,
  // the all-trials fit for probes), as a fraction.
  std::vector<double> trial_correct;
};

// The batched decoding of one decoder type: every session x shuffle x fold, every session x
// permutation x fold, and one fit on all trials per session, in chunks of models.
struct DecodeBatch {
  const std::vector<Session>* sessions = nullptr;
  std::vector<std::vector<std::vector<std::int32_t>>> folds;  // [s][r][t]
  std::int64_t shuffles = 0, permutations = 0, nfolds = 0, T = 0;
  std::uint64_t seed = 0;
  std::string probe_label;
};

void decode_all(const DecodeBatch& b, const Tensor& x, const Tensor& features, const ops::DecoderSpec& spec,
                bool primary, std::vector<SessionStats>& stats, std::size_t decoder_index, Context& ctx,
                std::int64_t& models, std::int64_t& failed) {
  const std::vector<Session>& sessions = *b.sessions;
  const std::int64_t S = static_cast<std::int64_t>(sessions.size()), T = b.T, F = b.nfolds;
  const std::int64_t R = b.shuffles, P = b.permutations;
  const std::int64_t block = (R + P) * F + 1;
  const std::int64_t total = S * block;
  models += total;
  // Permuted labels of every session (for the chance level): [s][p][t] built on demand per chunk.
  std::vector<std::vector<std::int64_t>> correct_cv(static_cast<std::size_t>(S)),
      correct_perm(static_cast<std::size_t>(S));
  std::vector<std::vector<std::int64_t>> trial_hits(static_cast<std::size_t>(S));
  std::vector<std::vector<std::int32_t>> dec_index(static_cast<std::size_t>(S));  // trials decoded
  for (std::int64_t s = 0; s < S; ++s) {
    correct_cv[static_cast<std::size_t>(s)].assign(static_cast<std::size_t>(R), 0);
    correct_perm[static_cast<std::size_t>(s)].assign(static_cast<std::size_t>(P), 0);
    trial_hits[static_cast<std::size_t>(s)].assign(
        static_cast<std::size_t>(sessions[static_cast<std::size_t>(s)].trials), 0);
    for (std::int64_t t = 0; t < sessions[static_cast<std::size_t>(s)].trials; ++t)
      if (decoded(sessions[static_cast<std::size_t>(s)].labels[static_cast<std::size_t>(t)]))
        dec_index[static_cast<std::size_t>(s)].push_back(static_cast<std::int32_t>(t));
  }
  const std::int64_t chunk =
      std::max<std::int64_t>(1, std::min<std::int64_t>(total, (std::int64_t(256) << 20) / (T * 24)));
  std::vector<std::int32_t> perm_labels;
  std::int64_t perm_s = -1, perm_p = -1;
  for (std::int64_t m0 = 0; m0 < total; m0 += chunk) {
    const std::int64_t kc = std::min(chunk, total - m0);
    Tensor train = Tensor::host_zeros({kc, T}, DType::f64), labels = Tensor::host_zeros({kc, T}, DType::i32);
    Tensor session = Tensor::host({kc}, DType::i32);
    double* tr = train.data<double>();
    std::int32_t* lb = labels.data<std::int32_t>();
    auto permuted = [&](std::int64_t s, std::int64_t p) -> const std::vector<std::int32_t>& {
      if (s != perm_s || p != perm_p) {
        const Session& ss = sessions[static_cast<std::size_t>(s)];
        const std::vector<std::int32_t>& idx = dec_index[static_cast<std::size_t>(s)];
        const std::vector<std::int64_t> order =
            permutation(static_cast<std::int64_t>(idx.size()), b.seed, perm_stream(s, p));
        perm_labels = ss.labels;
        for (std::size_t i = 0; i < idx.size(); ++i)
          perm_labels[static_cast<std::size_t>(idx[i])] =
              ss.labels[static_cast<std::size_t>(idx[static_cast<std::size_t>(order[i])])];
        perm_s = s, perm_p = p;
      }
      return perm_labels;
    };
    for (std::int64_t k = 0; k < kc; ++k) {
      const std::int64_t m = m0 + k, s = m / block, within = m % block;
      const Session& ss = sessions[static_cast<std::size_t>(s)];
      session.flat<std::int32_t>(k) = static_cast<std::int32_t>(s);
      const std::vector<std::int32_t>* lab = &ss.labels;
      const std::vector<std::int32_t>* fold = nullptr;
      std::int64_t f = -1;
      if (within < R * F) {
        fold = &b.folds[static_cast<std::size_t>(s)][static_cast<std::size_t>(within / F)];
        f = within % F;
      } else if (within < (R + P) * F) {
        const std::int64_t p = (within - R * F) / F;
        fold = &b.folds[static_cast<std::size_t>(s)][0];
        f = (within - R * F) % F;
        lab = &permuted(s, p);
      }
      for (std::int32_t t : dec_index[static_cast<std::size_t>(s)]) {
        const bool in_train = fold == nullptr || (*fold)[static_cast<std::size_t>(t)] != f;
        tr[k * T + t] = in_train ? 1.0 : 0.0;
        lb[k * T + t] = (*lab)[static_cast<std::size_t>(t)] == kTarget ? 1 : 0;
      }
    }
    Tensor weights = Tensor::empty({kc, x.dim(2) + 1}, DType::f64, ctx);
    Tensor scores = Tensor::empty({kc, T}, DType::f64, ctx);
    Tensor info = Tensor::empty({kc}, DType::i32, ctx);
    ops::fit_linear_decoders(weights, scores, info, x, features, on(session, ctx), on(train, ctx), on(labels, ctx),
                             spec, ctx);
    const std::vector<double> sc = scores.to_vector<double>();
    const std::vector<std::int32_t> inf = info.to_vector<std::int32_t>();
    for (std::int64_t k = 0; k < kc; ++k) {
      if (inf[static_cast<std::size_t>(k)] != 0) ++failed;
      const std::int64_t m = m0 + k, s = m / block, within = m % block;
      const Session& ss = sessions[static_cast<std::size_t>(s)];
      const double* score = sc.data() + k * T;
      if (within < (R + P) * F) {
        const bool cv = within < R * F;
        const std::int64_t rp = cv ? within / F : (within - R * F) / F;
        const std::int64_t f = cv ? within % F : (within - R * F) % F;
        const std::vector<std::int32_t>& fold =
            b.folds[static_cast<std::size_t>(s)][static_cast<std::size_t>(cv ? rp : 0)];
        const std::vector<std::int32_t>& lab = cv ? ss.labels : permuted(s, rp);
        std::int64_t hits = 0;
        for (std::int32_t t : dec_index[static_cast<std::size_t>(s)]) {
          if (fold[static_cast<std::size_t>(t)] != f) continue;
          const bool hit = (score[t] > 0) == (lab[static_cast<std::size_t>(t)] == kTarget);
          hits += hit;
          if (cv && hit) ++trial_hits[static_cast<std::size_t>(s)][static_cast<std::size_t>(t)];
        }
        (cv ? correct_cv : correct_perm)[static_cast<std::size_t>(s)][static_cast<std::size_t>(rp)] += hits;
      } else {  // the fit on all trials: probe trials
        std::int64_t probes = 0, right = 0;
        const bool want_target = b.probe_label == "target";
        for (std::int64_t t = 0; t < ss.trials; ++t) {
          if (ss.labels[static_cast<std::size_t>(t)] != kProbe) continue;
          const bool hit = (score[t] > 0) == want_target;
          ++probes;
          right += hit;
          if (primary && hit) trial_hits[static_cast<std::size_t>(s)][static_cast<std::size_t>(t)] = R;
        }
        if (probes > 0)
          stats[static_cast<std::size_t>(s)].decoders[decoder_index].probe_accuracy =
              static_cast<double>(right) / static_cast<double>(probes);
      }
    }
  }
  for (std::int64_t s = 0; s < S; ++s) {
    const double n = static_cast<double>(dec_index[static_cast<std::size_t>(s)].size());
    DecoderStats& d = stats[static_cast<std::size_t>(s)].decoders[decoder_index];
    std::vector<double> acc, null;
    for (std::int64_t h : correct_cv[static_cast<std::size_t>(s)]) acc.push_back(static_cast<double>(h) / n);
    for (std::int64_t h : correct_perm[static_cast<std::size_t>(s)]) null.push_back(static_cast<double>(h) / n);
    d.accuracy = mean_of(acc);
    d.accuracy_se = se_of(acc);
    if (P > 0) {
      d.chance = mean_of(null);
      d.chance_sd = sd_of(null);
      std::int64_t above = 0;
      for (double v : null) above += v >= d.accuracy;
      d.p = static_cast<double>(1 + above) / static_cast<double>(1 + P);
    }
    if (primary) {
      const Session& ss = sessions[static_cast<std::size_t>(s)];
      std::vector<double>& tc = stats[static_cast<std::size_t>(s)].trial_correct;
      tc.assign(static_cast<std::size_t>(ss.trials), kNaN);
      for (std::int64_t t = 0; t < ss.trials; ++t) {
        const std::int32_t l = ss.labels[static_cast<std::size_t>(t)];
        if (decoded(l) || l == kProbe)
          tc[static_cast<std::size_t>(t)] =
              static_cast<double>(trial_hits[static_cast<std::size_t>(s)][static_cast<std::size_t>(t)]) /
              static_cast<double>(R);
      }
    }
  }
}

// The session's trials in the order target, non-target, probe (stable within each).
std::vector<std::int64_t> class_order(const Session& s) {
  std::vector<std::int64_t> order;
  for (std::int32_t cls : {kTarget, kNontarget, kProbe})
    for (std::int64_t t = 0; t < s.trials; ++t)
      if (s.labels[static_cast<std::size_t>(t)] == cls) order.push_back(t);
  return order;
}

Tensor f32_tensor(const std::vector<double>& v, const Shape& shape) {
  Tensor t = Tensor::host(shape, DType::f32);
  for (std::size_t i = 0; i < v.size(); ++i) t.data<float>()[i] = static_cast<float>(v[i]);
  return t;
}

void write_text(const std::string& path, const std::string& text) {
  write_file_atomic(path, text);
}

ops::DecoderSpec decoder_spec(const sweep::Config& c, const std::string& name) {
  ops::DecoderSpec spec;
  spec.kind = name == "lda"   ? ops::DecoderKind::lda
              : name == "svm" ? ops::DecoderKind::svm
                              : ops::DecoderKind::logistic;
  spec.shrinkage = c.number("lda.shrinkage");
  spec.c = name == "svm" ? c.number("svm.c") : c.number("logistic.c");
  spec.max_iter = c.integer("solver.max_iter");
  spec.tol = c.number("solver.tol");
  return spec;
}

void say(bool progress, const std::string& text) {
  if (progress) std::cerr << "[groove decode] " << text << std::endl;
}

}  // namespace

DecodeResult run_decode(const std::string& config_path, const DecodeOptions& options) {
  return run_decode(load_config(config_path, options.overrides), options);
}

DecodeResult run_decode(const sweep::Config& c, const DecodeOptions& options) {
  const auto t_start = std::chrono::steady_clock::now();
  nlohmann::json timings;
  DecodeResult result;
  result.dir = (fs::path(c.string("out")) / c.string("name")).string();
  const std::uint64_t seed = static_cast<std::uint64_t>(c.integer("seed"));

  auto t0 = std::chrono::steady_clock::now();
  const tasks::NeuralDataset data = load_dataset(c);
  data.validate(data.source);
  timings["load"] = seconds_since(t0);

  t0 = std::chrono::steady_clock::now();
  PreprocessOptions po;
  po.min_spikes = c.number("preprocess.min_spikes");
  po.zscore = c.boolean("preprocess.zscore");
  po.pseudo_population = c.integer("preprocess.pseudo_population");
  po.seed = seed;
  std::vector<Session> sessions;
  for (std::size_t i = 0; i < data.sessions.size(); ++i)
    sessions.push_back(preprocess(data.sessions[i], po, static_cast<std::int64_t>(i)));
  const std::int64_t S = static_cast<std::int64_t>(sessions.size());
  std::int64_t T = 1, Fmax = 1;
  for (const Session& s : sessions) {
    T = std::max(T, s.trials);
    Fmax = std::max(Fmax, s.neurons);
    std::int64_t nt = 0, nn = 0;
    for (std::int32_t l : s.labels) nt += l == kTarget, nn += l == kNontarget;
    GROOVE_CHECK(nt >= 2 && nn >= 2, data.source, ": session ", s.key, " has ", nt, " target and ", nn,
                 " non-target trials; decoding needs at least 2 of each");
    GROOVE_CHECK(s.neurons >= 1, data.source, ": session ", s.key, " has no neuron left after preprocessing (",
                 s.dropped, " dropped: summed response below preprocess.min_spikes = ", po.min_spikes,
                 ", or constant)");
  }
  timings["preprocess"] = seconds_since(t0);
  result.sessions = S;
  Context ctx(resolve_device(c.string("device")));
  say(options.progress, std::to_string(S) + " sessions, up to " + std::to_string(T) + " trials x " +
                            std::to_string(Fmax) + " neurons, on " + ctx.device().str());

  // Responses padded to [S, T, Fmax] on the device.
  Tensor xh = Tensor::host_zeros({S, T, Fmax}, DType::f64), fh = Tensor::host({S}, DType::i32);
  for (std::int64_t s = 0; s < S; ++s) {
    const Session& ss = sessions[static_cast<std::size_t>(s)];
    fh.flat<std::int32_t>(s) = static_cast<std::int32_t>(ss.neurons);
    for (std::int64_t t = 0; t < ss.trials; ++t)
      std::copy_n(ss.x.data() + t * ss.neurons, ss.neurons, xh.data<double>() + (s * T + t) * Fmax);
  }
  const Tensor x = on(xh, ctx), features = on(fh, ctx);

  DecodeBatch b;
  b.sessions = &sessions;
  b.shuffles = c.integer("cv.shuffles");
  b.permutations = c.integer("cv.permutations");
  b.nfolds = c.integer("cv.folds");
  b.T = T;
  b.seed = seed;
  b.probe_label = c.string("probe_label");
  for (std::int64_t s = 0; s < S; ++s) {
    b.folds.emplace_back();
    for (std::int64_t r = 0; r < b.shuffles; ++r)
      b.folds.back().push_back(stratified_folds(sessions[static_cast<std::size_t>(s)].labels,
                                                static_cast<int>(b.nfolds), seed, fold_stream(s, r)));
  }
  const std::vector<std::string> decoders = c.strings("decoders");
  std::vector<SessionStats> stats(static_cast<std::size_t>(S));
  for (SessionStats& st : stats) st.decoders.resize(decoders.size());
  nlohmann::json decoder_info;
  t0 = std::chrono::steady_clock::now();
  for (std::size_t d = 0; d < decoders.size(); ++d) {
    const auto td = std::chrono::steady_clock::now();
    std::int64_t models = 0, failed = 0;
    decode_all(b, x, features, decoder_spec(c, decoders[d]), d == 0, stats, d, ctx, models, failed);
    result.models += models;
    decoder_info[decoders[d]] = {{"models", models}, {"not_ok", failed}, {"seconds", seconds_since(td)}};
    say(options.progress,
        decoders[d] + ": " + std::to_string(models) + " models in " + std::to_string(seconds_since(td)) + " s");
  }
  timings["decode"] = seconds_since(t0);

  // Max-margin statistics: one SVM per session on all target / non-target trials.
  t0 = std::chrono::steady_clock::now();
  if (c.boolean("margins.enabled")) {
    metrics::SvmOptions so;
    const double box = c.number("margins.c");
    so.c = box > 0 ? box : std::numeric_limits<double>::infinity();
    for (std::int64_t s = 0; s < S; ++s) {
      const Session& ss = sessions[static_cast<std::size_t>(s)];
      std::vector<double> feats;
      std::vector<std::int32_t> labs;
      for (std::int64_t t = 0; t < ss.trials; ++t) {
        if (!decoded(ss.labels[static_cast<std::size_t>(t)])) continue;
        feats.insert(feats.end(), ss.x.begin() + t * ss.neurons, ss.x.begin() + (t + 1) * ss.neurons);
        labs.push_back(ss.labels[static_cast<std::size_t>(t)] == kTarget ? 1 : 0);
      }
      const std::int64_t n = static_cast<std::int64_t>(labs.size());
      const Tensor fx = on(Tensor::from_vector<double>({1, n, ss.neurons}, feats), ctx);
      const metrics::SvmStats sv =
          metrics::svm_max_margin(fx, Tensor::from_vector<std::int32_t>({n}, labs), 2, so, ctx);
      SessionStats& st = stats[static_cast<std::size_t>(s)];
      st.margin = sv.margin[0];
      st.closest1 = sv.closest_1pct[0];
      st.closest5 = sv.closest_5pct[0];
      st.separable = sv.separable[0];
    }
    // Normalized per subject: divided by the largest magnitude over the subject's sessions (the
    // sign survives: a closest-trial distance is negative where the classes overlap).
    std::map<std::string, std::vector<std::int64_t>> by_subject;
    for (std::int64_t s = 0; s < S; ++s) by_subject[sessions[static_cast<std::size_t>(s)].subject].push_back(s);
    for (const auto& [subject, members] : by_subject) {
      std::vector<double> m, c1, c5;
      for (std::int64_t s : members) {
        m.push_back(stats[static_cast<std::size_t>(s)].margin);
        c1.push_back(stats[static_cast<std::size_t>(s)].closest1);
        c5.push_back(stats[static_cast<std::size_t>(s)].closest5);
      }
      auto largest = [](const std::vector<double>& v) {
        double big = kNaN;
        for (double e : v)
          if (!std::isnan(e) && !(std::fabs(e) <= big)) big = std::fabs(e);
        return big > 0 ? big : kNaN;
      };
      for (std::int64_t s : members) {
        SessionStats& st = stats[static_cast<std::size_t>(s)];
        st.margin_norm = st.margin / largest(m);
        st.closest1_norm = st.closest1 / largest(c1);
        st.closest5_norm = st.closest5 / largest(c5);
      }
    }
  }
  timings["margins"] = seconds_since(t0);

  // Representational similarity and PCA (host).
  t0 = std::chrono::steady_clock::now();
  fs::create_directories(result.dir);
  const bool save_rsm = c.boolean("rsm.save");
  if (save_rsm) fs::create_directories(result.dir + "/rsm");
  fs::create_directories(result.dir + "/pca");
  const std::int64_t nulls = c.integer("rsm.null"), k = c.integer("pca.components");
  // The null of every session (independent draws per session: parallel over sessions).
  std::vector<std::vector<double>> null_indices(static_cast<std::size_t>(S));
#pragma omp parallel for schedule(dynamic, 1)
  for (std::int64_t s = 0; s < S; ++s) {
    const Session& ss = sessions[static_cast<std::size_t>(s)];
    // Null: Gaussian matrices with each neuron's mean and variance over the decoded trials.
    std::vector<double> mu(static_cast<std::size_t>(ss.neurons), 0.0), sd(static_cast<std::size_t>(ss.neurons), 0.0);
    std::int64_t n = 0;
    for (std::int64_t t = 0; t < ss.trials; ++t) {
      if (!decoded(ss.labels[static_cast<std::size_t>(t)])) continue;
      ++n;
      for (std::int64_t j = 0; j < ss.neurons; ++j)
        mu[static_cast<std::size_t>(j)] += ss.x[static_cast<std::size_t>(t * ss.neurons + j)];
    }
    for (double& m : mu) m /= static_cast<double>(n);
    for (std::int64_t t = 0; t < ss.trials; ++t) {
      if (!decoded(ss.labels[static_cast<std::size_t>(t)])) continue;
      for (std::int64_t j = 0; j < ss.neurons; ++j) {
        const double dv = ss.x[static_cast<std::size_t>(t * ss.neurons + j)] - mu[static_cast<std::size_t>(j)];
        sd[static_cast<std::size_t>(j)] += dv * dv;
      }
    }
    for (double& v : sd) v = std::sqrt(v / static_cast<double>(n));
    std::vector<double>& null_index = null_indices[static_cast<std::size_t>(s)];
    // Null trials stand for the target / non-target trials only (the blocks ignore probes).
    std::vector<std::int32_t> null_labels;
    for (std::int32_t l : ss.labels)
      if (decoded(l)) null_labels.push_back(l);
    std::vector<double> g(static_cast<std::size_t>(n * ss.neurons));
    for (std::int64_t q = 0; q < nulls; ++q) {
      const std::uint64_t stream = null_stream(s);
      const std::uint64_t base = static_cast<std::uint64_t>(q) * static_cast<std::uint64_t>((g.size() + 1) / 2);
      for (std::size_t i = 0; i < g.size(); i += 2) {
        double z0 = 0, z1 = 0;
        normal_pair(philox_block(seed, stream, base + i / 2), z0, z1);
        const std::size_t j0 = i % static_cast<std::size_t>(ss.neurons);
        g[i] = mu[j0] + sd[j0] * z0;
        if (i + 1 < g.size()) {
          const std::size_t j1 = (i + 1) % static_cast<std::size_t>(ss.neurons);
          g[i + 1] = mu[j1] + sd[j1] * z1;
        }
      }
      null_index.push_back(rsm_blocks(g, n, ss.neurons, null_labels).index);
    }
  }
  for (std::int64_t s = 0; s < S; ++s) {
    const Session& ss = sessions[static_cast<std::size_t>(s)];
    SessionStats& st = stats[static_cast<std::size_t>(s)];
    st.rsm = rsm_blocks(ss.x, ss.trials, ss.neurons, ss.labels);
    const std::vector<double>& null_index = null_indices[static_cast<std::size_t>(s)];
    if (nulls > 0) {
      st.rsm_null_mean = mean_of(null_index);
      st.rsm_null_sd = sd_of(null_index);
      st.rsm_z = st.rsm_null_sd > 0 ? (st.rsm.index - st.rsm_null_mean) / st.rsm_null_sd : kNaN;
      std::int64_t above = 0;
      for (double v : null_index) above += v >= st.rsm.index;
      st.rsm_p = static_cast<double>(1 + above) / static_cast<double>(1 + nulls);
    }
    const std::vector<std::int64_t> order = class_order(ss);
    const std::int64_t no = static_cast<std::int64_t>(order.size());
    std::vector<double> xo(static_cast<std::size_t>(no * ss.neurons));
    std::vector<std::int32_t> lo(static_cast<std::size_t>(no));
    for (std::int64_t i = 0; i < no; ++i) {
      const std::int64_t t = order[static_cast<std::size_t>(i)];
      std::copy_n(ss.x.data() + t * ss.neurons, ss.neurons, xo.data() + i * ss.neurons);
      lo[static_cast<std::size_t>(i)] = ss.labels[static_cast<std::size_t>(t)];
    }
    const std::string fk = file_key(ss.key);
    if (save_rsm) {
      write_npy(result.dir + "/rsm/" + fk + ".npy", f32_tensor(rsm_matrix(xo, no, ss.neurons), {no, no}));
      write_npy(result.dir + "/rsm/" + fk + ".labels.npy", Tensor::from_vector<std::int32_t>({no}, lo));
      write_npy(result.dir + "/rsm/" + fk + ".null.npy",
                Tensor::from_vector<double>({static_cast<std::int64_t>(null_index.size())}, null_index));
    }
    const PcaResult pr = pca(xo, no, ss.neurons, k);
    std::vector<double> proj(static_cast<std::size_t>(no * k), kNaN);
    for (std::int64_t i = 0; i < no; ++i)
      for (std::int64_t cc = 0; cc < pr.k; ++cc)
        proj[static_cast<std::size_t>(i * k + cc)] = pr.projections[static_cast<std::size_t>(i * pr.k + cc)];
    std::vector<double> centres(static_cast<std::size_t>(3 * k), kNaN);
    int ci = 0;
    for (std::int32_t cls : {kTarget, kNontarget, kProbe}) {
      std::vector<double> sum(static_cast<std::size_t>(k), 0.0);
      std::int64_t cnt = 0;
      for (std::int64_t i = 0; i < no; ++i) {
        if (lo[static_cast<std::size_t>(i)] != cls) continue;
        ++cnt;
        for (std::int64_t cc = 0; cc < k; ++cc)
          sum[static_cast<std::size_t>(cc)] += proj[static_cast<std::size_t>(i * k + cc)];
      }
      for (std::int64_t cc = 0; cc < k && cnt > 0; ++cc)
        centres[static_cast<std::size_t>(ci * k + cc)] = sum[static_cast<std::size_t>(cc)] / static_cast<double>(cnt);
      ++ci;
    }
    write_npy(result.dir + "/pca/" + fk + ".npy", f32_tensor(proj, {no, k}));
    write_npy(result.dir + "/pca/" + fk + ".labels.npy", Tensor::from_vector<std::int32_t>({no}, lo));
    write_npy(result.dir + "/pca/" + fk + ".centres.npy", f32_tensor(centres, {3, k}));
    st.pca_var = pr.variance_fraction;
    st.pca_var.resize(static_cast<std::size_t>(k), kNaN);
  }
  timings["rsm_pca"] = seconds_since(t0);

  // Subjects, in order of first appearance, with their sessions in day order.
  std::vector<std::string> subjects;
  std::map<std::string, std::vector<std::int64_t>> of_subject;
  for (std::int64_t s = 0; s < S; ++s) {
    const std::string& subj = sessions[static_cast<std::size_t>(s)].subject;
    if (!of_subject.count(subj)) subjects.push_back(subj);
    of_subject[subj].push_back(s);
  }
  for (auto& [subj, members] : of_subject)
    std::stable_sort(members.begin(), members.end(), [&](std::int64_t a, std::int64_t b2) {
      return sessions[static_cast<std::size_t>(a)].day < sessions[static_cast<std::size_t>(b2)].day;
    });

  // Day x day generalization of the primary decoder (neurons shared by all of a subject's sessions).
  t0 = std::chrono::steady_clock::now();
  nlohmann::json generalization_notes = nlohmann::json::object();
  std::ostringstream gen_csv;
  gen_csv << "subject,train_day,test_day,accuracy\n";
  bool any_generalization = false;
  if (c.boolean("generalization")) {
    for (const std::string& subj : subjects) {
      const std::vector<std::int64_t>& members = of_subject[subj];
      std::vector<std::string> common = sessions[static_cast<std::size_t>(members[0])].neuron_ids;
      for (std::int64_t s : members) {
        const std::vector<std::string>& ids = sessions[static_cast<std::size_t>(s)].neuron_ids;
        std::set<std::string> have(ids.begin(), ids.end());
        common.erase(
            std::remove_if(common.begin(), common.end(), [&](const std::string& id) { return !have.count(id); }),
            common.end());
      }
      if (members.size() < 2 || common.empty()) {
        generalization_notes[subj] = members.size() < 2 ? "one session" : "no neuron is shared by all sessions";
        continue;
      }
      const std::int64_t G = static_cast<std::int64_t>(members.size()), Fc = static_cast<std::int64_t>(common.size());
      Tensor gx = Tensor::host_zeros({G, T, Fc}, DType::f64), gf = Tensor::host({G}, DType::i32);
      Tensor gs = Tensor::host({G}, DType::i32), gt = Tensor::host_zeros({G, T}, DType::f64);
      Tensor gl = Tensor::host_zeros({G, T}, DType::i32);
      for (std::int64_t g = 0; g < G; ++g) {
        const Session& ss = sessions[static_cast<std::size_t>(members[static_cast<std::size_t>(g)])];
        std::map<std::string, std::int64_t> col;
        for (std::int64_t j = 0; j < ss.neurons; ++j) col[ss.neuron_ids[static_cast<std::size_t>(j)]] = j;
        gf.flat<std::int32_t>(g) = static_cast<std::int32_t>(Fc);
        gs.flat<std::int32_t>(g) = static_cast<std::int32_t>(g);
        for (std::int64_t t = 0; t < ss.trials; ++t) {
          for (std::int64_t j = 0; j < Fc; ++j)
            gx.data<double>()[(g * T + t) * Fc + j] =
                ss.x[static_cast<std::size_t>(t * ss.neurons + col[common[static_cast<std::size_t>(j)]])];
          const std::int32_t l = ss.labels[static_cast<std::size_t>(t)];
          if (decoded(l)) {
            gt.data<double>()[g * T + t] = 1.0;
            gl.data<std::int32_t>()[g * T + t] = l == kTarget ? 1 : 0;
          }
        }
      }
      Tensor w = Tensor::empty({G, Fc + 1}, DType::f64, ctx), sc = Tensor::empty({G, T}, DType::f64, ctx);
      Tensor inf = Tensor::empty({G}, DType::i32, ctx);
      ops::fit_linear_decoders(w, sc, inf, on(gx, ctx), on(gf, ctx), on(gs, ctx), on(gt, ctx), on(gl, ctx),
                               decoder_spec(c, decoders[0]), ctx);
      const std::vector<double> wv = w.to_vector<double>();
      for (std::int64_t a = 0; a < G; ++a) {
        for (std::int64_t bb = 0; bb < G; ++bb) {
          const Session& test = sessions[static_cast<std::size_t>(members[static_cast<std::size_t>(bb)])];
          double acc = kNaN;
          if (a == bb) {
            acc = stats[static_cast<std::size_t>(members[static_cast<std::size_t>(a)])]
                      .decoders[0]
                      .accuracy;  // cross-validated
          } else {
            std::int64_t hits = 0, n = 0;
            for (std::int64_t t = 0; t < test.trials; ++t) {
              const std::int32_t l = test.labels[static_cast<std::size_t>(t)];
              if (!decoded(l)) continue;
              double sco = wv[static_cast<std::size_t>(a * (Fc + 1) + Fc)];
              for (std::int64_t j = 0; j < Fc; ++j)
                sco += wv[static_cast<std::size_t>(a * (Fc + 1) + j)] * gx.data<double>()[(bb * T + t) * Fc + j];
              hits += (sco > 0) == (l == kTarget);
              ++n;
            }
            acc = static_cast<double>(hits) / static_cast<double>(n);
          }
          gen_csv << csv_field(subj) << ','
                  << sessions[static_cast<std::size_t>(members[static_cast<std::size_t>(a)])].day << ',' << test.day
                  << ',' << csv_number(acc) << '\n';
        }
      }
      any_generalization = true;
    }
  }
  timings["generalization"] = seconds_since(t0);

  // Overtraining day and flips per subject and stimulus (primary decoder).
  std::ostringstream stim_csv, flips_csv;
  stim_csv << "subject,day,stimulus,label,trials,fraction_correct\n";
  flips_csv << "subject,stimulus,label,first_correct_day,stable_from_day,correct_first_overtraining,correct_last,"
               "flipped\n";
  nlohmann::json overtraining = nlohmann::json::object();
  const char* label_names[] = {"nontarget", "target", "probe"};
  for (const std::string& subj : subjects) {
    const std::vector<std::int64_t>& members = of_subject[subj];
    std::int64_t ot_day = c.integer("flips.overtraining_day");
    if (ot_day == 0) {
      for (std::int64_t s : members) {
        if (stats[static_cast<std::size_t>(s)].decoders[0].accuracy >= c.number("flips.overtraining_accuracy")) {
          ot_day = sessions[static_cast<std::size_t>(s)].day;
          break;
        }
      }
    }
    overtraining[subj] = ot_day > 0 ? nlohmann::json(ot_day) : nlohmann::json(nullptr);
    // (stimulus, label) -> per session fraction correct.
    std::map<std::pair<std::int32_t, std::int32_t>, std::vector<std::pair<std::int64_t, double>>> per;
    for (std::int64_t s : members) {
      const Session& ss = sessions[static_cast<std::size_t>(s)];
      std::map<std::pair<std::int32_t, std::int32_t>, std::pair<double, std::int64_t>> acc;
      for (std::int64_t t = 0; t < ss.trials; ++t) {
        const double v = stats[static_cast<std::size_t>(s)].trial_correct[static_cast<std::size_t>(t)];
        if (std::isnan(v)) continue;
        const std::int32_t l = ss.labels[static_cast<std::size_t>(t)];
        const std::int32_t stim = ss.stimulus.empty() ? -1 : ss.stimulus[static_cast<std::size_t>(t)];
        auto& a = acc[{stim, l}];
        a.first += v;
        a.second += 1;
      }
      for (const auto& [key, a] : acc) {
        const double frac = a.first / static_cast<double>(a.second);
        stim_csv << csv_field(subj) << ',' << ss.day << ',' << key.first << ',' << label_names[key.second] << ','
                 << a.second << ',' << csv_number(frac) << '\n';
        per[key].push_back({ss.day, frac});
      }
    }
    for (const auto& [key, series] : per) {
      std::int64_t first = -1, stable = -1;
      for (const auto& [day, frac] : series)
        if (frac > 0.5 && first < 0) first = day;
      for (auto it = series.rbegin(); it != series.rend() && it->second > 0.5; ++it) stable = it->first;
      double at_ot = kNaN;
      for (const auto& [day, frac] : series)
        if (day >= ot_day && ot_day > 0) {
          at_ot = frac > 0.5;
          break;
        }
      const double last = series.back().second > 0.5;
      flips_csv << csv_field(subj) << ',' << key.first << ',' << label_names[key.second] << ','
                << (first >= 0 ? std::to_string(first) : "") << ',' << (stable >= 0 ? std::to_string(stable) : "")
                << ',' << csv_number(at_ot) << ',' << csv_number(last) << ','
                << csv_number(std::isnan(at_ot) ? kNaN : (at_ot == 0 && last == 1 ? 1.0 : 0.0)) << '\n';
    }
  }

  // sessions.csv
  std::ostringstream sc;
  sc << "subject,day,key,trials_target,trials_nontarget,trials_probe,neurons,neurons_dropped";
  for (const std::string& d : decoders)
    sc << ',' << d << "_accuracy," << d << "_accuracy_se," << d << "_chance," << d << "_chance_sd," << d << "_p," << d
       << "_probe_accuracy";
  sc << ",margin,margin_norm,closest1,closest1_norm,closest5,closest5_norm,separable,rsm_target,rsm_nontarget,"
        "rsm_between,rsm_index,rsm_null_mean,rsm_null_sd,rsm_z,rsm_p";
  for (std::int64_t cc = 0; cc < k; ++cc) sc << ",pca_var" << cc + 1;
  sc << '\n';
  for (std::int64_t s = 0; s < S; ++s) {
    const Session& ss = sessions[static_cast<std::size_t>(s)];
    const SessionStats& st = stats[static_cast<std::size_t>(s)];
    std::int64_t counts[3] = {0, 0, 0};
    for (std::int32_t l : ss.labels) ++counts[l];
    sc << csv_field(ss.subject) << ',' << ss.day << ',' << csv_field(ss.key) << ',' << counts[kTarget] << ','
       << counts[kNontarget] << ',' << counts[kProbe] << ',' << ss.neurons << ',' << ss.dropped;
    for (const DecoderStats& d : st.decoders)
      for (double v : {d.accuracy, d.accuracy_se, d.chance, d.chance_sd, d.p, d.probe_accuracy})
        sc << ',' << csv_number(v);
    for (double v : {st.margin, st.margin_norm, st.closest1, st.closest1_norm, st.closest5, st.closest5_norm,
                     st.separable, st.rsm.target, st.rsm.nontarget, st.rsm.between, st.rsm.index, st.rsm_null_mean,
                     st.rsm_null_sd, st.rsm_z, st.rsm_p})
      sc << ',' << csv_number(v);
    for (double v : st.pca_var) sc << ',' << csv_number(v);
    sc << '\n';
  }

  // days.csv: sliding-window mean and SE per subject, and pooled over subjects.
  std::vector<std::pair<std::string, std::function<double(const SessionStats&)>>> smoothed;
  for (std::size_t d = 0; d < decoders.size(); ++d)
    smoothed.push_back({decoders[d] + "_accuracy", [d](const SessionStats& st) { return st.decoders[d].accuracy; }});
  for (std::size_t d = 0; d < decoders.size(); ++d)
    smoothed.push_back(
        {decoders[d] + "_probe_accuracy", [d](const SessionStats& st) { return st.decoders[d].probe_accuracy; }});
  smoothed.push_back({"margin_norm", [](const SessionStats& st) { return st.margin_norm; }});
  smoothed.push_back({"closest1_norm", [](const SessionStats& st) { return st.closest1_norm; }});
  smoothed.push_back({"closest5_norm", [](const SessionStats& st) { return st.closest5_norm; }});
  smoothed.push_back({"rsm_index", [](const SessionStats& st) { return st.rsm.index; }});
  const std::int64_t window = c.integer("smoothing.window");
  std::ostringstream days_csv;
  days_csv << "subject,day,n";
  for (const auto& [name, fn] : smoothed) days_csv << ',' << name << "_mean," << name << "_se";
  days_csv << '\n';
  // [subject][stat] -> smoothed series
  std::map<std::string, std::vector<std::vector<WindowStat>>> per_subject;
  nlohmann::json trends = nlohmann::json::object();
  std::set<std::int64_t> all_days;
  for (const std::string& subj : subjects) {
    std::vector<std::int64_t> days;
    for (std::int64_t s : of_subject[subj])
      days.push_back(sessions[static_cast<std::size_t>(s)].day), all_days.insert(days.back());
    std::vector<std::vector<WindowStat>>& series = per_subject[subj];
    for (const auto& [name, fn] : smoothed) {
      std::vector<double> v;
      for (std::int64_t s : of_subject[subj]) v.push_back(fn(stats[static_cast<std::size_t>(s)]));
      series.push_back(smooth(days, v, window));
      const Trend tr = trend(days, v);
      trends[subj][name] = {{"slope", tr.slope}, {"r", tr.r}};
    }
    for (std::size_t i = 0; i < series[0].size(); ++i) {
      days_csv << csv_field(subj) << ',' << series[0][i].day << ',' << series[0][i].n;
      for (const auto& st : series) days_csv << ',' << csv_number(st[i].mean) << ',' << csv_number(st[i].se);
      days_csv << '\n';
    }
  }
  for (std::int64_t day : all_days) {
    days_csv << "pooled," << day;
    std::vector<std::vector<double>> means(smoothed.size());
    std::int64_t n = 0;
    for (const std::string& subj : subjects) {
      const auto& series = per_subject[subj];
      for (std::size_t i = 0; i < series[0].size(); ++i) {
        if (series[0][i].day != day) continue;
        ++n;
        for (std::size_t q = 0; q < smoothed.size(); ++q) means[q].push_back(series[q][i].mean);
      }
    }
    days_csv << ',' << n;
    for (const auto& m : means) days_csv << ',' << csv_number(mean_of(m)) << ',' << csv_number(se_of(m));
    days_csv << '\n';
  }
  // Pooled trends over every session.
  {
    std::vector<std::int64_t> days;
    for (const Session& ss : sessions) days.push_back(ss.day);
    for (const auto& [name, fn] : smoothed) {
      std::vector<double> v;
      for (const SessionStats& st : stats) v.push_back(fn(st));
      const Trend tr = trend(days, v);
      trends["pooled"][name] = {{"slope", tr.slope}, {"r", tr.r}};
    }
  }

  // Files.
  write_text(result.dir + "/sessions.csv", sc.str());
  write_text(result.dir + "/days.csv", days_csv.str());
  write_text(result.dir + "/stimuli.csv", stim_csv.str());
  write_text(result.dir + "/flips.csv", flips_csv.str());
  if (any_generalization) {
    write_text(result.dir + "/generalization.csv", gen_csv.str());
  } else {
    fs::remove(result.dir + "/generalization.csv");
  }
  write_text(result.dir + "/decode.yaml", c.to_yaml());
  if (c.boolean("save_preprocessed")) {
    std::vector<NamedTensor> arrays;
    for (std::int64_t s = 0; s < S; ++s) {
      const Session& ss = sessions[static_cast<std::size_t>(s)];
      arrays.push_back({"responses_" + std::to_string(s), Tensor::from_vector<double>({ss.trials, ss.neurons}, ss.x)});
      arrays.push_back({"labels_" + std::to_string(s), Tensor::from_vector<std::int32_t>({ss.trials}, ss.labels)});
      std::vector<std::int32_t> folds;
      for (const auto& f : b.folds[static_cast<std::size_t>(s)]) folds.insert(folds.end(), f.begin(), f.end());
      arrays.push_back(
          {"folds_" + std::to_string(s), Tensor::from_vector<std::int32_t>({b.shuffles, ss.trials}, folds)});
    }
    write_npz(result.dir + "/preprocessed.npz", arrays);
  }
  result.seconds = seconds_since(t_start);
  timings["total"] = result.seconds;
  nlohmann::json meta = {{"name", c.string("name")},
                         {"decoders", decoders},
                         {"subjects", subjects},
                         {"sessions", S},
                         {"folds", b.nfolds},
                         {"shuffles", b.shuffles},
                         {"permutations", b.permutations},
                         {"rsm_null", nulls},
                         {"window", window},
                         {"probe_label", b.probe_label},
                         {"source", data.source},
                         {"device", ctx.device().str()}};
  write_text(result.dir + "/decode.json", meta.dump(2) + "\n");
  nlohmann::json summary = {{"name", c.string("name")},
                            {"trend", trends},
                            {"overtraining_day", overtraining},
                            {"generalization_skipped", generalization_notes},
                            {"decoders", decoder_info},
                            {"models", result.models},
                            {"timings", timings},
                            {"device", ctx.device().str()}};
  write_text(result.dir + "/summary.json", summary.dump(2) + "\n");
  return result;
}

}  // namespace groove::decode
